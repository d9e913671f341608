package e2e

import (
	"context"
	"log/slog"
	"os"
	"sync/atomic"
	"testing"
	"time"

	"github.com/tandem-cc/tandem/acd"
	"github.com/tandem-cc/tandem/agents"
	"github.com/tandem-cc/tandem/internal/lab"
	"github.com/tandem-cc/tandem/internal/redistest"
	"github.com/tandem-cc/tandem/media"
	"github.com/tandem-cc/tandem/pbxsim"
)

// startReconcileLab is a one-replica lab on pbx whose engines report each finished
// reconciliation on the returned channel.
func startReconcileLab(t *testing.T, pbx lab.PBXKind, wrap func(node string, pbx acd.PBX) acd.PBX, ivr ...acd.IVRMenus) (*lab.Lab, <-chan struct{}) {
	t.Helper()
	logger := slog.New(slog.DiscardHandler)
	if os.Getenv("TANDEM_TEST_LOG") != "" {
		logger = slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelDebug}))
	}
	reconciled := make(chan struct{}, 8)
	var menus acd.IVRMenus
	if len(ivr) > 0 {
		menus = ivr[0]
	}
	l := startLabWith(t, lab.Options{
		PBX:       pbx,
		Replicas:  1,
		RedisAddr: redistest.Start(t),
		Queues: map[string]acd.QueueSettings{
			// A ring timeout no test step reaches: ringing ends by the
			// phone's doing only.
			"sales": {MOHClass: "sales-music", RingTimeout: time.Minute},
		},
		DNIS:          map[string]string{"800": "sales"},
		SweepInterval: 200 * time.Millisecond,
		Logger:        logger,
		WrapPBX:       wrap,
		Engine: acd.Options{
			Policy:     acd.Policy{WrapUp: time.Hour},
			Reconciled: func() { reconciled <- struct{}{} },
			IVR:        menus,
		},
	})
	<-reconciled // the first engine's (nothing to rebuild)
	return l, reconciled
}

