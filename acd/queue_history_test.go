package acd

import (
	"context"
	"errors"
	"log/slog"
	"sync"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/tandem-cc/tandem/internal/clock"
)

// historyQueues are the queues the sampler tests configure.
var historyQueues = map[string]QueueSettings{
	"sales":   {ServiceLevel: 20 * time.Second},
	"support": {ServiceLevel: 20 * time.Second},
}

// sampler is one replica's history sampler, running until the test ends
// or stop is called.
type sampler struct {
	e       *Engine
	sampled chan time.Time
	stop    func()
}

// startSampler runs RunQueueHistory of a new engine of node on rdb,
// sampling every interval on clk.
func startSampler(t *testing.T, rdb redis.UniversalClient, node string, clk *clock.Fake, interval time.Duration) *sampler {
	t.Helper()
	s := &sampler{sampled: make(chan time.Time, 16)}
	s.e = NewEngine(Options{
		Store: NewStore(rdb, "t", node), Queues: historyQueues, Clock: clk, SampleInterval: interval,
		Sampled: func(slot time.Time) { s.sampled <- slot },
		Logger:  slog.New(slog.DiscardHandler),
	})
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- s.e.RunQueueHistory(ctx) }()
	var once sync.Once
	s.stop = func() {
		once.Do(func() {
			cancel()
			select {
			case err := <-done:
				if err != nil {
					t.Errorf("sampler %s: %v", node, err)
				}
			case <-time.After(30 * time.Second):
				t.Errorf("sampler %s did not stop", node)
			}
		})
	}
	t.Cleanup(s.stop)
	return s
}

// waitSlot waits until the sampler has sampled every queue for slot.
func (s *sampler) waitSlot(t *testing.T, slot time.Time) {
	t.Helper()
	select {
	case got := <-s.sampled:
		if !got.Equal(slot) {
			t.Fatalf("sampled slot %v, want %v", got, slot)
		}
	case <-time.After(30 * time.Second):
		t.Fatalf("slot %v never sampled", slot)
	}
}

// nextSlot moves clk to the start of the slot after slot, once the n
// samplers have armed their timers for it, and returns it.
func nextSlot(clk *clock.Fake, slot time.Time, interval time.Duration, n int) time.Time {
	next := slot.Add(interval)
	clk.WaitTimers(next, n)
	clk.Advance(next.Sub(clk.Now()))
	return next
}

// readHistory reads queue's history through the engine and checks the
// samples are oldest first, one per slot, at the given waiting counts.
func readHistory(t *testing.T, e *Engine, queue string, first time.Time, interval time.Duration, waiting ...int64) QueueHistory {
	t.Helper()
	h, err := e.QueueHistory(context.Background(), queue)
	if err != nil {
		t.Fatal(err)
	}
	if h.Queue != queue || h.IntervalSeconds != interval.Seconds() {
		t.Errorf("history of %s: queue %q interval %vs", queue, h.Queue, h.IntervalSeconds)
	}
	if len(h.Samples) != len(waiting) {
		t.Fatalf("%s: %d samples %+v, want %d", queue, len(h.Samples), h.Samples, len(waiting))
	}
	for i, s := range h.Samples {
		if at := first.Add(time.Duration(i) * interval); !s.At.Equal(at) || s.Waiting != waiting[i] {
			t.Errorf("%s sample %d: at %v waiting %d, want at %v waiting %d", queue, i, s.At, s.Waiting, at, waiting[i])
		}
	}
	return h
}

// historySize is how many samples Redis holds for queue.
func historySize(t *testing.T, rdb redis.UniversalClient, queue string) int64 {
	t.Helper()
	n, err := rdb.ZCard(context.Background(), NewStore(rdb, "t", "x").keys.QueueHistory(queue)).Result()
	if err != nil {
		t.Fatal(err)
	}
	return n
}

