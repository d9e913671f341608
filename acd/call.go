package acd

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"github.com/tandem-cc/tandem/internal/clock"
)

// Messages an actor takes besides PBX events.
type (
	offerMsg struct {
		offer   Offer
		freedAt time.Time // when the agent was freed, for hand-off latency
	}
	ringTimeout struct{ leg string }
	legLost     struct{ leg string } // gone while the driver was not listening
)

// call is the actor of one interaction: one goroutine handles its events
// one at a time, so its PBX commands and Redis scripts never interleave.
type call struct {
	e         *Engine
	conn      string
	callerLeg string
	arrived   CallArrived
	log       *slog.Logger

	mu    sync.Mutex
	queue []any
	wake  chan struct{}

	// regLegs and regIDs: the keys this call put in the engine's registry
	// (registry.go); guarded by e.mu, not by the actor.
	regLegs []string
	regIDs  []string

	// Owned by the actor goroutine only.
	// route: where the call is on its way (route_fsm.go); moved only by routeTo.
	route      routeState
	queueName  string
	settings   QueueSettings
	offer      *Offer
	agent      string // the agent who has the customer ("" with an outside party)
	agentLeg   string // the leg of whoever has the customer
	ringTimer  clock.Timer
	answeredAt time.Time
	// bridge: the call's bridge (id = connection id; bridge_fsm.go), moved
	// only by bridgeTo; counterpart: whether an agent or an outside number
	// has (or rings for) the customer, moved only by counterpartTo.
	bridge      bridgeState
	counterpart counterpart
	// offeredAt: the current offer's agent leg was requested (offer-to-answer metric).
	offeredAt time.Time
	// popAttempt and popAgents: the offer whose screen pop is kept in
	// Redis and the agents it was shown to (offer_pop.go).
	popAttempt int
	popAgents  []string
	// resolvedOffers: offers up to this attempt were settled before this
	// actor ran the call (a rebuilt call: see staleRebuiltOffer).
	resolvedOffers int
	// outcome: how the call ends and whether finish ran (outcome_fsm.go),
	// moved only by outcomeTo.
	outcome outcomeState
	// cbWait is a callback's wait in queue until its agent answered, kept
	// until its customer answers (then it counts as answered).
	cbWait *time.Duration
	final  string // its final state, once finished

	// talk: hold, consult and conference (talk_fsm.go); consult is the
	// consulted party while the machine says a consult is active, and
	// heldSince when the customer went on hold.
	talk         talkState
	heldSince    time.Time
	consult      *party
	consultTimer clock.Timer
	legSeq       int
	// recState: the recording machine (recording_fsm.go); rec is the
	// current recording while it is not off.
	recState   recState
	rec        *recording
	recSeq     int
	recordings []Recording // finished recordings

	ivr          *ivrState
	secureVars   map[string]bool // attached by the IVR as secure
	queueGen     int             // bumps to cancel overflow/announcement timers
	queuedAt     time.Time
	ewtPos       int // position and serving agents when queued, for the
	ewtAgents    int // wait-time estimator's calibration
	lastPosition int
	lastEWT      time.Duration // ewt.NotAnnounced until announced
	// ringAll maps each leg of a ring-all offer to its agent, until one
	// answers (nil otherwise).
	ringAll map[string]RingMember

	// dialog is the caller's callback dialog (routeCallbackDialog).
	dialog *cbDialog
	// cb is set when the actor serves a claimed callback, not a caller.
	cb *cbCall
	// transferred: an agent blind-transferred the call to another agent or
	// to a queue, so its next screen pops are labelled "transfer".
	transferred bool
	// takeoverCancel ends the PBX takeover of a dead replica's legs.
	takeoverCancel context.CancelFunc

	// playbacks are the playbacks started and not seen end (playback.go);
	// playSeq numbers their ids.
	playbacks map[string]*playback
	playSeq   int
	// queueMedia is the playback a waiting caller hears instead of music
	// (an announcement, the callback offer), "" when none: an offer stops it.
	queueMedia string
	// queueMediaEnded runs when queueMedia ends, whether it played out or
	// an offer stopped it (not when the caller leaves the queue).
	queueMediaEnded func()
}