// TestRestartedReplicaRebuildsItsCalls: a replica owns calls in every
// phase — connected (C1), connected and held (C2), ringing an agent who
// does not answer (C3), waiting (C4), waiting and hung up while no replica
// runs (C5) — and stops as a crash would. A new engine for the same node
// and application rebuilds them: the caller who left is abandoned, the
// waiting caller keeps its place, connected calls end normally whichever
// side hangs up (agent to wrap-up), the ringing leg resolves (its agent's
// no-answer sends the call back to the head of the queue), the waiting
// callers are served as agents free up, and nothing is left on the PBX.
func TestRestartedReplicaRebuildsItsCalls(t *testing.T) {
	forEachPBX(t, func(t *testing.T, pbx lab.PBXKind) {
		l, reconciled := startReconcileLab(t, pbx, nil)
		ctx := context.Background()
		answer := pbxsim.Phone{Mode: pbxsim.Answer, RingFor: 10 * time.Millisecond}

		call := func(ani string) string {
			t.Helper()
			leg, err := l.PBX.Call(pbxsim.Caller{ANI: ani, DNIS: "800"})
			if err != nil {
				t.Fatal(err)
			}
			return interactionOfWait(t, l, leg)
		}
		// C1 and C2 connect, C2 is put on hold.
		login(t, l, 0, "a1", l.Endpoint("1001"), answer, "sales")
		c1 := call("5550001")
		waitState(t, l, c1, acd.StateConnected)
		login(t, l, 0, "a2", l.Endpoint("1002"), answer, "sales")
		c2 := call("5550002")
		waitState(t, l, c2, acd.StateConnected)
		if _, err := l.Replicas[0].Engine.Hold(ctx, "a2"); err != nil {
			t.Fatal(err)
		}
		// C3 rings a3, whose phone does not answer.
		login(t, l, 0, "a3", l.Endpoint("1003"), pbxsim.Phone{Mode: pbxsim.NoAnswer}, "sales")
		c3 := call("5550003")
		waitAgent(t, l, "a3", agents.Ringing)
		// C4 and C5 wait.
		c4 := call("5550004")
		waitState(t, l, c4, acd.StateQueued)
		waitRedisTick(t, l)
		c5 := call("5550005")
		waitState(t, l, c5, acd.StateQueued)
		score4 := waitingScore(t, l, c4)

		// The replica stops as a crash would; C5 hangs up meanwhile.
		if err := l.Replicas[0].Stop(); err != nil {
			t.Fatal(err)
		}
		ix5 := interaction(t, l, c5)
		if err := l.PBX.HangUp(ix5.CallerLeg); err != nil {
			t.Fatal(err)
		}
		for _, c := range []string{c1, c2, c3, c4} {
			if ix := interaction(t, l, c); ix.Terminal() {
				t.Fatalf("%s ended by a stopping replica: %s", c, ix.State)
			}
		}

		l.RestartEngine(0)
		<-reconciled
		waitState(t, l, c5, acd.StateAbandoned)
		if ix := interaction(t, l, c4); ix.State != acd.StateQueued || waitingScore(t, l, c4) != score4 {
			t.Fatalf("C4 after the restart: %s, score %v (was %v)", ix.State, waitingScore(t, l, c4), score4)
		}
		if ch, _ := l.PBX.Channel(interaction(t, l, c4).CallerLeg); ch.MOHClass != "sales-music" {
			t.Fatalf("C4 hears %q, want the queue's music", ch.MOHClass)
		}
		ix1 := waitState(t, l, c1, acd.StateConnected)
		ix2 := waitState(t, l, c2, acd.StateConnected)
		ix3 := waitState(t, l, c3, acd.StateOffered)

		// C2 is still held: it resumes.
		if v, err := l.Replicas[0].Engine.Resume(ctx, "a2"); err != nil || v.CustomerHeld {
			t.Fatalf("resume C2 after the restart: %+v, %v", v, err)
		}
		// C1's caller hangs up: ended by the caller, a1 in wrap-up.
		if err := l.PBX.HangUp(ix1.CallerLeg); err != nil {
			t.Fatal(err)
		}
		waitState(t, l, c1, acd.StateEnded)
		waitAgent(t, l, "a1", agents.WrapUp)
		// C2's agent hangs up: ended by the agent, a2 in wrap-up.
		if err := l.PBX.HangUp(ix2.AgentLeg); err != nil {
			t.Fatal(err)
		}
		if ix := waitState(t, l, c2, acd.StateEnded); ix.EndedBy != "agent" {
			t.Fatalf("C2 ended by %q, want agent", ix.EndedBy)
		}
		waitAgent(t, l, "a2", agents.WrapUp)
		// a3 declines the ringing C3: RONA, C3 back to the head of the queue.
		if err := l.PBX.HangUp(ix3.AgentLeg); err != nil {
			t.Fatal(err)
		}
		waitAgent(t, l, "a3", agents.RONA)
		waitState(t, l, c3, acd.StateQueued)

		// Agents free up: C3 (older) then C4 are served, in that order.
		if _, err := l.Replicas[0].Engine.WrapUp(ctx, "a1", "default"); err != nil {
			t.Fatal(err)
		}
		ix3 = waitState(t, l, c3, acd.StateConnected)
		if ix3.Agent != "a1" || interaction(t, l, c4).State != acd.StateQueued {
			t.Fatalf("a1 took %s's C3 / C4 is %s: the waiting order was lost", ix3.Agent, interaction(t, l, c4).State)
		}
		if _, err := l.Replicas[0].Engine.WrapUp(ctx, "a2", "default"); err != nil {
			t.Fatal(err)
		}
		ix4 := waitState(t, l, c4, acd.StateConnected)

		// Everyone hangs up: nothing is left on the PBX.
		for _, leg := range []string{ix3.CallerLeg, ix4.CallerLeg} {
			if err := l.PBX.HangUp(leg); err != nil {
				t.Fatal(err)
			}
		}
		waitState(t, l, c3, acd.StateEnded)
		waitState(t, l, c4, acd.StateEnded)
		waitFor(t, 10*time.Second, "no channel, bridge or recording left on the PBX", func() bool {
			return len(l.PBX.Channels()) == 0 && l.PBX.Leftovers().Empty()
		})
		if n, err := l.RDB.SCard(ctx, l.Replicas[0].Store.Keys().SeatCalls("r1")).Result(); err != nil || n != 0 {
			t.Fatalf("seat index holds %d calls (%v) after every call ended", n, err)
		}
		checkHistory(t, l)
	})
}

