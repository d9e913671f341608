package acd

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/tandem-cc/tandem/agents"
	"github.com/tandem-cc/tandem/callbacks"
	"github.com/tandem-cc/tandem/errs"
)

// Call-control operations an agent's desktop asks for. Each runs in the
// actor of the call, on the replica that owns it; a request that reaches
// another replica is forwarded there through the owner's inbox stream and
// answered through a reply list (see forward).
const (
	opHold             = "hold"
	opResume           = "resume"
	opConsult          = "consult"
	opConsultEnd       = "consult_end"
	opTransfer         = "transfer"
	opTransferComplete = "transfer_complete"
	opConference       = "conference"
	opEnd              = "end"
	opRecPause         = "recording_pause"
	opRecResume        = "recording_resume"
	opCallbackAccept   = "callback_accept"

	// The callback flow of a caller (no agent involved).
	opCallbackStart    = "callback_start"
	opCallbackRegister = "callback_register"
	opCallbackCancel   = "callback_cancel"
	// A callback cancelled while it waited for an agent.
	opCallbackWithdraw = "callback_withdraw"
)

// command is one call-control request.
type command struct {
	ID      string `json:"id"` // idempotency key
	Agent   string `json:"agent"`
	Op      string `json:"op"`
	Target  Target `json:"target"`
	Privacy bool   `json:"privacy,omitempty"`
	// Media is the message for the agent of a callback register.
	Media string `json:"media,omitempty"`
	// Actor is who asked (actor.go): the API principal whose request made
	// the command, ActorSystem for none. It travels with a forwarded
	// command, so the owner's history names the principal the asking
	// replica authenticated.
	Actor string `json:"actor,omitempty"`
}

type commandMsg struct {
	cmd   command
	reply func(CallView, error)
}

// commandReply is a command's outcome as it crosses replicas.
type commandReply struct {
	View  CallView `json:"view"`
	Kind  string   `json:"kind,omitempty"` // sentinel of the error, see errorKind
	Msg   string   `json:"msg,omitempty"`
	Field string   `json:"field,omitempty"`
	Rule  string   `json:"rule,omitempty"`
}

func errorKind(err error) (kind, field string) {
	var fe *errs.FieldError
	var cfe *callbacks.FieldError
	switch {
	case errors.As(err, &fe):
		return "field", fe.Field
	case errors.As(err, &cfe):
		return "callback_field", cfe.Field
	case errors.Is(err, ErrIllegalTransition):
		return "illegal", ""
	case errors.Is(err, ErrForbidden):
		return "forbidden", ""
	case errors.Is(err, ErrNoCall):
		return "nocall", ""
	case errors.Is(err, ErrNotFound):
		return "notfound", ""
	}
	return "internal", ""
}

func (r commandReply) err() error {
	switch r.Kind {
	case "":
		return nil
	case "field":
		return &errs.FieldError{Field: r.Field, Msg: r.Msg}
	case "callback_field":
		return &callbacks.FieldError{Field: r.Field, Rule: r.Rule, Msg: r.Msg}
	case "illegal":
		return fmt.Errorf("%s: %w", r.Msg, ErrIllegalTransition)
	case "forbidden":
		return fmt.Errorf("%s: %w", r.Msg, ErrForbidden)
	case "nocall":
		return fmt.Errorf("%s: %w", r.Msg, ErrNoCall)
	case "notfound":
		return fmt.Errorf("%s: %w", r.Msg, ErrNotFound)
	}
	return errors.New(r.Msg)
}

// illegal is a refused action: a 409 naming the problem.
func illegal(format string, args ...any) error {
	return fmt.Errorf(format+": %w", append(args, ErrIllegalTransition)...)
}

// callOf finds the call an agent is on: the connection id (of the customer
// call, for a consulted agent reached through a queue) and its owner node.
func (e *Engine) callOf(ctx context.Context, agent string) (conn, owner string, err error) {
	a, err := e.store.Agent(ctx, agent)
	if err != nil {
		return "", "", err
	}
	if a.ConnectionID == "" || a.State == agents.WrapUp {
		return "", "", fmt.Errorf("agent %s is %s: %w", agent, a.State, ErrNoCall)
	}
	ix, err := e.store.Interaction(ctx, a.ConnectionID)
	if err != nil {
		return "", "", err
	}
	if ix.Parent != "" {
		return ix.Parent, ix.Owner, nil
	}
	if ix.Terminal() {
		return "", "", fmt.Errorf("call %s is over: %w", ix.ConnectionID, ErrNoCall)
	}
	return ix.ConnectionID, ix.Owner, nil
}

