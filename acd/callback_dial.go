package acd

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/tandem-cc/tandem/callbacks"
	"github.com/tandem-cc/tandem/config"
)

// How a callback is served. The scheduler (runCallbacks) claims due
// callbacks under a lease and gives each to an actor of its own, the same
// call actor that serves inbound calls, without a caller leg at first:
//
//  1. the callback becomes an interaction and waits in its queue with its
//     score, so a courtesy callback keeps the caller's place and routing
//     treats it like any waiting call (one round trip, same strategies);
//  2. offered to an agent, the agent's phone rings with a callback pop-up;
//     no answer is RONA: the callback goes back to the head of its queue;
//  3. the agent answers, hears the caller's message if there is one, and
//     (accept = auto, or once the agent accepts) the customer is dialled
//     with the queue's outbound caller id, after StartDial has recorded the
//     attempt and its leg: exactly one dial per attempt, even across a
//     crash;
//  4. the customer answers: the attempt is completed as answered and the
//     two are bridged; from then on it is an ordinary connected call. No
//     answer, busy or a failure frees the agent and the callback is retried
//     later or fails.
//
// While it holds a callback the actor renews its lease. If this replica
// dies, the lease runs out and another replica reclaims and claims the
// callback: before a dial it cleans up what was left (the interaction, a
// ringing agent leg) and starts over in the same place; after a dial
// started it takes the dead replica's legs over (PBX.Takeover) and carries
// the attempt to its end.

// cbCall is what an actor serving a claimed callback knows.
type cbCall struct {
	rec       callbacks.Callback
	started   int  // the attempt dialled, 0 before the dial
	completed bool // the attempt's outcome is recorded; the lease is gone
	accept    bool // waiting for the agent to accept (accept = agent)
	leaseGen  int
	// withdrawn: the callback was cancelled while it waited for an agent;
	// its interaction ends as served ("completed"), not abandoned.
	withdrawn bool
	// arrived: its interaction exists (ArriveCallback ran).
	arrived bool
	// pending is an outcome Complete could not record yet (Redis failed):
	// retried on every lease tick, which go on until it is recorded.
	pending callbacks.Outcome
	// stopMessage ends the playing of the caller's message to the agent.
	stopMessage context.CancelFunc
}

type (
	cbClaimed  struct{ rec callbacks.Callback }
	leaseTick  struct{ gen int }
	cbAccepted struct{}
	// cbMessagePlayed: the caller's message to the agent has ended.
	cbMessagePlayed struct{}
)

// Defaults of the callback scheduler.
const (
	DefaultCallbackLease = 15 * time.Second
	DefaultCallbackPoll  = 250 * time.Millisecond
	// callbackBusyRetry is how long a callback waits when the contact
	// center is at its maximum of concurrent calls.
	callbackBusyRetry = 2 * time.Second
	callbackClaimMax  = 20
)

// wakeCallbacks makes the scheduler look for due callbacks now (one was
// just registered on this replica).
func (e *Engine) wakeCallbacks() {
	select {
	case e.cbWake <- struct{}{}:
	default:
	}
}

// runCallbacks is the scheduler: reclaim callbacks of dead replicas, claim
// due ones, start an actor for each. It polls at CallbackPoll, or at once
// when woken.
func (e *Engine) runCallbacks(ctx context.Context) error {
	t := time.NewTicker(e.opts.CallbackPoll)
	defer t.Stop()
	defer func() {
		sctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), time.Second)
		defer cancel()
		if err := e.callbacks.Stopped(sctx, e.store.node); err != nil {
			e.log.Warn("remove heartbeat", "err", err)
		}
	}()
	var beat time.Time
	for {
		// The heartbeat keeps other replicas from taking this replica's
		// dials over when a lease lapses only because Redis was slow.
		if time.Since(beat) >= e.opts.CallbackLease/3 {
			if err := e.callbacks.Heartbeat(ctx, e.store.node, 3*e.opts.CallbackLease); err == nil {
				beat = time.Now()
			} else if ctx.Err() == nil {
				e.log.Warn("callback heartbeat", "err", err)
			}
		}
		if ids, err := e.callbacks.Reclaim(ctx, callbacks.MaxBatch); err != nil && ctx.Err() == nil {
			e.log.Error("reclaim callbacks", "err", err)
		} else if len(ids) > 0 {
			e.log.Warn("reclaimed callbacks of a replica that stopped renewing its lease", "callbacks", len(ids))
		}
		claimed, err := e.callbacks.Claim(ctx, e.store.node, e.opts.CallbackLease, callbackClaimMax)
		if err != nil && ctx.Err() == nil {
			e.log.Error("claim callbacks", "err", err)
		}
		for _, cb := range claimed {
			e.startCallback(cb)
		}
		if len(claimed) == callbackClaimMax {
			continue // more may be due
		}
		select {
		case <-ctx.Done():
			return nil
		case <-t.C:
		case <-e.cbWake:
		}
	}
}

