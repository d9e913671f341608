package e2e

import (
	"context"
	"errors"
	"os"
	"testing"
	"time"

	"log/slog"

	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/tandem-cc/tandem/acd"
	"github.com/tandem-cc/tandem/agents"
	"github.com/tandem-cc/tandem/callbacks"
	"github.com/tandem-cc/tandem/errs"
	"github.com/tandem-cc/tandem/internal/lab"
	"github.com/tandem-cc/tandem/internal/redistest"
	"github.com/tandem-cc/tandem/pbxsim"
)

// startSeatLab starts replicas on pbx that host the seats of replicas that are
// gone, looking for lapsed seats every poll.
func startSeatLab(t *testing.T, pbx lab.PBXKind, replicas int, poll time.Duration) *lab.Lab {
	t.Helper()
	logger := slog.New(slog.DiscardHandler)
	if os.Getenv("TANDEM_TEST_LOG") != "" {
		logger = slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelDebug}))
	}
	l := startLabWith(t, lab.Options{
		PBX:       pbx,
		Replicas:  replicas,
		RedisAddr: redistest.Start(t),
		Queues: map[string]acd.QueueSettings{
			"sales": {MOHClass: "sales-music", RingTimeout: 10 * time.Second},
		},
		DNIS:          map[string]string{"800": "sales"},
		SweepInterval: 500 * time.Millisecond,
		Logger:        logger,
		HostSeats:     true,
		Lease:         2 * time.Second,
		Poll:          poll,
		DrainTimeout:  time.Minute,
	})
	return l
}

func seatEvent(kind acd.SeatEventKind, node string, hosted bool) func(acd.SeatEvent) bool {
	return func(ev acd.SeatEvent) bool { return ev.Kind == kind && ev.Seat.Node == node && ev.Hosted == hosted }
}

func waitSeat(t *testing.T, r *lab.Replica, what string, ok func(acd.SeatEvent) bool) acd.SeatEvent {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
	defer cancel()
	ev, err := r.WaitSeat(ctx, what, ok)
	if err != nil {
		t.Fatal(err)
	}
	return ev
}

// holderOf asserts who holds node's seat.
func holderOf(t *testing.T, l *lab.Lab, node string) (string, int64) {
	t.Helper()
	holder, tok, held, err := acd.SeatHolder(context.Background(), l.RDB, "tandem", node)
	if err != nil {
		t.Fatal(err)
	}
	if !held {
		t.Fatalf("nobody holds seat %s", node)
	}
	return holder, tok
}

// callAndEnd sends a call to app, waits until it is connected by an
// agent, checks its owner, and has the caller hang up.
func callAndEnd(t *testing.T, l *lab.Lab, app, owner string) {
	t.Helper()
	leg, err := l.PBX.Call(pbxsim.Caller{App: app, ANI: "+12025550199", DNIS: "800"})
	if err != nil {
		t.Fatal(err)
	}
	ix := waitState(t, l, interactionOf(t, l, leg).ConnectionID, acd.StateConnected)
	if ix.Owner != owner {
		t.Fatalf("call to %s owned by %s, want %s", app, ix.Owner, owner)
	}
	if err := l.PBX.HangUp(leg); err != nil {
		t.Fatal(err)
	}
	waitState(t, l, ix.ConnectionID, acd.StateEnded)
	waitAgent(t, l, "a1", agents.Available)
}

// ariAppActive says whether ARI has app registered and active. Only
// Asterisk keeps a registry of applications to ask; on another PBX it is
// true, and the driver's own connection is the check.
func ariAppActive(l *lab.Lab, app string) bool {
	if l.Sim == nil {
		return true
	}
	a, ok := l.Sim.App(app)
	return ok && a.Active
}

