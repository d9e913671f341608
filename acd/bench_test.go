package acd

import (
	"context"
	"fmt"
	"sync/atomic"
	"testing"

	"github.com/redis/go-redis/v9"

	"github.com/tandem-cc/tandem/agents"
	"github.com/tandem-cc/tandem/internal/redistest"
)

// roundTrips counts commands (and pipelines) sent to Redis, so benchmarks
// can report round trips per decision measured, not claimed.
type roundTrips struct{ n atomic.Int64 }

func (r *roundTrips) DialHook(next redis.DialHook) redis.DialHook { return next }
func (r *roundTrips) ProcessHook(next redis.ProcessHook) redis.ProcessHook {
	return func(ctx context.Context, cmd redis.Cmder) error {
		r.n.Add(1)
		return next(ctx, cmd)
	}
}
func (r *roundTrips) ProcessPipelineHook(next redis.ProcessPipelineHook) redis.ProcessPipelineHook {
	return func(ctx context.Context, cmds []redis.Cmder) error {
		r.n.Add(1)
		return next(ctx, cmds)
	}
}

func benchStore(b *testing.B) (*Store, *roundTrips) {
	b.Helper()
	rdb := redis.NewClient(&redis.Options{Addr: redistest.Start(b)})
	b.Cleanup(func() { _ = rdb.Close() })
	rt := &roundTrips{}
	rdb.AddHook(rt)
	return NewStore(rdb, "bench", "n1"), rt
}

// BenchmarkHandoffDecision measures the hand-off: a call ends and, in the
// same script, its agent is offered the next waiting call. One op is one
// routing decision. The queue holds b.N calls behind the agent.
func BenchmarkHandoffDecision(b *testing.B) {
	s, rt := benchStore(b)
	ctx := context.Background()
	// Other agents, busy or idle, make the data realistic without being chosen.
	for i := 0; i < 100; i++ {
		id := fmt.Sprintf("idle%03d", i)
		if _, err := s.Login(ctx, id, "PJSIP/"+id, []string{"sales", "support"}, nil); err != nil {
			b.Fatal(err)
		}
	}
	for i := 0; i <= b.N; i++ {
		conn := fmt.Sprintf("c%08d", i)
		if _, err := s.Arrive(ctx, conn, "leg", "5551000", "800", nil); err != nil {
			b.Fatal(err)
		}
		if _, err := s.Enqueue(ctx, conn, "sales", i%3); err != nil {
			b.Fatal(err)
		}
	}
	if _, err := s.Login(ctx, "a1", "PJSIP/a1", []string{"sales", "support"}, nil); err != nil {
		b.Fatal(err)
	}
	first, err := s.SetState(ctx, "a1", agents.EvAvailable, "")
	if err != nil || first == nil {
		b.Fatalf("first offer %v %v", first, err)
	}
	current := first.ConnectionID
	rt.n.Store(0)
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		_, next, err := s.Finish(ctx, current, "hangup", "caller")
		if err != nil || next == nil {
			b.Fatalf("hand-off %d: %v %v", i, next, err)
		}
		current = next.ConnectionID
	}
	b.StopTimer()
	b.ReportMetric(float64(rt.n.Load())/float64(b.N), "round-trips/decision")
}

// BenchmarkEnqueueDecision measures a call arriving when an agent is free:
// record the interaction, queue it and route it (the decision is inside the
// enqueue script).
func BenchmarkEnqueueDecision(b *testing.B) {
	s, rt := benchStore(b)
	ctx := context.Background()
	for i := 0; i < b.N; i++ {
		id := fmt.Sprintf("a%08d", i)
		if _, err := s.Login(ctx, id, "PJSIP/"+id, []string{"sales"}, nil); err != nil {
			b.Fatal(err)
		}
		if _, err := s.SetState(ctx, id, agents.EvAvailable, ""); err != nil {
			b.Fatal(err)
		}
	}
	rt.n.Store(0)
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		conn := fmt.Sprintf("c%08d", i)
		if _, err := s.Arrive(ctx, conn, "leg", "5551000", "800", nil); err != nil {
			b.Fatal(err)
		}
		o, err := s.Enqueue(ctx, conn, "sales", 0)
		if err != nil || o == nil {
			b.Fatalf("enqueue %d: %v %v", i, o, err)
		}
	}
	b.StopTimer()
	b.ReportMetric(float64(rt.n.Load())/float64(b.N), "round-trips/call")
}

// BenchmarkHandoffDecisionParallel runs hand-offs from many goroutines at
// once (several replicas' worth of traffic on one Redis).
func BenchmarkHandoffDecisionParallel(b *testing.B) {
	s, _ := benchStore(b)
	ctx := context.Background()
	var seq atomic.Int64
	b.SetParallelism(4)
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		w := seq.Add(1)
		agent := fmt.Sprintf("a%d", w)
		q := fmt.Sprintf("q%d", w) // one queue per worker: no cross-worker contention on data
		if _, err := s.Login(ctx, agent, "PJSIP/"+agent, []string{q}, nil); err != nil {
			b.Error(err)
			return
		}
		n := 0
		newCall := func() string {
			n++
			conn := fmt.Sprintf("w%d-c%d", w, n)
			if _, err := s.Arrive(ctx, conn, "leg", "1", "2", nil); err != nil {
				b.Error(err)
			}
			if _, err := s.Enqueue(ctx, conn, q, 0); err != nil {
				b.Error(err)
			}
			return conn
		}
		newCall()
		o, err := s.SetState(ctx, agent, agents.EvAvailable, "")
		if err != nil || o == nil {
			b.Error("no first offer", err)
			return
		}
		current := o.ConnectionID
		for pb.Next() {
			newCall()
			_, next, err := s.Finish(ctx, current, "hangup", "caller")
			if err != nil || next == nil {
				b.Error("hand-off", err)
				return
			}
			current = next.ConnectionID
		}
	})
}
