package acd

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/tandem-cc/tandem/internal/clock"
)

// The samples' slots and the hour kept are on Redis TIME (queue_sample.lua),
// which a test cannot move; each sampler's own clock (a fake here) only
// says when to try again. So these tests give the samplers clocks that
// disagree with each other and with Redis by hours, to show that nothing
// depends on them, use short intervals that Redis's real clock passes
// through quickly, and check slots and trims against Redis TIME read
// around them.

// historyQueues are the queues the sampler tests configure.
var historyQueues = map[string]QueueSettings{
	"sales":   {ServiceLevel: 20 * time.Second},
	"support": {ServiceLevel: 20 * time.Second},
}

// sampler is one replica's history sampler, running until the test ends
// or stop is called.
type sampler struct {
	e       *Engine
	clk     *clock.Fake
	sampled chan map[string]time.Time
	stop    func()
}

// startSampler runs RunQueueHistory of a new engine of node on rdb,
// sampling every interval, its clock showing start.
func startSampler(t *testing.T, rdb redis.UniversalClient, node string, start time.Time, interval time.Duration) *sampler {
	t.Helper()
	s := &sampler{clk: clock.NewFake(start), sampled: make(chan map[string]time.Time, 16)}
	s.e = NewEngine(Options{
		Store: NewStore(rdb, "t", node), Queues: historyQueues, Clock: s.clk, SampleInterval: interval,
		Sampled: func(slots map[string]time.Time) { s.sampled <- slots },
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

// round waits until the sampler has offered every queue's sample, and
// returns the slot Redis put each in, by queue.
func (s *sampler) round(t *testing.T) map[string]time.Time {
	t.Helper()
	select {
	case slots := <-s.sampled:
		if len(slots) != len(historyQueues) {
			t.Fatalf("samples offered for %v, want every queue's", slots)
		}
		return slots
	case <-time.After(30 * time.Second):
		t.Fatal("no sampling round")
	}
	return nil
}

// last is the latest of the slots of some rounds.
func last(rounds ...map[string]time.Time) time.Time {
	var l time.Time
	for _, r := range rounds {
		for _, slot := range r {
			if slot.After(l) {
				l = slot
			}
		}
	}
	return l
}

// again lets the sampler try again: once it has armed its timer (at most
// an interval away on its clock), its clock moves past it.
func (s *sampler) again(interval time.Duration) {
	s.clk.WaitPending(1)
	s.clk.Advance(interval)
}

// redisNow reads Redis TIME.
func redisNow(t *testing.T, rdb redis.UniversalClient) time.Time {
	t.Helper()
	now, err := rdb.Time(context.Background()).Result()
	if err != nil {
		t.Fatal(err)
	}
	return now
}

// historyMembers reads queue's history as Redis holds it: sample by slot.
func historyMembers(t *testing.T, rdb redis.UniversalClient, queue string) map[time.Time][]QueueSample {
	t.Helper()
	zs, err := rdb.ZRangeWithScores(context.Background(), NewStore(rdb, "t", "x").keys.QueueHistory(queue), 0, -1).Result()
	if err != nil {
		t.Fatal(err)
	}
	out := map[time.Time][]QueueSample{}
	for _, z := range zs {
		sm, err := parseSample(z.Member.(string))
		if err != nil {
			t.Fatal(err)
		}
		if !sm.At.Equal(time.UnixMilli(int64(z.Score))) {
			t.Errorf("sample %v scored %v", z.Member, z.Score)
		}
		out[sm.At] = append(out[sm.At], sm)
	}
	return out
}

// readHistory reads queue's history through the engine and checks it
// holds the samples want, oldest first.
func readHistory(t *testing.T, e *Engine, queue string, interval time.Duration, want ...QueueSample) {
	t.Helper()
	h, err := e.QueueHistory(context.Background(), queue)
	if err != nil {
		t.Fatal(err)
	}
	if h.Queue != queue || h.IntervalSeconds != interval.Seconds() {
		t.Errorf("history of %s: queue %q interval %vs", queue, h.Queue, h.IntervalSeconds)
	}
	same := func(x, y QueueSample) bool {
		return x.At.Equal(y.At) && x.Waiting == y.Waiting && x.ServiceLevel == y.ServiceLevel
	}
	if !slices.EqualFunc(h.Samples, want, same) {
		t.Errorf("history of %s:\n %+v\nwant\n %+v", queue, h.Samples, want)
	}
}

// TestQueueHistoryOneSamplePerSlotAcrossReplicas: two replicas whose
// clocks are five hours apart (and hours off Redis's) sample the same
// queues; each of Redis's slots is recorded once, with the queue as the
// first replica to try it found it, none lands in a slot of either
// replica's clock, none trims the other's samples, and both read the same
// history.
func TestQueueHistoryOneSamplePerSlotAcrossReplicas(t *testing.T) {
	const interval = 200 * time.Millisecond
	s := newTestStore(t, "n0")
	ctx := context.Background()
	s.CountAnswered(ctx, "sales", 5*time.Second, 20*time.Second)
	s.CountAbandoned(ctx, "sales")
	arriveQueued(t, s, "c1", "sales", 0)

	before := redisNow(t, s.rdb)
	a := startSampler(t, s.rdb, "n1", before.Add(-3*time.Hour), interval)
	b := startSampler(t, s.rdb, "n2", before.Add(2*time.Hour), interval)
	// By queue and slot: the calls waiting in the round that offered it.
	waiting := map[string]map[time.Time]int64{"sales": {}, "support": {}}
	shared := 0 // slots both replicas offered a sample for
	for round := 0; ; round++ {
		ra, rb := a.round(t), b.round(t)
		now := redisNow(t, s.rdb)
		for _, slot := range []time.Time{ra["sales"], ra["support"], rb["sales"], rb["support"]} {
			if slot.Before(before.Add(-interval)) || slot.After(now) {
				t.Fatalf("round %d: slots %v and %v, not on Redis's clock (%v..%v)", round, ra, rb, before, now)
			}
		}
		for q, slot := range ra {
			if slot.Equal(rb[q]) {
				shared++
			}
			waiting[q][slot], waiting[q][rb[q]] = int64(round+1), int64(round+1)
		}
		if shared >= 6 {
			break
		}
		if round == 50 {
			t.Fatalf("in 50 rounds the replicas offered a sample for the same slot %d times, want 6", shared)
		}
		// The next round once Redis's clock has left these slots, with one
		// more call waiting.
		waitRedisPast(t, s.rdb, last(ra, rb).Add(interval-time.Millisecond))
		arriveQueued(t, s, fmt.Sprintf("c%d", round+2), "sales", 0)
		a.again(interval)
		b.again(interval)
	}
	a.stop()
	b.stop()

	for q, perCall := range map[string]int64{"sales": 1, "support": 0} {
		held := historyMembers(t, s.rdb, q)
		var want []QueueSample
		for slot, n := range waiting[q] {
			if len(held[slot]) != 1 {
				t.Errorf("%s: slot %v holds %d samples, want 1", q, slot, len(held[slot]))
			}
			sl := 0.0
			if q == "sales" {
				sl = 0.5 // one answered in time, one abandoned
			}
			want = append(want, QueueSample{At: slot.UTC(), Waiting: n * perCall, ServiceLevel: sl})
		}
		if len(held) != len(waiting[q]) {
			t.Errorf("%s: Redis holds the slots %v, want those offered %v", q, held, waiting[q])
		}
		slices.SortFunc(want, func(x, y QueueSample) int { return x.At.Compare(y.At) })
		for _, e := range []*Engine{a.e, b.e} {
			readHistory(t, e, q, interval, want...)
		}
	}
	if _, err := a.e.QueueHistory(ctx, "nope"); !errors.Is(err, ErrNotFound) {
		t.Errorf("history of an unknown queue: %v, want not found", err)
	}
}

// TestQueueHistoryKeepsTheLastHour: each sample drops those an hour or
// more older than Redis TIME, and those after its slot (no clock of this
// history wrote them), whatever the sampling replica's clock says (here
// seven hours behind); the key expires within the hour.
func TestQueueHistoryKeepsTheLastHour(t *testing.T) {
	const interval = 100 * time.Millisecond
	ctx := context.Background()
	rdb := newTestStore(t, "n0").rdb
	key := NewStore(rdb, "t", "x").keys.QueueHistory("sales")
	t0 := redisNow(t, rdb)
	seed := func(ago time.Duration, waiting int64) QueueSample {
		at := time.UnixMilli(t0.Add(-ago).UnixMilli()).UTC()
		if err := rdb.ZAdd(ctx, key, redis.Z{Score: float64(at.UnixMilli()),
			Member: strconv.FormatInt(at.UnixMilli(), 10) + ":" + strconv.FormatInt(waiting, 10) + ":1"}).Err(); err != nil {
			t.Fatal(err)
		}
		return QueueSample{At: at, Waiting: waiting, ServiceLevel: 1}
	}
	seed(2*time.Hour, 7)
	seed(HistoryWindow+time.Minute, 6)
	kept := []QueueSample{seed(HistoryWindow-time.Minute, 5), seed(time.Minute, 4)}
	seed(-3*time.Hour, 9) // three hours ahead

	a := startSampler(t, rdb, "n1", t0.Add(-7*time.Hour), interval)
	var slots []time.Time // sales'
	for i := range 3 {
		r := a.round(t)
		slots = append(slots, r["sales"])
		if i < 2 {
			waitRedisPast(t, rdb, last(r).Add(interval-time.Millisecond))
			a.again(interval)
		}
	}
	after := redisNow(t, rdb)
	for i, slot := range slots {
		if i > 0 && !slot.After(slots[i-1]) {
			t.Errorf("slots %v: each round's slot should follow the last", slots)
		}
		if slot.Before(t0.Add(-interval)) || slot.After(after) {
			t.Errorf("slot %v not on Redis's clock (%v..%v)", slot, t0, after)
		}
		kept = append(kept, QueueSample{At: slot, Waiting: 0, ServiceLevel: 0})
	}
	held := historyMembers(t, rdb, "sales")
	if len(held) != len(kept) {
		t.Errorf("Redis holds %v, want the last hour's %v", held, kept)
	}
	readHistory(t, a.e, "sales", interval, kept...)
	ttl, err := rdb.PTTL(ctx, key).Result()
	if err != nil || ttl <= 0 || ttl > HistoryWindow {
		t.Errorf("history key expiry %v (%v), want within the window", ttl, err)
	}
}

// TestQueueHistorySurvivesARestart: a replica that stops and starts again
// (or another that takes over, its clock two hours off) finds the samples
// taken before, and does not sample again a slot already recorded.
func TestQueueHistorySurvivesARestart(t *testing.T) {
	const interval = 30 * time.Minute // the restart stays in the slot
	s := newTestStore(t, "n0")
	arriveQueued(t, s, "c1", "sales", 0)
	start := redisNow(t, s.rdb)
	a := startSampler(t, s.rdb, "n1", start, interval)
	first := a.round(t)
	a.stop()

	// A second call arrives while the replica is down: the slot sampled
	// keeps the sample taken first.
	arriveQueued(t, s, "c2", "sales", 0)
	again := startSampler(t, s.rdb, "n1", start.Add(2*time.Hour), interval)
	slots := again.round(t)
	for q, n := range map[string]int64{"sales": 1, "support": 0} {
		want := []QueueSample{{At: first[q], Waiting: n}}
		if !slots[q].Equal(first[q]) {
			// Redis's clock crossed into the next slot meanwhile (the odds
			// are the restart's time over half an hour): that slot is new.
			want = append(want, QueueSample{At: slots[q], Waiting: 2 * n})
		}
		readHistory(t, again.e, q, interval, want...)
	}
}
