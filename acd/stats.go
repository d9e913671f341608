package acd

import (
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/tandem-cc/tandem/metrics"
)

// Stats are an engine's counters and histograms, kept in its replica's
// Prometheus registry (metrics.Metrics): /metrics and the demo report read
// the same instruments. The engine calls them as it did the atomic
// counters they replace: stats.offers.Add(1), stats.observeHandoff(d).
type Stats struct {
	m *metrics.Metrics

	offers   counter
	answered counter
	ronas    counter
	abandons counter
	refused  counter // calls refused at the concurrent-call cap
	// historyWriteFailures counts transitions whose history record
	// (Store.Record) could not be written; each is also logged.
	historyWriteFailures counter

	maxHandoff atomic.Int64 // ns; histograms keep no maximum
}

func newStats(m *metrics.Metrics) *Stats {
	s := &Stats{
		m:      m,
		offers: counter{c: m.Offers}, answered: counter{c: m.Answered}, ronas: counter{c: m.RONAs},
		abandons: counter{c: m.Abandons}, refused: counter{c: m.Refused},
		historyWriteFailures: counter{c: m.HistoryWriteFailures},
	}
	// An error means a second engine shares m: the first one's maximum stays.
	_ = m.Register(prometheus.NewGaugeFunc(prometheus.GaugeOpts{
		Name: metrics.HandoffName + "_max", Help: "The longest hand-off since the replica started.",
	}, func() float64 { return time.Duration(s.maxHandoff.Load()).Seconds() }))
	return s
}

// counter is a Prometheus counter with the atomic.Int64 methods the
// engine uses (Add, Load), so that its call sites stay as they were.
type counter struct {
	c prometheus.Counter
	n atomic.Int64 // the same count, read without gathering the registry
}

func (c *counter) Add(n int64) {
	c.n.Add(n)
	c.c.Add(float64(n))
}

func (c *counter) Load() int64 { return c.n.Load() }

func (s *Stats) observeHandoff(d time.Duration) {
	s.m.Handoff.Observe(d.Seconds())
	for {
		old := s.maxHandoff.Load()
		if int64(d) <= old || s.maxHandoff.CompareAndSwap(old, int64(d)) {
			return
		}
	}
}

// observeOfferToAnswer records how long an agent's phone rang before they
// answered; offered is when the leg was requested (zero: not known).
func (s *Stats) observeOfferToAnswer(offered time.Time) {
	if !offered.IsZero() {
		s.m.OfferToAnswer.Observe(time.Since(offered).Seconds())
	}
}

// HistoryWriteFailures is how many history appends failed: each is a hole
// in an interaction's history (and was logged).
func (s *Stats) HistoryWriteFailures() int64 { return s.historyWriteFailures.Load() }

// Snapshot is a copy of the counters and of the hand-off histogram.
type Snapshot struct {
	Offers, Answered, RONAs, Abandons int64
	// Refused counts calls this node refused at the concurrent-call cap.
	Refused              int64
	HistoryWriteFailures int64
	// Handoff summarises the latencies from an agent being freed (its
	// call's end processed) to the next waiting call's agent leg being
	// requested, from the histogram /metrics serves.
	Handoff metrics.Summary
	// HandoffMax is the longest hand-off (exact).
	HandoffMax time.Duration
}

// Snapshot copies the counters and summarises the hand-off histogram.
func (s *Stats) Snapshot() Snapshot {
	return Snapshot{
		Offers: s.offers.Load(), Answered: s.answered.Load(), RONAs: s.ronas.Load(), Abandons: s.abandons.Load(),
		Refused: s.refused.Load(), HistoryWriteFailures: s.historyWriteFailures.Load(),
		Handoff: metrics.Summarize(s.m.Handoff), HandoffMax: time.Duration(s.maxHandoff.Load()),
	}
}
