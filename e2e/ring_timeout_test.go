package e2e

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"os"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/tandem-cc/tandem/acd"
	"github.com/tandem-cc/tandem/agents"
	"github.com/tandem-cc/tandem/internal/lab"
	"github.com/tandem-cc/tandem/internal/redistest"
	"github.com/tandem-cc/tandem/pbxsim"
)

// lateOriginate plays a CPU-starved Asterisk (ARCHITECTURE §9, seen in the
// 10,000-agent load run): it holds the first agent originate past the
// driver's request timeout, then lets it through — the leg is created
// after Tandem gave the request up. It lets it through once Tandem has
// hung the leg up (a DELETE answered 404: not created yet) and has decided
// what to do with the call: either it waits on that leg (waiting reports
// the agent of endpoint ringing) or it offers the call elsewhere (another
// originate comes) — so the leg appears in the worst moment for both.
type lateOriginate struct {
	stop    chan struct{}
	waiting func(endpoint string) bool
	wg      sync.WaitGroup

	mu       sync.Mutex
	leg      string
	endpoint string
	released chan struct{}
	once     sync.Once
}

func newLateOriginate() *lateOriginate {
	return &lateOriginate{released: make(chan struct{}), stop: make(chan struct{})}
}

func (s *lateOriginate) release() { s.once.Do(func() { close(s.released) }) }

// held returns the held originate's leg and endpoint ("" before it came).
func (s *lateOriginate) held() (string, string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.leg, s.endpoint
}

func (s *lateOriginate) wrap(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method == http.MethodPost && r.URL.Path == "/ari/channels" {
			// ari/v5 sends the originate's parameters as a JSON body.
			body, err := io.ReadAll(r.Body)
			if err != nil {
				http.Error(w, err.Error(), http.StatusBadRequest)
				return
			}
			r.Body = io.NopCloser(bytes.NewReader(body))
			var p struct {
				ChannelID string `json:"channelId"`
				Endpoint  string `json:"endpoint"`
			}
			_ = json.Unmarshal(body, &p)
			s.mu.Lock()
			first := s.leg == ""
			if first {
				s.leg, s.endpoint = p.ChannelID, p.Endpoint
			}
			s.mu.Unlock()
			if !first {
				s.release()
				next.ServeHTTP(w, r)
				return
			}
			select {
			case <-s.released:
			case <-s.stop:
			}
			next.ServeHTTP(w, r)
			return
		}
		leg, endpoint := s.held()
		next.ServeHTTP(w, r)
		if leg != "" && r.Method == http.MethodDelete && r.URL.Path == "/ari/channels/"+leg {
			s.wg.Add(1)
			go func() {
				defer s.wg.Done()
				s.releaseWhenWaiting(endpoint)
			}()
		}
	})
}

// releaseWhenWaiting lets the held originate through once Tandem waits on
// its leg; it gives up when the originate was let through otherwise, or
// the test ends.
func (s *lateOriginate) releaseWhenWaiting(endpoint string) {
	for !s.waiting(endpoint) {
		select {
		case <-s.released:
			return
		case <-s.stop:
			return
		case <-time.After(2 * time.Millisecond):
		}
	}
	s.release()
}