// do runs a command in the actor of the agent's call, here or on the
// replica that owns it.
func (e *Engine) do(ctx context.Context, cmd command) (CallView, error) {
	conn, owner, err := e.callOf(ctx, cmd.Agent)
	if err != nil {
		return CallView{}, err
	}
	if cmd.ID == "" {
		cmd.ID = newRequestID()
	}
	cmd = withActor(ctx, cmd)
	var v CallView
	if owner != e.store.node {
		v, err = e.forward(ctx, owner, conn, cmd)
	} else {
		v, err = e.local(ctx, conn, cmd)
	}
	if err != nil || !actsForOther(cmd.Actor, cmd.Agent) {
		return v, err
	}
	// A principal acting for the agent (a supervisor): the owner's
	// history names it; the audit stream gets the request as well.
	fields := []any{}
	if cmd.Target.Kind != "" {
		fields = append(fields, "target_kind", string(cmd.Target.Kind), "target", cmd.Target.Value)
	}
	if cmd.Op == opRecPause {
		fields = append(fields, "privacy", fmt.Sprint(cmd.Privacy))
	}
	if err := e.auditForAgent(ctx, cmd.Op, cmd.Actor, cmd.Agent, conn, fields...); err != nil {
		return v, err
	}
	return v, nil
}

// withActor fills a command's Actor from ctx (ActorSystem when no
// principal asked) unless it has one. local and forward both do it, so
// every command, whatever made it, reaches its call with an actor.
func withActor(ctx context.Context, cmd command) command {
	if cmd.Actor == "" {
		cmd.Actor = actorOrSystem(ctx)
	}
	return cmd
}

func (e *Engine) local(ctx context.Context, conn string, cmd command) (CallView, error) {
	cmd = withActor(ctx, cmd)
	e.mu.Lock()
	c := e.calls[conn]
	e.mu.Unlock()
	if c == nil {
		return CallView{}, fmt.Errorf("call %s: %w", conn, ErrNoCall)
	}
	type result struct {
		v   CallView
		err error
	}
	done := make(chan result, 1)
	c.post(commandMsg{cmd: cmd, reply: func(v CallView, err error) { done <- result{v, err} }})
	select {
	case r := <-done:
		return r.v, r.err
	case <-ctx.Done():
		return CallView{}, ctx.Err()
	}
}

// A forwarded request waits for the owning replica up to
// Options.ForwardTimeout, in slices of forwardSlice (BLPOP's resolution
// is a second), and checks between two slices that the owner is still
// alive: an owner that dies meanwhile is noticed within a slice plus its
// liveness TTL, not at the end.
const (
	DefaultForwardTimeout = 10 * time.Second
	forwardSlice          = time.Second
)

