package acd

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/tandem-cc/tandem/ewt"
)

// Takeover with reconciliation: an Engine that starts for a seat (a replica
// restarting under its own node and Stasis application, or a survivor
// hosting a dead replica's seat) rebuilds every call of that seat from
// Redis and the PBX, so that nothing is orphaned.
//
//  1. Before the PBX socket opens (Run, loadSeat), the seat's live
//     interactions are read from their index (keyspace SeatCalls) and each
//     customer call gets an actor shell: registered under its connection id
//     and legs, so that offers and PBX events for it are kept in its
//     mailbox, but not running yet.
//  2. Once the socket is up (the driver's Initial Resynced), the legs are
//     entered and read (PBX.Takeover with the seat's own application), the
//     decision table (reconcileAction) says what each call becomes, and
//     each actor starts with that decision as its first message, before
//     anything its mailbox got meanwhile.
//  3. One sweep interval later (on the engine's clock), legs still in the
//     application that no call tracks are sent back to the dialplan (or
//     hung up) and bridges that no call uses are destroyed. The wait lets
//     a call that arrived while the application was read (its StasisStart
//     delivered after the read) be tracked first.
//
// A stopping Engine does nothing for its calls (see call.run: the actors
// return on ctx end, with no PBX command and no script), so the next holder
// finds them as they were.

// legFact is what the PBX says of one leg of a call at reconciliation.
type legFact string

const (
	legNone    legFact = "none"    // the call has no such leg (never rung, or not known)
	legGone    legFact = "gone"    // the PBX no longer has it: it ended while nobody listened
	legRinging legFact = "ringing" // present, not answered (an agent's phone still ringing)
	legUp      legFact = "up"      // present and answered
)

// reconcileAction is what a call of the seat becomes.
type reconcileAction string

const (
	// rcAbandon: the caller left before an agent had them (waiting, in
	// the IVR, ringing an agent): abandoned; the agent's leg is hung up
	// and the agent released (finish).
	rcAbandon reconcileAction = "abandon"
	// rcEndByCaller: a connected caller left: ended by the caller; the
	// agent's leg is hung up, the agent goes to wrap-up, the bridge goes.
	rcEndByCaller reconcileAction = "end_by_caller"
	// rcEndByAgent: a connected agent's (or outside number's) leg is gone:
	// ended by them; the caller is hung up, the bridge goes.
	rcEndByAgent reconcileAction = "end_by_agent"
	// rcRestart: the call had arrived and not reached a queue (the IVR, or
	// a moment before enqueue): it starts again from its entry, as if it
	// had just arrived (IVR entry menu, else its queue).
	rcRestart reconcileAction = "restart"
	// rcWait: a waiting caller keeps its place (same waiting-list score),
	// its music is started again and its queue timers re-armed.
	rcWait reconcileAction = "wait"
	// rcConnect: the offered agent answered while nobody listened: the
	// call is connected as after an answer.
	rcConnect reconcileAction = "connect"
	// rcRing: the offered agent's phone still rings: it keeps ringing,
	// with a fresh ring timer.
	rcRing reconcileAction = "ring"
	// rcRONA: the offered agent's phone rang and is gone: no answer; the
	// call goes back to the head of its queue, the agent to rona.
	rcRONA reconcileAction = "rona"
	// rcGiveBack: the offer never rang (the replica stopped between the
	// offer and the ring): the call goes back to the head of its queue,
	// the agent is available again.
	rcGiveBack reconcileAction = "give_back"
	// rcTalk: a connected call whose legs are both up: the actor tracks
	// them and the bridge, and the call goes on (hold works; a consult in
	// progress is ended, see onRebuilt).
	rcTalk reconcileAction = "talk"
	// rcCancelDialog: the caller was giving a callback number: the dialog
	// is cancelled and the caller waits in the place they had.
	rcCancelDialog reconcileAction = "cancel_dialog"
	// rcEndOrphan: a connected call nobody may continue (a callback call
	// whose callback serves another interaction, callbackToRebuild): ended
	// by the system; the legs are hung up, the agent goes to wrap-up.
	rcEndOrphan reconcileAction = "end_orphan"
	// rcFail: nothing the table knows (a state the seat cannot rebuild):
	// failed, every leg hung up.
	rcFail reconcileAction = "fail"
)