// Replica r1 crashes (no clean-up, its lease runs out): r2 claims seat r1
// and hosts it (its second driver holds tandem-r1), so calls the dialplan
// sends to Stasis(tandem-r1) are served. r1 comes back: it takes its seat
// back (a newer token) and r2's hosted seat stops, fenced.
func TestSurvivorHostsACrashedSeatUntilItComesBack(t *testing.T) {
	forEachPBX(t, func(t *testing.T, pbx lab.PBXKind) {
		l := startSeatLab(t, pbx, 2, 50*time.Millisecond)
		ctx := context.Background()
		r1, r2 := l.Replicas[0], l.Replicas[1]
		login(t, l, 1, "a1", l.Endpoint("1001"), pbxsim.Phone{Mode: pbxsim.Answer, RingFor: 30 * time.Millisecond}, "sales")

		if err := r1.Crash(ctx, l.RDB, "tandem"); err != nil {
			t.Fatal(err)
		}
		claimed := waitSeat(t, r2, "r2 claims seat r1", seatEvent(acd.SeatClaimed, "r1", true))
		if holder, tok := holderOf(t, l, "r1"); holder != r2.Host.Instance() || tok != claimed.Token {
			t.Fatalf("seat r1 held by %s token %d, want %s token %d", holder, tok, r2.Host.Instance(), claimed.Token)
		}
		waitFor(t, 10*time.Second, "r2's hosted driver holds tandem-r1", func() bool {
			return r2.HostedConnected("r1") && ariAppActive(l, "tandem-r1")
		})
		callAndEnd(t, l, "tandem-r1", "r1")

		back, err := l.AddReplica(ctx, "r1")
		if err != nil {
			t.Fatal(err)
		}
		fenced := waitSeat(t, r2, "r2's hosted seat r1 fenced", seatEvent(acd.SeatFenced, "r1", true))
		if !errors.Is(fenced.Err, errs.ErrFenced) {
			t.Fatalf("r2's hosted engine stopped with %v, want errs.ErrFenced", fenced.Err)
		}
		if fenced.Token != claimed.Token {
			t.Fatalf("fenced token %d, want the claimed %d", fenced.Token, claimed.Token)
		}
		if holder, tok := holderOf(t, l, "r1"); holder != back.Host.Instance() || tok <= claimed.Token {
			t.Fatalf("seat r1 held by %s token %d, want %s with a token after %d", holder, tok, back.Host.Instance(), claimed.Token)
		}
		waitFor(t, 10*time.Second, "r2 hosts nothing", func() bool { return len(r2.Host.Hosted()) == 0 })
		callAndEnd(t, l, "tandem-r1", "r1")
		if !back.Host.Ready() {
			t.Fatal("the restarted r1 is not ready")
		}
	})
}

// A home process paused past its lease (SIGSTOP) whose seat a survivor
// took finds itself fenced when it resumes: its engine stops like a crash,
// and it takes its home seat back instead of exiting.
func TestFencedHomeTakesItsSeatBack(t *testing.T) {
	forEachPBX(t, func(t *testing.T, pbx lab.PBXKind) {
		l := startSeatLab(t, pbx, 2, 50*time.Millisecond)
		ctx := context.Background()
		r1, r2 := l.Replicas[0], l.Replicas[1]
		first := waitSeat(t, r1, "r1 holds its seat", seatEvent(acd.SeatAcquired, "r1", false))
		// The pause: r1 keeps running but its lease is gone and r2 claims the
		// seat, which fences r1's token (and r2's socket replaces r1's).
		if err := l.RDB.Del(ctx, r1.Store.Keys().ReplicaAlive("r1")).Err(); err != nil {
			t.Fatal(err)
		}
		waitSeat(t, r2, "r2 claims seat r1", seatEvent(acd.SeatClaimed, "r1", true))
		if ev := waitSeat(t, r1, "r1 fenced", seatEvent(acd.SeatFenced, "r1", false)); !errors.Is(ev.Err, errs.ErrFenced) {
			t.Fatalf("r1's engine stopped with %v, want errs.ErrFenced", ev.Err)
		}
		again := waitSeat(t, r1, "r1 takes its seat back", func(ev acd.SeatEvent) bool {
			return ev.Kind == acd.SeatAcquired && !ev.Hosted && ev.Token > first.Token+1
		})
		waitSeat(t, r2, "r2's hosted seat fenced", seatEvent(acd.SeatFenced, "r1", true))
		if holder, tok := holderOf(t, l, "r1"); holder != r1.Host.Instance() || tok != again.Token {
			t.Fatalf("seat r1 held by %s token %d, want r1's process with %d", holder, tok, again.Token)
		}
		login(t, l, 1, "a1", l.Endpoint("1001"), pbxsim.Phone{Mode: pbxsim.Answer, RingFor: 30 * time.Millisecond}, "sales")
		waitFor(t, 10*time.Second, "r1's socket back", r1.Connected)
		callAndEnd(t, l, "tandem-r1", "r1")
	})
}