// post queues a message for the actor; it never blocks, so the PBX
// driver's delivery goroutine is never held up by one slow call.
func (c *call) post(m any) {
	c.mu.Lock()
	c.queue = append(c.queue, m)
	c.mu.Unlock()
	select {
	case c.wake <- struct{}{}:
	default:
	}
}

func (c *call) run(ctx context.Context) {
	defer c.e.forgetCall(c)
	defer c.stopTimer()
	defer c.stopPlaybackTimers()
	defer func() {
		if c.takeoverCancel != nil {
			c.takeoverCancel()
		}
		// An engine stopping acts like a crash: no PBX command for the
		// call (the next holder of the seat rebuilds it, reconcile.go).
		if c.cb != nil && c.cb.stopMessage != nil && ctx.Err() == nil {
			c.cb.stopMessage()
		}
	}()
	// A callback whose outcome Redis has not taken yet keeps its actor
	// (and its lease ticks) after the call, until it is recorded.
	for c.route != routeDone || (c.cb != nil && c.cb.attempt == attemptPending) {
		select {
		case <-ctx.Done():
			return
		case <-c.wake:
		}
		for {
			c.mu.Lock()
			if len(c.queue) == 0 {
				c.mu.Unlock()
				break
			}
			m := c.queue[0]
			c.queue = c.queue[1:]
			c.mu.Unlock()
			c.handle(ctx, m)
		}
	}
	if ctx.Err() == nil {
		// Every end takes the call's bridge with it, not only the end of
		// a connected call (endConnected destroys it after the hang-ups):
		// after a blind transfer to a queue, or a callback's end, it would
		// otherwise stay on the PBX, empty, since Asterisk keeps an ARI
		// bridge until it is destroyed.
		c.destroyBridge(ctx)
	}
}

func (c *call) handle(ctx context.Context, m any) {
	if c.onCallbackEvent(ctx, m) {
		return
	}
	switch m := m.(type) {
	case cbClaimed:
		c.onCallbackClaimed(ctx, m.rec)
	case leaseTick:
		c.onLeaseTick(ctx, m)
	case cbDigitTimeout:
		c.onCallbackDigitTimeout(ctx, m)
	case cbMessageDone:
		c.onCallbackMessageDone(ctx, m)
	case cbOfferDue:
		c.onCallbackOffer(ctx, m)
	case CallArrived:
		c.onArrived(ctx, m)
	case rebuildMsg:
		c.onRebuilt(ctx, m)
	case offerMsg:
		c.onOffer(ctx, m)
	case LegAnswered:
		c.onAnswered(ctx, m.Leg)
	case RingFailed:
		c.onRingFailed(ctx, m.Leg, m.Reason, false)
	case ringTimeout:
		c.onRingFailed(ctx, m.leg, "no_answer", true)
	case LegHungUp:
		c.onHungUp(ctx, m.Leg)
	case legLost:
		if m.leg == c.agentLeg && c.route == routeRinging {
			c.onRingFailed(ctx, m.leg, "lost", false)
		} else {
			c.onHungUp(ctx, m.leg)
		}
	case DTMFReceived:
		c.onDigit(ctx, m.Digit)
	case PlaybackFinished:
		c.onPlaybackFinished(ctx, m)
	case playbackTimeout:
		c.onPlaybackTimeout(ctx, m)
	case ivrTimeout:
		c.onIVRTimeout(ctx, m)
	case overflowDue:
		c.onOverflow(ctx, m)
	case announceDue:
		c.onAnnounce(ctx, m)
	case commandMsg:
		c.onCommand(ctx, m)
	case recAutoResume:
		c.onRecAutoResume(ctx, m)
	}
}

func (c *call) onArrived(ctx context.Context, ev CallArrived) {
	log := c.log.With("leg", ev.Leg, c.e.opts.CallerNumberLog.Attr(c.log, "ani", ev.ANI), "dnis", ev.DNIS)
	if _, err := c.e.store.Arrive(ctx, c.conn, ev.Leg, ev.ANI, ev.DNIS, ev.Vars); errors.Is(err, ErrFull) {
		c.refuseBusy(ctx)
		return
	} else if err != nil {
		log.Error("record arrival", "err", err)
		c.fail(ctx, "record arrival")
		return
	}
	log.Info("call arrived")
	if err := c.e.pbx.Answer(ctx, ev.Leg); err != nil {
		if errors.Is(err, ErrLegGone) {
			c.finish(ctx, "caller") // hung up before we could answer: abandoned
			return
		}
		log.Error("answer", "err", err)
		c.fail(ctx, "answer")
		return
	}
	if node, ok := c.e.ivrEntry(ev); ok {
		c.runNode(ctx, node)
		return
	}
	q, ok := c.e.queueFor(ev)
	if !ok {
		log.Warn("no queue for call", "queue", q)
		c.fail(ctx, "no queue")
		return
	}
	c.toQueue(ctx, q, -1, nil)
}