// reconcileFacts are a call's facts at reconciliation: its interaction's
// state in Redis, and its legs on the PBX.
type reconcileFacts struct {
	State  string  // the interaction's state
	Caller legFact // the customer's leg
	Agent  legFact // the leg of whoever has (or rings for) the customer
	// Rang: the offered agent's phone was rung (ringing.lua recorded the
	// leg), so a gone leg is a no-answer, not an offer never made.
	Rang bool
}

// decideReconcile is the reconciliation table: what a call becomes, from
// its interaction's state and what the PBX has of its legs.
func decideReconcile(f reconcileFacts) reconcileAction {
	if f.Caller == legGone || f.Caller == legNone {
		if f.State == StateConnected {
			return rcEndByCaller
		}
		return rcAbandon
	}
	switch f.State {
	case StateArrived:
		return rcRestart
	case StateQueued:
		return rcWait
	case StateCallback:
		return rcCancelDialog
	case StateOffered:
		switch f.Agent {
		case legUp:
			return rcConnect
		case legRinging:
			return rcRing
		}
		if f.Rang {
			return rcRONA
		}
		return rcGiveBack
	case StateConnected:
		if f.Agent == legUp {
			return rcTalk
		}
		return rcEndByAgent
	}
	return rcFail
}

// rebuildMsg is a rebuilt actor's first message.
type rebuildMsg struct {
	act reconcileAction
	sc  seatCall
}

// reconcileState is the engine's reconciliation: the shells waiting for
// the PBX, and the first Resynced.
type reconcileState struct {
	mu     sync.Mutex
	shells []*reconcileShell
	// up receives the driver's Resynced reports (the latest wins): the
	// first one starts the reconciliation.
	up chan Resynced
	// rebuilt names the legs and connection ids (bridges) of the calls
	// rebuilt: their actors deal with them, even once they have ended,
	// so they are no leftovers.
	rebuilt map[string]bool
}

type reconcileShell struct {
	c  *call
	sc seatCall
}

// noteResynced hands the driver's report to the reconciliation (never
// blocks: onEvent calls it).
func (e *Engine) noteResynced(ev Resynced) {
	for {
		select {
		case e.recon.up <- ev:
			return
		default:
		}
		select {
		case <-e.recon.up: // an older report: the newer one replaces it
		default:
		}
	}
}

// loadSeat reads the seat's live interactions and registers a shell for
// each customer call (step 1 above). Consults waiting for an agent are
// over (their call is rebuilt without them) and callbacks are left to the
// callback scheduler, which has its own takeover (callback_takeover.go),
// but those whose customer answered (connectedCallback).
func (e *Engine) loadSeat(ctx context.Context) error {
	calls, err := e.store.SeatCalls(ctx, e.store.node)
	if err != nil {
		return err
	}
	var consults []string
	for _, sc := range calls {
		switch sc.Kind {
		case "callback":
			rebuilt, ok := e.callbackToRebuild(ctx, sc)
			if !ok {
				continue
			}
			sc = rebuilt
		case "consult":
			consults = append(consults, sc.Conn)
			continue
		}
		e.addShell(sc)
	}
	if len(calls) > 0 {
		e.log.Info("reconcile: calls of the seat to rebuild", "calls", len(calls)-len(consults), "consults_ended", len(consults))
	}
	// Once every shell is registered: the agent a consult frees may be
	// offered one of the seat's calls, which must reach its shell.
	for _, conn := range consults {
		if _, err := e.store.Finish(ctx, conn, "failed", "system"); err != nil && !errors.Is(err, ErrIllegalTransition) {
			e.log.Warn("reconcile: end a consult of the previous holder", "connection_id", conn, "err", err)
		}
	}
	return nil
}

