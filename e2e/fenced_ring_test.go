package e2e

import (
	"context"
	"errors"
	"log/slog"
	"sync/atomic"
	"testing"
	"time"

	"github.com/tandem-cc/tandem/acd"
	"github.com/tandem-cc/tandem/ari"
	"github.com/tandem-cc/tandem/internal/clock"
	"github.com/tandem-cc/tandem/internal/lab"
	"github.com/tandem-cc/tandem/internal/redistest"
	"github.com/tandem-cc/tandem/media"
	"github.com/tandem-cc/tandem/pbxsim"
)

// mediaHoldPBX holds, while armed, the next announcement until released
// (or the engine stops: its ctx ends), and says on ended whether the
// engine's ctx ended it: the call's actor is busy there while the test
// changes the world around it.
type mediaHoldPBX struct {
	acd.PBX
	armed   *atomic.Bool
	held    chan<- string
	release <-chan struct{}
	ended   chan<- error
}

func (p mediaHoldPBX) StartMedia(ctx context.Context, leg, playback string, items ...media.Media) error {
	if !p.armed.CompareAndSwap(true, false) {
		return p.PBX.StartMedia(ctx, leg, playback, items...)
	}
	p.held <- leg
	select {
	case <-p.release:
		p.ended <- nil
		return p.PBX.StartMedia(ctx, leg, playback, items...)
	case <-ctx.Done():
		p.ended <- ctx.Err()
		return ctx.Err()
	}
}

// announceEvery is the announcement interval of startAnnounceLab's queue
// (not a multiple of the sweep interval: its timer is told apart).
const announceEvery = 1500 * time.Millisecond

// startAnnounceLab is a one-replica lab on pbx whose queue announces the caller's
// position every announceEvery on a fake clock, with the announcement held
// as mediaHoldPBX says.
// wraps, if any, go between the driver and the hold (the first one
// innermost).
func startAnnounceLab(t *testing.T, pbx lab.PBXKind, fc *clock.Fake, p *mediaHoldPBX, wraps ...func(acd.PBX) acd.PBX) *lab.Lab {
	t.Helper()
	l := startLabWith(t, lab.Options{
		PBX:       pbx,
		Replicas:  1,
		RedisAddr: redistest.Start(t),
		Queues: map[string]acd.QueueSettings{
			"sales": {MOHClass: "default", RingTimeout: time.Minute, Announce: acd.Announcements{Interval: announceEvery, Position: true}},
		},
		DNIS:   map[string]string{"800": "sales"},
		Logger: slog.New(slog.DiscardHandler),
		WrapPBX: func(_ string, pbx acd.PBX) acd.PBX {
			for _, w := range wraps {
				pbx = w(pbx)
			}
			q := *p
			q.PBX = pbx
			return q
		},
		Engine: acd.Options{Clock: fc, Policy: acd.Policy{WrapUp: time.Hour}},
	})
	return l
}

// TestFencedOfferRingsNobody: an offer the call's actor takes up after its
// seat went to a newer holder (here while the actor was busy with an
// announcement) rings nobody: the ring is recorded (ringing.lua, FENCED
// now) before the phone is rung. The replica takes its seat back, rebuilds
// the call (the offer never rang: given back) and rings a1 once. Before,
// the fenced holder rang the agent first and had its record refused after:
// the newer holder, which had given the offer back meanwhile, offered the
// agent again while the first leg still rang (the chaos test's sigterm
// scenario: an agent rung twice, a call with two agent legs).
func TestFencedOfferRingsNobody(t *testing.T) {
	forEachPBX(t, func(t *testing.T, pbx lab.PBXKind) {
		fc := clock.NewFake(time.Now())
		var armed atomic.Bool
		held, release, ended := make(chan string, 1), make(chan struct{}), make(chan error, 1)
		l := startAnnounceLab(t, pbx, fc, &mediaHoldPBX{armed: &armed, held: held, release: release, ended: ended})
		ctx := context.Background()
		leg, err := l.PBX.Call(pbxsim.Caller{ANI: "5550001", DNIS: "800"})
		if err != nil {
			t.Fatal(err)
		}
		c1 := interactionOfWait(t, l, leg)
		waitState(t, l, c1, acd.StateQueued)
		armed.Store(true)
		playAnnouncement(fc)
		<-held // the actor plays the announcement
		login(t, l, 0, "a1", l.Endpoint("1001"), pbxsim.Phone{Mode: pbxsim.Answer, RingFor: 10 * time.Millisecond}, "sales")
		waitState(t, l, c1, acd.StateOffered)
		// The seat's fence moves on while the offer waits in the actor's
		// mailbox, as when a survivor claims it: r1's token is stale.
		r1 := l.Replicas[0]
		if _, err := acd.NewLease(l.RDB, "tandem", acd.Seat{Node: r1.Node, App: r1.App}, "elsewhere/1", 0).Acquire(ctx); err != nil {
			t.Fatal(err)
		}
		close(release)
		if err := <-ended; err != nil {
			t.Fatalf("the held announcement ended with the engine (%v), not by its release", err)
		}
		// r1 finds itself fenced, takes its seat back and rebuilds the call.
		ix := waitState(t, l, c1, acd.StateConnected)
		if ix.Agent != "a1" {
			t.Fatalf("connected to %s", ix.Agent)
		}
		for _, o := range l.PBX.Originates() {
			if o.Channel == c1+"-a1" {
				t.Fatalf("the fenced holder rang the offer: %+v", o)
			}
		}
		if st := l.PBX.Stats(); st.DoubleOffers != 0 || st.AgentsWithTwoCalls != 0 {
			t.Fatalf("double offers %d, agents rung twice %d", st.DoubleOffers, st.AgentsWithTwoCalls)
		}
		if err := l.PBX.HangUp(leg); err != nil {
			t.Fatal(err)
		}
		waitState(t, l, c1, acd.StateEnded)
		checkHistory(t, l)
	})
}