// TestRestartClearsLeftovers: what a stopped replica left on the PBX that
// belongs to no live call is cleared by the next engine of the seat. The
// replica stops right after a call ended in Redis, before it hung the
// caller up and destroyed the bridge (staged: its PBX port holds those
// commands until the engine stops). The new engine sends the caller's leg
// back to the dialplan and destroys the bridge.
func TestRestartClearsLeftovers(t *testing.T) {
	forEachPBX(t, func(t *testing.T, pbx lab.PBXKind) {
		var armed atomic.Bool
		held := make(chan string, 8)
		l, reconciled := startReconcileLab(t, pbx, func(_ string, pbx acd.PBX) acd.PBX {
			return holdingPBX{PBX: pbx, armed: &armed, held: held}
		})
		answer := pbxsim.Phone{Mode: pbxsim.Answer, RingFor: 10 * time.Millisecond}
		login(t, l, 0, "a1", l.Endpoint("1001"), answer, "sales")
		leg, err := l.PBX.Call(pbxsim.Caller{ANI: "5550001", DNIS: "800"})
		if err != nil {
			t.Fatal(err)
		}
		c1 := interactionOfWait(t, l, leg)
		ix1 := waitState(t, l, c1, acd.StateConnected)
		armed.Store(true)
		// The agent hangs up: the call ends in Redis, then the caller's
		// hang-up is held.
		if err := l.PBX.HangUp(ix1.AgentLeg); err != nil {
			t.Fatal(err)
		}
		if got := <-held; got != ix1.CallerLeg {
			t.Fatalf("held %s, want the caller's hang-up", got)
		}
		waitState(t, l, c1, acd.StateEnded)
		if err := l.Replicas[0].Stop(); err != nil {
			t.Fatal(err)
		}
		armed.Store(false)
		if ch, ok := l.PBX.Channel(ix1.CallerLeg); !ok || ch.HungUp || !ch.InStasis {
			t.Fatalf("the caller's leg is not left in Stasis: nothing to clear (%+v)", ch)
		}
		if ch, _ := l.PBX.Channel(ix1.CallerLeg); ch.BridgeID != c1 {
			t.Fatalf("the caller's leg is not in the ended call's bridge: nothing to clear (%+v)", ch)
		}
		l.RestartEngine(0)
		<-reconciled
		waitFor(t, 10*time.Second, "no channel, bridge or recording left on the PBX", func() bool {
			return l.PBX.Leftovers().Empty() && len(l.PBX.Channels()) == 0
		})
		if ch, ok := l.PBX.Channel(ix1.CallerLeg); ok && ch.InStasis {
			t.Fatalf("the caller's leg stayed in Stasis: %+v", ch)
		}
		if ix := interaction(t, l, c1); ix.State != acd.StateEnded || ix.EndedBy != "agent" {
			t.Fatalf("C1 is %s by %s", ix.State, ix.EndedBy)
		}
		checkHistory(t, l)
	})
}

// holdingPBX holds, while armed, every hang-up and bridge destruction until
// the engine stops (their ctx ends): a replica that stops between the end
// of a call in Redis and its clean-up on the PBX. ringArmed holds rings the
// same way: a replica that stops between an offer and its ring.
type holdingPBX struct {
	acd.PBX
	armed     *atomic.Bool
	ringArmed *atomic.Bool
	held      chan string
}

