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

// startAnnounceLab is a one-replica lab whose queue announces the caller's
// position every second on a fake clock, with the announcement held as
// mediaHoldPBX says.
func startAnnounceLab(t *testing.T, fc *clock.Fake, p *mediaHoldPBX) *lab.Lab {
	t.Helper()
	l, err := lab.Start(context.Background(), lab.Options{
		Replicas:  1,
		RedisAddr: redistest.Start(t),
		Queues: map[string]acd.QueueSettings{
			"sales": {MOHClass: "default", RingTimeout: time.Minute, Announce: acd.Announcements{Interval: time.Second, Position: true}},
		},
		DNIS:    map[string]string{"800": "sales"},
		Logger:  slog.New(slog.DiscardHandler),
		WrapPBX: func(_ string, pbx acd.PBX) acd.PBX { q := *p; q.PBX = pbx; return q },
		Engine:  acd.Options{Clock: fc, Policy: acd.Policy{WrapUp: time.Hour}},
	})
	if err != nil {
		t.Fatalf("lab: %v", err)
	}
	t.Cleanup(l.Close)
	return l
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
	l := startAnnounceLab(t, fc, &mediaHoldPBX{armed: &armed, held: held, release: release, ended: ended})
	defer close(release)
	leg, err := l.Sim.Call(pbxsim.Caller{ANI: "5550001", DNIS: "800"})
	if err != nil {
		t.Fatal(err)
	}
	c1 := interactionOfWait(t, l, leg)
	waitState(t, l, c1, acd.StateQueued)
	armed.Store(true)
	fc.Advance(time.Second)
	<-held
	// Another connection registers the application: r1's socket is
	// replaced (its lease is untouched: only the PBX says so).
	other := ari.New(ari.Options{URL: l.ARIURL, Username: "tandem", Password: "tandem-secret", App: l.Replicas[0].App, Logger: slog.New(slog.DiscardHandler)})
	octx, stop := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- other.Run(octx, func(acd.Event) {}) }()
	defer func() {
		stop()
		<-done
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