// TestReplacedApplicationStopsTheCalls: once Asterisk says another
// connection took the seat's application (ApplicationReplaced: a newer
// holder of the seat is up), the engine stops its calls' actors at once,
// as a crash would: the actor busy with an announcement sees its context
// end. Before, the actors ran on until a script of theirs came back
// FENCED, ringing agents and hanging legs up for calls the newer holder
// was rebuilding.
func TestReplacedApplicationStopsTheCalls(t *testing.T) {
	fc := clock.NewFake(time.Now())
	var armed atomic.Bool
	held, release, ended := make(chan string, 1), make(chan struct{}), make(chan error, 1)
	l := startAnnounceLab(t, lab.Asterisk, fc, &mediaHoldPBX{armed: &armed, held: held, release: release, ended: ended})
	defer close(release)
	leg, err := l.Sim.Call(pbxsim.Caller{ANI: "5550001", DNIS: "800"})
	if err != nil {
		t.Fatal(err)
	}
	c1 := interactionOfWait(t, l, leg)
	waitState(t, l, c1, acd.StateQueued)
	armed.Store(true)
	playAnnouncement(fc)
	<-held
	// Another connection registers the application: r1's socket is
	// replaced (its lease is untouched: only the PBX says so).
	other := ari.New(ari.Options{URL: l.ARIURL, Username: "tandem", Password: "tandem-secret", App: l.Replicas[0].App, Logger: slog.New(slog.DiscardHandler)})
	octx, stop := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- other.Run(octx, func(acd.Event) {}) }()
	defer func() {
		stop()
		if err := <-done; err != nil {
			t.Errorf("the other connection's Run: %v", err)
		}
	}()
	select {
	case err := <-ended:
		if !errors.Is(err, context.Canceled) {
			t.Fatalf("the held announcement ended with %v, want the engine's context ended", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("the call's actor still runs 10s after the application was replaced")
	}
}

// TestRestartGivesBackAnOfferNeverRung: the replica stops between an offer
// and its ring (staged: the call's actor is busy with an announcement when
// the offer comes, and the replica stops before it takes the offer up).
// The restarted engine finds the call offered with no agent leg: the offer
// goes back — the call to the head of its queue, the agent available, not
// in RONA, since their phone never rang — and the agent is offered the
// call again and answers.
func TestRestartGivesBackAnOfferNeverRung(t *testing.T) {
	forEachPBX(t, func(t *testing.T, pbx lab.PBXKind) {
		fc := clock.NewFake(time.Now())
		var armed atomic.Bool
		held, release, ended := make(chan string, 1), make(chan struct{}), make(chan error, 1)
		defer close(release)
		l := startAnnounceLab(t, pbx, fc, &mediaHoldPBX{armed: &armed, held: held, release: release, ended: ended})
		leg, err := l.PBX.Call(pbxsim.Caller{ANI: "5550001", DNIS: "800"})
		if err != nil {
			t.Fatal(err)
		}
		c1 := interactionOfWait(t, l, leg)
		waitState(t, l, c1, acd.StateQueued)
		armed.Store(true)
		playAnnouncement(fc)
		<-held
		login(t, l, 0, "a1", l.Endpoint("1001"), pbxsim.Phone{Mode: pbxsim.Answer, RingFor: 10 * time.Millisecond}, "sales")
		if ix := waitState(t, l, c1, acd.StateOffered); ix.AgentLeg != "" {
			t.Fatalf("before the stop: agent leg %q", ix.AgentLeg)
		}
		if err := l.Replicas[0].Stop(); err != nil {
			t.Fatal(err)
		}
		if err := <-ended; err == nil {
			t.Fatal("the held announcement was released; the engine's stop should have ended it")
		}
		l.RestartEngine(0)
		ix := waitState(t, l, c1, acd.StateConnected)
		if ix.Agent != "a1" || ix.RONAs != 0 {
			t.Fatalf("connected to %s after %d RONAs", ix.Agent, ix.RONAs)
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

// playAnnouncement fires the waiting call's first announcement, once its
// timer is armed (queued in Redis comes a step before the timer).
func playAnnouncement(fc *clock.Fake) {
	fc.WaitTimers(fc.Now().Add(announceEvery), 1)
	fc.Advance(announceEvery)
}