func (p holdingPBX) Ring(ctx context.Context, req acd.RingRequest) error {
	if p.ringArmed != nil && p.ringArmed.Load() {
		return p.hold(ctx, req.Leg)
	}
	return p.PBX.Ring(ctx, req)
}

func (p holdingPBX) hold(ctx context.Context, what string) error {
	select {
	case p.held <- what:
	default:
	}
	<-ctx.Done()
	return ctx.Err()
}

func (p holdingPBX) Hangup(ctx context.Context, leg string, cause acd.HangupCause) error {
	if p.armed.Load() {
		return p.hold(ctx, leg)
	}
	return p.PBX.Hangup(ctx, leg, cause)
}

func (p holdingPBX) DestroyBridge(ctx context.Context, bridge string) error {
	if p.armed.Load() {
		return p.hold(ctx, bridge)
	}
	return p.PBX.DestroyBridge(ctx, bridge)
}

// interactionOfWait waits until the caller leg has its interaction, and
// returns its connection id.
func interactionOfWait(t *testing.T, l *lab.Lab, leg string) string {
	t.Helper()
	var conn string
	waitFor(t, 10*time.Second, "interaction of "+leg, func() bool {
		for _, ix := range interactions(t, l) {
			if ix.CallerLeg == leg {
				conn = ix.ConnectionID
				return true
			}
		}
		return false
	})
	return conn
}

// waitingScore is the call's score in its queue's waiting list (its place).
func waitingScore(t *testing.T, l *lab.Lab, conn string) float64 {
	t.Helper()
	s, err := l.RDB.ZScore(context.Background(), l.Replicas[0].Store.Keys().Waiting("sales"), conn).Result()
	if err != nil {
		t.Fatalf("score of %s: %v", conn, err)
	}
	return s
}

// TestRestartEndsAConsultInProgress: a1 consults a2, who answers; the
// replica stops and restarts. The consult is not rebuilt: the consulted
// leg is hung up, a2's part is over (wrap-up, having talked), the customer
// waits on hold with a1, who resumes and talks on until the customer hangs
// up; nothing is left on the PBX.
func TestRestartEndsAConsultInProgress(t *testing.T) {
	forEachPBX(t, func(t *testing.T, pbx lab.PBXKind) {
		l, reconciled := startReconcileLab(t, pbx, nil)
		ctx := context.Background()
		answer := pbxsim.Phone{Mode: pbxsim.Answer, RingFor: 10 * time.Millisecond}
		login(t, l, 0, "a1", l.Endpoint("1001"), answer, "sales")
		leg, err := l.PBX.Call(pbxsim.Caller{ANI: "5550001", DNIS: "800"})
		if err != nil {
			t.Fatal(err)
		}
		c1 := interactionOfWait(t, l, leg)
		waitState(t, l, c1, acd.StateConnected)
		login(t, l, 0, "a2", l.Endpoint("1002"), answer, "sales")
		if _, err := l.Replicas[0].Engine.SetIdle(ctx, "a2", "break"); err != nil {
			t.Fatal(err)
		}
		if _, err := l.Replicas[0].Engine.Consult(ctx, "a1", acd.Target{Kind: acd.TargetAgent, Value: "a2"}); err != nil {
			t.Fatal(err)
		}
		waitAgent(t, l, "a2", agents.Connected)
		talk := func() string {
			v, err := l.RDB.HGet(ctx, l.Replicas[0].Store.Keys().Interaction(c1), "talk_state").Result()
			if err != nil {
				t.Fatal(err)
			}
			return v
		}
		if got := talk(); got != acd.TalkConsulting {
			t.Fatalf("talk state %s before the stop, want consulting", got)
		}
		if err := l.Replicas[0].Stop(); err != nil {
			t.Fatal(err)
		}
		l.RestartEngine(0)
		<-reconciled
		if got := talk(); got != acd.TalkHeld {
			t.Fatalf("talk state %s after the restart, want held", got)
		}
		waitAgent(t, l, "a2", agents.WrapUp)
		if legs := l.PBX.LiveLegs(l.Endpoint("1002")); len(legs) != 0 {
			t.Fatalf("the consulted leg is still up: %v", legs)
		}
		v, err := l.Replicas[0].Engine.Resume(ctx, "a1")
		if err != nil || v.CustomerHeld {
			t.Fatalf("resume after the restart: %+v, %v", v, err)
		}
		if err := l.PBX.HangUp(leg); err != nil {
			t.Fatal(err)
		}
		waitState(t, l, c1, acd.StateEnded)
		waitAgent(t, l, "a1", agents.WrapUp)
		waitFor(t, 10*time.Second, "no channel, bridge or recording left on the PBX", func() bool {
			return l.PBX.Leftovers().Empty() && len(l.PBX.Channels()) == 0
		})
		checkHistory(t, l)
	})
}

