package e2e

import (
	"context"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/tandem-cc/tandem/acd"
	"github.com/tandem-cc/tandem/agents"
	"github.com/tandem-cc/tandem/internal/lab"
	"github.com/tandem-cc/tandem/internal/redistest"
	"github.com/tandem-cc/tandem/pbxsim"
)

// settleTimeout bounds the end-of-test check: how long Tandem has, once
// every party hung up, to end every interaction and take down what it
// made at the PBX. A clean lab settles within a few PBX round trips; the
// bound only matters when something is left, which then stays for good.
const settleTimeout = 20 * time.Second

// startLabWith starts a lab for a scenario test: the one place e2e calls
// lab.Start (TestEveryLabChecksWhatItLeaves), so that every scenario ends
// with checkNothingLeft.
func startLabWith(t testing.TB, opts lab.Options) *lab.Lab {
	t.Helper()
	l, err := lab.Start(context.Background(), opts)
	if err != nil {
		t.Fatalf("lab: %v", err)
	}
	t.Cleanup(l.Close)
	t.Cleanup(func() { checkNothingLeft(t, l) }) // runs before Close
	return l
}

// checkNothingLeft is every scenario's last invariant: once every caller
// and phone still on the PBX hangs up, every interaction in Redis ends
// and the PBX holds no channel, no bridge, no snoop channel and no live
// recording. It is skipped when the test failed already (its world is in
// no state to judge) or said why it must leave something
// (Lab.AllowLeftovers).
func checkNothingLeft(t testing.TB, l *lab.Lab) {
	t.Helper()
	if t.Failed() || t.Skipped() {
		return
	}
	if why := l.LeftoversAllowed(); why != "" {
		t.Logf("not checked for leftovers: %s", why)
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), settleTimeout)
	defer cancel()
	if s := l.Settle(ctx, true); !s.Clean() {
		t.Errorf("once every party hung up: %s", s)
	}
}

// TestNothingLeftCheckSeesWhatNobodyDestroys: the end-of-test check is
// not blind. A bridge nobody destroys (made here over ARI, as another
// application would) keeps the lab from settling, and is named; a test
// whose point is to leave one opts out with Lab.AllowLeftovers, as this
// one does, and is then not failed for it.
//
// AllowLeftovers is the opt-out of checkNothingLeft for a test where
// leaving calls or PBX objects is the point or cannot be avoided (a
// replica crashed and no survivor takes its calls over; a test whose
// stopped replica can be started again calls restartForTheEnd instead).
func TestNothingLeftCheckSeesWhatNobodyDestroys(t *testing.T) {
	l := startLab(t, 1, time.Second)
	if err := createBridge(l, "nobodys-bridge"); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 200*time.Millisecond)
	defer cancel()
	s := l.Settle(ctx, true)
	if s.Clean() || len(s.Left.Bridges) != 1 || s.Left.Bridges[0].ID != "nobodys-bridge" ||
		!strings.Contains(s.String(), "bridge nobodys-bridge") {
		t.Fatalf("settled with a bridge nobody destroys: %s", s)
	}
	l.AllowLeftovers("the bridge is the point: nobody may destroy it")
}

// TestEveryLabChecksWhatItLeaves: no scenario test starts a lab but
// through startLabWith, so none escapes the end-of-test check.
func TestEveryLabChecksWhatItLeaves(t *testing.T) {
	files, err := filepath.Glob("*.go")
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range files {
		if f == "leftovers_test.go" {
			continue
		}
		src, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		if strings.Contains(string(src), "lab.Start(") {
			t.Errorf("%s calls lab.Start: start labs with startLabWith, which checks what each test leaves", f)
		}
	}
}

// TestFailedBlindTransferLeavesNoBridge: a blind transfer whose target
// fails — a number that is busy or cannot be reached, an agent whose phone
// is busy or cannot be reached — ends the call, and the bridge named
// after the connection goes with it (before, it stayed on the PBX, empty,
// as GET /ari/bridges showed on Asterisk). Nothing else is left either:
// no channel, snoop or recording (the sales queue records).
func TestFailedBlindTransferLeavesNoBridge(t *testing.T) {
	forEachPBX(t, func(t *testing.T, pbx lab.PBXKind) {
		const number = "+442079460958"
		for _, tc := range []struct {
			name   string
			target acd.Target
			phone  pbxsim.Phone
			state  string // the interaction's end
		}{
			// The outside number was to take the call over, as connected:
			// the call ends as a connected call does.
			{"number busy", acd.Target{Kind: acd.TargetNumber, Value: number}, pbxsim.Phone{Mode: pbxsim.Busy}, acd.StateEnded},
			{"number unreachable", acd.Target{Kind: acd.TargetNumber, Value: number}, pbxsim.Phone{Mode: pbxsim.Unreachable}, acd.StateEnded},
			{"number rejects", acd.Target{Kind: acd.TargetNumber, Value: number}, pbxsim.Phone{Mode: pbxsim.Reject, RingFor: 20 * time.Millisecond}, acd.StateEnded},
			// The agent was offered the call: a blind transfer they do not
			// take abandons it (the lab's default policy).
			{"agent phone busy", acd.Target{Kind: acd.TargetAgent, Value: "a2"}, pbxsim.Phone{Mode: pbxsim.Busy}, acd.StateAbandoned},
			{"agent phone unreachable", acd.Target{Kind: acd.TargetAgent, Value: "a2"}, pbxsim.Phone{Mode: pbxsim.Unreachable}, acd.StateAbandoned},
		} {
			t.Run(tc.name, func(t *testing.T) {
				l := startControlLab(t, controlOptions{pbx: pbx})
				l.agent(0, "a1", l.Endpoint("1001"), false, "sales")
				l.agent(0, "a2", l.Endpoint("1002"), false, "support")
				l.PBX.SetPhone(l.Endpoint("1002"), tc.phone)
				l.PBX.SetPhone(l.Endpoint(number), tc.phone)
				ix := l.callConnected(nil)
				if !l.Bridged(ix.CallerLeg, ix.AgentLeg) {
					t.Fatal("caller and agent not bridged: nothing to test")
				}
				if _, err := l.engine().Transfer(context.Background(), "a1", tc.target); err != nil {
					t.Fatal(err)
				}
				got := waitState(t, l.Lab, ix.ConnectionID, tc.state)
				if got.EndedBy != "system" {
					t.Errorf("ended by %q, want system", got.EndedBy)
				}
				waitFor(t, 5*time.Second, "customer hung up", func() bool { return l.channel(ix.CallerLeg).HungUp })
				// Nobody else is on the PBX: what is left now stays.
				ctx, cancel := context.WithTimeout(context.Background(), settleTimeout)
				defer cancel()
				if s := l.Settle(ctx, false); !s.Clean() {
					t.Fatalf("after the failed transfer: %s", s)
				}
				if tc.target.Kind == acd.TargetAgent {
					waitAgent(t, l.Lab, "a2", agents.RONA)
				}
				checkHistory(t, l.Lab)
			})
		}
	})
}

