package ari_test

import (
	"context"
	"errors"
	"net/http"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/tandem-cc/tandem/acd"
	"github.com/tandem-cc/tandem/pbxsim"
)

// A channel in the application without "inbound" is reported as a stray,
// never as a call, and ContinueInDialplan sends it on with
// POST /channels/{id}/continue and no location (trace 13, case B): the
// simulator ends it at [acd-inbound]'s Hangup() after Stasis().
func TestStrayIsReportedAndContinuedInDialplan(t *testing.T) {
	var mu sync.Mutex
	var posts []string
	w := newWorld(t, func(h http.Handler) http.Handler {
		return http.HandlerFunc(func(rw http.ResponseWriter, r *http.Request) {
			if r.Method == http.MethodPost {
				mu.Lock()
				posts = append(posts, r.URL.Path+"?"+r.URL.RawQuery)
				mu.Unlock()
			}
			h.ServeHTTP(rw, r)
		})
	}, 2*time.Second)
	for _, args := range [][]string{{}, {"agent"}} {
		leg, err := w.sim.Call(pbxsim.Caller{ANI: "5551234", DNIS: "800", Args: args})
		if err != nil {
			t.Fatal(err)
		}
		var got acd.StrayArrived
		w.waitFor(t, "StrayArrived "+leg, func() bool {
			return w.count(func(e acd.Event) bool {
				if s, ok := e.(acd.StrayArrived); ok && s.Leg == leg {
					got = s
					return true
				}
				return false
			}) == 1
		})
		if !slices.Equal(got.Args, args) {
			t.Fatalf("stray args %q, want %q", got.Args, args)
		}
		if err := w.driver.ContinueInDialplan(context.Background(), leg); err != nil {
			t.Fatalf("continue: %v", err)
		}
		w.waitFor(t, "stray "+leg+" ended in the dialplan", func() bool {
			ch, ok := w.sim.Channel(leg)
			return ok && !ch.InStasis && ch.HungUp
		})
		mu.Lock()
		sent := slices.Contains(posts, "/ari/channels/"+leg+"/continue?")
		mu.Unlock()
		if !sent {
			t.Fatalf("no POST /channels/%s/continue without query among %q", leg, posts)
		}
	}
	// Neither became a call nor a leg whose end the ACD hears of.
	if n := w.count(func(e acd.Event) bool {
		switch e.(type) {
		case acd.CallArrived, acd.LegHungUp, acd.LegAnswered, acd.RingFailed:
			return true
		}
		return false
	}); n != 0 {
		t.Fatalf("%d call events for strays", n)
	}
	err := w.driver.ContinueInDialplan(context.Background(), "no-such-channel")
	if !errors.Is(err, acd.ErrLegGone) {
		t.Fatalf("continue of an unknown channel: %v, want ErrLegGone", err)
	}
}