// TestRestartWhileAgentRingsThenAnswers: the replica stops while an
// agent's phone rings for a call, and the phone answers three seconds later.
// After the restart (usually quicker than that) the rebuilt call keeps the
// leg ringing and its answer connects the call. Should the answer come
// during the gap instead, Asterisk cannot hand the answered leg to an
// application without a socket and hangs it up: the rebuild then finds it
// gone and the call goes back to the head of its queue, the agent to RONA
// — the test accepts that too, puts the agent back, and the call is
// connected on the next offer. Either way it then ends normally.
func TestRestartWhileAgentRingsThenAnswers(t *testing.T) {
	forEachPBX(t, func(t *testing.T, pbx lab.PBXKind) {
		l, reconciled := startReconcileLab(t, pbx, nil)
		ctx := context.Background()
		login(t, l, 0, "a1", l.Endpoint("1001"), pbxsim.Phone{Mode: pbxsim.Answer, RingFor: 3 * time.Second}, "sales")
		leg, err := l.PBX.Call(pbxsim.Caller{ANI: "5550001", DNIS: "800"})
		if err != nil {
			t.Fatal(err)
		}
		c1 := interactionOfWait(t, l, leg)
		waitAgent(t, l, "a1", agents.Ringing)
		if err := l.Replicas[0].Stop(); err != nil {
			t.Fatal(err)
		}
		l.RestartEngine(0)
		<-reconciled
		waitFor(t, 10*time.Second, "the ringing leg resolved", func() bool {
			st := agentState(t, l, "a1")
			return st == agents.Connected || st == agents.RONA
		})
		if agentState(t, l, "a1") == agents.RONA {
			t.Log("the phone answered during the gap: RONA, then a new offer")
			if ix := interaction(t, l, c1); ix.State != acd.StateQueued && ix.State != acd.StateOffered {
				t.Fatalf("after the RONA the call is %s", ix.State)
			}
			if _, err := l.Replicas[0].Engine.SetAvailable(ctx, "a1"); err != nil {
				t.Fatal(err)
			}
		}
		ix := waitState(t, l, c1, acd.StateConnected)
		waitAgent(t, l, "a1", agents.Connected)
		waitFor(t, 10*time.Second, "caller and agent bridged", func() bool {
			return l.Bridged(ix.CallerLeg, ix.AgentLeg)
		})
		if err := l.PBX.HangUp(ix.AgentLeg); err != nil {
			t.Fatal(err)
		}
		waitState(t, l, c1, acd.StateEnded)
		waitAgent(t, l, "a1", agents.WrapUp)
		waitFor(t, 10*time.Second, "no channel, bridge or recording left on the PBX", func() bool {
			return l.PBX.Leftovers().Empty() && len(l.PBX.Channels()) == 0
		})
		checkHistory(t, l)
	})
}

