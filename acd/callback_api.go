package acd

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"slices"
	"time"

	"github.com/tandem-cc/tandem/cad"
	"github.com/tandem-cc/tandem/callbacks"
	"github.com/tandem-cc/tandem/errs"
)

// CallbackRequest is a web or scheduled callback asked for through the API.
type CallbackRequest struct {
	Queue  string
	Number string
	Name   string
	Vars   map[string]string
	// EarliestAt and WindowEnd bound a scheduled callback (zero = now, no
	// end); TimeZone is the customer's, recorded with it.
	EarliestAt time.Time
	WindowEnd  time.Time
	TimeZone   string
}

// RequestCallback creates a web callback, or a scheduled one when a window
// is given. A window is kept to the queue's opening hours: it starts at the
// first open moment in it, and a window with none is refused. merged
// reports that the queue already had a live callback for the number, which
// is returned instead.
func (e *Engine) RequestCallback(ctx context.Context, r CallbackRequest) (callbacks.Callback, bool, error) {
	q, ok := e.opts.Queues[r.Queue]
	if !ok {
		return callbacks.Callback{}, false, &callbacks.FieldError{Field: "queue", Rule: "unknown-queue", Msg: fmt.Sprintf("unknown queue %q", r.Queue)}
	}
	if err := checkCallbackVars(q.Variables, r.Vars); err != nil {
		return callbacks.Callback{}, false, err
	}
	kind := callbacks.KindWeb
	if !r.EarliestAt.IsZero() || !r.WindowEnd.IsZero() {
		kind = callbacks.KindScheduled
		start, err := e.openWindow(r.Queue, r.EarliestAt, r.WindowEnd)
		if err != nil {
			return callbacks.Callback{}, false, err
		}
		r.EarliestAt = start
	}
	cb, merged, err := e.callbacks.Create(ctx, callbacks.Request{
		Queue: r.Queue, Number: r.Number, Region: e.opts.Dial.DefaultRegion, Policy: e.opts.Dial.Policy,
		AllowedCountryCodes: q.Callback.AllowedCountryCodes, Name: r.Name, Vars: r.Vars, Kind: kind,
		EarliestAt: r.EarliestAt, WindowEnd: r.WindowEnd, MaxAttempts: q.Callback.MaxAttempts,
		RetryDelay: q.Callback.RetryDelay, CallerID: q.Callback.CallerID, TimeZone: r.TimeZone,
		Secure:   e.opts.Policy.secureList(r.Vars), // dropped once the callback is over
		MaxAhead: q.Callback.MaxAhead,
	})
	if err != nil {
		return callbacks.Callback{}, false, err
	}
	e.wakeCallbacks()
	return e.masked(cb), merged, nil
}

// checkCallbackVars checks a client's variables for a callback as an
// agent's edit of them would be (cad.CheckName, cad.CheckValue against the
// queue's definition; a name the queue does not define is a string): they
// become the variables of the call that serves it, shown in the agent's
// screen pop. The first refusal, in name order, names its variable.
func checkCallbackVars(defs []cad.Variable, vars map[string]string) error {
	for _, name := range slices.Sorted(maps.Keys(vars)) {
		err := cad.CheckName(name)
		if err == nil {
			def := cad.Variable{Name: name, Type: "string"}
			if i := slices.IndexFunc(defs, func(d cad.Variable) bool { return d.Name == name }); i >= 0 {
				def = defs[i]
			}
			err = cad.CheckValue(def, vars[name])
		}
		var ve *cad.ValueError
		if errors.As(err, &ve) {
			// ve.Msg never quotes the value (it may be secure).
			return &callbacks.FieldError{Field: "variables." + name, Rule: ve.Rule, Msg: ve.Msg}
		}
		if err != nil {
			return err
		}
	}
	return nil
}

