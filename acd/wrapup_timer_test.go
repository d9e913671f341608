package acd

import (
	"testing"
	"time"

	"github.com/tandem-cc/tandem/internal/clock"
)

// TestScheduleWrapUpOnlyWithWrapUp: with no after-call work (0, or below
// the scripts' millisecond) the engine arms no wrap-up timer, which would
// run wrapup.lua for nothing (an ILLEGAL error reply per call); with
// wrap-up it arms one.
func TestScheduleWrapUpOnlyWithWrapUp(t *testing.T) {
	for _, tc := range []struct {
		wrapUp time.Duration
		timers int
	}{{0, 0}, {time.Nanosecond, 0}, {999 * time.Microsecond, 0}, {time.Millisecond, 1}, {30 * time.Second, 1}} {
		fc := clock.NewFake(time.Unix(1_700_000_000, 0))
		e := &Engine{opts: Options{Clock: fc, Policy: Policy{WrapUp: tc.wrapUp}}}
		e.scheduleWrapUp("a1")
		if n := fc.Pending(); n != tc.timers {
			t.Errorf("wrap-up %v: %d timers armed, want %d", tc.wrapUp, n, tc.timers)
		}
	}
}
