// Package clock is the time source of Tandem's Go code. Production code
// uses Real; tests use a Fake and move time forward themselves, so a
// wrap-up timer, a ring timeout or a lease renewal fires when the test
// says so instead of after a sleep. Time that orders work across replicas
// does not come from here but from Redis TIME inside the scripts.
package clock

import (
	"sort"
	"sync"
	"time"
)

// Clock tells the time and schedules work.
type Clock interface {
	Now() time.Time
	// AfterFunc calls f in its own goroutine once d has passed.
	AfterFunc(d time.Duration, f func()) Timer
	// NewTicker delivers the time on C every d; like time.Ticker it drops
	// ticks a slow reader misses.
	NewTicker(d time.Duration) Ticker
}

// Timer is a scheduled call; Stop reports whether it stopped one that had
// not fired.
type Timer interface{ Stop() bool }

// Ticker is a periodic tick.
type Ticker interface {
	C() <-chan time.Time
	Stop()
}

// Real is the system clock.
func Real() Clock { return realClock{} }

type realClock struct{}

func (realClock) Now() time.Time                            { return time.Now() }
func (realClock) AfterFunc(d time.Duration, f func()) Timer { return time.AfterFunc(d, f) }
func (realClock) NewTicker(d time.Duration) Ticker          { return realTicker{time.NewTicker(d)} }

type realTicker struct{ t *time.Ticker }

func (r realTicker) C() <-chan time.Time { return r.t.C }
func (r realTicker) Stop()               { r.t.Stop() }

// Fake is a clock that moves only when Advance is called. It is safe for
// concurrent use.
type Fake struct {
	mu      sync.Mutex
	now     time.Time
	seq     int
	waiting []*fakeTimer
	changed *sync.Cond
}

// NewFake returns a Fake showing start.
func NewFake(start time.Time) *Fake {
	f := &Fake{now: start}
	f.changed = sync.NewCond(&f.mu)
	return f
}

// Now is the fake time.
func (f *Fake) Now() time.Time {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.now
}

type fakeTimer struct {
	f      *Fake
	at     time.Time
	seq    int // ties fire in the order they were scheduled
	fn     func()
	period time.Duration // > 0 for a ticker
	ch     chan time.Time
	done   bool
}

// AfterFunc schedules fn at Now()+d; fn runs in its own goroutine, as with
// time.AfterFunc, when Advance passes that moment.
func (f *Fake) AfterFunc(d time.Duration, fn func()) Timer {
	return f.add(&fakeTimer{fn: fn}, d)
}

// NewTicker ticks every d of fake time.
func (f *Fake) NewTicker(d time.Duration) Ticker {
	if d <= 0 {
		panic("clock: non-positive ticker interval")
	}
	return fakeTicker{f.add(&fakeTimer{period: d, ch: make(chan time.Time, 1)}, d)}
}

type fakeTicker struct{ t *fakeTimer }

func (k fakeTicker) C() <-chan time.Time { return k.t.ch }
func (k fakeTicker) Stop()               { k.t.Stop() }

func (f *Fake) add(t *fakeTimer, d time.Duration) *fakeTimer {
	f.mu.Lock()
	defer f.mu.Unlock()
	t.f = f
	t.at = f.now.Add(d)
	f.seq++
	t.seq = f.seq
	f.waiting = append(f.waiting, t)
	f.changed.Broadcast()
	return t
}

func (t *fakeTimer) Stop() bool {
	t.f.mu.Lock()
	defer t.f.mu.Unlock()
	if t.done {
		return false
	}
	t.done = true
	t.f.remove(t)
	return true
}

func (f *Fake) remove(t *fakeTimer) {
	for i, w := range f.waiting {
		if w == t {
			f.waiting = append(f.waiting[:i], f.waiting[i+1:]...)
			f.changed.Broadcast()
			return
		}
	}
}

// Advance moves the clock forward by d, firing every timer and tick due on
// the way, in time order.
func (f *Fake) Advance(d time.Duration) {
	f.mu.Lock()
	end := f.now.Add(d)
	for {
		t := f.next(end)
		if t == nil {
			break
		}
		f.now = t.at
		if t.period > 0 {
			t.at = t.at.Add(t.period)
			f.seq++
			t.seq = f.seq
			select {
			case t.ch <- f.now:
			default: // a slow reader misses the tick, as with time.Ticker
			}
			continue
		}
		t.done = true
		f.remove(t)
		go t.fn()
	}
	f.now = end
	f.changed.Broadcast()
	f.mu.Unlock()
}

// next is the earliest timer due at or before end, or nil.
func (f *Fake) next(end time.Time) *fakeTimer {
	if len(f.waiting) == 0 {
		return nil
	}
	sort.Slice(f.waiting, func(i, j int) bool {
		a, b := f.waiting[i], f.waiting[j]
		if !a.at.Equal(b.at) {
			return a.at.Before(b.at)
		}
		return a.seq < b.seq
	})
	if t := f.waiting[0]; !t.at.After(end) {
		return t
	}
	return nil
}

// Pending is the number of timers and tickers scheduled and not stopped.
func (f *Fake) Pending() int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return len(f.waiting)
}

// WaitPending blocks until at least n timers or tickers are scheduled, so
// a test can advance time only once the code under test has armed the
// timer it means to fire (an event to wait on, not a sleep).
func (f *Fake) WaitPending(n int) {
	f.mu.Lock()
	defer f.mu.Unlock()
	for len(f.waiting) < n {
		f.changed.Wait()
	}
}

// WaitTimers blocks until n timers (not tickers) are scheduled to fire at
// at: the code under test has armed the timers the test means to fire, or
// has re-armed them after handling them (e.g. at Now()+d after an
// Advance), which tells the test that the handling is over.
func (f *Fake) WaitTimers(at time.Time, n int) {
	f.mu.Lock()
	defer f.mu.Unlock()
	for f.timersAt(at) < n {
		f.changed.Wait()
	}
}

// WaitAnyTimer blocks until a timer (not a ticker) is scheduled to fire
// at one of ats, and returns that moment (the first of ats that has one):
// for code that re-arms at one of several delays depending on what it
// found.
func (f *Fake) WaitAnyTimer(ats ...time.Time) time.Time {
	f.mu.Lock()
	defer f.mu.Unlock()
	for {
		for _, at := range ats {
			if f.timersAt(at) > 0 {
				return at
			}
		}
		f.changed.Wait()
	}
}

func (f *Fake) timersAt(at time.Time) int {
	n := 0
	for _, t := range f.waiting {
		if t.period == 0 && t.at.Equal(at) {
			n++
		}
	}
	return n
}