// masked is cb as a client may see it: the values of the variables its
// queue declares secure, and of any name another queue or a secure IVR
// node declares secure (what the callback records as secure, see
// Policy.secureList), are masked (cad.MaskVars, as in screen pops), and
// shown only through RevealCallbackVariable, which is audited.
func (e *Engine) masked(cb callbacks.Callback) callbacks.Callback {
	cb.Vars = cad.MaskVars(e.callbackVarDefs(cb), cb.Vars)
	return cb
}

// callbackVarDefs are the variable definitions of cb's queue, plus a
// secure string definition for each of cb's variables that the queue does
// not define but Policy.SecureNames holds: a value secure anywhere is
// never shown in clear, and may be revealed (audited) like the queue's.
func (e *Engine) callbackVarDefs(cb callbacks.Callback) []cad.Variable {
	defs := e.opts.Queues[cb.Queue].Variables
	for name := range cb.Vars {
		if e.opts.Policy.SecureNames[name] && !slices.ContainsFunc(defs, func(d cad.Variable) bool { return d.Name == name }) {
			defs = append(slices.Clip(defs), cad.Variable{Name: name, Type: "string", Secure: true})
		}
	}
	return defs
}

// RevealCallbackVariable returns variable name of callback id in clear
// and records who asked (the API principal's name) in the audit stream,
// with the callback id and the name, never the value. Only variables the
// callback's queue defines, or that are secure elsewhere
// (callbackVarDefs), may be revealed (cad.ErrUnknownVariable otherwise),
// as for a call's variables.
func (e *Engine) RevealCallbackVariable(ctx context.Context, id, name, who string) (string, error) {
	cb, err := e.callbacks.Get(ctx, id)
	if err != nil {
		return "", err
	}
	if !slices.ContainsFunc(e.callbackVarDefs(cb), func(d cad.Variable) bool { return d.Name == name }) {
		return "", fmt.Errorf("reveal %s of callback %s: %w", name, id, cad.ErrUnknownVariable)
	}
	v, err := e.callbacks.Reveal(ctx, id, name, who)
	if err != nil {
		return "", err
	}
	e.log.InfoContext(ctx, "callback variable revealed", "callback_id", id, "name", name, "who", who)
	return v, nil
}

// openWindow returns the first moment of [from, until) the queue is open
// (from = zero: now). Times are real; the hours are read on the engine's
// clock (Options.Now), which tests may set apart from the real one.
func (e *Engine) openWindow(queue string, from, until time.Time) (time.Time, error) {
	realNow := time.Now()
	if from.IsZero() || from.Before(realNow) {
		from = realNow
	}
	if !until.IsZero() && !until.After(from) {
		return time.Time{}, &callbacks.FieldError{Field: "window_end", Rule: "window", Msg: "must be in the future and after earliest_at"}
	}
	sched := e.schedules[queue]
	if sched == nil {
		return from, nil
	}
	skew := e.opts.Now().Sub(realNow) // engine clock − real clock
	at := from.Add(skew)
	if !sched.Open(at) {
		next, ok := sched.NextOpen(at)
		if !ok {
			return time.Time{}, &callbacks.FieldError{Field: "window", Rule: "outside-hours", Msg: fmt.Sprintf("queue %s never opens", queue)}
		}
		at = next
	}
	start := at.Add(-skew)
	if !until.IsZero() && !start.Before(until) {
		return time.Time{}, &callbacks.FieldError{Field: "window", Rule: "outside-hours",
			Msg: fmt.Sprintf("queue %s is closed for the whole window; it next opens at %s", queue, at.In(sched.Location()).Format(time.RFC3339))}
	}
	return start, nil
}

// Callback reads one callback.
// Secure values are masked (see masked).
func (e *Engine) Callback(ctx context.Context, id string) (callbacks.Callback, error) {
	cb, err := e.callbacks.Get(ctx, id)
	if err != nil {
		return callbacks.Callback{}, err
	}
	return e.masked(cb), nil
}

