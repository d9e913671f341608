package acd

import (
	"context"
	"errors"
	"strconv"
	"time"

	"github.com/tandem-cc/tandem/callbacks"
	"github.com/tandem-cc/tandem/errs"
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
	rec callbacks.Callback
	// attempt: the callback attempt machine (callback_attempt_fsm.go),
	// moved only by attemptTo.
	attempt  attemptState
	leaseGen int
	// arrived: its interaction exists (ArriveCallback ran).
	arrived bool
	// pending is the outcome Complete could not record yet (Redis failed)
	// while the attempt is pending: retried on every lease tick, which go
	// on until it is recorded.
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
	t := e.opts.Clock.NewTicker(e.opts.CallbackPoll)
	defer t.Stop()
	defer func() {
		if errors.Is(context.Cause(ctx), errs.ErrFenced) {
			// A newer holder runs this seat (and beats for its node): a
			// fenced engine stops like a crash, leaving the key to it.
			return
		}
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
		if e.opts.Clock.Now().Sub(beat) >= e.opts.CallbackLease/3 {
			if err := e.callbacks.Heartbeat(ctx, e.store.node, 3*e.opts.CallbackLease); err == nil {
				beat = e.opts.Clock.Now()
			} else if ctx.Err() == nil {
				e.log.Warn("callback heartbeat", "err", err)
			}
		}
		if ids, err := e.callbacks.Reclaim(ctx, callbacks.MaxBatch); err != nil && ctx.Err() == nil {
			e.log.Error("reclaim callbacks", "err", err)
		} else if len(ids) > 0 {
			e.log.Warn("reclaimed callbacks of a replica that stopped renewing its lease", "callbacks", len(ids))
		}
		var claimed []callbacks.Callback
		var err error
		if !e.draining.Load() { // a draining seat takes no new work
			claimed, err = e.callbacks.Claim(ctx, e.store.node, e.opts.CallbackLease, callbackClaimMax)
		}
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
		case <-t.C():
		case <-e.cbWake:
		}
	}
}

// callbackVars are the variables of the call that serves cb: the
// callback's own, and callback_id and callback_number set by Tandem over
// any of the same name (a request may not give them, see cad.Reserved, but
// a record written before that rule may hold them): the screen pop, the
// stored attached data and reconciliation all read these.
func callbackVars(cb callbacks.Callback) map[string]string {
	vars := make(map[string]string, len(cb.Vars)+2)
	for k, v := range cb.Vars {
		vars[k] = v
	}
	vars["callback_id"], vars["callback_number"] = cb.ID, cb.Number
	return vars
}

// startCallback starts the actor of a claimed callback. A callback whose
// dial had started on a replica that died keeps that interaction.
func (e *Engine) startCallback(cb callbacks.Callback) {
	conn := newConnectionID()
	if cb.DialStarted > 0 && cb.Conn != "" {
		conn = cb.Conn
	}
	c := &call{e: e, conn: conn, wake: make(chan struct{}, 1),
		arrived: CallArrived{ANI: cb.Number, DNIS: cb.DNIS, Vars: callbackVars(cb)}, cb: &cbCall{rec: cb, attempt: attemptHeld}, route: routeArriving, talk: talkIdle, recState: recOff,
		bridge: bridgeNone, counterpart: counterpartNone, outcome: outcomeOpen}
	c.log = e.log.With("connection_id", conn, "callback_id", cb.ID)
	e.mu.Lock()
	if e.ctx == nil || e.ctx.Err() != nil {
		e.mu.Unlock()
		return // the lease runs out and another replica takes it
	}
	e.bindCallLocked(conn, c)
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
		c.routeTo(rtEnd)
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
	if err := c.e.store.ArriveCallback(ctx, c.conn, cb.ID, cb.Number, cb.DNIS, c.arrived.Vars); err != nil {
		c.log.Error("callback interaction", "err", err)
		c.release(ctx, callbackBusyRetry, "interaction not created")
		// It may exist half-made (its kind not written): end it, if so.
		if _, ferr := c.e.store.Finish(ctx, c.conn, "failed", "system"); ferr != nil && !errors.Is(ferr, ErrNotFound) {
			c.log.Warn("end a half-made callback interaction", "err", ferr)
		}
		return
	}
	c.cb.arrived = true
	if err := c.e.callbacks.Attach(ctx, cb.ID, c.cb.rec.Node, c.conn, ""); err != nil {
		// Nobody else knows this interaction yet: end it here.
		c.log.Warn("attach the callback's interaction", "err", err)
		if !errors.Is(err, callbacks.ErrLeaseLost) {
			c.release(ctx, callbackBusyRetry, "interaction not attached")
		} else if cur, gerr := c.e.callbacks.Get(ctx, cb.ID); gerr == nil && cur.State == callbacks.StateCancelled && cur.CancelledHolder == cb.Node {
			c.outcomeTo(ocWithdraw) // cancelled right after the claim
		}
		c.attemptTo(aevSettle)
		c.finishQuietly(ctx)
		return
	}
	if len(settings.Variables) > 0 {
		if _, err := c.e.cad.Init(ctx, c.conn, settings.Variables, c.arrived.Vars); err != nil {
			c.log.Warn("call-associated data", "err", err)
		}
	}
	c.routeTo(rtEnqueue)
	if err := c.e.store.EnqueueAt(ctx, c.conn, cb.Queue, settings.Priority, queueScore(cb, settings.Priority)); err != nil {
		c.log.Error("enqueue callback", "err", err)
		c.release(ctx, callbackBusyRetry, "enqueue failed")
		c.finishQuietly(ctx)
		return
	}
	c.queuedAt = time.Now()
	c.log.Info("callback waiting in queue", "queue", cb.Queue, "kind", cb.Kind)
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
	_, err := c.e.store.Finish(ctx, cb.Conn, "failed", "system")
	if err != nil && !errors.Is(err, ErrIllegalTransition) && !errors.Is(err, ErrNotFound) {
		c.log.Warn("end the interaction a dead replica left", "old_connection_id", cb.Conn, "err", err)
	}
	c.e.destroyOrphanBridge(ctx, cb.Conn)
	c.log.Warn("callback taken over before its dial; starting over in its place", "old_connection_id", cb.Conn, "from", cb.Node)
}