// refuseBusy is the treatment of a call past the contact center's maximum
// of concurrent calls: the busy message, then hang up. Redis counted it
// (and keeps no interaction for it).
func (c *call) refuseBusy(ctx context.Context) {
	c.log.Warn("maximum concurrent calls reached; refusing call")
	c.e.stats.refused.Add(1)
	hangup := func(ctx context.Context, _ PlaybackOutcome) {
		c.hangup(ctx, c.callerLeg, CauseCongestion)
		c.routeTo(rtEnd)
	}
	if err := c.e.pbx.Answer(ctx, c.callerLeg); err != nil {
		hangup(ctx, PlaybackFailed)
		return
	}
	c.routeTo(rtLastMessage)
	c.startMedia(ctx, c.callerLeg, hangup, c.e.opts.BusyMessage)
}

// fail ends a call Tandem cannot serve.
func (c *call) fail(ctx context.Context, why string) {
	_, err := c.e.store.Finish(ctx, c.conn, "failed", "system")
	if err == nil || errors.Is(err, ErrIllegalTransition) {
		c.outcomeTo(ocFinish)
	}
	if err == nil {
		c.final = StateFailed
	} else if !errors.Is(err, ErrIllegalTransition) {
		c.log.Warn("finish failed call", "err", err)
	}
	if c.callerLeg != "" {
		if err := c.e.pbx.Hangup(ctx, c.callerLeg, CauseCongestion); err != nil {
			c.log.Warn("hang up failed call", "err", err)
		}
	}
	c.log.Warn("call failed", "why", why)
	c.routeTo(rtEnd)
}

func (c *call) onOffer(ctx context.Context, m offerMsg) {
	o := m.offer
	if o.ConnectionID != c.conn {
		c.onConsultOffer(ctx, o) // routing found an agent for our consult to a queue
		return
	}
	if c.staleRebuiltOffer(o) {
		return
	}
	if c.route != routeQueued {
		// The call moved on (caller gone): the script that ended it already
		// released the agent, so there is nothing to give back.
		c.log.Info("offer dropped", "agent_id", o.Agent, "route", c.route)
		return
	}
	leg := fmt.Sprintf("%s-a%d", c.conn, o.Attempt)
	if len(o.RingAll) == 0 && !c.recordRing(ctx, o, leg) {
		return
	}
	// An announcement in progress is stopped once the agent's phone is
	// ringing (endQueueMedia, below): the ring request goes first, so the
	// hand-off never waits for the PBX to stop media.
	interrupted, ended := c.queueMedia, c.queueMediaEnded
	c.queueMedia, c.queueMediaEnded = "", nil
	if len(o.RingAll) > 0 {
		c.ringEveryone(ctx, o, m.freedAt)
		c.endQueueMedia(ctx, interrupted, ended)
		return
	}
	c.offer, c.agent, c.agentLeg = &o, o.Agent, leg
	c.routeTo(rtRing)
	c.counterpartTo(cpAgent)
	c.offeredAt = time.Now()
	c.e.registerLeg(leg, c)
	if !m.freedAt.IsZero() {
		c.e.stats.observeHandoff(time.Since(m.freedAt))
	}
	if c.cb != nil {
		// Remembered so that a replica taking the callback over after this
		// one died can hang a still-ringing phone up.
		if err := c.e.callbacks.Attach(ctx, c.cb.rec.ID, c.cb.rec.Node, c.conn, leg); err != nil {
			c.log.Warn("attach callback agent leg", "err", err)
		}
	}
	err := c.e.pbx.Ring(ctx, RingRequest{
		Leg: leg, Endpoint: o.Endpoint, CallerID: c.arrived.ANI, Originator: c.callerLeg,
		// The PBX's own timeout is a backstop: Tandem's timer below cancels
		// the leg first, so RONA happens at one predictable moment.
		Timeout: c.settings.RingTimeout + 2*time.Second,
		Vars:    map[string]string{"TANDEM_CONNECTION_ID": c.conn, "TANDEM_AGENT": o.Agent},
	})
	c.e.stats.offers.Add(1)
	unknown := errors.Is(err, ErrRingUnknown)
	if err != nil && !unknown {
		c.log.Warn("ring agent", "agent_id", o.Agent, "endpoint", o.Endpoint, "err", err)
		c.e.hangupLater(leg)
		c.endQueueMedia(ctx, interrupted, ended)
		c.onRingFailed(ctx, leg, "failed", false)
		return
	}
	c.endQueueMedia(ctx, interrupted, ended)
	c.ringTimer = c.after(c.settings.RingTimeout, ringTimeout{leg: leg})
	if unknown {
		c.ringUnknown(o, leg, err)
		return
	}
	c.log.Info("ringing agent", "agent_id", o.Agent, "endpoint", o.Endpoint, "leg", leg, "attempt", o.Attempt)
	c.showPop(ctx, o.Agent)
}