// addShell registers a not yet running actor for sc under its connection
// id and legs, and queues it for rebuild.
func (e *Engine) addShell(sc seatCall) {
	c := &call{e: e, conn: sc.Conn, callerLeg: sc.CallerLeg, wake: make(chan struct{}, 1), lastEWT: ewt.NotAnnounced,
		route: routeArriving, talk: talkIdle, recState: recOff, bridge: bridgeNone, counterpart: counterpartNone, outcome: outcomeOpen,
		arrived: CallArrived{Leg: sc.CallerLeg, ANI: sc.ANI, DNIS: sc.DNIS, Vars: sc.Attached}}
	c.log = e.log.With("connection_id", c.conn)
	e.mu.Lock()
	e.bindCallLocked(c.conn, c)
	for _, l := range sc.legs() {
		e.bindLegLocked(l, c)
	}
	e.mu.Unlock()
	e.recon.mu.Lock()
	e.recon.shells = append(e.recon.shells, &reconcileShell{c: c, sc: sc})
	e.recon.mu.Unlock()
}

// legs lists every leg of the call Redis knows.
func (sc seatCall) legs() []string {
	var out []string
	for _, l := range append([]string{sc.CallerLeg, sc.AgentLeg}, sc.RingLegs...) {
		if l != "" && !contains(out, l) {
			out = append(out, l)
		}
	}
	return out
}

// reconcile waits for the PBX socket, then rebuilds the shells' calls and
// clears the leftovers (steps 2 and 3). A failed read of the legs is tried
// again one sweep interval later (or at a reconnect, if sooner): the
// shells keep their mailboxes meanwhile.
func (e *Engine) reconcile(ctx context.Context) error {
	var ev Resynced
	select {
	case <-ctx.Done():
		return nil
	case ev = <-e.recon.up:
	}
	for {
		err := e.rebuild(ctx)
		if err == nil {
			break
		}
		if ctx.Err() != nil {
			return nil
		}
		e.log.Error("reconcile: read the legs of the seat's calls; trying again", "err", err)
		select {
		case <-ctx.Done():
			return nil
		case <-e.reconcileAfter(e.opts.SweepInterval):
		case ev = <-e.recon.up:
		}
	}
	// Step 3, one sweep interval later.
	select {
	case <-ctx.Done():
		return nil
	case <-e.reconcileAfter(e.opts.SweepInterval):
	}
	// A reconnect meanwhile read the application again: the newer list.
	select {
	case ev = <-e.recon.up:
	default:
	}
	e.clearLeftovers(ctx, ev)
	e.rebuildLateCallbacks(ctx)
	if e.opts.Reconciled != nil {
		e.opts.Reconciled()
	}
	return nil
}

// rebuild reads the shells' legs and starts each actor with its decision.
func (e *Engine) rebuild(ctx context.Context) error {
	e.recon.mu.Lock()
	shells := e.recon.shells
	e.recon.mu.Unlock()
	if len(shells) == 0 {
		return nil
	}
	var legs []string
	for _, s := range shells {
		legs = append(legs, s.sc.legs()...)
	}
	states, err := e.pbx.Takeover(ctx, e.pbx.Owner(), legs)
	if err != nil {
		return err
	}
	facts := make(map[string]legFact, len(states))
	for _, st := range states {
		switch {
		case st.Gone:
			facts[st.Leg] = legGone
		case st.Up:
			facts[st.Leg] = legUp
		default:
			facts[st.Leg] = legRinging
		}
	}
	e.recon.mu.Lock()
	e.recon.shells = nil
	e.recon.rebuilt = map[string]bool{}
	for _, s := range shells {
		e.recon.rebuilt[s.sc.Conn] = true
		for _, l := range s.sc.legs() {
			e.recon.rebuilt[l] = true
		}
	}
	e.recon.mu.Unlock()
	e.mu.Lock()
	runCtx := e.ctx
	e.mu.Unlock()
	for _, s := range shells {
		f := reconcileFacts{State: s.sc.State, Caller: legFactOf(facts, s.sc.CallerLeg), Agent: legFactOf(facts, s.sc.AgentLeg), Rang: s.sc.AgentLeg != ""}
		if len(s.sc.Ring) > 0 {
			// A ring-all offer: its legs are given up (hung up) and the
			// offer goes back, a no-answer if any of them rang.
			f.Agent, f.Rang = legNone, len(s.sc.RingLegs) > 0
		}
		act := decideReconcile(f)
		if s.sc.orphan {
			// See callbackToRebuild: ended, never continued.
			act = rcFail
			if s.sc.State == StateConnected {
				act = rcEndOrphan
			}
		}
		s.c.log.Info("reconcile: rebuilding call", "state", s.sc.State, "talk", s.sc.Talk, "caller", f.Caller, "agent", f.Agent, "action", act)
		m := rebuildMsg{act: act, sc: s.sc}
		s.c.mu.Lock()
		s.c.queue = append([]any{m}, s.c.queue...)
		s.c.mu.Unlock()
		e.startRebuilt(runCtx, s.c)
	}
	return nil
}

