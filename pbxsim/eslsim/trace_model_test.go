package eslsim

import (
	"context"
	"net/url"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/tandem-cc/tandem/pbxsim"
)

// traceLegEvents reads a trace's plain events and returns, per Unique-ID,
// the Event-Names in Event-Sequence order.
func traceLegEvents(t *testing.T, name string) map[string][]string {
	t.Helper()
	type ev struct {
		seq  int
		name string
	}
	legs := map[string][]ev{}
	for _, l := range loadTrace(t, strings.TrimSuffix(name, ".jsonl")) {
		if l.Dir != "recv" || !strings.Contains(l.Headers, "text/event-plain") {
			continue
		}
		h := map[string]string{}
		head, _, _ := strings.Cut(l.Body, "\n\n")
		for _, line := range strings.Split(head, "\n") {
			k, v, _ := strings.Cut(line, ": ")
			h[k], _ = url.PathUnescape(v)
		}
		if id := h["Unique-ID"]; id != "" && h["Application"] != "set" {
			legs[id] = append(legs[id], ev{atoiOr(h["Event-Sequence"], 0), h["Event-Name"]})
		}
	}
	out := map[string][]string{}
	for id, es := range legs {
		slices.SortFunc(es, func(a, b ev) int { return a.seq - b.seq })
		for _, e := range es {
			if e.name != "PLAYBACK_START" && e.name != "PLAYBACK_STOP" {
				out[id] = append(out[id], e.name)
			}
		}
	}
	return out
}

// TestTrace04AgentLegFailuresMatch replays trace 04's failed agent
// originates and compares the agent leg's events with the trace's.
func TestTrace04AgentLegFailuresMatch(t *testing.T) {
	trace := traceLegEvents(t, "04-agent-leg.jsonl")
	cases := []struct {
		leg   string // the trace's origination_uuid
		phone pbxsim.Phone
	}{
		{"65cb5b3d-8dda-45b2-8f18-8d9fc8081fdf", pbxsim.Phone{Mode: pbxsim.Busy}},
		{"973ab008-b354-4368-81a2-ae44ae8f0812", pbxsim.Phone{Mode: pbxsim.NoAnswer}},
		{"1a0de66c-00f1-4864-9759-08be7340e6cd", pbxsim.Phone{Mode: pbxsim.Unreachable}},
	}
	for _, tc := range cases {
		s, r := newTestSim(t)
		s.SetPhone("user/1001", tc.phone)
		s.api(context.Background(), "originate", "{origination_uuid="+tc.leg+",originate_timeout=1}user/1001 &park()")
		want := trace[tc.leg]
		if len(want) == 0 {
			t.Fatalf("leg %s not in trace", tc.leg)
		}
		wantSeq(t, r, tc.leg, want)
	}
}

// TestTrace03InboundLegMatches compares the B leg's events up to its
// CHANNEL_PARK and after uuid_answer and the far end's hangup with trace
// 03's, the dialplan's set applications aside on both sides (Tandem's dialplan sets
// other variables than the trace rig's).
func TestTrace03InboundLegMatches(t *testing.T) {
	trace := traceLegEvents(t, "03-inbound-call-lifecycle.jsonl")
	want := trace["e17d4246-762c-4298-9706-a7b9eda51822"]
	s, r := newTestSim(t)
	b, _ := s.Call(pbxsim.Caller{App: "r1", ANI: "5551234", DNIS: "8001"})
	r.waitFor(t, b, "CHANNEL_PARK")
	s.api(context.Background(), "uuid_answer", b)
	if err := s.HangUp(b); err != nil {
		t.Fatal(err)
	}
	r.waitFor(t, b, "CHANNEL_DESTROY")
	deadline := time.Now().Add(5 * time.Second)
	var got []string
	for time.Now().Before(deadline) {
		got = r.names(b, func(e Event) string {
			if a := e.Get("Application"); a == "set" {
				return ""
			}
			return evName(e)
		})
		if got[len(got)-1] == "CHANNEL_STATE" {
			break
		}
		time.Sleep(5 * time.Millisecond)
	}
	got = slices.DeleteFunc(got, func(x string) bool { return x == "" })
	w := want
	if !slices.Equal(got, w) {
		t.Errorf("B leg\n got %v\nwant %v", got, w)
	}
}

// TestAnswerEpochOnlyAfterHangup: FreeSWITCH sets answer_epoch with the
// other call-detail variables at hangup (traces 03–08: no live answered
// leg's event carries it, every CHANNEL_HANGUP_COMPLETE does).
func TestAnswerEpochOnlyAfterHangup(t *testing.T) {
	s, r := newTestSim(t)
	b, _ := s.Call(pbxsim.Caller{App: "r1", ANI: "5551234", DNIS: "8001"})
	r.waitFor(t, b, "CHANNEL_PARK")
	s.api(context.Background(), "uuid_answer", b)
	if got := s.api(context.Background(), "uuid_getvar", b+" answer_epoch"); got != "_undef_" {
		t.Errorf("answer_epoch of a live answered leg: %q, want _undef_", got)
	}
	if err := s.HangUp(b); err != nil {
		t.Fatal(err)
	}
	if ev := r.waitFor(t, b, "CHANNEL_HANGUP_COMPLETE"); ev.Get("variable_answer_epoch") == "" {
		t.Error("CHANNEL_HANGUP_COMPLETE without variable_answer_epoch")
	}
}