// CancelCallback cancels a callback that is not being dialled; one being
// dialled is refused (ErrIllegalTransition naming its state). A callback
// already waiting in its queue for an agent is withdrawn from it by the
// replica serving it (or, if that replica does not answer, from here).
func (e *Engine) CancelCallback(ctx context.Context, id string) (callbacks.Callback, error) {
	cb, err := e.callbacks.Cancel(ctx, id)
	if err != nil {
		return cb, err
	}
	cb = e.masked(cb)
	if cb.Conn == "" || cb.CancelledHolder == "" {
		return cb, nil
	}
	ix, err := e.store.Interaction(ctx, cb.Conn)
	if err != nil || ix.Terminal() {
		return cb, nil
	}
	cmd := command{ID: newRequestID(), Op: opCallbackWithdraw}
	if ix.Owner == e.store.node {
		_, err = e.local(ctx, cb.Conn, cmd)
	} else {
		_, err = e.forward(ctx, ix.Owner, cb.Conn, cmd)
	}
	if err != nil {
		// Its replica is gone: end the interaction here, so no agent is
		// offered it; ending it frees an agent it was offered to.
		e.log.Warn("withdraw cancelled callback through its replica failed; ending its interaction here", "callback_id", id, "connection_id", cb.Conn, "err", err)
		if ix.AgentLeg != "" {
			if herr := e.pbx.Hangup(ctx, ix.AgentLeg, CauseNormal); herr != nil {
				e.log.Warn("hang up the withdrawn callback's agent leg", "leg", ix.AgentLeg, "err", herr)
			}
		}
		if _, ferr := e.store.Finish(context.WithoutCancel(ctx), cb.Conn, "completed", "cancelled"); ferr != nil && !errors.Is(ferr, ErrIllegalTransition) {
			e.log.Warn("end the withdrawn callback's interaction", "connection_id", cb.Conn, "err", ferr)
		}
	}
	return cb, nil
}

// CallbackFlow runs a step of a caller's callback dialog on their call:
// FlowStart (queue "" = the call's), FlowRegister (number "" = the
// caller's own; media is played to the agent first), or FlowCancel. It
// runs in the call's actor, on the replica that owns the call.
func (e *Engine) CallbackFlow(ctx context.Context, conn, op, queue, number, media string) (CallView, error) {
	ops := map[string]string{FlowStart: opCallbackStart, FlowRegister: opCallbackRegister, FlowCancel: opCallbackCancel}
	cmdOp, ok := ops[op]
	if !ok {
		return CallView{}, &errs.FieldError{Field: "op", Msg: "must be start, register or cancel"}
	}
	ix, err := e.store.Interaction(ctx, conn)
	if err != nil {
		return CallView{}, err
	}
	if ix.Terminal() {
		return CallView{}, fmt.Errorf("call %s is over: %w", conn, ErrNoCall)
	}
	value := queue
	if op == FlowRegister {
		value = number
	}
	cmd := command{ID: newRequestID(), Op: cmdOp, Target: Target{Value: value}, Media: media}
	if ix.Owner != e.store.node {
		return e.forward(ctx, ix.Owner, conn, cmd)
	}
	return e.local(ctx, conn, cmd)
}

// AcceptCallback is the agent accepting the callback they answered (queues
// with accept = agent): the customer is dialled now.
func (e *Engine) AcceptCallback(ctx context.Context, agent string) (CallView, error) {
	return e.do(ctx, command{Agent: agent, Op: opCallbackAccept})
}

func (c *call) acceptCallback(ctx context.Context, cmd command) (CallView, error) {
	if cmd.Agent == "" || cmd.Agent != c.agent {
		return CallView{}, fmt.Errorf("agent %s is not on call %s: %w", cmd.Agent, c.conn, ErrForbidden)
	}
	if c.cb == nil || c.cb.attempt != attemptAccepting || c.route != routeCallbackAgent {
		return CallView{}, illegal("accept: no callback is waiting for the agent to accept")
	}
	c.dialCustomer(ctx)
	return CallView{ConnectionID: c.conn, Agent: c.agent, State: "dialing", ANI: c.arrived.ANI, DNIS: c.arrived.DNIS, Queue: c.queueName}, nil
}
