package metrics

import (
	"context"
	"math"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
	"github.com/redis/go-redis/v9"

	"github.com/tandem-cc/tandem/internal/redistest"
)

func TestQuantileInterpolatesInsideTheBucketThatHoldsTheRank(t *testing.T) {
	bounds := []float64{1, 2, 4, math.Inf(1)}
	for _, tc := range []struct {
		name       string
		cumulative []uint64
		q, want    float64
	}{
		{"first bucket starts at zero", []uint64{4, 4, 4, 4}, 0.5, 0.5},
		{"middle of the second bucket", []uint64{0, 10, 10, 10}, 0.5, 1.5},
		{"rank on a bucket edge", []uint64{5, 10, 10, 10}, 0.5, 1},
		{"past the last finite bound", []uint64{0, 0, 0, 3}, 0.99, 4},
		{"no samples", []uint64{0, 0, 0, 0}, 0.5, 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			total := tc.cumulative[len(tc.cumulative)-1]
			if got := Quantile(tc.q, bounds, tc.cumulative, total); got != tc.want {
				t.Fatalf("Quantile(%v) = %v, want %v", tc.q, got, tc.want)
			}
		})
	}
}

// The hand-off quantiles must lie in the bucket of the exact quantile: the
// precision the demo report promises.
func TestHandoffQuantilesAreExactToTheBucket(t *testing.T) {
	m := New()
	var samples []time.Duration
	for i := 1; i <= 1000; i++ {
		d := time.Duration(i*i) * time.Microsecond / 10 // 0.1 µs … 100 ms, skewed
		samples = append(samples, d)
		m.Handoff.Observe(d.Seconds())
	}
	s := Summarize(m.Handoff)
	if s.Count != 1000 {
		t.Fatalf("count %d", s.Count)
	}
	for _, q := range []struct {
		p     float64
		got   float64
		exact time.Duration
	}{{0.5, s.P50, samples[499]}, {0.99, s.P99, samples[989]}} {
		lo, hi := BucketOf(q.exact.Seconds(), LatencyBuckets)
		if q.got < lo || q.got > hi {
			t.Errorf("p%v = %gs, exact %v lies in (%g, %g]", q.p*100, q.got, q.exact, lo, hi)
		}
	}
}

func TestLabelledMergesRegistriesUnderALabel(t *testing.T) {
	a, b := New(), New()
	a.RONAs.Add(2)
	b.RONAs.Add(3)
	a.Handoff.Observe(0.001)
	g := Labelled("replica", map[string]prometheus.Gatherer{"r1": a.Gatherer(), "r2": b.Gatherer()})
	fams, err := g.Gather()
	if err != nil {
		t.Fatal(err)
	}
	var seen int
	for _, f := range fams {
		if f.GetName() != "tandem_ronas_total" {
			continue
		}
		for _, m := range f.GetMetric() {
			seen++
			want := map[string]float64{"r1": 2, "r2": 3}[m.GetLabel()[0].GetValue()]
			if m.GetLabel()[0].GetName() != "replica" || m.GetCounter().GetValue() != want {
				t.Fatalf("series %v = %v", m.GetLabel(), m.GetCounter().GetValue())
			}
		}
	}
	if seen != 2 {
		t.Fatalf("%d ronas series, want 2", seen)
	}
	if s := HistogramSummary(fams, HandoffName); s.Count != 1 {
		t.Fatalf("merged hand-off count %d", s.Count)
	}
}

func TestRedisHookCountsFailuresNotAnswers(t *testing.T) {
	ctx := context.Background()
	m := New()
	rdb := redistest.Client(t)
	rdb.AddHook(m.RedisHook())

	if err := rdb.Get(ctx, "missing").Err(); err != redis.Nil {
		t.Fatalf("GET missing: %v", err)
	}
	// NOSCRIPT: go-redis falls back to EVAL; not a failure.
	if err := redis.NewScript("return 1").Run(ctx, rdb, nil).Err(); err != nil {
		t.Fatal(err)
	}
	if got := testutil.ToFloat64(m.RedisErrs.WithLabelValues("reply")); got != 0 {
		t.Fatalf("reply errors %v after a miss and a NOSCRIPT fallback", got)
	}
	if err := rdb.Do(ctx, "NOSUCHCOMMAND").Err(); err == nil {
		t.Fatal("unknown command accepted")
	}
	pipe := rdb.Pipeline()
	pipe.Do(ctx, "NOSUCHCOMMAND")
	pipe.Get(ctx, "missing")
	_, _ = pipe.Exec(ctx)
	if got := testutil.ToFloat64(m.RedisErrs.WithLabelValues("reply")); got != 2 {
		t.Fatalf("reply errors %v, want 2 (one alone, one in a pipeline)", got)
	}

	dead := redis.NewClient(&redis.Options{Addr: rdb.Options().Addr, MaxRetries: -1})
	dead.AddHook(m.RedisHook())
	_ = dead.Close()
	if err := dead.Ping(ctx).Err(); err == nil {
		t.Fatal("ping on a closed client")
	}
	if got := testutil.ToFloat64(m.RedisErrs.WithLabelValues("io")); got != 1 {
		t.Fatalf("io errors %v, want 1", got)
	}
}
