package esl

import (
	"container/heap"
	"time"
)

// reorder restores FreeSWITCH's Event-Sequence order. Two things shuffle
// events: FreeSWITCH itself delivers some late (esl-traces scenario 11:
// job and API events up to 105ms after higher-numbered ones), and eslgo
// hands every event to the listener in a goroutine of its own, which the
// Go scheduler runs in no particular order — by tens of milliseconds on a
// busy machine. The relay (relay.go) sees the events in the order and at
// the time they came off the socket, and registers each here (forwarded);
// eslgo's copy fills it in when its goroutine runs (fill).
//
// An event is released once its window (the time since it came off the
// socket) is over and every event that came off the socket before that
// window ended has been filled in: then nothing older can still come, from
// FreeSWITCH (within the window) or from eslgo. It goes together with every
// held event of a lower sequence, lowest first. An event FreeSWITCH
// delayed by more than the window is released after higher ones: the
// per-leg state (translate) treats it as stale. An event eslgo never hands
// over (it could not parse it) is given up after lostAfter.
//
// Not safe for concurrent use: the driver guards it with its own lock.
type reorder struct {
	window    time.Duration
	lostAfter time.Duration
	stream    []*held          // in socket order
	bySeq     map[uint64]*held // registered, not yet released or given up
	ready     seqHeap          // filled in, not yet released
}

type held struct {
	seq    uint64
	at     time.Time // came off the socket (or was filled in, without a relay)
	ev     fsEvent
	filled bool // eslgo's copy arrived (or it needs no delivery)
	done   bool // released, skipped or given up: only waits to leave stream
}

func newReorder(window time.Duration) *reorder {
	return &reorder{window: window, lostAfter: 2 * time.Second, bySeq: map[uint64]*held{}}
}

// forwarded registers an event that came off the socket at at.
func (r *reorder) forwarded(seq uint64, at time.Time) {
	if _, dup := r.bySeq[seq]; dup || seq == 0 {
		return
	}
	h := &held{seq: seq, at: at}
	r.stream = append(r.stream, h)
	r.bySeq[seq] = h
}

// push fills in an event (registering it first if the relay did not, as
// in tests without a socket: then it counts as arrived now).
func (r *reorder) push(ev fsEvent, now time.Time) {
	h := r.bySeq[ev.Seq]
	if h == nil || h.filled {
		h = &held{seq: ev.Seq, at: now}
		r.stream = append(r.stream, h)
		if ev.Seq != 0 {
			r.bySeq[ev.Seq] = h
		}
	}
	h.ev, h.filled = ev, true
	heap.Push(&r.ready, h)
}

// skip fills in an event that needs no delivery (another client's job
// result, an event of no leg), so that it holds nothing up.
func (r *reorder) skip(seq uint64) {
	if h := r.bySeq[seq]; h != nil && !h.filled {
		h.filled, h.done = true, true
		delete(r.bySeq, seq)
	}
}

// due releases, in sequence order, what can go at now.
func (r *reorder) due(now time.Time) []fsEvent {
	var upTo uint64
	release := false
	for len(r.stream) > 0 {
		h := r.stream[0]
		if h.done {
			r.pop()
			continue
		}
		end := h.at.Add(r.window)
		if end.After(now) {
			break
		}
		if r.waiting(end, now) != nil {
			break // something that came off the socket in time is still in eslgo's hands
		}
		r.pop()
		if !h.filled { // eslgo never handed it over
			delete(r.bySeq, h.seq)
			continue
		}
		upTo = max(upTo, h.seq)
		release = true
	}
	if !release {
		return nil
	}
	var out []fsEvent
	for r.ready.Len() > 0 && r.ready[0].seq <= upTo {
		h := heap.Pop(&r.ready).(*held)
		h.done = true
		if r.bySeq[h.seq] == h {
			delete(r.bySeq, h.seq)
		}
		out = append(out, h.ev)
	}
	return out
}

// waiting returns the first event that came off the socket by end and has
// not been filled in, unless it has been missing for lostAfter.
func (r *reorder) waiting(end, now time.Time) *held {
	for _, x := range r.stream {
		if x.at.After(end) {
			return nil
		}
		if !x.filled && now.Sub(x.at) < r.lostAfter {
			return x
		}
	}
	return nil
}

func (r *reorder) pop() {
	r.stream[0] = nil
	r.stream = r.stream[1:]
}

// flush releases everything filled in, in sequence order, and forgets the
// rest (the socket is gone: nothing more comes from it).
func (r *reorder) flush() []fsEvent {
	var out []fsEvent
	for r.ready.Len() > 0 {
		h := heap.Pop(&r.ready).(*held)
		out = append(out, h.ev)
	}
	r.stream = nil
	r.bySeq = map[uint64]*held{}
	return out
}

// next is when due may release something without a new fill; ok false
// when nothing is held.
func (r *reorder) next(now time.Time) (at time.Time, ok bool) {
	for _, h := range r.stream {
		if h.done {
			continue
		}
		end := h.at.Add(r.window)
		if end.After(now) {
			return end, true
		}
		if x := r.waiting(end, now); x != nil {
			return x.at.Add(r.lostAfter), true // a fill wakes the loop sooner
		}
		return now, true
	}
	return time.Time{}, false
}

// len is how many events are held (filled in, not released).
func (r *reorder) len() int { return r.ready.Len() }

type seqHeap []*held

func (h seqHeap) Len() int           { return len(h) }
func (h seqHeap) Less(i, j int) bool { return h[i].seq < h[j].seq }
func (h seqHeap) Swap(i, j int)      { h[i], h[j] = h[j], h[i] }
func (h *seqHeap) Push(x any)        { *h = append(*h, x.(*held)) }
func (h *seqHeap) Pop() any {
	old := *h
	x := old[len(old)-1]
	old[len(old)-1] = nil
	*h = old[:len(old)-1]
	return x
}
