package e2e

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/tandem-cc/tandem/acd"
	"github.com/tandem-cc/tandem/config"
	"github.com/tandem-cc/tandem/internal/lab"
	"github.com/tandem-cc/tandem/internal/redistest"
	"github.com/tandem-cc/tandem/pbxsim"
)

// BenchmarkHandoffThroughSimulator measures what the product promises: with
// callers waiting, how long after an agent's call ends does Tandem start
// that agent's next leg? Each op is one call; the agents' phones answer at
// once and hang up after 20 ms, so the agents are the bottleneck and every
// call end is a hand-off. Reported: hand-off p50/p99 (agent's hangup event
// handled → next originate requested, through the real ari/v5 client, the
// driver, Redis and the simulator's REST API).
//
// Two variants: callers waiting with music only, and every waiting caller
// inside a position announcement that would play for an hour, so each
// hand-off goes to a caller whose announcement must be interrupted. Media
// never blocks a call, so the two should not differ.
func BenchmarkHandoffThroughSimulator(b *testing.B) {
	b.Run("music", func(b *testing.B) { benchHandoff(b, false) })
	b.Run("in-announcement", func(b *testing.B) { benchHandoff(b, true) })
}

func benchHandoff(b *testing.B, announcing bool) {
	sales := acd.QueueSettings{RingTimeout: 5 * time.Second}
	timing := pbxsim.Timing{}
	if announcing {
		// Every item plays for an hour: an announcement, once started,
		// ends only when Tandem stops it.
		sales.Announce = config.Announce{Interval: 100 * time.Millisecond, Position: true}
		timing.Playback = time.Hour
	}
	l, err := lab.Start(context.Background(), lab.Options{
		Replicas: 1, RedisAddr: redistest.Start(b),
		Queues:    map[string]acd.QueueSettings{"sales": sales},
		DNIS:      map[string]string{"800": "sales"},
		SimTiming: timing,
	})
	if err != nil {
		b.Fatal(err)
	}
	defer l.Close()
	e := l.Replicas[0].Engine
	const agentsN = 4
	legs := make([]string, 0, b.N+agentsN)
	for i := 0; i < b.N+agentsN; i++ {
		leg, err := l.Sim.Call(pbxsim.Caller{ANI: fmt.Sprint(5550000 + i), DNIS: "800"})
		if err != nil {
			b.Fatal(err)
		}
		legs = append(legs, leg)
	}
	deadline := time.Now().Add(10 * time.Second)
	for {
		q, _ := e.Queue(context.Background(), "sales")
		if len(q.Waiting) == b.N+agentsN || time.Now().After(deadline) {
			break
		}
		time.Sleep(5 * time.Millisecond)
	}
	if announcing {
		waitAllAnnouncing(b, l, legs)
	}
	b.ResetTimer()
	for i := 0; i < agentsN; i++ {
		id := fmt.Sprintf("a%d", i)
		ep := "PJSIP/" + id
		l.Sim.SetPhone(ep, pbxsim.Phone{Mode: pbxsim.Answer, RingFor: time.Millisecond, TalkFor: 20 * time.Millisecond})
		if _, err := e.Login(context.Background(), id, ep, []string{"sales"}, nil); err != nil {
			b.Fatal(err)
		}
		if _, err := e.SetAvailable(context.Background(), id); err != nil {
			b.Fatal(err)
		}
	}
	// Benchmarks run without the test binary's -timeout alarm (testing
	// stops it before the benchmarks), so a call that is never answered
	// must fail the run rather than hang it: the wait gives up when no call
	// has been answered for a minute.
	last, lastAt := int64(-1), time.Now()
	for {
		n := e.Stats().Snapshot().Answered
		if n >= int64(b.N+agentsN) {
			break
		}
		if n != last {
			last, lastAt = n, time.Now()
		} else if time.Since(lastAt) > time.Minute {
			b.Fatalf("stuck: %d of %d calls answered, none for a minute", n, b.N+agentsN)
		}
		time.Sleep(2 * time.Millisecond)
	}
	b.StopTimer()
	if announcing {
		// Every caller's announcement was cut short by their offer.
		for _, leg := range legs {
			if started, ended := announcementOf(l, leg); !started || !ended {
				b.Fatalf("caller %s: announcement started %v, stopped %v", leg, started, ended)
			}
		}
	}
	h := e.Stats().Snapshot().Handoffs
	if len(h) == 0 {
		b.Fatal("no hand-offs measured")
	}
	b.ReportMetric(float64(h[len(h)/2].Microseconds()), "handoff-p50-µs")
	b.ReportMetric(float64(h[len(h)*99/100].Microseconds()), "handoff-p99-µs")
}

// announcementOf reports whether leg's first playback started and ended.
func announcementOf(l *lab.Lab, leg string) (started, ended bool) {
	id := ""
	for _, m := range l.Sim.MediaLog(leg) {
		switch {
		case m.Kind == "playback_start" && id == "":
			id, started = m.PlaybackID, true
		case m.Kind == "playback_end" && m.PlaybackID == id:
			ended = true
		}
	}
	return started, ended
}

// waitAllAnnouncing waits until every waiting caller is inside an
// announcement.
func waitAllAnnouncing(b *testing.B, l *lab.Lab, legs []string) {
	b.Helper()
	deadline := time.Now().Add(time.Minute)
	for _, leg := range legs {
		for {
			if started, _ := announcementOf(l, leg); started {
				break
			}
			if time.Now().After(deadline) {
				b.Fatalf("caller %s never heard an announcement", leg)
			}
			time.Sleep(5 * time.Millisecond)
		}
	}
}