// ringUnknown: the PBX did not answer the ring request, so the agent's leg
// may exist or appear later. Offering the call to another agent now could
// ring two agents at once (seen under load: the first leg created seconds
// after the request timed out). The call stays ringing for this leg
// instead: the driver hangs the leg up whenever it appears and never
// reports its answer (ErrRingUnknown), and the call goes back to its queue
// (RONA) on the leg's end (RingFailed) — so only once the first leg is
// gone — or, if the PBX never creates it, on the ring timer, after which
// the driver still hangs it up on sight. No screen pop: the phone is not
// meant to ring.
func (c *call) ringUnknown(o Offer, leg string, err error) {
	c.log.Warn("ring agent: the PBX did not answer; waiting for the leg to be hung up before offering the call again",
		"agent_id", o.Agent, "endpoint", o.Endpoint, "leg", leg, "err", err)
}

// screenPop is the "offered" event an agent's desktop shows while their
// phone rings.
func (c *call) screenPop(agent string) AgentEvent {
	pop := AgentEvent{
		Type: "offered", Agent: agent, ConnectionID: c.conn, ANI: c.arrived.ANI, DNIS: c.arrived.DNIS,
		Queue: c.queueName, Attached: c.maskedVars(), Variables: c.popUp(),
	}
	switch {
	case c.cb != nil:
		// The callback pop-up: the label, the number to be dialled and how
		// long the customer has been waiting for it.
		pop.Kind, pop.Number, pop.RequestedAt = "callback", c.cb.rec.Number, c.cb.rec.Created
		pop.WaitingSeconds = int(time.Since(c.cb.rec.Created).Seconds())
	case c.transferred:
		pop.Kind = "transfer"
	}
	return pop
}

func (c *call) stopTimer() {
	if c.ringTimer != nil {
		c.ringTimer.Stop()
		c.ringTimer = nil
	}
}

func (c *call) onAnswered(ctx context.Context, leg string) {
	if c.cb != nil && leg == c.callerLeg {
		// A taken-over callback customer whose answer Takeover already
		// reported: the event repeats it.
		return
	}
	if c.ringAll != nil {
		if _, ok := c.ringAll[leg]; ok && c.route == routeRinging {
			c.ringAllAnswered(ctx, leg)
		}
	}
	if c.consult != nil && leg == c.consult.leg && !c.talk.consultAnswered() {
		c.onConsultAnswered(ctx)
		return
	}
	if c.cb != nil && leg == c.agentLeg && c.route == routeRinging {
		c.callbackAgentAnswered(ctx, leg)
		return
	}
	if c.counterpart == counterpartOutside && leg == c.agentLeg && c.route == routeRinging {
		c.routeTo(rtAnswer)
		if gone, err := c.joinCustomer(ctx, leg); err != nil {
			// The call stayed connected in Redis through the transfer.
			c.log.Warn("bridge outside number", "err", err)
			switch gone {
			case c.callerLeg:
				c.endConnected(ctx, "caller")
			case leg:
				c.endConnected(ctx, "outside")
			default:
				c.endConnected(ctx, "system")
			}
			return
		}
		c.saveView(ctx)
		return
	}
	if leg != c.agentLeg || c.route != routeRinging {
		c.log.Info("answer of a leg no longer wanted; hanging it up", "leg", leg)
		c.hangup(ctx, leg, CauseNormal)
		return
	}
	// Bridged first, recorded as answered (connected) after: a caller who
	// gives up as the agent answers, or an agent phone gone by the time
	// the answer is handled (a busy PBX reports it late), must not leave a
	// call counted as answered that nobody talked on.
	c.stopTimer()
	if gone, err := c.joinCustomer(ctx, leg); err != nil {
		c.bridgeFailed(ctx, leg, gone, err)
		return
	}
	if !c.agentTook(ctx, leg) {
		// Redis no longer offers the call to this leg: the customer goes
		// back to waiting where they were.
		c.unbridgeCustomer(ctx)
		return
	}
	o := c.offer
	c.outcomeTo(ocOfferEnd)
	c.routeTo(rtAnswer)
	c.startRecording(ctx)
	c.saveView(ctx)
	c.e.stats.answered.Add(1)
	c.log.Info("connected", "agent_id", o.Agent, "bridge", c.conn)
	c.e.publish(ctx, AgentEvent{Type: "connected", Agent: o.Agent, ConnectionID: c.conn, ANI: c.arrived.ANI, DNIS: c.arrived.DNIS, Queue: c.queueName})
}

