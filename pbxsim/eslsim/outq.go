package eslsim

import (
	"sync"
	"time"
)

// reorderHold is the longest a reordered event waits for the event that
// overtakes it before it is written anyway.
const reorderHold = 3 * time.Millisecond

// outItem is one frame to write; closeAfter ends the connection once it
// (and everything before it) is written.
type outItem struct {
	data       []byte
	closeAfter bool
}

// outq is a connection's output: replies and events in the order they are
// written. Publishers only append under a short lock; the connection's
// writer goroutine does the (possibly slow) socket writes, so a slow or
// silent reader never blocks the switch. Its size is bounded: like
// FreeSWITCH, which kills a listener whose event queue overflows, a
// connection that lets more than maxBytes pile up is closed.
type outq struct {
	mu       sync.Mutex
	items    []outItem
	bytes    int
	maxBytes int
	// holding: a synchronous api is running; events wait in held until its
	// api/response is written (FreeSWITCH's blocking api does the same).
	holding bool
	held    []outItem
	// delayed is an event held back one position (reordering).
	delayed   *outItem
	delayTmr  *time.Timer
	overflow  bool
	discard   bool // frozen: everything is dropped silently
	wake      chan struct{}
	onOverflw func()
}

func newOutq(maxBytes int, onOverflow func()) *outq {
	return &outq{maxBytes: maxBytes, wake: make(chan struct{}, 1), onOverflw: onOverflow}
}

func (q *outq) signal() {
	select {
	case q.wake <- struct{}{}:
	default:
	}
}

// pushLocked appends it to the write queue; the caller holds q.mu.
func (q *outq) pushLocked(it outItem) {
	if q.discard || q.overflow {
		return
	}
	q.items = append(q.items, it)
	q.bytes += len(it.data)
	if q.maxBytes > 0 && q.bytes > q.maxBytes {
		q.overflow = true
		q.items = nil
		q.bytes = 0
		go q.onOverflw()
	}
	q.signal()
}

func (q *outq) flushDelayedLocked() {
	if q.delayed != nil {
		if q.delayTmr != nil {
			q.delayTmr.Stop()
			q.delayTmr = nil
		}
		d := *q.delayed
		q.delayed = nil
		q.pushLocked(d)
	}
}

// reply queues a non-event frame (command/reply, api/response, notices):
// a reordered event still held back goes first.
func (q *outq) reply(data []byte, closeAfter bool) {
	q.mu.Lock()
	defer q.mu.Unlock()
	q.flushDelayedLocked()
	q.pushLocked(outItem{data: data, closeAfter: closeAfter})
}

// event queues an event frame. delay asks for it to be delivered one
// position late: it is written right after the next event, or after
// reorderHold at the latest, never lost.
func (q *outq) event(data []byte, delay bool) {
	q.mu.Lock()
	defer q.mu.Unlock()
	it := outItem{data: data}
	if q.holding {
		q.held = append(q.held, it)
		return
	}
	if q.delayed != nil {
		q.pushLocked(it)
		q.flushDelayedLocked()
		return
	}
	if delay {
		q.delayed = &it
		q.delayTmr = time.AfterFunc(reorderHold, func() {
			q.mu.Lock()
			defer q.mu.Unlock()
			q.flushDelayedLocked()
		})
		return
	}
	q.pushLocked(it)
}

// hold starts holding events back (a synchronous api began).
func (q *outq) hold() {
	q.mu.Lock()
	defer q.mu.Unlock()
	q.flushDelayedLocked()
	q.holding = true
}

// release writes the api/response, then the events held meanwhile.
func (q *outq) release(data []byte) {
	q.mu.Lock()
	defer q.mu.Unlock()
	q.holding = false
	q.pushLocked(outItem{data: data})
	for _, it := range q.held {
		q.pushLocked(it)
	}
	q.held = nil
}

// freeze makes the connection silent: queued and future frames are dropped.
func (q *outq) freeze() {
	q.mu.Lock()
	defer q.mu.Unlock()
	q.discard = true
	q.items, q.held, q.delayed, q.bytes = nil, nil, nil, 0
}

// take returns what is queued.
func (q *outq) take() []outItem {
	q.mu.Lock()
	defer q.mu.Unlock()
	items := q.items
	q.items = nil
	q.bytes = 0
	return items
}
