package acd

import (
	"sort"
	"sync"
	"sync/atomic"
	"time"
)

// Stats are an engine's counters, read by the demo report and /metrics.
type Stats struct {
	offers   atomic.Int64
	answered atomic.Int64
	ronas    atomic.Int64
	refused  atomic.Int64 // calls refused at the concurrent-call cap
	// historyWriteFailures counts history appends that failed (logged).
	historyWriteFailures atomic.Int64

	mu       sync.Mutex
	handoffs []time.Duration // agent freed → next agent leg requested
}

func newStats() *Stats { return &Stats{} }

func (s *Stats) observeHandoff(d time.Duration) {
	s.mu.Lock()
	if len(s.handoffs) < 1_000_000 {
		s.handoffs = append(s.handoffs, d)
	}
	s.mu.Unlock()
}

// HistoryWriteFailures is how many history appends failed: each is a hole
// in an interaction's history (and was logged).
func (s *Stats) HistoryWriteFailures() int64 { return s.historyWriteFailures.Load() }

// Snapshot is a copy of the counters.
type Snapshot struct {
	Offers, Answered, RONAs int64
	// Refused counts calls this node refused at the concurrent-call cap.
	Refused int64
	// Handoffs are the latencies from an agent being freed (its call's end
	// processed) to the next waiting call's agent leg being requested.
	Handoffs []time.Duration
}

// Snapshot copies the counters; Handoffs come sorted.
func (s *Stats) Snapshot() Snapshot {
	s.mu.Lock()
	h := append([]time.Duration(nil), s.handoffs...)
	s.mu.Unlock()
	sort.Slice(h, func(i, j int) bool { return h[i] < h[j] })
	return Snapshot{Offers: s.offers.Load(), Answered: s.answered.Load(), RONAs: s.ronas.Load(), Refused: s.refused.Load(), Handoffs: h}
}
