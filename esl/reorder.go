package esl

import (
	"container/heap"
	"time"
)

// reorder restores FreeSWITCH's Event-Sequence order. eslgo hands every
// event to its listener in a goroutine of its own, and FreeSWITCH itself
// delivers some events late (about 8 % in a burst, esl-traces scenario 11),
// so events of one call arrive shuffled. Each event is held for window
// after it arrived; once an event's time is up, it and every held event
// with a lower sequence number are released, lowest first. An event that
// was delayed by more than the window arrives after higher ones have gone:
// the per-leg state (translate) then treats it as stale.
//
// Not safe for concurrent use: the driver guards it with its own lock.
type reorder struct {
	window  time.Duration
	bySeq   seqHeap // held events, lowest sequence first
	arrived []*held // held events in arrival order (their deadlines are in order)
	done    uint64  // highest sequence released so far
}

type held struct {
	ev       fsEvent
	deadline time.Time
	gone     bool // released through bySeq already
}

func newReorder(window time.Duration) *reorder { return &reorder{window: window} }

// push holds ev, which arrived at now.
func (r *reorder) push(ev fsEvent, now time.Time) {
	h := &held{ev: ev, deadline: now.Add(r.window)}
	heap.Push(&r.bySeq, h)
	r.arrived = append(r.arrived, h)
}

// due releases, in sequence order, the events whose time is up at now
// together with every held event of a lower sequence.
func (r *reorder) due(now time.Time) []fsEvent {
	var upTo uint64
	release := false
	for len(r.arrived) > 0 {
		h := r.arrived[0]
		if !h.gone && h.deadline.After(now) {
			break
		}
		r.arrived[0] = nil
		r.arrived = r.arrived[1:]
		if !h.gone {
			upTo = max(upTo, h.ev.Seq)
			release = true
		}
	}
	if !release {
		return nil
	}
	var out []fsEvent
	for r.bySeq.Len() > 0 && r.bySeq[0].ev.Seq <= upTo {
		h := heap.Pop(&r.bySeq).(*held)
		h.gone = true
		out = append(out, h.ev)
	}
	r.done = max(r.done, upTo)
	return out
}

// flush releases everything held, in sequence order (the connection is
// gone: nothing older can still come).
func (r *reorder) flush() []fsEvent {
	var out []fsEvent
	for r.bySeq.Len() > 0 {
		h := heap.Pop(&r.bySeq).(*held)
		out = append(out, h.ev)
	}
	r.arrived = nil
	return out
}

// next is when the next event is due; ok false when none is held.
func (r *reorder) next() (at time.Time, ok bool) {
	for _, h := range r.arrived {
		if !h.gone {
			return h.deadline, true
		}
	}
	return time.Time{}, false
}

// len is how many events are held.
func (r *reorder) len() int { return r.bySeq.Len() }

type seqHeap []*held

func (h seqHeap) Len() int           { return len(h) }
func (h seqHeap) Less(i, j int) bool { return h[i].ev.Seq < h[j].ev.Seq }
func (h seqHeap) Swap(i, j int)      { h[i], h[j] = h[j], h[i] }
func (h *seqHeap) Push(x any)        { *h = append(*h, x.(*held)) }
func (h *seqHeap) Pop() any {
	old := *h
	x := old[len(old)-1]
	old[len(old)-1] = nil
	*h = old[:len(old)-1]
	return x
}
