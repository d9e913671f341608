package ari_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/tandem-cc/tandem/acd"
	"github.com/tandem-cc/tandem/pbxsim"
)

// slowOriginate plays a CPU-starved Asterisk (ARCHITECTURE §9): it holds
// the first originate request past the driver's request timeout and lets
// it through only once the driver's DELETE of that leg was answered (404:
// the leg does not exist yet). The leg is then created after the driver
// gave the ring up. With holdLaterHangups, every later DELETE of the leg
// waits until the leg is answered and in Stasis (the agent picked up before
// the driver's hang-up came through).
type slowOriginate struct {
	sim              *pbxsim.Sim
	holdLaterHangups bool

	// stop ends every wait, so that the server can close.
	stop chan struct{}

	mu       sync.Mutex
	leg      string
	deletes  int
	released chan struct{}
	once     sync.Once
}

func newSlowOriginate() *slowOriginate {
	return &slowOriginate{released: make(chan struct{}), stop: make(chan struct{})}
}

// attach gives s the world's simulator; s stops holding requests when the
// test ends, before the world's server closes (cleanups run last first).
func (s *slowOriginate) attach(t *testing.T, w *world) {
	s.mu.Lock()
	s.sim = w.sim
	s.mu.Unlock()
	t.Cleanup(func() { close(s.stop) })
}

func (s *slowOriginate) release() { s.once.Do(func() { close(s.released) }) }

// originateLeg returns the leg a POST /ari/channels[/{id}] creates, "" for
// any other request.
func originateLeg(r *http.Request) string {
	if r.Method != http.MethodPost {
		return ""
	}
	rest, ok := strings.CutPrefix(r.URL.Path, "/ari/channels")
	switch {
	case !ok:
		return ""
	case rest == "":
		// ari/v5 sends the originate's parameters as a JSON body.
		body, err := io.ReadAll(r.Body)
		if err != nil {
			return ""
		}
		r.Body = io.NopCloser(bytes.NewReader(body))
		var p struct {
			ChannelID string `json:"channelId"`
		}
		if json.Unmarshal(body, &p) == nil && p.ChannelID != "" {
			return p.ChannelID
		}
		return r.URL.Query().Get("channelId")
	case strings.Count(rest, "/") == 1 && rest != "/create":
		return rest[1:]
	}
	return ""
}

func (s *slowOriginate) wrap(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if leg := originateLeg(r); leg != "" {
			s.mu.Lock()
			first := s.leg == ""
			if first {
				s.leg = leg
			}
			s.mu.Unlock()
			if first {
				select {
				case <-s.released:
				case <-s.stop:
				}
			}
			next.ServeHTTP(w, r)
			return
		}
		s.mu.Lock()
		held := s.leg != "" && r.Method == http.MethodDelete && r.URL.Path == "/ari/channels/"+s.leg
		if held {
			s.deletes++
		}
		later := held && s.deletes > 1 && s.holdLaterHangups
		leg, sim := s.leg, s.sim
		s.mu.Unlock()
		if later {
			for {
				if ch, ok := sim.Channel(leg); ok && ch.InStasis {
					break
				}
				select {
				case <-s.stop:
					return
				case <-time.After(time.Millisecond):
				}
			}
		}
		next.ServeHTTP(w, r)
		if held {
			s.release()
		}
	})
}

// ringLate rings leg through a slowOriginate and checks that Ring says
// the outcome is unknown.
func ringLate(t *testing.T, w *world, leg, endpoint string) {
	t.Helper()
	err := w.driver.Ring(context.Background(), acd.RingRequest{Leg: leg, Endpoint: endpoint, Timeout: 10 * time.Second})
	if !errors.Is(err, acd.ErrRingUnknown) {
		t.Fatalf("ring whose originate timed out: err %v, want ErrRingUnknown", err)
	}
}

