package esl_test

import (
	"fmt"
	"testing"
	"time"

	"github.com/tandem-cc/tandem/acd"
	"github.com/tandem-cc/tandem/esl"
	"github.com/tandem-cc/tandem/pbxsim"
	"github.com/tandem-cc/tandem/pbxsim/eslsim"
)

// BenchmarkHandoff measures one call handed to an agent through the
// driver, real eslgo and the FreeSWITCH simulator over loopback: the
// call parks, is answered and held with music, an agent is rung (its
// phone answers at once), both are bridged, and the call ends. Reported
// per hand-off: the time from the park to the bridge, with the default
// reorder window and a short one (two events are waited for: the park and
// the agent's answer, each held for the window).
func BenchmarkHandoff(b *testing.B) {
	for _, window := range []time.Duration{20 * time.Millisecond, 2 * time.Millisecond} {
		b.Run(fmt.Sprint("window=", window), func(b *testing.B) { benchHandoff(b, window) })
	}
}

func benchHandoff(b *testing.B, window time.Duration) {
	sim, addr := newSim(b, eslsim.Options{Reorder: -1})
	d, rec, _ := startDriver(b, addr, owner, func(o *esl.Options) { o.ReorderWindow = window })
	sim.SetPhone("user/9001", pbxsim.Phone{Mode: pbxsim.Answer})
	ctx := ctxT(b)
	var total time.Duration
	b.ResetTimer()
	for i := range b.N {
		start := time.Now()
		caller, err := sim.Call(pbxsim.Caller{App: owner, ANI: "5553000", DNIS: "8001"})
		if err != nil {
			b.Fatal(err)
		}
		rec.waitFor(b, "arrival", func(evs []acd.Event) bool { return count[acd.CallArrived](evs, caller) > 0 })
		agent := fmt.Sprintf("bench-agent-%d", i)
		steps := []func() error{
			func() error { return d.Answer(ctx, caller) },
			func() error { return d.StartMusic(ctx, caller, "") },
			func() error {
				return d.Ring(ctx, acd.RingRequest{Leg: agent, Endpoint: "user/9001", CallerID: "5553000", Timeout: 5 * time.Second})
			},
		}
		for _, step := range steps {
			if err := step(); err != nil {
				b.Fatal(err)
			}
		}
		rec.waitFor(b, "agent answer", has(acd.LegAnswered{Leg: agent}))
		bridge := "bench-" + agent
		for _, step := range []func() error{
			func() error { return d.Bridge(ctx, bridge) },
			func() error { return d.AddToBridge(ctx, bridge, agent) },
			func() error { return d.StopMusic(ctx, caller) },
			func() error { return d.AddToBridge(ctx, bridge, caller) },
		} {
			if err := step(); err != nil {
				b.Fatal(err)
			}
		}
		total += time.Since(start)
		b.StopTimer()
		if err := d.Hangup(ctx, caller, acd.CauseNormal); err != nil {
			b.Fatal(err)
		}
		if err := d.Hangup(ctx, agent, acd.CauseNormal); err != nil {
			b.Fatal(err)
		}
		if err := d.DestroyBridge(ctx, bridge); err != nil {
			b.Fatal(err)
		}
		b.StartTimer()
	}
	b.ReportMetric(float64(total.Microseconds())/1000/float64(b.N), "ms/handoff")
}