// SIGTERM with another replica alive: r1 releases its seat with its token
// and announces it; r2 claims it at once. r2 looks for lapsed seats only
// every hour here, so the claim can only come from the announcement.
func TestDrainHandsTheSeatOverAtOnce(t *testing.T) {
	forEachPBX(t, func(t *testing.T, pbx lab.PBXKind) {
		l := startSeatLab(t, pbx, 2, time.Hour)
		r1, r2 := l.Replicas[0], l.Replicas[1]
		held := waitSeat(t, r1, "r1 holds its seat", seatEvent(acd.SeatAcquired, "r1", false))
		if err := r1.Drain(); err != nil {
			t.Fatalf("drain: %v", err)
		}
		if rel := waitSeat(t, r1, "r1 released its seat", seatEvent(acd.SeatReleased, "r1", false)); rel.Token != held.Token {
			t.Fatalf("released token %d, want %d", rel.Token, held.Token)
		}
		claimed := waitSeat(t, r2, "r2 claims seat r1", seatEvent(acd.SeatClaimed, "r1", true))
		if holder, tok := holderOf(t, l, "r1"); holder != r2.Host.Instance() || tok != claimed.Token {
			t.Fatalf("seat r1 held by %s token %d", holder, tok)
		}
		login(t, l, 1, "a1", l.Endpoint("1001"), pbxsim.Phone{Mode: pbxsim.Answer, RingFor: 30 * time.Millisecond}, "sales")
		waitFor(t, 10*time.Second, "r2's hosted driver holds tandem-r1", func() bool {
			return r2.HostedConnected("r1")
		})
		callAndEnd(t, l, "tandem-r1", "r1")
	})
}

// SIGTERM with no other replica alive: the replica drains in place. New
// calls go back to the dialplan, the call it has is served to its end,
// then it stops and its seat is free.
func TestDrainInPlaceWhenAlone(t *testing.T) {
	forEachPBX(t, func(t *testing.T, pbx lab.PBXKind) {
		l := startSeatLab(t, pbx, 1, time.Hour)
		ctx := context.Background()
		r1 := l.Replicas[0]
		login(t, l, 0, "a1", l.Endpoint("1001"), pbxsim.Phone{Mode: pbxsim.Answer, RingFor: 30 * time.Millisecond}, "sales")
		leg, err := l.PBX.Call(pbxsim.Caller{App: "tandem-r1", ANI: "+12025550199", DNIS: "800"})
		if err != nil {
			t.Fatal(err)
		}
		ix := waitState(t, l, interactionOf(t, l, leg).ConnectionID, acd.StateConnected)

		drained := make(chan error, 1)
		go func() { drained <- r1.Drain() }()
		waitSeat(t, r1, "drain in place", seatEvent(acd.SeatDraining, "r1", false))
		if r1.Host.Ready() {
			t.Fatal("ready while draining")
		}
		if _, err := l.PBX.Call(pbxsim.Caller{App: "tandem-r1", ANI: "+12025550100", DNIS: "800"}); err != nil {
			t.Fatal(err)
		}
		waitFor(t, 10*time.Second, "the new call sent back to the dialplan", func() bool {
			return testutil.ToFloat64(r1.Metrics.Strays.WithLabelValues("continued")) == 1
		})
		if holder, _ := holderOf(t, l, "r1"); holder != r1.Host.Instance() {
			t.Fatalf("seat r1 held by %s while draining", holder)
		}
		if err := l.PBX.HangUp(leg); err != nil {
			t.Fatal(err)
		}
		waitState(t, l, ix.ConnectionID, acd.StateEnded)
		select {
		case err := <-drained:
			if err != nil {
				t.Fatalf("drain: %v", err)
			}
		case <-time.After(15 * time.Second):
			t.Fatal("the drain did not end after the last call")
		}
		waitSeat(t, r1, "seat released", seatEvent(acd.SeatReleased, "r1", false))
		if _, _, held, err := acd.SeatHolder(ctx, l.RDB, "tandem", "r1"); err != nil || held {
			t.Fatalf("seat r1 still held after the drain (%v)", err)
		}
	})
}