// startCallback starts the actor of a claimed callback. A callback whose
// dial had started on a replica that died keeps that interaction.
func (e *Engine) startCallback(cb callbacks.Callback) {
	conn := newConnectionID()
	if cb.DialStarted > 0 && cb.Conn != "" {
		conn = cb.Conn
	}
	c := &call{e: e, conn: conn, wake: make(chan struct{}, 1),
		arrived: CallArrived{ANI: cb.Number, DNIS: cb.DNIS, Vars: cb.Vars}, cb: &cbCall{rec: cb}}
	c.log = e.log.With("connection_id", conn, "callback_id", cb.ID)
	e.mu.Lock()
	if e.ctx == nil || e.ctx.Err() != nil {
		e.mu.Unlock()
		return // the lease runs out and another replica takes it
	}
	e.calls[conn] = c
	ctx := e.ctx
	e.wg.Add(1)
	e.mu.Unlock()
	c.post(cbClaimed{rec: cb})
	go func() {
		defer e.wg.Done()
		c.run(ctx)
	}()
}

// onCallbackClaimed puts a claimed callback in its queue (or continues the
// dial a dead replica started).
func (c *call) onCallbackClaimed(ctx context.Context, cb callbacks.Callback) {
	c.startLeaseTicks()
	if cb.DialStarted > 0 {
		c.takeOverDial(ctx, cb)
		return
	}
	if cb.Conn != "" {
		c.cleanUpAfterDeadHolder(ctx, cb)
	}
	settings, ok := c.e.opts.Queues[cb.Queue]
	if !ok {
		c.log.Error("callback for a queue no longer configured; failing its attempt", "queue", cb.Queue)
		c.completeAttempt(ctx, callbacks.OutcomeFailed)
		c.phase = phaseDone
		return
	}
	c.queueName, c.settings = cb.Queue, settings
	if sched := c.e.schedules[cb.Queue]; sched != nil {
		now := c.e.opts.Now()
		if !sched.Open(now) {
			next, ok := sched.NextOpen(now)
			delay := time.Hour
			if ok {
				delay = next.Sub(now)
			}
			c.release(ctx, delay, "queue closed")
			return
		}
	}
	if full, err := c.e.store.AtCapacity(ctx); err == nil && full {
		c.release(ctx, callbackBusyRetry, "maximum concurrent calls")
		return
	}
	vars := map[string]string{}
	for k, v := range cb.Vars {
		vars[k] = v
	}
	vars["callback_id"], vars["callback_number"] = cb.ID, cb.Number
	if err := c.e.store.ArriveCallback(ctx, c.conn, cb.Number, cb.DNIS, vars); err != nil {
		c.log.Error("callback interaction", "err", err)
		c.release(ctx, callbackBusyRetry, "interaction not created")
		return
	}
	c.cb.arrived = true
	c.e.store.rdb.HSet(ctx, c.e.store.keys.Interaction(c.conn), "kind", "callback", "callback_id", cb.ID)
	if err := c.e.callbacks.Attach(ctx, cb.ID, c.cb.rec.Node, c.conn, ""); err != nil {
		// Nobody else knows this interaction yet: end it here.
		c.log.Warn("attach the callback's interaction", "err", err)
		if !errors.Is(err, callbacks.ErrLeaseLost) {
			c.release(ctx, callbackBusyRetry, "interaction not attached")
		} else if cur, gerr := c.e.callbacks.Get(ctx, cb.ID); gerr == nil && cur.State == callbacks.StateCancelled && cur.CancelledHolder == cb.Node {
			c.cb.withdrawn = true // cancelled right after the claim
		}
		c.cb.completed = true
		c.finishQuietly(ctx)
		return
	}
	if len(settings.Variables) > 0 {
		if _, err := c.e.cad.Init(ctx, c.conn, settings.Variables, vars); err != nil {
			c.log.Warn("call-associated data", "err", err)
		}
	}
	c.phase = phaseQueued
	offer, err := c.e.store.EnqueueAt(ctx, c.conn, cb.Queue, settings.Priority, queueScore(cb, settings.Priority))
	if err != nil {
		c.log.Error("enqueue callback", "err", err)
		c.release(ctx, callbackBusyRetry, "enqueue failed")
		c.finishQuietly(ctx)
		return
	}
	c.queuedAt = time.Now()
	c.log.Info("callback waiting in queue", "queue", cb.Queue, "kind", cb.Kind)
	if offer != nil {
		c.onOffer(ctx, offerMsg{offer: *offer})
	}
}