func legFactOf(facts map[string]legFact, leg string) legFact {
	if leg == "" {
		return legNone
	}
	if f, ok := facts[leg]; ok {
		return f
	}
	return legGone
}

// startRebuilt runs a rebuilt call's actor, owned like every actor by the
// engine's wait group.
func (e *Engine) startRebuilt(ctx context.Context, c *call) {
	e.mu.Lock()
	if ctx == nil || ctx.Err() != nil {
		e.mu.Unlock()
		return
	}
	e.wg.Add(1)
	e.mu.Unlock()
	select {
	case c.wake <- struct{}{}:
	default:
	}
	go func() {
		defer e.wg.Done()
		c.run(ctx)
	}()
}

// clearLeftovers handles what the previous holder left on the PBX that no
// call of the seat uses: legs in the application (back to the dialplan, or
// hung up if Tandem created them) and bridges (destroyed).
func (e *Engine) clearLeftovers(ctx context.Context, ev Resynced) {
	e.recon.mu.Lock()
	rebuilt := e.recon.rebuilt
	e.recon.mu.Unlock()
	e.mu.Lock()
	var strays, bridges []string
	for _, l := range ev.Live {
		if e.legs[l] == nil && !rebuilt[l] {
			strays = append(strays, l)
		}
	}
	for _, b := range ev.Bridges {
		if !e.usesBridgeLocked(b) && !rebuilt[b] {
			bridges = append(bridges, b)
		}
	}
	e.mu.Unlock()
	// A leg or bridge named after a connection this engine does not run
	// but Redis has live (a callback, carried by the callback scheduler's
	// own takeover) is not a leftover. Nor is a leg of a call this engine
	// took on after the rebuild (a callback dial its scheduler continues:
	// the actor registers the leg once its takeover has read it, which
	// may be after this read of the application).
	strays = slices.DeleteFunc(strays, func(l string) bool {
		return tandemLeg(l) && (e.runsSinceRebuild(l[:36], rebuilt) || e.liveElsewhere(ctx, l[:36]))
	})
	bridges = slices.DeleteFunc(bridges, func(b string) bool { return e.liveElsewhere(ctx, strings.TrimSuffix(b, "-msg")) })
	for _, l := range strays {
		lctx, cancel := context.WithTimeout(ctx, strayTimeout)
		if tandemLeg(l) {
			// A leg Tandem rang (an agent's, a consult's) for a call that
			// is over: there is no dialplan to go back to.
			if err := e.pbx.Hangup(lctx, l, CauseNormal); err != nil {
				e.log.Warn("reconcile: hang up a leftover leg", "leg", l, "err", err)
			} else {
				e.log.Warn("reconcile: hung up a leg no call of the seat has", "leg", l)
			}
		} else {
			outcome := e.returnStray(lctx, StrayArrived{Leg: l})
			e.opts.Metrics.Strays.WithLabelValues(outcome).Inc()
		}
		cancel()
	}
	for _, b := range bridges {
		if err := e.pbx.DestroyBridge(ctx, b); err != nil {
			e.log.Warn("reconcile: destroy a leftover bridge", "bridge", b, "err", err)
			continue
		}
		e.log.Warn("reconcile: destroyed a bridge no call of the seat has", "bridge", b)
	}
}

// runsSinceRebuild: this engine runs conn, and not as one of the calls it
// rebuilt (whose unknown legs are leftovers, like an ended consult's).
func (e *Engine) runsSinceRebuild(conn string, rebuilt map[string]bool) bool {
	e.mu.Lock()
	defer e.mu.Unlock()
	return e.calls[conn] != nil && !rebuilt[conn]
}