// forward sends a command to the replica that owns the call and waits for
// its answer on a reply list. The command id is an idempotency key: the
// owner runs a command id once (see runForwarded). An owner that is not
// alive (see liveness.go) gets no command: errs.ErrOwnerUnavailable at
// once. A request that gives up (the owner died while it waited, or did
// not answer in time) takes the command id first (giveUp), so that a
// command the owner never started is never run later.
func (e *Engine) forward(ctx context.Context, owner, conn string, cmd command) (CallView, error) {
	alive, err := e.replicaAlive(ctx, owner)
	if err != nil {
		return CallView{}, fmt.Errorf("forward %s to %s: %w", cmd.Op, owner, err)
	}
	if !alive {
		return CallView{}, fmt.Errorf("forward %s to %s: replica is not running; the request was not carried out: %w", cmd.Op, owner, errs.ErrOwnerUnavailable)
	}
	cmd = withActor(ctx, cmd)
	data, err := json.Marshal(cmd)
	if err != nil {
		return CallView{}, err
	}
	if err := e.store.rdb.XAdd(ctx, &redis.XAddArgs{
		Stream: e.store.keys.Inbox(owner), MaxLen: 100000, Approx: true,
		Values: map[string]any{"type": "command", "conn": conn, "command": string(data), "from": e.store.node},
	}).Err(); err != nil {
		return CallView{}, fmt.Errorf("forward %s to %s: %w", cmd.Op, owner, err)
	}
	for waited := time.Duration(0); waited < e.opts.ForwardTimeout; waited += forwardSlice {
		res, err := e.store.rdb.BLPop(ctx, forwardSlice, e.replyKey(cmd.ID)).Result()
		if err == nil {
			var r commandReply
			if err := json.Unmarshal([]byte(res[1]), &r); err != nil {
				return CallView{}, err
			}
			return r.View, r.err()
		}
		if !errors.Is(err, redis.Nil) {
			return CallView{}, fmt.Errorf("wait for %s to answer %s: %w", owner, cmd.Op, err)
		}
		// No answer within this slice (redis.Nil): is the owner still there?
		alive, err := e.replicaAlive(ctx, owner)
		if err != nil {
			return CallView{}, fmt.Errorf("wait for %s to answer %s: %w", owner, cmd.Op, err)
		}
		if !alive {
			return CallView{}, e.giveUp(ctx, owner, cmd, errs.ErrOwnerUnavailable, "replica stopped before answering")
		}
	}
	return CallView{}, e.giveUp(ctx, owner, cmd, errs.ErrOwnerTimeout, fmt.Sprintf("no answer in %s", e.opts.ForwardTimeout))
}

// giveUp ends a forwarded request that got no answer. It takes the
// command id as run (the owner's runForwarded takes the same key), so
// whether the command was carried out is known: not at all if giveUp got
// the key, or started by the owner if the owner got it first.
func (e *Engine) giveUp(ctx context.Context, owner string, cmd command, sentinel error, why string) error {
	took, err := e.store.rdb.SetNX(ctx, e.store.keys.CommandDone(cmd.ID), 1, 5*time.Minute).Result()
	switch {
	case err != nil:
		return fmt.Errorf("forward %s to %s: %s; whether it was carried out is unknown (%v): %w", cmd.Op, owner, why, err, sentinel)
	case took:
		return fmt.Errorf("forward %s to %s: %s; the request was not carried out: %w", cmd.Op, owner, why, sentinel)
	default:
		return fmt.Errorf("forward %s to %s: %s; the owner had started the request, its outcome is unknown: %w", cmd.Op, owner, why, sentinel)
	}
}

func (e *Engine) replyKey(id string) string { return e.store.keys.CommandReply(id) }

// runForwarded takes a command another replica forwarded and answers it.
func (e *Engine) runForwarded(ctx context.Context, conn, data string) {
	var cmd command
	if err := json.Unmarshal([]byte(data), &cmd); err != nil {
		e.log.Warn("bad forwarded command", "err", err)
		return
	}
	// Run each command id once, even if it is delivered twice.
	fresh, err := e.store.rdb.SetNX(ctx, e.store.keys.CommandDone(cmd.ID), 1, 5*time.Minute).Result()
	if err != nil || !fresh {
		return
	}
	answer := func(v CallView, err error) {
		r := commandReply{View: v}
		if err != nil {
			r.Kind, r.Field = errorKind(err)
			r.Msg = err.Error()
			if cfe := (*callbacks.FieldError)(nil); errors.As(err, &cfe) {
				r.Rule, r.Msg = cfe.Rule, cfe.Msg
			}
		}
		b, _ := json.Marshal(r)
		key := e.replyKey(cmd.ID)
		pipe := e.store.rdb.TxPipeline()
		pipe.RPush(ctx, key, b)
		pipe.Expire(ctx, key, time.Minute)
		if _, err := pipe.Exec(ctx); err != nil {
			e.log.Warn("answer forwarded command", "err", err)
		}
	}
	e.mu.Lock()
	c := e.calls[conn]
	e.mu.Unlock()
	if c == nil {
		answer(CallView{}, fmt.Errorf("call %s: %w", conn, ErrNoCall))
		return
	}
	c.post(commandMsg{cmd: cmd, reply: answer})
}

func newRequestID() string {
	var b [12]byte
	_, _ = rand.Read(b[:])
	return hex.EncodeToString(b[:])
}