// queueScore is the score a callback waits with: a courtesy callback's is
// the original call's (already in its priority band); the others' is their
// creation time, put in the queue's priority band.
func queueScore(cb callbacks.Callback, priority int) float64 {
	if cb.Score >= 1e13 {
		return cb.Score
	}
	return float64(9-priority)*1e13 + cb.Score
}

// cleanUpAfterDeadHolder ends what a replica that died before dialling
// left: its interaction (freeing a reserved agent) and a ringing agent leg.
func (c *call) cleanUpAfterDeadHolder(ctx context.Context, cb callbacks.Callback) {
	if cb.AgentLeg != "" {
		c.hangup(ctx, cb.AgentLeg, CauseNormal)
	}
	_, next, err := c.e.store.Finish(ctx, cb.Conn, "failed", "system")
	if err != nil && !errors.Is(err, ErrIllegalTransition) && !errors.Is(err, ErrNotFound) {
		c.log.Warn("end the interaction a dead replica left", "old_connection_id", cb.Conn, "err", err)
	}
	c.log.Warn("callback taken over before its dial; starting over in its place", "old_connection_id", cb.Conn, "from", cb.Node)
	c.e.deliver(ctx, next, time.Now())
}

// release gives the callback back without an attempt.
func (c *call) release(ctx context.Context, delay time.Duration, why string) {
	if _, err := c.e.callbacks.Release(ctx, c.cb.rec.ID, c.cb.rec.Node, delay); err != nil {
		c.log.Warn("release callback", "err", err)
	}
	c.cb.completed = true
	c.phase = phaseDone
	c.log.Info("callback released", "why", why, "due_in", delay)
}

// startLeaseTicks renews the lease at a third of its length while the
// actor holds the callback.
func (c *call) startLeaseTicks() {
	c.cb.leaseGen++
	gen := c.cb.leaseGen
	time.AfterFunc(c.e.opts.CallbackLease/3, func() { c.post(leaseTick{gen: gen}) })
}

func (c *call) onLeaseTick(ctx context.Context, m leaseTick) {
	if c.cb == nil || m.gen != c.cb.leaseGen {
		return
	}
	if c.cb.pending == "" && (c.cb.completed || c.phase == phaseDone) {
		return
	}
	if _, err := c.e.callbacks.Extend(ctx, c.cb.rec.ID, c.cb.rec.Node, c.e.opts.CallbackLease); err != nil {
		if errors.Is(err, callbacks.ErrLeaseLost) {
			c.lostLease(ctx, err)
			return
		}
		// Redis did not answer: the lease still runs; try again sooner.
		c.log.Warn("renew callback lease; retrying", "err", err)
		c.cb.leaseGen++
		gen := c.cb.leaseGen
		time.AfterFunc(c.e.opts.CallbackLease/6, func() { c.post(leaseTick{gen: gen}) })
		return
	}
	if o := c.cb.pending; o != "" {
		if _, ok := c.completeAttempt(ctx, o); ok {
			return // recorded; the lease ended with it
		}
	}
	c.startLeaseTicks()
}