// usesBridgeLocked: bridge b is a live call's (its id is the connection id,
// or starts with it: a callback dialog's message bridge).
func (e *Engine) usesBridgeLocked(b string) bool {
	if e.calls[b] != nil {
		return true
	}
	for id := range e.calls {
		if strings.HasPrefix(b, id+"-") {
			return true
		}
	}
	return false
}

// liveElsewhere: conn is an interaction Redis has live that this engine
// does not run. A Redis error counts as live: nothing is cleared on a
// doubt.
func (e *Engine) liveElsewhere(ctx context.Context, conn string) bool {
	e.mu.Lock()
	mine := e.calls[conn] != nil
	e.mu.Unlock()
	if mine {
		return false
	}
	st, err := e.store.rdb.HGet(ctx, e.store.keys.Interaction(conn), "state").Result()
	if errors.Is(err, redis.Nil) {
		return false
	}
	if err != nil {
		e.log.Warn("reconcile: read an interaction a leftover is named after", "connection_id", conn, "err", err)
		return true
	}
	return st != StateEnded && st != StateAbandoned && st != StateFailed
}

// tandemLeg: the id is one Tandem chose for a leg it rang (a connection
// id, a dash, a suffix), not an inbound channel's.
func tandemLeg(id string) bool {
	return len(id) > 37 && id[36] == '-' && strings.Count(id[:36], "-") == 4
}

// onRebuilt is a rebuilt actor's first step: it puts the call's machines
// where Redis and the PBX say the call is (following the route machine's
// own path: arriving, queued, ringing, connected) and acts on the
// decision.
func (c *call) onRebuilt(ctx context.Context, m rebuildMsg) {
	sc := m.sc
	c.resolvedOffers = sc.Offers
	if sc.Queue != "" {
		c.queueName, c.settings = sc.Queue, c.e.opts.Queues[sc.Queue]
	}
	if !sc.Queued.IsZero() {
		c.queuedAt = sc.Queued
	}
	// No rebuilt call keeps a callback dialog's message bridge (the
	// dialog is cancelled, or the call is over); an unknown one is fine.
	if err := c.e.pbx.DestroyBridge(ctx, c.conn+"-msg"); err != nil {
		c.log.Warn("reconcile: destroy the message bridge", "err", err)
	}
	switch m.act {
	case rcTalk, rcEndByCaller, rcEndByAgent, rcEndOrphan, rcAbandon:
	default:
		// A call that waits for an agent again has no bridge: one the
		// previous holder made (before a blind transfer, or as the agent
		// answered) would make the next answer's bridge creation fail
		// (the PBX refuses an id in use). The customer, if in it, goes
		// back to music below.
		if err := c.e.pbx.DestroyBridge(ctx, c.conn); err != nil {
			c.log.Warn("reconcile: destroy the bridge of a call without an agent", "err", err)
		}
	}
	switch m.act {
	case rcAbandon:
		c.agent = sc.Agent
		for _, l := range append([]string{sc.AgentLeg}, sc.RingLegs...) {
			c.hangup(ctx, l, CauseNormal)
		}
		if sc.State != StateArrived {
			c.routeTo(rtEnqueue) // to count the abandon in its queue
		}
		c.finish(ctx, "caller")
		c.destroyBridgeByID(ctx)
	case rcEndOrphan:
		c.restoreConnected(sc)
		c.endConnected(ctx, "system")
	case rcEndByCaller, rcEndByAgent:
		c.restoreConnected(sc)
		if m.act == rcEndByCaller {
			c.endConnected(ctx, "caller")
		} else {
			c.endConnected(ctx, "agent-phone")
		}
	case rcRestart:
		c.restart(ctx)
	case rcWait:
		c.resumeWaiting(ctx)
	case rcCancelDialog:
		if err := c.e.store.CallbackCancel(ctx, c.conn, sc.Queue); err != nil {
			c.log.Error("reconcile: cancel the callback dialog", "err", err)
			c.fail(ctx, "reconcile: callback dialog")
			return
		}
		c.resumeWaiting(ctx)
	case rcRing, rcConnect:
		c.routeTo(rtEnqueue)
		if err := c.e.pbx.StartMusic(ctx, c.callerLeg, c.settings.MOHClass); err != nil {
			c.log.Warn("reconcile: restart music", "err", err)
		}
		c.resumeRinging(sc)
		if m.act == rcConnect {
			c.onAnswered(ctx, sc.AgentLeg)
		}
	case rcRONA, rcGiveBack:
		c.routeTo(rtEnqueue)
		for _, l := range append([]string{sc.AgentLeg}, sc.RingLegs...) {
			c.hangup(ctx, l, CauseNormal)
		}
		if m.act == rcGiveBack && len(sc.Ring) == 0 {
			// The leg the offer would have rung (its id is the attempt's):
			// a ring the previous holder sent just before it stopped may
			// have reached the PBX. A leg that is not there is no error.
			c.hangup(ctx, fmt.Sprintf("%s-a%d", c.conn, sc.Offers), CauseNormal)
		}
		c.resumeWaiting(ctx)
		if m.act == rcRONA {
			if err := c.e.store.NoAnswer(ctx, c.conn, "", "lost"); err != nil {
				c.log.Error("reconcile: no-answer of the offer", "err", err)
			} else {
				for _, a := range append([]string{sc.Agent}, sc.Ring...) {
					c.e.publish(ctx, AgentEvent{Type: "ended", Agent: a, ConnectionID: c.conn, Disposition: "rona"})
				}
			}
		} else if err := c.e.store.GiveBack(ctx, c.conn, "takeover"); err != nil {
			c.log.Error("reconcile: give the offer back", "err", err)
		}
	case rcTalk:
		c.restoreConnected(sc)
		c.restoreTalk(ctx, sc.Talk)
		if sc.ConsultAgent != "" && (sc.Talk == TalkConsulting || sc.Talk == TalkConferenced) {
			// The consulted agent's part is over: wrap-up if they
			// talked, else available.
			c.agentStep(ctx, sc.ConsultAgent, StepDone)
		}
		c.saveView(ctx)
	default:
		c.fail(ctx, "reconcile: state "+sc.State)
		c.hangup(ctx, sc.AgentLeg, CauseNormal)
		c.destroyBridgeByID(ctx)
	}
}