// agentTook records that the offered agent answered leg: connected in
// Redis, and the call's wait counted once (service level, wait estimator).
// If Redis refuses (the call moved on), the leg is hung up and it reports
// false.
func (c *call) agentTook(ctx context.Context, leg string) bool {
	c.stopTimer()
	o := c.offer
	if err := c.e.store.Connect(ctx, c.conn, o.Agent, leg); err != nil {
		c.log.Warn("connect", "agent_id", o.Agent, "err", err)
		c.hangup(ctx, leg, CauseNormal)
		return false
	}
	c.answeredAt = time.Now()
	c.e.stats.observeOfferToAnswer(c.offeredAt)
	c.stopQueueTimers()
	if !c.queuedAt.IsZero() {
		wait := c.answeredAt.Sub(c.queuedAt)
		c.e.ewt.of(c.queueName).ObserveWait(c.ewtPos, c.ewtAgents, wait)
		if c.cb != nil {
			// A callback is answered when its customer answers, not its
			// agent: counted then (countCallbackAnswered), or never.
			c.cbWait = &wait
		} else {
			c.e.store.CountAnswered(ctx, c.queueName, wait, c.settings.ServiceLevel)
		}
		c.queuedAt = time.Time{} // count each call once, even after a transfer
	}
	return true
}

// countCallbackAnswered counts a callback whose customer answered in its
// queue's figures, with the wait until its agent answered (the queue's
// part of it: the customer's ringing is the dial's).
func (c *call) countCallbackAnswered(ctx context.Context) {
	if c.cbWait == nil {
		return
	}
	c.e.store.CountAnswered(ctx, c.queueName, *c.cbWait, c.settings.ServiceLevel)
	c.cbWait = nil
}

// joinCustomer bridges the customer with leg, creating the call's bridge
// the first time. leg joins first, so a customer whose agent is already
// gone keeps their music. When the PBX no longer has one of the two legs,
// gone names it.
func (c *call) joinCustomer(ctx context.Context, leg string) (gone string, err error) {
	if c.bridge == bridgeNone {
		// Asked before the request: one that fails may still have made
		// the bridge (a timeout), which the call's end must destroy.
		c.bridgeTo(brAsk)
		if err := c.e.pbx.Bridge(ctx, c.conn); err != nil {
			return "", err
		}
		c.bridgeTo(brCreate)
	}
	if err := c.e.pbx.AddToBridge(ctx, c.conn, leg); err != nil {
		return goneLeg(leg, err), err
	}
	if err := c.e.pbx.StopMusic(ctx, c.callerLeg); err != nil {
		c.log.Warn("stop music", "err", err)
	}
	if err := c.e.pbx.AddToBridge(ctx, c.conn, c.callerLeg); err != nil {
		return goneLeg(c.callerLeg, err), err
	}
	// leg may have hung up between the two joins, and the customer then
	// joined an empty bridge. Asking the PBX about leg once more (stopping
	// music it does not play is a no-op on a live leg) tells: still there
	// means it was there when the customer joined.
	if err := c.e.pbx.StopMusic(ctx, leg); errors.Is(err, ErrLegGone) {
		return leg, err
	}
	c.talkTo(ctx, tevJoin)
	return "", nil
}