// TestQueueHistoryOneSamplePerSlotAcrossReplicas: two replicas sample
// the same queues on the same slots; each slot is recorded once, with the
// queue as it was when the slot began.
func TestQueueHistoryOneSamplePerSlotAcrossReplicas(t *testing.T) {
	const interval = 30 * time.Second
	s := newTestStore(t, "n0")
	ctx := context.Background()
	// A start 7 s into a slot: slots are aligned on the epoch, not on the
	// moment a sampler starts.
	clk := clock.NewFake(time.Unix(1_800_000_000, 0).Truncate(interval).Add(7 * time.Second))
	slot := clk.Now().Truncate(interval)
	s.CountAnswered(ctx, "sales", 5*time.Second, 20*time.Second)
	s.CountAbandoned(ctx, "sales")
	arriveQueued(t, s, "c1", "sales", 0)

	a := startSampler(t, s.rdb, "n1", clk, interval)
	b := startSampler(t, s.rdb, "n2", clk, interval)
	first := slot
	a.waitSlot(t, slot)
	b.waitSlot(t, slot)
	for i, conn := range []string{"c2", "c3", ""} {
		if conn != "" {
			arriveQueued(t, s, conn, "sales", 0)
		}
		slot = nextSlot(clk, slot, interval, 2)
		a.waitSlot(t, slot)
		b.waitSlot(t, slot)
		if n := historySize(t, s.rdb, "sales"); n != int64(i+2) {
			t.Fatalf("after slot %d: %d samples in Redis, want %d", i+1, n, i+2)
		}
	}
	h := readHistory(t, b.e, "sales", first, interval, 1, 2, 3, 3)
	for _, sm := range h.Samples {
		if sm.ServiceLevel != 0.5 {
			t.Errorf("sample at %v: service level %v, want 0.5 (one answered in time, one abandoned)", sm.At, sm.ServiceLevel)
		}
	}
	readHistory(t, a.e, "support", first, interval, 0, 0, 0, 0)
	if _, err := a.e.QueueHistory(ctx, "nope"); !errors.Is(err, ErrNotFound) {
		t.Errorf("history of an unknown queue: %v, want not found", err)
	}
}

// TestQueueHistoryKeepsTheLastHour: past an hour of samples, Redis keeps
// the last hour's only.
func TestQueueHistoryKeepsTheLastHour(t *testing.T) {
	const interval = time.Minute
	rdb := newTestStore(t, "n0").rdb
	clk := clock.NewFake(time.Unix(1_800_000_000, 0).Truncate(interval))
	slot := clk.Now()
	a := startSampler(t, rdb, "n1", clk, interval)
	a.waitSlot(t, slot)
	for range 75 {
		slot = nextSlot(clk, slot, interval, 1)
		a.waitSlot(t, slot)
	}
	if n := historySize(t, rdb, "sales"); n != 60 {
		t.Errorf("Redis holds %d samples, want the last hour's 60", n)
	}
	waiting := make([]int64, 60)
	readHistory(t, a.e, "sales", slot.Add(-59*interval), interval, waiting...)
	ttl, err := rdb.PTTL(context.Background(), a.e.store.keys.QueueHistory("sales")).Result()
	if err != nil || ttl <= 0 || ttl > HistoryWindow {
		t.Errorf("history key expiry %v (%v), want within the window", ttl, err)
	}
}

// TestQueueHistorySurvivesARestart: a replica that stops and starts again
// (or another that takes over) finds the samples taken before, and does
// not sample again a slot already recorded.
func TestQueueHistorySurvivesARestart(t *testing.T) {
	const interval = 30 * time.Second
	s := newTestStore(t, "n0")
	clk := clock.NewFake(time.Unix(1_800_000_000, 0).Truncate(interval).Add(time.Second))
	slot := clk.Now().Truncate(interval)
	first := slot

	a := startSampler(t, s.rdb, "n1", clk, interval)
	a.waitSlot(t, slot)
	for _, conn := range []string{"c1", "c2"} {
		arriveQueued(t, s, conn, "sales", 0)
		slot = nextSlot(clk, slot, interval, 1)
		a.waitSlot(t, slot)
	}
	a.stop()

	// A third call arrives while the replica is down, in the slot it had
	// sampled: that slot keeps the sample taken at its start.
	arriveQueued(t, s, "c3", "sales", 0)
	again := startSampler(t, s.rdb, "n1", clk, interval)
	again.waitSlot(t, slot)
	readHistory(t, again.e, "sales", first, interval, 0, 1, 2)
	slot = nextSlot(clk, slot, interval, 1)
	again.waitSlot(t, slot)
	readHistory(t, again.e, "sales", first, interval, 0, 1, 2, 3)
}