// restart runs an arrived call again from its entry (onArrived without
// the arrival, which Redis has): the IVR's entry menu, else its queue.
func (c *call) restart(ctx context.Context) {
	if err := c.e.pbx.Answer(ctx, c.callerLeg); err != nil && errors.Is(err, ErrLegGone) {
		c.finish(ctx, "caller")
		return
	}
	if node, ok := c.e.ivrEntry(c.arrived); ok {
		c.runNode(ctx, node)
		return
	}
	q, ok := c.e.queueFor(c.arrived)
	if !ok {
		c.fail(ctx, "no queue")
		return
	}
	c.toQueue(ctx, q, -1, nil)
}

// resumeWaiting puts a caller who waits in its queue (Redis kept its
// place) back to the experience of waiting: music, and the queue's timers
// (overflow, announcements, the callback offer) armed from now.
func (c *call) resumeWaiting(ctx context.Context) {
	if c.route == routeArriving {
		c.routeTo(rtEnqueue)
	}
	if err := c.e.pbx.StartMusic(ctx, c.callerLeg, c.settings.MOHClass); err != nil {
		c.log.Warn("reconcile: restart music", "err", err)
	}
	c.startQueueTimers()
	c.scheduleCallbackOffer(c.settings.Callback.OfferAfter)
}

// resumeRinging: the offer's agent leg still rings (or just answered): the
// actor tracks it as if it had rung it, with a fresh ring timer.
func (c *call) resumeRinging(sc seatCall) {
	o := Offer{ConnectionID: c.conn, Agent: sc.Agent, Attempt: sc.Offers}
	c.offer, c.agent, c.agentLeg = &o, sc.Agent, sc.AgentLeg
	c.routeTo(rtRing)
	c.counterpartTo(cpAgent)
	c.offeredAt = time.Now()
	c.ringTimer = c.after(c.settings.RingTimeout, ringTimeout{leg: sc.AgentLeg})
}