// goneLeg is leg if err says the PBX no longer has it.
func goneLeg(leg string, err error) string {
	if errors.Is(err, ErrLegGone) {
		return leg
	}
	return ""
}

// bridgeFailed: the offered agent answered on leg, but the customer could
// not be bridged with them. Nothing was recorded as answered.
func (c *call) bridgeFailed(ctx context.Context, leg, gone string, err error) {
	switch gone {
	case c.callerLeg:
		// The caller hung up as the agent answered: abandoned, and the
		// agent is freed (their phone first).
		c.log.Info("caller gone before the bridge", "agent_id", c.agent)
		c.hangup(ctx, leg, CauseNormal)
		c.destroyBridge(ctx)
		c.finish(ctx, "caller")
	case leg:
		// The agent's phone hung up before it was bridged: as if it had not
		// answered (RONA); the customer goes back to their music.
		c.log.Info("agent leg gone before the bridge", "agent_id", c.agent, "leg", leg)
		c.unbridgeCustomer(ctx)
		c.onRingFailed(ctx, leg, "failed", false)
	default:
		c.log.Error("bridge", "err", err)
		c.hangup(ctx, leg, CauseNormal)
		c.destroyBridge(ctx)
		c.fail(ctx, "bridge")
	}
}

// unbridgeCustomer takes the customer out of the call's bridge and back to
// their queue's music.
func (c *call) unbridgeCustomer(ctx context.Context) {
	if err := c.e.pbx.RemoveFromBridge(ctx, c.conn, c.callerLeg); err != nil {
		c.log.Warn("take customer out of bridge", "err", err)
	}
	if err := c.e.pbx.StartMusic(ctx, c.callerLeg, c.settings.MOHClass); err != nil {
		c.log.Warn("music after a refused answer", "err", err)
	}
	c.talkTo(ctx, tevLeave)
}

// destroyBridge destroys the call's bridge if it may exist (bridge_fsm.go).
func (c *call) destroyBridge(ctx context.Context) {
	if c.bridge != bridgeUp && c.bridge != bridgeAsked {
		return
	}
	if err := c.e.pbx.DestroyBridge(ctx, c.conn); err != nil {
		c.log.Warn("destroy bridge", "err", err)
	}
	c.bridgeTo(brDestroy)
}

// onRingFailed is RONA: no answer in time, busy, rejected or unreachable.
func (c *call) onRingFailed(ctx context.Context, leg, reason string, timedOut bool) {
	if c.ringAll != nil && c.route == routeRinging {
		c.ringAllFailed(ctx, leg, reason, timedOut)
		return
	}
	if c.consult != nil && leg == c.consult.leg && !c.talk.consultAnswered() {
		c.consultFailed(ctx, reason)
		return
	}
	if leg != c.agentLeg || c.route != routeRinging {
		return // a leg given up earlier, reporting its end
	}
	if c.counterpart == counterpartOutside {
		c.log.Info("outside number did not answer", "reason", reason)
		c.endAll(ctx, "system")
		return
	}
	c.stopTimer()
	o := c.offer
	if timedOut {
		c.hangup(ctx, leg, CauseNoAnswer)
	}
	c.e.forgetLeg(leg)
	c.agent, c.agentLeg, c.offer = "", "", nil
	c.routeTo(rtRONA)
	blind := c.outcome == outcomeBlindOffer
	c.outcomeTo(ocOfferEnd)
	c.e.stats.ronas.Add(1)
	c.log.Info("agent did not answer; call back to head of queue", "agent_id", o.Agent, "reason", reason)
	// An agent free for the call gets it through the mailbox (Engine.deliverOffer).
	if err := c.e.store.NoAnswer(ctx, c.conn, o.Agent, reason); err != nil {
		c.log.Error("rona", "agent_id", o.Agent, "err", err)
		return
	}
	c.e.publish(ctx, AgentEvent{Type: "ended", Agent: o.Agent, ConnectionID: c.conn, Disposition: "rona"})
	if blind && c.e.opts.BlindTransferNoAnswer != "requeue" {
		// A blind transfer the target did not take abandons the call (the
		// desktops Tandem replaces do so); "requeue" keeps it queued.
		// An offer NoAnswer made meanwhile is released by the finish.
		c.hangup(ctx, c.callerLeg, CauseNormal)
		c.finish(ctx, "system")
		c.destroyBridge(ctx)
		return
	}
}

