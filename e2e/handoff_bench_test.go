package e2e

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/tandem-cc/tandem/acd"
	"github.com/tandem-cc/tandem/internal/lab"
	"github.com/tandem-cc/tandem/internal/redistest"
	"github.com/tandem-cc/tandem/pbxsim"
)

// BenchmarkHandoffThroughSimulator measures what the product promises: with
// callers waiting, how long after an agent's call ends does Tandem start
// that agent's next leg? Each op is one call; the agents' phones answer at
// once and hang up after 20 ms, so the agents are the bottleneck and every
// call end is a hand-off. Reported: hand-off p50/p99 (agent's hangup event
// handled → next originate requested, through the real ari/v5 client, the
// driver, Redis and the simulator's REST API).
func BenchmarkHandoffThroughSimulator(b *testing.B) {
	l, err := lab.Start(context.Background(), lab.Options{
		Replicas: 1, RedisAddr: redistest.Start(b),
		Queues: map[string]acd.QueueSettings{"sales": {RingTimeout: 5 * time.Second}},
		DNIS:   map[string]string{"800": "sales"},
	})
	if err != nil {
		b.Fatal(err)
	}
	defer l.Close()
	e := l.Replicas[0].Engine
	const agentsN = 4
	for i := 0; i < b.N+agentsN; i++ {
		if _, err := l.Sim.Call(pbxsim.Caller{ANI: fmt.Sprint(5550000 + i), DNIS: "800"}); err != nil {
			b.Fatal(err)
		}
	}
	deadline := time.Now().Add(10 * time.Second)
	for {
		q, _ := e.Queue(context.Background(), "sales")
		if len(q.Waiting) == b.N+agentsN || time.Now().After(deadline) {
			break
		}
		time.Sleep(5 * time.Millisecond)
	}
	b.ResetTimer()
	for i := 0; i < agentsN; i++ {
		id := fmt.Sprintf("a%d", i)
		ep := "PJSIP/" + id
		l.Sim.SetPhone(ep, pbxsim.Phone{Mode: pbxsim.Answer, RingFor: time.Millisecond, TalkFor: 20 * time.Millisecond})
		if _, err := e.Login(context.Background(), id, ep, []string{"sales"}, nil); err != nil {
			b.Fatal(err)
		}
		if _, err := e.SetAvailable(context.Background(), id); err != nil {
			b.Fatal(err)
		}
	}
	for e.Stats().Snapshot().Answered < int64(b.N+agentsN) {
		time.Sleep(2 * time.Millisecond)
	}
	b.StopTimer()
	// Quantiles from the hand-off histogram /metrics serves (15 % buckets).
	h := e.Stats().Snapshot().Handoff
	if h.Count == 0 {
		b.Fatal("no hand-offs measured")
	}
	b.ReportMetric(h.P50*1e6, "handoff-p50-µs")
	b.ReportMetric(h.P99*1e6, "handoff-p99-µs")
}
