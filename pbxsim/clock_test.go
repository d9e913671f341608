package pbxsim

import (
	"sync"
	"time"
)

// manualClock is a Clock that moves only when Advance is called: the trace
// replay sets it to each recorded moment before acting, so the simulator's
// scripted delays fall between the same requests as in the trace however
// slowly a loaded machine runs the replay.
type manualClock struct {
	mu     sync.Mutex
	base   time.Time
	now    time.Duration
	seq    int
	timers map[*manualTimer]struct{}
}

type manualTimer struct {
	c   *manualClock
	at  time.Duration
	seq int
	f   func()
}

func newManualClock() *manualClock {
	return &manualClock{base: time.Now(), timers: map[*manualTimer]struct{}{}}
}

func (c *manualClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.base.Add(c.now)
}

func (c *manualClock) AfterFunc(d time.Duration, f func()) Timer {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.seq++
	t := &manualTimer{c: c, at: c.now + max(d, 0), seq: c.seq, f: f}
	c.timers[t] = struct{}{}
	return t
}

func (t *manualTimer) Stop() bool {
	t.c.mu.Lock()
	defer t.c.mu.Unlock()
	if _, ok := t.c.timers[t]; !ok {
		return false
	}
	delete(t.c.timers, t)
	return true
}

// Advance moves the clock to to (never back), running every timer due by
// then in order of due time, then creation; timers those create that are
// due by to run too. f runs on the caller's goroutine, without the clock's
// lock.
func (c *manualClock) Advance(to time.Duration) {
	for {
		c.mu.Lock()
		var next *manualTimer
		for t := range c.timers {
			if t.at <= to && (next == nil || t.at < next.at || t.at == next.at && t.seq < next.seq) {
				next = t
			}
		}
		if next == nil {
			c.now = max(c.now, to)
			c.mu.Unlock()
			return
		}
		delete(c.timers, next)
		c.now = max(c.now, next.at)
		c.mu.Unlock()
		next.f()
	}
}
