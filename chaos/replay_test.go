package chaos

import (
	"fmt"
	"testing"
)

// hist builds a history: each item is kind, id, from, to and an optional
// call id (the entry's conn).
func hist(items ...[]string) []entry {
	out := make([]entry, len(items))
	for i, it := range items {
		e := entry{streamID: fmt.Sprintf("%d-0", i+1), kind: it[0], id: it[1], from: it[2], to: it[3], extra: map[string]string{}}
		if len(it) > 4 {
			e.extra["conn"] = it[4]
		}
		out[i] = e
	}
	return out
}

// TestReplayFindsWhatTheChecksLookFor proves each finding of replay on a
// short history: a clean call counts nothing; a call held by two agents,
// an agent taking a second call, an illegal move and a broken chain are
// each found once.
func TestReplayFindsWhatTheChecksLookFor(t *testing.T) {
	login := func(a string) [][]string {
		return [][]string{{"agent", a, "logged_out", "idle"}, {"agent", a, "idle", "available"}}
	}
	clean := append(append(login("a1"), login("a2")...),
		[]string{"interaction", "c1", "", "arrived"}, []string{"interaction", "c1", "arrived", "queued"},
		[]string{"agent", "a1", "available", "reserved", "c1"}, []string{"interaction", "c1", "queued", "offered"},
		[]string{"agent", "a1", "reserved", "ringing"}, []string{"agent", "a1", "ringing", "connected"},
		[]string{"interaction", "c1", "offered", "connected"},
		// A blind transfer to a queue: a1 leaves, a2 takes the call.
		[]string{"interaction", "c1", "connected", "queued"}, []string{"agent", "a1", "connected", "wrapup"},
		[]string{"agent", "a2", "available", "reserved", "c1"}, []string{"interaction", "c1", "queued", "offered"},
		[]string{"agent", "a2", "reserved", "available"}, []string{"interaction", "c1", "offered", "queued"},
		[]string{"interaction", "c1", "queued", "abandoned"}, []string{"agent", "a1", "wrapup", "available"},
	)
	f, ix, ag := replay(hist(clean...))
	if n := len(f.twoAgentsOneCall) + len(f.agentTwoCalls) + len(f.illegal) + len(f.broken); n != 0 || f.offers != 2 || f.ronas != 1 {
		t.Fatalf("clean history: %+v", f)
	}
	if ix["c1"] != "abandoned" || ag["a1"] != "available" || ag["a2"] != "available" {
		t.Fatalf("last states %v %v", ix, ag)
	}

	bad := append(append(login("a1"), login("a2")...),
		[]string{"agent", "a1", "available", "reserved", "c1"},
		[]string{"agent", "a2", "available", "reserved", "c1"}, // c1 offered to two agents
		[]string{"agent", "a1", "reserved", "ringing"},
		[]string{"agent", "a1", "ringing", "connected", "c2"}, // a1 takes c2 while holding c1
		[]string{"interaction", "c3", "", "connected"},        // illegal
		[]string{"interaction", "c4", "", "arrived"},
		[]string{"interaction", "c4", "queued", "offered"}, // not chained
	)
	f, _, _ = replay(hist(bad...))
	if len(f.twoAgentsOneCall) != 1 || len(f.agentTwoCalls) != 1 || len(f.illegal) != 1 || len(f.broken) != 1 {
		t.Fatalf("bad history: two agents %v, two calls %v, illegal %v, broken %v", f.twoAgentsOneCall, f.agentTwoCalls, f.illegal, f.broken)
	}
}