// An agent ring whose originate request times out while the PBX still
// creates the leg a moment later (the load run's finding: calls rung to a
// second agent at once, channels left in Stasis). The call is not offered
// to another agent while the first leg exists; that leg is hung up, never
// connected; the call is answered by one agent; nothing stays in Stasis.
func TestRingTimeoutNeverRingsASecondAgentWhileTheFirstLegExists(t *testing.T) {
	late := newLateOriginate()
	var store atomic.Pointer[acd.Store] // set once the lab runs
	late.waiting = func(endpoint string) bool {
		a, err := store.Load().Agent(context.Background(), strings.TrimPrefix(endpoint, "PJSIP/"))
		return err == nil && a.State == agents.Ringing
	}
	logger := slog.New(slog.DiscardHandler)
	if os.Getenv("TANDEM_TEST_LOG") != "" {
		logger = slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelDebug}))
	}
	l := startLabWith(t, lab.Options{
		Replicas:       1,
		RedisAddr:      redistest.Start(t),
		Queues:         map[string]acd.QueueSettings{"sales": {RingTimeout: 10 * time.Second}},
		DNIS:           map[string]string{"800": "sales"},
		RequestTimeout: 300 * time.Millisecond,
		Logger:         logger,
		WrapSim:        late.wrap,
	})
	store.Store(l.Replicas[0].Store)
	t.Cleanup(func() { // runs before l.Close
		close(late.stop)
		late.wg.Wait()
	})
	// Both phones answer quickly: a first leg left ringing would be
	// answered, and two agents would be on the call.
	phone := pbxsim.Phone{Mode: pbxsim.Answer, RingFor: 50 * time.Millisecond}
	login(t, l, 0, "a1", "PJSIP/a1", phone, "sales")
	login(t, l, 0, "a2", "PJSIP/a2", phone, "sales")

	caller, err := l.Sim.Call(pbxsim.Caller{App: l.Replicas[0].App, ANI: "5557100", DNIS: "800"})
	if err != nil {
		t.Fatal(err)
	}
	ix := waitState(t, l, interactionOf(t, l, caller).ConnectionID, "connected")
	first, _ := late.held()
	if first == "" {
		t.Fatal("no originate was held")
	}
	if ix.AgentLeg == first {
		t.Fatalf("call connected on the leg whose originate timed out (%s)", first)
	}
	waitFor(t, 10*time.Second, "late leg "+first+" hung up", func() bool {
		ch, ok := l.Sim.Channel(first)
		return ok && ch.HungUp
	})
	st := l.Sim.Stats()
	if st.DoubleOffers != 0 || st.AgentsWithTwoCalls != 0 {
		t.Fatalf("double offers %d, agents with two calls %d: a second agent rang while the first leg existed", st.DoubleOffers, st.AgentsWithTwoCalls)
	}
	// The second leg was originated only after the first was gone.
	firstCh, _ := l.Sim.Channel(first)
	second, _ := l.Sim.Channel(ix.AgentLeg)
	if !second.Created.After(firstCh.Created) {
		t.Fatalf("second leg created %v, not after the late first %v", second.Created, firstCh.Created)
	}
	var inStasis []string
	for _, ch := range l.Sim.Channels() {
		if ch.InStasis && !ch.HungUp {
			inStasis = append(inStasis, ch.ID)
		}
	}
	slices.Sort(inStasis)
	want := []string{caller, ix.AgentLeg}
	slices.Sort(want)
	if !slices.Equal(inStasis, want) {
		t.Fatalf("in Stasis: %v, want only the caller and the connected agent %v", inStasis, want)
	}
	if n := l.Replicas[0].Driver.Abandoned(); n != 0 {
		t.Fatalf("driver still watches %d abandoned legs", n)
	}
}

// failFirstAgentHangup is a PBX whose first hang-up of each agent leg
// fails as a timed-out request would, without reaching the PBX.
type failFirstAgentHangup struct {
	acd.PBX
	mu     sync.Mutex
	failed map[string]bool
}

func (p *failFirstAgentHangup) Hangup(ctx context.Context, leg string, cause acd.HangupCause) error {
	p.mu.Lock()
	fail := strings.Contains(leg, "-a") && !p.failed[leg]
	p.failed[leg] = true
	p.mu.Unlock()
	if fail {
		return context.DeadlineExceeded
	}
	return p.PBX.Hangup(ctx, leg, cause)
}

// The caller gives up while the agent's phone rings and the hang-up of the
// agent's leg does not take; the agent then answers a leg no call wants.
// The answer is not ignored: the leg is hung up, not left up in Stasis.
func TestAnswerForAnEndedCallIsHungUp(t *testing.T) {
	forEachPBX(t, func(t *testing.T, pbx lab.PBXKind) {
		l := startLabWith(t, lab.Options{
			PBX:       pbx,
			Replicas:  1,
			RedisAddr: redistest.Start(t),
			Queues:    map[string]acd.QueueSettings{"sales": {RingTimeout: 10 * time.Second}},
			DNIS:      map[string]string{"800": "sales"},
			Logger:    slog.New(slog.DiscardHandler),
			WrapPBX: func(_ string, p acd.PBX) acd.PBX {
				return &failFirstAgentHangup{PBX: p, failed: map[string]bool{}}
			},
		})
		login(t, l, 0, "a1", l.Endpoint("a1"), pbxsim.Phone{Mode: pbxsim.Answer, RingFor: 1500 * time.Millisecond}, "sales")
		caller, err := l.PBX.Call(pbxsim.Caller{App: l.Replicas[0].App, ANI: "5557200", DNIS: "800", Patience: 300 * time.Millisecond})
		if err != nil {
			t.Fatal(err)
		}
		ix := waitState(t, l, interactionOf(t, l, caller).ConnectionID, "abandoned")
		agentLeg := ix.ConnectionID + "-a1"
		if ch, ok := l.PBX.Channel(agentLeg); !ok || ch.HungUp || ch.State == "Up" {
			t.Fatalf("agent leg %s after the caller gave up: %+v (known %v), want still ringing", agentLeg, ch, ok)
		}
		waitFor(t, 10*time.Second, "answered agent leg hung up", func() bool {
			ch, ok := l.PBX.Channel(agentLeg)
			return ok && ch.HungUp
		})
		for _, ch := range l.PBX.Channels() {
			if ch.InStasis && !ch.HungUp {
				t.Fatalf("left in Stasis: %+v", ch)
			}
		}
	})
}
