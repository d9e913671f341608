package ari_test

import (
	"context"
	"fmt"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/tandem-cc/tandem/acd"
	"github.com/tandem-cc/tandem/pbxsim"
)

// heldReads holds every GET /ari/channels/{id} while on, as a PBX too busy
// to answer them would.
type heldReads struct {
	on      atomic.Bool
	release chan struct{}
	once    sync.Once
}

func (h *heldReads) open() { h.once.Do(func() { close(h.release) }) }

func (h *heldReads) wrap(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		rest, ok := strings.CutPrefix(r.URL.Path, "/ari/channels/")
		if ok && r.Method == http.MethodGet && !strings.Contains(rest, "/") && h.on.Load() {
			<-h.release
		}
		next.ServeHTTP(w, r)
	})
}

// After a reconnect the driver re-reads the application; with thousands of
// agent legs ringing it must not hold event delivery back while it checks
// which of them were answered in the gap (the 10,000-agent load run: a
// replica that routed nothing for 7 minutes after a reconnect). Here 2,000
// legs ring and the PBX answers none of the per-leg reads: the re-read is
// still reported, and a call arriving after it is delivered.
func TestReReadWithThousandsOfRingingLegsDoesNotHoldEventsBack(t *testing.T) {
	const legs = 2000
	held := &heldReads{release: make(chan struct{})}
	w := newWorld(t, held.wrap, 2*time.Second)
	t.Cleanup(held.open) // runs before the world's server closes
	w.sim.SetPhone("PJSIP/ring", pbxsim.Phone{Mode: pbxsim.NoAnswer})
	ctx := context.Background()
	ids := make(chan int)
	errs := make(chan error, legs)
	var wg sync.WaitGroup
	for range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range ids {
				errs <- w.driver.Ring(ctx, acd.RingRequest{Leg: fmt.Sprintf("ring-%d", i), Endpoint: "PJSIP/ring", Timeout: 120 * time.Second})
			}
		}()
	}
	for i := range legs {
		ids <- i
	}
	close(ids)
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Fatalf("ring: %v", err)
		}
	}

	held.on.Store(true)
	w.sim.DropWebSockets("tandem-test")
	var live int
	w.waitFor(t, "re-read after the reconnect", func() bool {
		return w.count(func(e acd.Event) bool {
			r, ok := e.(acd.Resynced)
			if ok && !r.Initial {
				live = len(r.Live)
			}
			return ok && !r.Initial
		}) == 1
	})
	if live != legs {
		t.Fatalf("re-read lists %d live legs, want %d", live, legs)
	}
	caller, err := w.sim.Call(pbxsim.Caller{ANI: "5550100", DNIS: "800"})
	if err != nil {
		t.Fatal(err)
	}
	w.waitFor(t, "a call arriving after the re-read", func() bool {
		return w.count(func(e acd.Event) bool { c, ok := e.(acd.CallArrived); return ok && c.Leg == caller }) == 1
	})
	held.open()
	if n := w.count(func(e acd.Event) bool { _, ok := e.(acd.LegAnswered); return ok }); n != 0 {
		t.Fatalf("%d legs reported answered; none was", n)
	}
}
