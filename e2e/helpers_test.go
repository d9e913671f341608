// Package e2e runs whole calls through the simulated PBXs, with the real
// client libraries, real Redis and one or more Tandem replicas. The
// scenarios of the product's features run once per PBX kind (forEachPBX);
// tests about one driver's own protocol (ARI's applications, bridges and
// WebSocket) run on that PBX only.
package e2e

import (
	"context"
	"fmt"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"log/slog"

	"github.com/tandem-cc/tandem/acd"
	"github.com/tandem-cc/tandem/agents"
	"github.com/tandem-cc/tandem/internal/clock"
	"github.com/tandem-cc/tandem/internal/lab"
	"github.com/tandem-cc/tandem/internal/redistest"
	"github.com/tandem-cc/tandem/pbxsim"
)

// startLab starts a lab on Asterisk (startLabOn).
func startLab(t *testing.T, replicas int, ring time.Duration) *lab.Lab {
	t.Helper()
	return startLabOn(t, lab.Asterisk, replicas, ring, nil)
}

// startLabOn starts a lab on PBX pbx with queues sales and support (DNIS
// 800 goes to sales), the engines' timers on clk (nil: the system clock).
func startLabOn(t *testing.T, pbx lab.PBXKind, replicas int, ring time.Duration, clk clock.Clock) *lab.Lab {
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
			"sales":   {MOHClass: "sales-music", RingTimeout: ring},
			"support": {MOHClass: "default", RingTimeout: ring},
		},
		DNIS:          map[string]string{"800": "sales"},
		SweepInterval: 500 * time.Millisecond,
		Logger:        logger,
		Engine:        acd.Options{Clock: clk},
	})
	requireCodecsOnEveryOriginate(t, l)
	return l
}

// login logs an agent in through replica r and makes it available.
func login(t *testing.T, l *lab.Lab, r int, id, endpoint string, phone pbxsim.Phone, queues ...string) {
	t.Helper()
	l.PBX.SetPhone(endpoint, phone)
	e := l.Replicas[r].Engine
	ctx := context.Background()
	if _, err := e.Login(ctx, id, endpoint, queues, nil); err != nil {
		t.Fatal(err)
	}
	if _, err := e.SetAvailable(ctx, id); err != nil {
		t.Fatal(err)
	}
}

// interactionOf finds the interaction whose caller leg is leg.
func interactionOf(t *testing.T, l *lab.Lab, leg string) acd.Interaction {
	t.Helper()
	var found acd.Interaction
	waitFor(t, 5*time.Second, "interaction of "+leg, func() bool {
		all := interactions(t, l)
		for _, ix := range all {
			if ix.CallerLeg == leg {
				found = ix
				return true
			}
		}
		return false
	})
	return found
}

func interactions(t *testing.T, l *lab.Lab) []acd.Interaction {
	t.Helper()
	ctx := context.Background()
	s := l.Replicas[0].Store
	keys, err := l.RDB.Keys(ctx, s.Keys().Interaction("*")).Result()
	if err != nil {
		t.Fatal(err)
	}
	prefix := len(s.Keys().Interaction(""))
	var out []acd.Interaction
	for _, k := range keys {
		if strings.Contains(k[prefix:], ":") {
			continue // a sub-key of an interaction (its call-associated data)
		}
		ix, err := s.Interaction(ctx, k[prefix:])
		if err == nil {
			out = append(out, ix)
		}
	}
	return out
}

func interaction(t *testing.T, l *lab.Lab, conn string) acd.Interaction {
	t.Helper()
	ix, err := l.Replicas[0].Store.Interaction(context.Background(), conn)
	if err != nil {
		t.Fatal(err)
	}
	return ix
}

func waitState(t *testing.T, l *lab.Lab, conn, state string) acd.Interaction {
	t.Helper()
	var ix acd.Interaction
	waitFor(t, 10*time.Second, fmt.Sprintf("interaction %s %s", conn, state), func() bool {
		ix = interaction(t, l, conn)
		return ix.State == state
	})
	return ix
}

func agentState(t *testing.T, l *lab.Lab, id string) agents.State {
	t.Helper()
	a, err := l.Replicas[0].Store.Agent(context.Background(), id)
	if err != nil {
		t.Fatal(err)
	}
	return a.State
}

func waitAgent(t *testing.T, l *lab.Lab, id string, st agents.State) {
	t.Helper()
	waitFor(t, 10*time.Second, fmt.Sprintf("agent %s %s", id, st), func() bool { return agentState(t, l, id) == st })
}

// waitFor polls cond; a test that needs something to happen waits for it
// rather than sleeping a guessed time.
func waitFor(t *testing.T, max time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(max)
	for time.Now().Before(deadline) {
		if cond() {
			return
		}
		time.Sleep(5 * time.Millisecond)
	}
	t.Fatalf("timed out waiting for %s", what)
}

// waitSweeps waits until every replica of l has run n whole sweep passes
// begun after the call: the safety net had its chances to act, so a test
// can then assert that it did not.
func waitSweeps(t *testing.T, l *lab.Lab, n int) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	for _, r := range l.Replicas {
		if err := r.WaitSweeps(ctx, n); err != nil {
			t.Fatal(err)
		}
	}
}

// waitRedisTick waits until Redis TIME shows a later millisecond than now:
// what comes next has a later arrival (or idle) ms than what came before.
func waitRedisTick(t *testing.T, l *lab.Lab) {
	t.Helper()
	ctx := context.Background()
	start, err := l.RDB.Time(ctx).Result()
	if err != nil {
		t.Fatalf("redis time: %v", err)
	}
	waitFor(t, 10*time.Second, "redis time to move", func() bool {
		now, err := l.RDB.Time(ctx).Result()
		return err == nil && now.UnixMilli() > start.UnixMilli()
	})
}

// putRONABack starts what a supervisor does during the load tests: every
// 300 ms, each of agents agent00..agent<n-1> found in RONA is made
// available again (an agent left in RONA would leave the callers behind
// it waiting for ever; on a loaded machine even an answering phone can
// miss its ring timeout). The returned stop ends it and waits for it.
func putRONABack(l *lab.Lab, n int) (stop func()) {
	ctx, cancel := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		tick := time.NewTicker(300 * time.Millisecond)
		defer tick.Stop()
		for {
			select {
			case <-ctx.Done():
				return
			case <-tick.C:
			}
			for i := range n {
				id := fmt.Sprintf("agent%02d", i)
				if a, err := l.Replicas[0].Engine.Agent(ctx, id); err == nil && a.State == agents.RONA {
					_, _ = l.Replicas[0].Engine.SetAvailable(ctx, id)
				}
			}
		}
	}()
	return func() { cancel(); wg.Wait() }
}