// TestRestartRunsTheIVRAgain: a caller in the IVR when the replica stops
// hears the entry menu again from the restarted one (the menu is started
// from its entry; what was collected is not kept), and their choice takes
// them to the queue and an agent.
func TestRestartRunsTheIVRAgain(t *testing.T) {
	forEachPBX(t, func(t *testing.T, pbx lab.PBXKind) {
		menus := acd.IVRMenus{
			EntryPoints: map[string]string{"901": "menu"},
			Nodes: map[string]acd.IVRNode{
				"menu": {
					Prompt:    media.SoundOf("long-menu"),
					Collect:   acd.IVRCollect{MaxDigits: 1, Timeout: time.Minute},
					Branches:  map[string]acd.IVRBranch{"1": {Queue: "sales"}},
					OnFailure: acd.IVRBranch{Hangup: media.SoundOf("goodbye")},
				},
			},
		}
		l, reconciled := startReconcileLab(t, pbx, nil, menus)
		login(t, l, 0, "a1", l.Endpoint("1001"), pbxsim.Phone{Mode: pbxsim.Answer, RingFor: 10 * time.Millisecond}, "sales")
		leg, err := l.PBX.Call(pbxsim.Caller{ANI: "5550001", DNIS: "901"})
		if err != nil {
			t.Fatal(err)
		}
		c1 := interactionOfWait(t, l, leg)
		menuPlays := func() int {
			n := 0
			for _, m := range l.Heard(leg) {
				if m.Kind == "playback_start" && m.MediaURI == "sound:long-menu" {
					n++
				}
			}
			return n
		}
		waitFor(t, 10*time.Second, "the menu playing", func() bool { return menuPlays() == 1 })
		if err := l.Replicas[0].Stop(); err != nil {
			t.Fatal(err)
		}
		l.RestartEngine(0)
		<-reconciled
		waitFor(t, 10*time.Second, "the menu playing again", func() bool { return menuPlays() == 2 })
		if ix := interaction(t, l, c1); ix.State != acd.StateArrived {
			t.Fatalf("in the IVR again, the call is %s", ix.State)
		}
		if err := l.PBX.InjectDTMF(leg, "1"); err != nil {
			t.Fatal(err)
		}
		ix := waitState(t, l, c1, acd.StateConnected)
		if ix.Queue != "sales" || ix.Agent != "a1" {
			t.Fatalf("connected in %s to %s", ix.Queue, ix.Agent)
		}
		if err := l.PBX.HangUp(leg); err != nil {
			t.Fatal(err)
		}
		waitState(t, l, c1, acd.StateEnded)
		waitFor(t, 10*time.Second, "no channel, bridge or recording left on the PBX", func() bool {
			return l.PBX.Leftovers().Empty() && len(l.PBX.Channels()) == 0
		})
		checkHistory(t, l)
	})
}