// restoreConnected: the call was connected (its bridge made, its agent
// talking) by the previous holder.
func (c *call) restoreConnected(sc seatCall) {
	c.offer = &Offer{ConnectionID: c.conn, Agent: sc.Agent, Attempt: sc.Offers}
	c.agent, c.agentLeg = sc.Agent, sc.AgentLeg
	c.routeTo(rtEnqueue)
	c.routeTo(rtRing)
	c.routeTo(rtAnswer)
	if sc.Agent != "" {
		c.counterpartTo(cpAgent)
	} else {
		c.counterpartTo(cpOutside)
	}
	c.bridgeTo(brCreate)
	c.answeredAt = time.Now()
	c.queuedAt = time.Time{} // counted when it was answered
	c.talk = talkTalking
}

// restoreTalk puts the talk machine where Redis says the call is. A
// consult in progress is not rebuilt: its legs are hung up (leftovers,
// clearLeftovers), and the call goes back to the customer on hold (consulting; Redis records a failed
// consult) or to talking (a conference: the consulted party left).
func (c *call) restoreTalk(ctx context.Context, recorded string) {
	switch recorded {
	case TalkHeld:
		c.talk = talkHeld
		c.heldSince = time.Now()
	case TalkConsulting:
		if err := c.e.store.Talk(ctx, c.conn, TalkConsulting, TalkHeld, string(tevConsultFail), "agent", c.agent, "reason", "takeover"); err != nil {
			c.log.Warn("reconcile: record the end of the consult", "err", err)
		}
		c.talk = talkHeld
		c.heldSince = time.Now()
		// The customer waits on hold, out of the bridge; the agent is
		// back in it.
		if err := c.e.pbx.RemoveFromBridge(ctx, c.conn, c.callerLeg); err != nil {
			c.log.Warn("reconcile: customer out of the bridge", "err", err)
		}
		if err := c.e.pbx.StartMusic(ctx, c.callerLeg, c.settings.MOHClass); err != nil {
			c.log.Warn("reconcile: hold music", "err", err)
		}
		if err := c.e.pbx.AddToBridge(ctx, c.conn, c.agentLeg); err != nil {
			c.log.Warn("reconcile: agent back in the bridge", "err", err)
		}
	case TalkConferenced:
		if err := c.e.store.Talk(ctx, c.conn, TalkConferenced, TalkTalking, string(tevConsultEnd), "agent", c.agent, "by", "takeover"); err != nil {
			c.log.Warn("reconcile: record the end of the conference", "err", err)
		}
	}
}

// destroyBridgeByID destroys the call's bridge whether or not this actor
// made it (the previous holder may have): an unknown bridge is not an
// error.
func (c *call) destroyBridgeByID(ctx context.Context) {
	if err := c.e.pbx.DestroyBridge(ctx, c.conn); err != nil {
		c.log.Warn("destroy bridge", "err", err)
	}
	c.bridgeTo(brDestroy)
}

// reconcileAfter is a channel closed once d has passed on the engine's clock.
func (e *Engine) reconcileAfter(d time.Duration) <-chan struct{} {
	ch := make(chan struct{})
	e.opts.Clock.AfterFunc(d, func() { close(ch) })
	return ch
}

// seatStopped: Run's context has ended: the engine no longer acts for the
// seat's calls.
func (e *Engine) seatStopped() bool {
	e.mu.Lock()
	defer e.mu.Unlock()
	return e.ctx != nil && e.ctx.Err() != nil
}

// staleRebuiltOffer: an offer made before the call was rebuilt, whose
// attempt the rebuild settled (given back, no-answer, rung on, connected).
// Such an offer can reach the actor after its rebuild: an inbox entry the
// previous holder was delivered and never acknowledged is read again at
// start (staleOffer finds it still pending then) and waits in the shell's
// mailbox behind the rebuild. Carried out after a give-back, it would ring
// an agent the give-back freed and routing may have reserved for another
// call meanwhile. The rebuild already released that attempt's agent, so
// the offer is only dropped. Every later offer has a higher attempt.
func (c *call) staleRebuiltOffer(o Offer) bool {
	if c.resolvedOffers == 0 || o.Attempt > c.resolvedOffers {
		return false
	}
	c.log.Info("offer settled by the rebuild dropped", "agent_id", o.Agent, "attempt", o.Attempt, "settled_up_to", c.resolvedOffers)
	return true
}