// release gives the callback back without an attempt.
func (c *call) release(ctx context.Context, delay time.Duration, why string) {
	if _, err := c.e.callbacks.Release(ctx, c.cb.rec.ID, c.cb.rec.Node, delay); err != nil {
		c.log.Warn("release callback", "err", err)
	}
	c.attemptTo(aevSettle)
	c.routeTo(rtEnd)
	c.log.Info("callback released", "why", why, "due_in", delay)
}

// startLeaseTicks renews the lease at a third of its length while the
// actor holds the callback.
func (c *call) startLeaseTicks() {
	c.cb.leaseGen++
	gen := c.cb.leaseGen
	c.after(c.e.opts.CallbackLease/3, leaseTick{gen: gen})
}

func (c *call) onLeaseTick(ctx context.Context, m leaseTick) {
	if c.cb == nil || m.gen != c.cb.leaseGen {
		return
	}
	if c.cb.attempt != attemptPending && (c.cb.attempt == attemptSettled || c.route == routeDone) {
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
		c.after(c.e.opts.CallbackLease/6, leaseTick{gen: gen})
		return
	}
	if c.cb.attempt == attemptPending {
		if _, ok := c.completeAttempt(ctx, c.cb.pending); ok {
			return // recorded; the lease ended with it
		}
	}
	c.startLeaseTicks()
}

// lostLease: another replica took the callback (this one stalled past its
// lease). It cleans up and carries on; this actor must not touch the
// callback's legs any more.
func (c *call) lostLease(ctx context.Context, err error) {
	c.attemptTo(aevSettle)
	if cb, gerr := c.e.callbacks.Get(ctx, c.cb.rec.ID); gerr == nil && cb.State == callbacks.StateCancelled && cb.CancelledHolder == c.cb.rec.Node {
		c.withdrawCallback(ctx)
		return
	}
	c.log.Error("callback lease lost; leaving the callback to the replica that took it", "err", err)
	c.stopTimer()
	c.routeTo(rtEnd)
}

// withdrawCallback ends the interaction of a callback cancelled while it
// waited for an agent (Store.Cancel refuses a cancel once the customer is
// being dialled): out of the queue, a ringing agent's phone hung up, an
// agent who answered freed.
func (c *call) withdrawCallback(ctx context.Context) {
	c.attemptTo(aevSettle)
	switch c.route {
	case routeQueued, routeRinging, routeCallbackAgent:
	case routeArriving:
		// Cancelled between the claim and the queue: end what exists.
		if c.cb.arrived {
			c.outcomeTo(ocWithdraw)
			c.finish(ctx, "cancelled")
		}
		c.routeTo(rtEnd)
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
	c.outcomeTo(ocWithdraw)
	c.log.Info("callback cancelled while waiting; withdrawn", "route", c.route)
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
			// Waiting for Redis to recover is real time, not the engine's clock.
			case <-time.After(100 * time.Millisecond):
			}
		}
		cb, err = c.e.callbacks.Complete(ctx, c.cb.rec.ID, c.cb.rec.Node, o)
		if err == nil || errors.Is(err, callbacks.ErrLeaseLost) {
			break
		}
	}
	if errors.Is(err, callbacks.ErrLeaseLost) {
		c.attemptTo(aevSettle)
		c.log.Error("complete callback attempt: lease lost", "outcome", o, "err", err)
		return cb, false
	}
	if err != nil {
		c.attemptTo(aevNotRecorded)
		c.cb.pending = o
		c.log.Error("complete callback attempt; retrying with the lease", "outcome", o, "err", err)
		return cb, false
	}
	c.attemptTo(aevSettle)
	c.e.store.Record(ctx, c.conn, "callback_attempt", "callback_id", cb.ID, "outcome", string(o),
		"attempt", strconv.Itoa(len(cb.Attempts)), "state", string(cb.State))
	c.log.Info("callback attempt done", "outcome", o, "attempt", len(cb.Attempts), "state", cb.State)
	return cb, true
}

// attemptTo moves the callback's attempt machine (callback_attempt_fsm.go)
// on ev; the pending outcome is kept only while the attempt is pending.
// An event the machine refuses is a bug, logged, and the state stays.
func (c *call) attemptTo(ev attemptEvent) {
	to, err := nextAttempt(c.cb.attempt, ev)
	if err != nil {
		c.log.Error("callback attempt machine", "err", err)
		return
	}
	c.cb.attempt = to
	if to != attemptPending {
		c.cb.pending = ""
	}
}