// requireAbandonedLegEnded waits for the leg's RingFailed and checks that
// it was hung up on the PBX, never reported answered, and is no longer
// watched for.
func requireAbandonedLegEnded(t *testing.T, w *world, leg string) {
	t.Helper()
	w.waitFor(t, "ring failed of "+leg, func() bool {
		return w.count(func(e acd.Event) bool { f, ok := e.(acd.RingFailed); return ok && f.Leg == leg }) == 1
	})
	if n := w.count(func(e acd.Event) bool { a, ok := e.(acd.LegAnswered); return ok && a.Leg == leg }); n != 0 {
		t.Fatalf("abandoned leg reported answered %d times", n)
	}
	ch, ok := w.sim.Channel(leg)
	if !ok || !ch.HungUp || ch.InStasis {
		t.Fatalf("abandoned leg on the PBX: %+v (known %v), want hung up", ch, ok)
	}
	if n := w.driver.Abandoned(); n != 0 {
		t.Fatalf("driver still watches %d abandoned legs", n)
	}
}

// An originate that got no answer in time is hung up at once (404: not
// created yet), and again as soon as the PBX creates the leg: it never
// rings on unseen, and its end is reported as a failed ring.
func TestRingTimeoutHangsTheLegUpWhenItAppears(t *testing.T) {
	slow := newSlowOriginate()
	w := newWorld(t, slow.wrap, 300*time.Millisecond)
	slow.attach(t, w)
	w.sim.SetPhone("PJSIP/late", pbxsim.Phone{Mode: pbxsim.NoAnswer})
	ringLate(t, w, "late-leg", "PJSIP/late")
	requireAbandonedLegEnded(t, w, "late-leg")
}

// The agent answers the late leg before the driver's hang-up reaches the
// PBX: the answer is not reported (the ACD gave the ring up and must not
// connect a second agent), and the leg is hung up again.
func TestAbandonedLegAnsweredIsHungUpNotReported(t *testing.T) {
	slow := newSlowOriginate()
	slow.holdLaterHangups = true
	w := newWorld(t, slow.wrap, 300*time.Millisecond)
	slow.attach(t, w)
	w.sim.SetPhone("PJSIP/quick", pbxsim.Phone{Mode: pbxsim.Answer})
	ringLate(t, w, "quick-leg", "PJSIP/quick")
	requireAbandonedLegEnded(t, w, "quick-leg")
}

// lateReply lets the first originate through at once but holds its reply
// until the test ends: Asterisk created and rang the leg, and its events
// came, but the HTTP answer did not (ARCHITECTURE §9: events often arrive
// before the response of the request that caused them).
type lateReply struct {
	stop chan struct{}
	mu   sync.Mutex
	leg  string
}

func (s *lateReply) wrap(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		leg := originateLeg(r)
		s.mu.Lock()
		first := leg != "" && s.leg == ""
		if first {
			s.leg = leg
		}
		s.mu.Unlock()
		next.ServeHTTP(w, r)
		if first {
			<-s.stop
		}
	})
}

// An originate whose reply times out after the leg's events showed it
// exists is a ring under way, not an unknown one: the answer is reported
// and the leg is not hung up.
func TestRingWhoseLegWasSeenBeforeTheTimeoutIsUnderWay(t *testing.T) {
	late := &lateReply{stop: make(chan struct{})}
	w := newWorld(t, late.wrap, time.Second)
	t.Cleanup(func() { close(late.stop) })
	w.sim.SetPhone("PJSIP/seen", pbxsim.Phone{Mode: pbxsim.Answer})
	err := w.driver.Ring(context.Background(), acd.RingRequest{Leg: "seen-leg", Endpoint: "PJSIP/seen", Timeout: 10 * time.Second})
	if err != nil {
		t.Fatalf("ring whose leg was seen: %v, want nil", err)
	}
	w.waitFor(t, "answer of seen-leg", func() bool {
		return w.count(func(e acd.Event) bool { a, ok := e.(acd.LegAnswered); return ok && a.Leg == "seen-leg" }) == 1
	})
	if ch, ok := w.sim.Channel("seen-leg"); !ok || ch.HungUp || !ch.InStasis {
		t.Fatalf("seen leg on the PBX: %+v, want up in Stasis", ch)
	}
	if n := w.driver.Abandoned(); n != 0 {
		t.Fatalf("driver watches %d abandoned legs, want none", n)
	}
}