func (c *call) onHungUp(ctx context.Context, leg string) {
	switch {
	case leg == c.callerLeg:
		switch c.route {
		case routeDone:
			// Over here already: Tandem hung this leg up after ending the
			// call (every path that ends it does), or another replica has
			// the call now. Finishing again would only be refused.
		case routeRinging:
			c.stopTimer()
			c.hangup(ctx, c.agentLeg, CauseNormal)
			c.hangupRing(ctx, "")
			c.finish(ctx, "caller")
			// Ringing after a blind transfer, the customer still has the
			// bridge they talked in.
			c.destroyBridge(ctx)
		case routeConnected:
			c.endConnected(ctx, "caller")
		case routeCallbackDialog:
			// Hung up between start and register: abandoned.
			if d := c.dialog; d != nil && d.recording != "" {
				if err := c.e.pbx.StopRecording(ctx, d.recording); err != nil {
					c.log.Warn("stop the message recording of a caller who hung up", "err", err)
				}
				c.destroyMessageBridge(ctx)
			}
			c.dialog = nil
			c.finish(ctx, "caller")
		case routeEnding:
			// The last message ends with the leg: what follows it (the
			// end of the call) runs now.
			c.endPlaybacksOf(ctx, leg)
		case routeIVR:
			// Recorded with the node where it happened (ivr_node).
			c.e.store.rdb.HSet(ctx, c.e.store.keys.Interaction(c.conn), "ivr_result", "hangup")
			c.e.store.Record(ctx, c.conn, "ivr_hangup", "node", nodeName(c.ivr))
			c.finish(ctx, "caller")
		default:
			c.finish(ctx, "caller")
		}
	case c.consult != nil && leg == c.consult.leg:
		c.e.forgetLeg(leg)
		if !c.talk.consultAnswered() {
			c.consultFailed(ctx, "failed")
			return
		}
		c.consult.leg = "" // already gone
		c.endConsult(ctx, "consulted")
		c.saveView(ctx)
	case leg == c.agentLeg && c.agentLeg != "":
		switch c.route {
		case routeConnected:
			switch {
			case c.talk == talkConference:
				c.agentLeg = ""
				c.ownerLeaves(ctx)
			case c.talk.consultAnswered():
				// The agent hung up during an answered consult: the consulted
				// party takes the customer, as a consult transfer.
				c.agentLeg = ""
				if err := c.cmdCompleteTransfer(ctx); err != nil {
					c.log.Warn("transfer on hang-up", "err", err)
				}
				c.saveView(ctx)
			case c.counterpart == counterpartOutside:
				// The outside number the call was transferred to (or left
				// with) hung up.
				c.endConnected(ctx, "outside")
			default:
				c.endConnected(ctx, "agent-phone")
			}
		case routeRinging:
			// Answered and gone before we saw the answer: same as no answer.
			c.onRingFailed(ctx, leg, "failed", false)
		}
	}
}

// endConnected ends a bridged call: the other leg is hung up, the agent is
// freed (and offered the next call), the bridge goes. by is who ended it;
// the leg of "caller", "agent-phone" (an agent who hung up their phone,
// recorded as "agent") or "outside" (the outside party who had the
// customer) is already gone.
func (c *call) endConnected(ctx context.Context, by string) {
	c.stopRecording(ctx)
	if c.consult != nil {
		c.endConsult(ctx, by)
	}
	agentPhone := by == "agent-phone" || by == "outside"
	if by == "agent-phone" {
		by = "agent"
	}
	if !agentPhone {
		// Hang the agent's leg up before the agent is freed, so the next
		// call can never ring a phone that still holds this one.
		c.hangup(ctx, c.agentLeg, CauseNormal)
	}
	c.finish(ctx, by)
	if by != "caller" {
		c.hangup(ctx, c.callerLeg, CauseNormal)
	}
	if err := c.e.pbx.DestroyBridge(ctx, c.conn); err != nil {
		c.log.Warn("destroy bridge", "err", err)
	}
	c.bridgeTo(brDestroy)
}