// lostLease: another replica took the callback (this one stalled past its
// lease). It cleans up and carries on; this actor must not touch the
// callback's legs any more.
func (c *call) lostLease(ctx context.Context, err error) {
	c.cb.completed = true
	if cb, gerr := c.e.callbacks.Get(ctx, c.cb.rec.ID); gerr == nil && cb.State == callbacks.StateCancelled && cb.CancelledHolder == c.cb.rec.Node {
		c.withdrawCallback(ctx)
		return
	}
	c.log.Error("callback lease lost; leaving the callback to the replica that took it", "err", err)
	c.stopTimer()
	c.phase = phaseDone
}

// withdrawCallback ends the interaction of a callback cancelled while it
// waited for an agent (Store.Cancel refuses a cancel once the customer is
// being dialled): out of the queue, a ringing agent's phone hung up, an
// agent who answered freed.
func (c *call) withdrawCallback(ctx context.Context) {
	c.cb.completed = true
	switch c.phase {
	case phaseQueued, phaseRinging, phaseCallbackAgent:
	case phaseArriving:
		// Cancelled between the claim and the queue: end what exists.
		if c.cb.arrived {
			c.cb.withdrawn = true
			c.finish(ctx, "cancelled")
		}
		c.phase = phaseDone
		return
	default:
		return
	}
	if c.cb.stopMessage != nil {
		c.cb.stopMessage()
	}
	c.stopTimer()
	if c.ringAll != nil {
		c.hangupRing(ctx, "")
	}
	c.hangup(ctx, c.agentLeg, CauseNormal)
	c.cb.withdrawn = true
	c.log.Info("callback cancelled while waiting; withdrawn", "phase", c.phase)
	c.finish(ctx, "cancelled")
}

// completeAttempt records the attempt's outcome; the lease ends with it.
// It reports false if the outcome is not recorded: the lease was lost
// (another replica continues the callback), or Redis failed, in which case
// the outcome stays pending and the lease ticks retry it.
func (c *call) completeAttempt(ctx context.Context, o callbacks.Outcome) (callbacks.Callback, bool) {
	var cb callbacks.Callback
	var err error
	for try := range 3 {
		if try > 0 {
			select {
			case <-ctx.Done():
			case <-time.After(100 * time.Millisecond):
			}
		}
		cb, err = c.e.callbacks.Complete(ctx, c.cb.rec.ID, c.cb.rec.Node, o)
		if err == nil || errors.Is(err, callbacks.ErrLeaseLost) {
			break
		}
	}
	if errors.Is(err, callbacks.ErrLeaseLost) {
		c.cb.completed, c.cb.pending = true, ""
		c.log.Error("complete callback attempt: lease lost", "outcome", o, "err", err)
		return cb, false
	}
	if err != nil {
		c.cb.pending = o
		c.log.Error("complete callback attempt; retrying with the lease", "outcome", o, "err", err)
		return cb, false
	}
	c.cb.completed, c.cb.pending = true, ""
	c.e.store.Record(ctx, c.conn, "callback_attempt", "callback_id", cb.ID, "outcome", string(o),
		"attempt", strconv.Itoa(len(cb.Attempts)), "state", string(cb.State))
	c.log.Info("callback attempt done", "outcome", o, "attempt", len(cb.Attempts), "state", cb.State)
	return cb, true
}