// Hold puts the agent's customer on hold (music on hold).
func (e *Engine) Hold(ctx context.Context, agent string) (CallView, error) {
	return e.do(ctx, command{Agent: agent, Op: opHold})
}

// Resume takes the customer off hold; during a consult it toggles between
// the customer and the consulted party.
func (e *Engine) Resume(ctx context.Context, agent string) (CallView, error) {
	return e.do(ctx, command{Agent: agent, Op: opResume})
}

// Consult puts the customer on hold and calls an agent, a queue or a number.
func (e *Engine) Consult(ctx context.Context, agent string, t Target) (CallView, error) {
	return e.do(ctx, command{Agent: agent, Op: opConsult, Target: t})
}

// EndConsult ends a consult (consulting agent) or leaves it (consulted agent).
func (e *Engine) EndConsult(ctx context.Context, agent string) (CallView, error) {
	return e.do(ctx, command{Agent: agent, Op: opConsultEnd})
}

// Transfer blind-transfers the customer to an agent, a queue or a number.
func (e *Engine) Transfer(ctx context.Context, agent string, t Target) (CallView, error) {
	return e.do(ctx, command{Agent: agent, Op: opTransfer, Target: t})
}

// CompleteTransfer joins the customer to the consulted party and takes the
// consulting agent out (consult transfer).
func (e *Engine) CompleteTransfer(ctx context.Context, agent string) (CallView, error) {
	return e.do(ctx, command{Agent: agent, Op: opTransferComplete})
}

// Conference joins customer, agent and consulted party in one bridge.
func (e *Engine) Conference(ctx context.Context, agent string) (CallView, error) {
	return e.do(ctx, command{Agent: agent, Op: opConference})
}

// End ends the agent's part in the call (the call itself, or leaving a
// conference or a consult).
func (e *Engine) End(ctx context.Context, agent string) (CallView, error) {
	return e.do(ctx, command{Agent: agent, Op: opEnd})
}

// PauseRecording pauses the call's recording; a privacy-shield pause
// resumes by itself.
func (e *Engine) PauseRecording(ctx context.Context, agent string, privacy bool) (CallView, error) {
	return e.do(ctx, command{Agent: agent, Op: opRecPause, Privacy: privacy})
}

// ResumeRecording resumes a paused recording.
func (e *Engine) ResumeRecording(ctx context.Context, agent string) (CallView, error) {
	return e.do(ctx, command{Agent: agent, Op: opRecResume})
}

// Call reads the agent's call as its owner last wrote it.
func (e *Engine) Call(ctx context.Context, agent string) (CallView, error) {
	conn, _, err := e.callOf(ctx, agent)
	if err != nil {
		return CallView{}, err
	}
	data, err := e.store.rdb.HGet(ctx, e.store.keys.Interaction(conn), "view").Result()
	if err != nil {
		return CallView{}, fmt.Errorf("call of %s: %w", agent, ErrNoCall)
	}
	var v CallView
	if err := json.Unmarshal([]byte(data), &v); err != nil {
		return CallView{}, err
	}
	v.Role = "owner"
	if v.Agent != agent {
		v.Role = "consulted"
	}
	return v, nil
}

// WrapUp ends the agent's after-call work with a reason code from config.
func (e *Engine) WrapUp(ctx context.Context, agent, code string) (agents.Agent, error) {
	if !contains(e.opts.WrapUpCodes, code) {
		return agents.Agent{}, &errs.FieldError{Field: "code", Msg: fmt.Sprintf("unknown wrap-up code %q", code)}
	}
	var conn string
	actor := ActorOf(ctx)
	if actsForOther(actor, agent) {
		// The call the code is for, for the audit: wrap-up clears it.
		if a, err := e.store.Agent(ctx, agent); err == nil {
			conn = a.ConnectionID
		}
	}
	if _, err := e.store.WrapUp(ctx, agent, code); err != nil {
		return agents.Agent{}, err
	}
	if actsForOther(actor, agent) {
		if err := e.auditForAgent(ctx, "wrapup", actor, agent, conn, "code", code); err != nil {
			return agents.Agent{}, err
		}
	}
	return e.store.Agent(ctx, agent)
}

func contains(list []string, v string) bool {
	for _, x := range list {
		if x == v {
			return true
		}
	}
	return false
}