// endAll ends the call for everyone still on it, and takes its bridge
// down. Not connected does not mean no bridge: a blind transfer to a
// number or an agent keeps the bridge the customer talked in while the
// target rings, and a failed one ends here. The bridge used to be left to
// the end of the actor (run), before which it stayed on the PBX for good,
// empty (issue 11); the actor of a callback can outlive its call.
func (c *call) endAll(ctx context.Context, by string) {
	c.stopTimer()
	c.hangup(ctx, c.agentLeg, CauseNormal)
	c.hangup(ctx, c.callerLeg, CauseNormal)
	if c.route == routeConnected {
		c.endConnected(ctx, by)
		return
	}
	c.finish(ctx, by)
	c.destroyBridge(ctx)
}

// finish ends the interaction, once: a call already done (the caller's
// leg that Tandem hung up after ending the call reports its end too) is
// left alone.
func (c *call) finish(ctx context.Context, by string) {
	if c.outcome == outcomeFinished {
		return
	}
	freedAt := time.Now()
	agent := c.agent
	c.stopQueueTimers()
	how := "hangup"
	if c.outcome.served() {
		how = "completed"
	}
	if !c.answeredAt.IsZero() && c.queueName != "" {
		c.e.ewt.of(c.queueName).ObserveHandle(freedAt.Sub(c.answeredAt))
	}
	final, err := c.e.store.Finish(ctx, c.conn, how, by)
	c.routeTo(rtEnd)
	// A Redis error leaves it to a later event to try again.
	if err == nil || errors.Is(err, ErrIllegalTransition) {
		c.outcomeTo(ocFinish)
	}
	if err != nil {
		if !errors.Is(err, ErrIllegalTransition) {
			c.log.Error("finish", "err", err)
		}
		return
	}
	c.final = final
	c.log.Info("call finished", "state", final, "by", by)
	if final == StateAbandoned {
		c.e.stats.abandons.Add(1)
	}
	if final == StateAbandoned && !c.queuedAt.IsZero() {
		c.e.store.CountAbandoned(ctx, c.queueName)
	}
	if agent != "" {
		c.e.publish(ctx, AgentEvent{Type: "ended", Agent: agent, ConnectionID: c.conn, Disposition: final})
		c.e.scheduleWrapUp(agent)
	}
}

func (c *call) hangup(ctx context.Context, leg string, cause HangupCause) {
	if leg == "" {
		return
	}
	if err := c.e.pbx.Hangup(ctx, leg, cause); err != nil {
		c.log.Warn("hang up", "leg", leg, "err", err)
	}
}

// routeTo moves the call's route machine (route_fsm.go) on ev. The
// actor's handlers check the route before acting; an event the machine
// refuses here is a bug, logged, and the route stays.
func (c *call) routeTo(ev routeEvent) {
	to, err := nextRoute(c.route, ev)
	if err != nil {
		c.log.Error("route machine", "err", err)
		return
	}
	c.route = to
}

// bridgeTo moves the call's bridge machine (bridge_fsm.go) on ev; a
// refused event is a bug, logged, and the state stays.
func (c *call) bridgeTo(ev bridgeEvent) {
	to, err := nextBridge(c.bridge, ev)
	if err != nil {
		c.log.Error("bridge machine", "err", err)
		return
	}
	c.bridge = to
}

// counterpartTo moves the call's counterpart machine (bridge_fsm.go) on
// ev; a refused event is a bug, logged, and the state stays.
func (c *call) counterpartTo(ev counterpartEvent) {
	to, err := nextCounterpart(c.counterpart, ev)
	if err != nil {
		c.log.Error("counterpart machine", "err", err)
		return
	}
	c.counterpart = to
}

// outcomeTo moves the call's outcome machine (outcome_fsm.go) on ev; a
// refused event is a bug, logged, and the state stays.
func (c *call) outcomeTo(ev outcomeEvent) {
	to, err := nextOutcome(c.outcome, ev)
	if err != nil {
		c.log.Error("outcome machine", "err", err)
		return
	}
	c.outcome = to
}

// after posts m to the actor once d has passed on the engine's clock.
func (c *call) after(d time.Duration, m any) clock.Timer {
	return c.e.opts.Clock.AfterFunc(d, func() { c.post(m) })
}