// callbackAgentAnswered: the agent took the callback. They hear the
// caller's message, then the customer is dialled (or the agent accepts
// first).
func (c *call) callbackAgentAnswered(ctx context.Context, leg string) {
	c.stopTimer()
	o := c.offer
	if err := c.e.store.Connect(ctx, c.conn, o.Agent, leg); err != nil {
		c.log.Warn("connect callback agent", "agent_id", o.Agent, "err", err)
		c.hangup(ctx, leg, CauseNormal)
		return
	}
	c.phase = phaseCallbackAgent
	c.answeredAt = time.Now()
	if !c.queuedAt.IsZero() {
		wait := c.answeredAt.Sub(c.queuedAt)
		c.e.store.CountAnswered(ctx, c.queueName, wait, c.settings.ServiceLevel)
		c.queuedAt = time.Time{}
	}
	// The leg that answered (a ring-all offer rings several), for a replica
	// taking over after this one died.
	if err := c.e.callbacks.Attach(ctx, c.cb.rec.ID, c.cb.rec.Node, c.conn, leg); err != nil {
		c.log.Warn("attach callback agent leg", "err", err)
	}
	if media := c.cb.rec.Media; media != "" {
		// Played while the actor goes on (the lease is renewed, a hang-up
		// is seen); its end comes back as cbMessagePlayed.
		pctx, cancel := context.WithTimeout(ctx, 3*time.Minute)
		c.cb.stopMessage = cancel
		c.e.wg.Add(1)
		go func() {
			defer c.e.wg.Done()
			defer cancel()
			if err := c.e.pbx.Play(pctx, leg, media); err != nil && pctx.Err() == nil {
				c.log.Warn("play the caller's message to the agent", "err", err)
			}
			c.post(cbMessagePlayed{})
		}()
		return
	}
	c.afterMessage(ctx)
}

// afterMessage: the agent has heard the caller's message (if any); the
// customer is dialled, or the agent accepts first.
func (c *call) afterMessage(ctx context.Context) {
	o := c.offer
	if c.settings.Callback.Accept == config.AcceptAgent {
		c.cb.accept = true
		c.log.Info("callback waits for the agent to accept", "agent_id", o.Agent)
		return
	}
	c.dialCustomer(ctx)
}

// dialCustomer starts the attempt: recorded first (StartDial), then dialled.
func (c *call) dialCustomer(ctx context.Context) {
	c.cb.accept = false
	rec := c.cb.rec
	if err := c.e.store.CountCall(ctx, c.conn); err != nil {
		// The cap was reached since the callback was claimed: no dial; the
		// callback waits in its place and the agent is freed.
		c.log.Warn("callback not dialled", "err", err)
		c.hangup(ctx, c.agentLeg, CauseNormal)
		c.release(ctx, callbackBusyRetry, "maximum concurrent calls")
		c.finishQuietly(ctx)
		return
	}
	leg := fmt.Sprintf("%s-c%d", c.conn, len(rec.Attempts)+1)
	n, err := c.e.callbacks.StartDial(ctx, rec.ID, rec.Node, leg, c.e.pbx.Owner())
	if err != nil {
		c.log.Error("start callback dial; not dialled", "err", err)
		c.hangup(ctx, c.agentLeg, CauseNormal)
		if errors.Is(err, callbacks.ErrLeaseLost) {
			// Another replica (or a cancel) has it now.
			c.cb.completed = true
		} else {
			// Redis may have recorded the start after all: the attempt is
			// settled as failed under the lease (nothing was dialled), so
			// it is never taken over as a dial in flight.
			c.completeAttempt(ctx, callbacks.OutcomeFailed)
		}
		c.finishQuietly(ctx)
		return
	}
	c.cb.started = n
	callerID := rec.CallerID
	if callerID == "" {
		callerID = c.settings.Callback.CallerID
	}
	if callerID == "" {
		callerID = c.e.opts.Dial.CallerID
	}
	c.callerLeg = leg
	c.e.registerLeg(leg, c)
	c.phase = phaseCallbackDialing
	err = c.e.pbx.Ring(ctx, RingRequest{
		Leg: leg, Endpoint: strings.ReplaceAll(c.e.opts.Dial.Endpoint, "{number}", rec.Number), CallerID: callerID,
		Timeout: c.e.opts.Dial.RingTimeout + 2*time.Second,
		// Not TANDEM_CONNECTION_ID: that names the leg offering a call to
		// an agent, and the agent's leg of this call carries it already.
		Vars: map[string]string{"TANDEM_CALLBACK_ID": rec.ID, "TANDEM_CALLBACK_CONNECTION_ID": c.conn},
	})
	c.e.store.Record(ctx, c.conn, "callback_dial", "callback_id", rec.ID, "attempt", strconv.Itoa(n), "leg", leg)
	if err != nil {
		c.log.Warn("dial callback customer", "err", err)
		// The request may still reach the PBX (a timeout): never leave a
		// leg that nobody would bridge.
		c.hangup(ctx, leg, CauseNormal)
		c.e.hangupLater(leg)
		c.customerFailed(ctx, leg, "failed", false)
		return
	}
	c.log.Info("dialling callback customer", "attempt", n, "leg", leg, "caller_id", callerID)
	c.ringTimer = time.AfterFunc(c.e.opts.Dial.RingTimeout, func() { c.post(ringTimeout{leg: leg}) })
}

