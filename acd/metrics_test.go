package acd

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/tandem-cc/tandem/agents"
	"github.com/tandem-cc/tandem/metrics"
)

func TestEventKindsAreSnakeCaseTypeNames(t *testing.T) {
	for _, tc := range []struct {
		ev   Event
		want string
	}{
		{CallArrived{}, "call_arrived"}, {LegHungUp{}, "leg_hung_up"}, {DTMFReceived{}, "dtmf_received"},
		{RingFailed{}, "ring_failed"}, {Resynced{}, "resynced"},
	} {
		if got := eventKind(tc.ev); got != tc.want {
			t.Errorf("eventKind(%T) = %q, want %q", tc.ev, got, tc.want)
		}
	}
}

// ringOnly is a PBX whose Ring fails and whose Run delivers two events.
type ringOnly struct{ PBX }

func (ringOnly) Ring(context.Context, RingRequest) error { return errors.New("no route") }
func (ringOnly) Answer(context.Context, string) error    { return nil }
func (ringOnly) Run(_ context.Context, handle func(Event)) error {
	handle(CallArrived{Leg: "l1"})
	handle(LegHungUp{Leg: "l1"})
	return nil
}

func TestMeteredPBXTimesCommandsCountsErrorsAndEvents(t *testing.T) {
	m := metrics.New()
	p := meterPBX(ringOnly{}, m)
	ctx := context.Background()
	if err := p.Ring(ctx, RingRequest{Leg: "a"}); err == nil {
		t.Fatal("the driver's error was lost")
	}
	if err := p.Answer(ctx, "l1"); err != nil {
		t.Fatal(err)
	}
	var handled []Event
	if err := p.Run(ctx, func(ev Event) { handled = append(handled, ev) }); err != nil {
		t.Fatal(err)
	}
	if len(handled) != 2 {
		t.Fatalf("handled %v", handled)
	}
	if n := testutil.CollectAndCount(m.PBXCommand); n != 2 {
		t.Fatalf("%d command series, want ring and answer", n)
	}
	if got := testutil.ToFloat64(m.PBXErrors.WithLabelValues("ring")); got != 1 {
		t.Fatalf("ring errors %v", got)
	}
	if got := testutil.ToFloat64(m.PBXErrors.WithLabelValues("answer")); got != 0 {
		t.Fatalf("answer errors %v", got)
	}
	for _, kind := range []string{"call_arrived", "leg_hung_up"} {
		if got := testutil.ToFloat64(m.PBXEvents.WithLabelValues(kind)); got != 1 {
			t.Fatalf("%s events %v", kind, got)
		}
	}
}

// The Redis gauges: depth and longest wait per queue (the oldest call
// across priority bands, not the head of the queue), agents by state.
func TestScrapeReadsQueueDepthLongestWaitAndAgentsFromRedis(t *testing.T) {
	s := newTestStore(t, "n1")
	e := NewEngine(Options{Store: s.Store, Queues: map[string]QueueSettings{"sales": {}, "support": {}}})
	arriveQueued(t, s, "old", "sales", 0)
	ageCall(t, s, "old", 30*time.Second)
	arriveQueued(t, s, "urgent", "sales", 9) // the head of the queue, but fresh
	loginAvailable(t, s, "a1", "support")
	if _, err := s.Login(context.Background(), "a2", "PJSIP/a2", []string{"support"}, nil); err != nil {
		t.Fatal(err)
	}

	fams, err := e.Metrics().Gatherer().Gather()
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]float64{}
	for _, f := range fams {
		for _, m := range f.GetMetric() {
			key := f.GetName()
			for _, l := range m.GetLabel() {
				key += "/" + l.GetValue()
			}
			got[key] = m.GetGauge().GetValue()
		}
	}
	want := map[string]float64{
		"tandem_queue_depth/sales": 2, "tandem_queue_depth/support": 0,
		"tandem_queue_longest_wait_seconds/support": 0,
		"tandem_agents/" + string(agents.Available): 1,
		"tandem_agents/" + string(agents.Idle):      1, // logged in, not yet available
	}
	for k, v := range want {
		if got[k] != v {
			t.Errorf("%s = %v, want %v", k, got[k], v)
		}
	}
	if w := got["tandem_queue_longest_wait_seconds/sales"]; w < 30 || w > 300 {
		t.Errorf("longest wait in sales %vs, want the aged call's 30s and more", w)
	}
}