// lateBridgeAnswer plays an Asterisk that creates a bridge but answers the
// request too late (a starved PBX, a lost response): the first bridge
// creation is served, and its answer held until the bridge is deleted or
// the test ends.
type lateBridgeAnswer struct {
	deleted chan struct{}
	stop    chan struct{}
	once    sync.Once
	mu      sync.Mutex
	held    string // the bridge id whose answer is held
}

func (h *lateBridgeAnswer) wrap(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		// ari/v5 creates a bridge with POST /bridges/{id}.
		id, create := strings.CutPrefix(r.URL.Path, "/ari/bridges/")
		if create = create && r.Method == http.MethodPost && !strings.Contains(id, "/"); create {
			h.mu.Lock()
			first := h.held == ""
			if first {
				h.held = id
			}
			h.mu.Unlock()
			if first {
				rec := httptest.NewRecorder()
				next.ServeHTTP(rec, r)
				select {
				case <-h.deleted:
				case <-h.stop:
				}
				w.WriteHeader(rec.Code)
				_, _ = w.Write(rec.Body.Bytes())
				return
			}
		}
		next.ServeHTTP(w, r)
		h.mu.Lock()
		held := h.held
		h.mu.Unlock()
		if held != "" && r.Method == http.MethodDelete && r.URL.Path == "/ari/bridges/"+held {
			h.once.Do(func() { close(h.deleted) })
		}
	})
}

// TestBridgeMadeByARequestThatTimedOutIsDestroyed: the agent answers, the
// bridge is created at the PBX, but its answer comes after the driver's
// request timeout. The call fails (Tandem could not bridge it) and the
// bridge, which Tandem never saw created, is destroyed all the same:
// before, only a bridge whose creation succeeded was, and this one stayed
// on the PBX for good.
func TestBridgeMadeByARequestThatTimedOutIsDestroyed(t *testing.T) {
	late := &lateBridgeAnswer{deleted: make(chan struct{}), stop: make(chan struct{})}
	l := startLabWith(t, lab.Options{
		Replicas:       1,
		RedisAddr:      redistest.Start(t),
		Queues:         map[string]acd.QueueSettings{"sales": {RingTimeout: 10 * time.Second}},
		DNIS:           map[string]string{"800": "sales"},
		RequestTimeout: 300 * time.Millisecond,
		Logger:         haLogger(),
		WrapSim:        late.wrap,
	})
	t.Cleanup(func() { close(late.stop) }) // runs first: no answer stays held
	login(t, l, 0, "a1", "PJSIP/a1", pbxsim.Phone{Mode: pbxsim.Answer, RingFor: 20 * time.Millisecond}, "sales")
	caller, err := l.Sim.Call(pbxsim.Caller{ANI: "5557300", DNIS: "800"})
	if err != nil {
		t.Fatal(err)
	}
	conn := interactionOf(t, l, caller).ConnectionID
	waitState(t, l, conn, acd.StateFailed)
	select {
	case <-late.deleted:
	case <-time.After(settleTimeout):
		t.Fatalf("the bridge of the failed call was never deleted; the PBX holds %s", l.Sim.Leftovers())
	}
	ctx, cancel := context.WithTimeout(context.Background(), settleTimeout)
	defer cancel()
	if s := l.Settle(ctx, false); !s.Clean() {
		t.Fatalf("after the failed call: %s", s)
	}
	waitAgent(t, l, "a1", agents.Available)
}

// restartForTheEnd starts replica i again, which the test stopped with
// calls of its seat still on the PBX, so that the end-of-test check can
// end them too: a restarted replica takes its seat's calls back (it
// re-reads the PBX and rebuilds them, acd/reconcile.go), as after a crash.
// A test calls it last, once it has checked what happens while the
// replica is away.
func restartForTheEnd(l *lab.Lab, i int) { l.RestartEngine(i) }