// customerAnswered bridges the customer with the agent: from here on an
// ordinary connected call.
func (c *call) customerAnswered(ctx context.Context, leg string) {
	c.stopTimer()
	if _, ok := c.completeAttempt(ctx, callbacks.OutcomeAnswered); !ok && c.cb.pending == "" {
		// The lease was lost: another replica continues these legs.
		c.phase = phaseDone
		return
	}
	// Recorded, or to be recorded by the lease ticks: the customer is on
	// the line either way.
	if err := c.e.pbx.Bridge(ctx, c.conn, c.agentLeg, leg); err != nil {
		c.log.Error("bridge callback", "err", err)
		c.endConnected(ctx, "system")
		return
	}
	c.bridged = true
	c.phase = phaseConnected
	c.startRecording(ctx)
	c.saveView(ctx)
	c.e.stats.answered.Add(1)
	c.log.Info("callback connected", "agent_id", c.agent)
	c.e.publish(ctx, AgentEvent{Type: "connected", Agent: c.agent, ConnectionID: c.conn, ANI: c.arrived.ANI,
		DNIS: c.arrived.DNIS, Queue: c.queueName, Kind: "callback"})
}

// customerFailed: nobody answered (or busy, or the dial failed). The agent
// is freed; the callback is retried later or fails.
func (c *call) customerFailed(ctx context.Context, leg, reason string, timedOut bool) {
	c.stopTimer()
	if timedOut {
		c.hangup(ctx, leg, CauseNoAnswer)
	}
	c.e.forgetLeg(leg)
	c.callerLeg = ""
	outcome := callbacks.OutcomeFailed
	switch reason {
	case "no_answer", "rejected":
		outcome = callbacks.OutcomeNoAnswer
	case "busy":
		outcome = callbacks.OutcomeBusy
	}
	c.completeAttempt(ctx, outcome)
	c.hangup(ctx, c.agentLeg, CauseNormal)
	c.finishQuietly(ctx)
}

// callbackAgentGone: the agent hung up before the customer answered.
func (c *call) callbackAgentGone(ctx context.Context) {
	c.stopTimer()
	if c.cb.stopMessage != nil {
		c.cb.stopMessage()
	}
	c.agentLeg = ""
	if c.phase == phaseCallbackDialing {
		c.hangup(ctx, c.callerLeg, CauseNormal)
		c.callerLeg = ""
		c.completeAttempt(ctx, callbacks.OutcomeAgentFailed)
	} else if !c.cb.completed {
		// No dial yet: the callback goes back to its place, no attempt.
		c.release(ctx, 0, "agent hung up before the dial")
	}
	c.finishQuietly(ctx)
}

// finishQuietly ends the callback's interaction with nobody left on it
// (the agent goes to wrap-up as after any call).
func (c *call) finishQuietly(ctx context.Context) { c.finish(ctx, "system") }

