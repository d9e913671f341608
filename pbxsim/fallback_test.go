package pbxsim

import (
	"errors"
	"slices"
	"testing"
)

// TestCallFallbackEntersTheFirstActiveApp is the README's dialplan with
// three replicas when only the second one's application has a socket:
// Stasis() into the first fails without a trace on any socket, and the
// same channel enters the second; with no socket at all the call fails
// once and the channel is gone.
func TestCallFallbackEntersTheFirstActiveApp(t *testing.T) {
	w := newWorld(t, fastTiming)
	second := w.dialRaw("app=tandem-r2")
	eventually(t, "app tandem-r2 active", func() bool { a, ok := w.sim.App("tandem-r2"); return ok && a.Active })

	id, err := w.sim.CallFallback(Caller{ANI: "5551234", DNIS: "5551000"}, []string{"tandem-r1", "tandem-r2", "tandem-r3"})
	if err != nil {
		t.Fatal(err)
	}
	eventually(t, "StasisStart on the second app's socket", func() bool { return countType(second, "StasisStart") == 1 })
	var start map[string]any
	for _, m := range second.messages() {
		if m["type"] == "StasisStart" {
			start = m
		}
	}
	ch, _ := start["channel"].(map[string]any)
	if ch["id"] != id || !slices.Equal(toStrings(start["args"]), []string{"inbound", "5551000"}) {
		t.Fatalf("StasisStart = %v, want channel %s with args inbound,5551000", start, id)
	}
	if v, ok := w.sim.Channel(id); !ok || v.HungUp {
		t.Fatalf("channel %s: %+v, %v; want live in Stasis", id, v, ok)
	}
	if a, _ := w.sim.App("tandem-r2"); !slices.Contains(a.Channels, id) {
		t.Fatalf("tandem-r2 lists %v, want %s", a.Channels, id)
	}
	if _, ok := w.sim.App("tandem-r1"); ok {
		t.Fatal("a failed Stasis() created application tandem-r1")
	}

	second.drop()
	eventually(t, "tandem-r2 inactive", func() bool { a, _ := w.sim.App("tandem-r2"); return !a.Active })
	if _, err := w.sim.CallFallback(Caller{ANI: "5551235", DNIS: "5551000"}, []string{"tandem-r1", "tandem-r2"}); !errors.Is(err, ErrNoApp) {
		t.Fatalf("err = %v, want ErrNoApp", err)
	}
	if st := w.sim.Stats(); st.CallsPlaced != 2 || st.CallsFailed != 1 {
		t.Fatalf("stats %+v, want 2 placed and 1 failed", st)
	}
	if _, err := w.sim.CallFallback(Caller{ANI: "1", DNIS: "2"}, nil); err == nil || errors.Is(err, ErrNoApp) {
		t.Fatalf("no applications: err = %v, want a usage error", err)
	}
}

func toStrings(v any) []string {
	var out []string
	list, _ := v.([]any)
	for _, x := range list {
		s, _ := x.(string)
		out = append(out, s)
	}
	return out
}
