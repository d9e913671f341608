package e2e

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/tandem-cc/tandem/acd"
	"github.com/tandem-cc/tandem/internal/lab"
	"github.com/tandem-cc/tandem/internal/redistest"
	"github.com/tandem-cc/tandem/pbxsim"
)

// strayArgs are Stasis() arguments of channels that are not Tandem's to
// handle: Stasis(app), Stasis(app,agent) (an agent leg Tandem did not
// create), Stasis(app,whatever). On FreeSWITCH any Args make the call one
// a dialplan not Tandem's parked (no tandem_inbound).
var strayArgs = [][]string{{}, {"agent"}, {"whatever", "800"}}

// placeStrays sends one caller per strayArgs into replica 0's application
// and returns their channel ids.
func placeStrays(t *testing.T, l *lab.Lab) []string {
	t.Helper()
	var legs []string
	for i, args := range strayArgs {
		leg, err := l.PBX.Call(pbxsim.Caller{App: l.Replicas[0].App, ANI: fmt.Sprintf("555900%d", i), DNIS: "800", Args: args})
		if err != nil {
			t.Fatal(err)
		}
		legs = append(legs, leg)
	}
	return legs
}

// requireGoneWithoutInteraction waits for every leg to have left the
// application and ended, and checks that none became an interaction.
func requireGoneWithoutInteraction(t *testing.T, l *lab.Lab, legs []string) {
	t.Helper()
	for _, leg := range legs {
		waitFor(t, 10*time.Second, "stray "+leg+" out of Stasis and ended", func() bool {
			ch, ok := l.PBX.Channel(leg)
			return ok && !ch.InStasis && ch.HungUp
		})
	}
	if ixs := interactions(t, l); len(ixs) != 0 {
		t.Fatalf("strays became interactions: %+v", ixs)
	}
	if n := len(l.PBX.Originates()); n != 0 {
		t.Fatalf("strays were offered: %d originates", n)
	}
}

// A channel that enters the application without "inbound" goes back to
// the dialplan: the simulator runs [acd-inbound] on from Stasis() (its
// Hangup()), no interaction is created, and the replica counts it.
func TestStrayChannelsContinueInDialplan(t *testing.T) {
	forEachPBX(t, func(t *testing.T, pbx lab.PBXKind) {
		l := startLabOn(t, pbx, 1, 5*time.Second, nil)
		m := l.Replicas[0].Metrics
		legs := placeStrays(t, l)
		waitFor(t, 10*time.Second, "strays counted as continued", func() bool {
			return testutil.ToFloat64(m.Strays.WithLabelValues("continued")) == float64(len(legs))
		})
		requireGoneWithoutInteraction(t, l, legs)
		if n := testutil.ToFloat64(m.Strays.WithLabelValues("hung_up")); n != 0 {
			t.Fatalf("%v strays hung up although continue works", n)
		}
		// A real inbound call right after is still handled as one.
		leg, err := l.PBX.Call(pbxsim.Caller{App: l.Replicas[0].App, ANI: "5559100", DNIS: "800"})
		if err != nil {
			t.Fatal(err)
		}
		interactionOf(t, l, leg)
		if ch, _ := l.PBX.Channel(leg); !ch.InStasis {
			t.Fatalf("inbound call not in Stasis: %+v", ch)
		}
	})
}

// refuseContinue is a PBX whose continue fails, as when Asterisk refuses
// the request.
type refuseContinue struct{ acd.PBX }

var errRefused = errors.New("continue refused (test)")

func (refuseContinue) ContinueInDialplan(context.Context, string) error { return errRefused }

// When continue fails the stray is hung up: never left in Stasis.
func TestStrayChannelsHungUpWhenContinueFails(t *testing.T) {
	forEachPBX(t, func(t *testing.T, pbx lab.PBXKind) {
		l := startLabWith(t, lab.Options{
			PBX:       pbx,
			Replicas:  1,
			RedisAddr: redistest.Start(t),
			Queues:    map[string]acd.QueueSettings{"sales": {RingTimeout: 5 * time.Second}},
			DNIS:      map[string]string{"800": "sales"},
			Logger:    slog.New(slog.DiscardHandler),
			WrapPBX:   func(_ string, p acd.PBX) acd.PBX { return refuseContinue{p} },
		})
		m := l.Replicas[0].Metrics
		legs := placeStrays(t, l)
		waitFor(t, 10*time.Second, "strays counted as hung up", func() bool {
			return testutil.ToFloat64(m.Strays.WithLabelValues("hung_up")) == float64(len(legs))
		})
		requireGoneWithoutInteraction(t, l, legs)
		if n := testutil.ToFloat64(m.Strays.WithLabelValues("continued")); n != 0 {
			t.Fatalf("%v strays counted continued although continue fails", n)
		}
	})
}