// takeOverDial continues an attempt a dead replica started: its legs are
// taken over, never dialled again.
func (c *call) takeOverDial(ctx context.Context, cb callbacks.Callback) {
	c.log.Warn("taking over a callback dial of a replica that died", "from", cb.DialOwner, "attempt", cb.DialStarted, "leg", cb.DialLeg)
	c.cb.started = cb.DialStarted
	if _, err := c.e.store.Adopt(ctx, cb.Conn); err != nil {
		c.log.Warn("adopt the interaction", "err", err)
	}
	ix, err := c.e.store.Interaction(ctx, cb.Conn)
	if err != nil {
		c.log.Error("read the interaction of the taken-over dial", "err", err)
	}
	c.queueName, c.settings = cb.Queue, c.e.opts.Queues[cb.Queue]
	c.agent, c.agentLeg = ix.Agent, cb.AgentLeg
	if c.agent != "" {
		c.offer = &Offer{ConnectionID: c.conn, Agent: c.agent}
	}
	legs := []string{cb.DialLeg}
	if cb.AgentLeg != "" {
		legs = append(legs, cb.AgentLeg)
	}
	// The legs are this actor's before the PBX is asked, so an event that
	// comes while Takeover runs is not dropped as unknown.
	c.e.registerLeg(cb.DialLeg, c)
	if cb.AgentLeg != "" {
		c.e.registerLeg(cb.AgentLeg, c)
	}
	tctx, cancel := context.WithCancel(ctx)
	c.takeoverCancel = cancel
	states, err := c.e.pbx.Takeover(tctx, cb.DialOwner, legs)
	if err != nil {
		c.log.Error("take over the dead replica's legs; the attempt counts as failed", "err", err)
		c.completeAttempt(ctx, callbacks.OutcomeFailed)
		c.hangup(ctx, cb.AgentLeg, CauseNormal)
		c.hangup(ctx, cb.DialLeg, CauseNormal)
		c.finishQuietly(ctx)
		return
	}
	var customer, agent LegState
	for _, s := range states {
		switch s.Leg {
		case cb.DialLeg:
			customer = s
		case cb.AgentLeg:
			agent = s
		}
	}
	c.callerLeg = cb.DialLeg
	switch {
	case customer.Gone:
		// Its end happened while nobody listened: the outcome is unknown.
		c.callerLeg = ""
		c.completeAttempt(ctx, callbacks.OutcomeFailed)
		c.hangup(ctx, cb.AgentLeg, CauseNormal)
		c.finishQuietly(ctx)
	case cb.AgentLeg == "" || agent.Gone:
		c.phase = phaseCallbackDialing
		c.callbackAgentGone(ctx)
	case customer.Up:
		c.phase = phaseCallbackDialing
		c.customerAnswered(ctx, cb.DialLeg)
	default:
		c.phase = phaseCallbackDialing
		leg := cb.DialLeg
		c.ringTimer = time.AfterFunc(c.e.opts.Dial.RingTimeout, func() { c.post(ringTimeout{leg: leg}) })
		c.log.Info("continuing the taken-over dial", "leg", leg)
	}
}

// onCallbackEvent handles the PBX events of a callback between the agent's
// answer and the customer's; it reports whether it did.
func (c *call) onCallbackEvent(ctx context.Context, m any) bool {
	if c.cb == nil || (c.phase != phaseCallbackAgent && c.phase != phaseCallbackDialing) {
		return false
	}
	switch m := m.(type) {
	case LegAnswered:
		if m.Leg == c.callerLeg && c.phase == phaseCallbackDialing {
			c.customerAnswered(ctx, m.Leg)
			return true
		}
	case RingFailed:
		if m.Leg == c.callerLeg && c.phase == phaseCallbackDialing {
			c.customerFailed(ctx, m.Leg, m.Reason, false)
			return true
		}
	case ringTimeout:
		if m.leg == c.callerLeg && c.phase == phaseCallbackDialing {
			c.customerFailed(ctx, m.leg, "no_answer", true)
			return true
		}
	case LegHungUp:
		if m.Leg == c.agentLeg {
			c.callbackAgentGone(ctx)
			return true
		}
		if m.Leg == c.callerLeg && c.phase == phaseCallbackDialing {
			c.customerFailed(ctx, m.Leg, "failed", false)
			return true
		}
	case legLost:
		if m.leg == c.agentLeg {
			c.callbackAgentGone(ctx)
			return true
		}
		if m.leg == c.callerLeg {
			c.customerFailed(ctx, m.leg, "failed", false)
			return true
		}
	case cbAccepted:
		if c.cb.accept && c.phase == phaseCallbackAgent {
			c.dialCustomer(ctx)
		}
		return true
	case cbMessagePlayed:
		c.cb.stopMessage = nil
		c.e.store.Record(ctx, c.conn, "callback_message_played", "media", c.cb.rec.Media)
		if c.phase == phaseCallbackAgent {
			c.afterMessage(ctx)
		}
		return true
	}
	return false
}