// TestRestartAfterARingRecordedNotRung: the replica stops between recording
// an offer's ring (ringing.lua, which fences the ring) and ringing the phone
// (staged: its PBX port holds the ring until the engine stops). The
// restarted engine finds the agent's leg recorded and gone, which the PBX
// can not tell from a phone that rang and gave up: a no-answer (the call
// back to the head of its queue, the agent to RONA). An offer the replica
// stopped before recording is given back instead (TestRestartGivesBackAnOfferNeverRung).
func TestRestartAfterARingRecordedNotRung(t *testing.T) {
	forEachPBX(t, func(t *testing.T, pbx lab.PBXKind) {
		var armed, ringArmed atomic.Bool
		held := make(chan string, 8)
		l, reconciled := startReconcileLab(t, pbx, func(_ string, pbx acd.PBX) acd.PBX {
			return holdingPBX{PBX: pbx, armed: &armed, ringArmed: &ringArmed, held: held}
		})
		ringArmed.Store(true)
		login(t, l, 0, "a1", l.Endpoint("1001"), pbxsim.Phone{Mode: pbxsim.Answer, RingFor: 10 * time.Millisecond}, "sales")
		leg, err := l.PBX.Call(pbxsim.Caller{ANI: "5550001", DNIS: "800"})
		if err != nil {
			t.Fatal(err)
		}
		c1 := interactionOfWait(t, l, leg)
		<-held
		if ix := interaction(t, l, c1); ix.State != acd.StateOffered || ix.AgentLeg == "" {
			t.Fatalf("before the stop: %s, agent leg %q", ix.State, ix.AgentLeg)
		}
		if err := l.Replicas[0].Stop(); err != nil {
			t.Fatal(err)
		}
		ringArmed.Store(false)
		l.RestartEngine(0)
		<-reconciled
		ix := waitState(t, l, c1, acd.StateQueued)
		if ix.RONAs != 1 {
			t.Fatalf("queued again after %d RONAs", ix.RONAs)
		}
		waitFor(t, 10*time.Second, "a1 in RONA", func() bool { return agentState(t, l, "a1") == agents.RONA })
		if n := len(l.PBX.Originates()); n != 0 {
			t.Fatalf("%d agent legs rung", n)
		}
		if err := l.PBX.HangUp(leg); err != nil {
			t.Fatal(err)
		}
		waitState(t, l, c1, acd.StateAbandoned)
		waitFor(t, 10*time.Second, "no channel, bridge or recording left on the PBX", func() bool {
			return l.PBX.Leftovers().Empty() && len(l.PBX.Channels()) == 0
		})
		checkHistory(t, l)
	})
}

// TestRestartKeepsABlindTransferWaiting: a1 transfers a connected call
// blind to the queue, where it waits (nobody free); the replica restarts.
// The call waits on, and when a2 becomes available it is offered, answered
// and bridged (the call's old bridge does not stand in the way).
func TestRestartKeepsABlindTransferWaiting(t *testing.T) {
	forEachPBX(t, func(t *testing.T, pbx lab.PBXKind) {
		l, reconciled := startReconcileLab(t, pbx, nil)
		ctx := context.Background()
		answer := pbxsim.Phone{Mode: pbxsim.Answer, RingFor: 10 * time.Millisecond}
		login(t, l, 0, "a1", l.Endpoint("1001"), answer, "sales")
		leg, err := l.PBX.Call(pbxsim.Caller{ANI: "5550001", DNIS: "800"})
		if err != nil {
			t.Fatal(err)
		}
		c1 := interactionOfWait(t, l, leg)
		waitState(t, l, c1, acd.StateConnected)
		if _, err := l.Replicas[0].Engine.Transfer(ctx, "a1", acd.Target{Kind: acd.TargetQueue, Value: "sales"}); err != nil {
			t.Fatal(err)
		}
		waitState(t, l, c1, acd.StateQueued)
		if err := l.Replicas[0].Stop(); err != nil {
			t.Fatal(err)
		}
		l.RestartEngine(0)
		<-reconciled
		if ix := interaction(t, l, c1); ix.State != acd.StateQueued {
			t.Fatalf("after the restart the call is %s", ix.State)
		}
		login(t, l, 0, "a2", l.Endpoint("1002"), answer, "sales")
		ix := waitState(t, l, c1, acd.StateConnected)
		if ix.Agent != "a2" {
			t.Fatalf("connected to %s", ix.Agent)
		}
		waitFor(t, 10*time.Second, "caller and a2 bridged", func() bool {
			return l.Bridged(ix.CallerLeg, ix.AgentLeg)
		})
		if err := l.PBX.HangUp(leg); err != nil {
			t.Fatal(err)
		}
		waitState(t, l, c1, acd.StateEnded)
		waitFor(t, 10*time.Second, "no channel, bridge or recording left on the PBX", func() bool {
			return l.PBX.Leftovers().Empty() && len(l.PBX.Channels()) == 0
		})
		checkHistory(t, l)
	})
}