// A replica crashes in the middle of dialling a callback's customer, with
// seat hosting on: the survivor that claims the dead seat continues the
// dial on the seat's own socket (the attempt is recorded by node r1, the
// seat, not by the survivor's home engine through a takeover socket), and
// the customer is dialled once.
func TestCrashedSeatsCallbackDialContinuesThroughItsHost(t *testing.T) {
	forEachPBX(t, func(t *testing.T, pbx lab.PBXKind) {
		l := startCallbackLab(t, cbOptions{pbx: pbx, replicas: 2, lease: 600 * time.Millisecond, dialRing: 10 * time.Second, hostSeats: true})
		ctx := context.Background()
		const number = "+12025550199"
		l.PBX.SetPhone(customer(l, number), pbxsim.Phone{Mode: pbxsim.Answer, RingFor: 3 * time.Second})
		login(t, l, 0, "a1", l.Endpoint("1001"), answers, "sales")
		r1, r2 := l.Replicas[0], l.Replicas[1]
		// Any replica's scheduler may claim the callback: the one that dials
		// it is the one that crashes.
		cb, _, err := r1.Engine.RequestCallback(ctx, acd.CallbackRequest{Queue: "sales", Number: number})
		if err != nil {
			t.Fatal(err)
		}
		waitFor(t, 10*time.Second, "customer dialled", func() bool { return originates(l, customer(l, number)) == 1 })
		got := getCallback(t, l, cb.ID)
		if got.State != callbacks.StateDialing || got.DialStarted != 1 {
			t.Fatalf("before the crash: %+v", got)
		}
		dialer := l.Replicas[0]
		if got.Node != "r1#1" {
			dialer = l.Replicas[1]
		}
		survivor := r2
		if dialer == r2 {
			survivor = r1
		}
		if err := dialer.Crash(ctx, l.RDB, "tandem"); err != nil {
			t.Fatal(err)
		}
		waitSeat(t, survivor, "the survivor claims the dead seat", seatEvent(acd.SeatClaimed, dialer.Node, true))
		done := waitCallback(t, l, cb.ID, callbacks.StateDone)
		if len(done.Attempts) != 1 || done.Attempts[0].Outcome != callbacks.OutcomeAnswered || done.Attempts[0].Node != dialer.Node {
			t.Fatalf("attempts %+v, want one answered by seat %s", done.Attempts, dialer.Node)
		}
		ix := callbackInteraction(t, l, cb.ID, acd.StateConnected)
		if ix.Owner != dialer.Node {
			t.Fatalf("interaction owned by %s, want the seat %s", ix.Owner, dialer.Node)
		}
		waitBridged(t, l, ix.ConnectionID)
		if n := originates(l, customer(l, number)); n != 1 {
			t.Fatalf("customer dialled %d times", n)
		}
		if st := l.PBX.Stats(); st.DoubleOffers != 0 || st.AgentsWithTwoCalls != 0 {
			t.Fatalf("double offers %d, agents with two calls %d", st.DoubleOffers, st.AgentsWithTwoCalls)
		}
		if err := l.PBX.HangUp(l.PBX.LiveLegs(customer(l, number))[0]); err != nil {
			t.Fatal(err)
		}
		waitState(t, l, ix.ConnectionID, acd.StateEnded)
		waitAgent(t, l, "a1", agents.Available)
		waitFor(t, 5*time.Second, "no channel left", func() bool { return len(l.PBX.Channels()) == 0 })
	})
}

// Two processes of one node: the later one takes the seat, and the earlier
// one, fenced, sees the seat held by a process of its own node and stops
// (an error wrapping errs.ErrFenced) instead of taking it back: no
// ping-pong between them.
func TestEarlierProcessOfANodeYieldsToTheLaterOne(t *testing.T) {
	forEachPBX(t, func(t *testing.T, pbx lab.PBXKind) {
		l := startSeatLab(t, pbx, 1, time.Hour)
		ctx := context.Background()
		earlier := l.Replicas[0]
		later, err := l.AddReplica(ctx, "r1")
		if err != nil {
			t.Fatal(err)
		}
		waitSeat(t, earlier, "the earlier process fenced", seatEvent(acd.SeatFenced, "r1", false))
		select {
		case <-earlier.Exited():
		case <-time.After(15 * time.Second):
			t.Fatal("the earlier process did not stop by itself")
		}
		if err := earlier.Stop(); !errors.Is(err, errs.ErrFenced) {
			t.Fatalf("the earlier process stopped with %v, want errs.ErrFenced", err)
		}
		if holder, _ := holderOf(t, l, "r1"); holder != later.Host.Instance() {
			t.Fatalf("seat r1 held by %s, want the later process %s", holder, later.Host.Instance())
		}
		if n := len(earlier.SeatEvents()); earlier.SeatEvents()[n-1].Kind != acd.SeatFenced {
			t.Fatalf("the earlier process went on after its fence: %+v", earlier.SeatEvents())
		}
	})
}
