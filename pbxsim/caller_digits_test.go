package pbxsim

import (
	"fmt"
	"testing"
	"time"

	"github.com/CyCoreSystems/ari/v5"
)

// TestScriptedCallerPausesAtWAndBigW: a scripted caller's digits are
// pressed once answered, Timing.DTMFGap apart, and 'w' / 'W' hold the
// next digit back by half a second / a second (SendDTMF's pauses), on the
// simulator's clock. Each step moves a manual clock and then sends a
// marker event: events go out in order, so the digits before the marker
// are exactly those due by then.
func TestScriptedCallerPausesAtWAndBigW(t *testing.T) {
	clock := newManualClock()
	w := newWorldClock(t, Timing{}, clock)
	cl, rec := w.connect("acd")
	id, err := w.sim.Call(Caller{ANI: "1", DNIS: "2", Digits: "1w2W3#"})
	if err != nil {
		t.Fatal(err)
	}
	rec.wait(t, "StasisStart", isStasisStart(id))
	if err := cl.Channel().Answer(chanKey(id)); err != nil {
		t.Fatal(err)
	}
	const ms = time.Millisecond
	// Each digit lasts 100 ms, then the 50 ms gap: 1 at 100 ms; w to 650;
	// 2 at 750, gap to 800; W to 1800; 3 at 1900, # at 2050.
	for i, step := range []struct {
		at   time.Duration
		want string
	}{
		{99 * ms, ""}, {100 * ms, "1"}, {749 * ms, "1"}, {750 * ms, "12"},
		{1899 * ms, "12"}, {1900 * ms, "123"}, {2050 * ms, "123#"},
	} {
		clock.Advance(step.at)
		if err := w.sim.EmitVarsetBurst(id, 1); err != nil {
			t.Fatal(err)
		}
		var got string
		eventually(t, fmt.Sprintf("marker %d", i+1), func() bool {
			got = ""
			markers := 0
			for _, e := range rec.events() {
				switch v := e.(type) {
				case *ari.ChannelDtmfReceived:
					if v.Channel.ID == id {
						got += v.Digit
					}
				case *ari.ChannelVarset:
					if v.Variable == "SIM_BURST" && v.Channel.ID == id {
						if markers++; markers == i+1 {
							return true
						}
					}
				}
			}
			return false
		})
		if got != step.want {
			t.Errorf("by %s the caller had pressed %q, want %q", step.at, got, step.want)
		}
	}
}
