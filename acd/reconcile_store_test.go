package acd

import (
	"context"
	"slices"
	"testing"

	"github.com/tandem-cc/tandem/agents"
	"github.com/tandem-cc/tandem/internal/redistest"
)

// TestSeatIndexFollowsTheInteractions: a seat's index of live
// interactions gets each call at arrival, follows its owner when another
// node adopts it, and loses it when the call ends; SeatCalls reads what a
// rebuild needs and drops ids left over in the index.
func TestSeatIndexFollowsTheInteractions(t *testing.T) {
	ctx := context.Background()
	rdb := redistest.Client(t)
	s1 := newTStore(rdb, "t", "n1")
	s2 := newTStore(rdb, "t", "n2")
	seat := func(s *tStore, node string) []string {
		t.Helper()
		calls, err := s.SeatCalls(ctx, node)
		if err != nil {
			t.Fatal(err)
		}
		var ids []string
		for _, c := range calls {
			ids = append(ids, c.Conn)
		}
		slices.Sort(ids)
		return ids
	}
	loginAvailable(t, s1, "a1", "sales")
	mustOffer(t, arriveQueued(t, s1, "c1", "sales", 0), "c1", "a1")
	arriveQueued(t, s1, "c2", "sales", 0)
	arrive(t, s1, "c3")
	if got := seat(s1, "n1"); !slices.Equal(got, []string{"c1", "c2", "c3"}) {
		t.Fatalf("n1's calls %v", got)
	}
	calls, err := s1.SeatCalls(ctx, "n1")
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range calls {
		if c.Conn == "c1" && (c.State != StateOffered || c.Agent != "a1" || c.Queue != "sales" || c.CallerLeg != "c1-leg" || c.Offers != 1 || c.Queued.IsZero()) {
			t.Fatalf("c1 read as %+v", c)
		}
	}
	if _, err := s2.Adopt(ctx, "c3"); err != nil {
		t.Fatal(err)
	}
	if got := seat(s1, "n1"); !slices.Equal(got, []string{"c1", "c2"}) {
		t.Fatalf("n1's calls after n2 adopted c3: %v", got)
	}
	if got := seat(s2, "n2"); !slices.Equal(got, []string{"c3"}) {
		t.Fatalf("n2's calls %v", got)
	}
	if _, _, err := s1.Finish(ctx, "c2", "hangup", "caller"); err != nil {
		t.Fatal(err)
	}
	if got := seat(s1, "n1"); !slices.Equal(got, []string{"c1"}) {
		t.Fatalf("n1's calls after c2 ended %v", got)
	}
	// An id whose interaction is gone (expired) is dropped from the index.
	rdb.SAdd(ctx, s1.keys.SeatCalls("n1"), "ghost")
	if got := seat(s1, "n1"); !slices.Equal(got, []string{"c1"}) {
		t.Fatalf("n1's calls with a ghost %v", got)
	}
	if n := rdb.SCard(ctx, s1.keys.SeatCalls("n1")).Val(); n != 1 {
		t.Fatalf("the ghost stayed in the index (%d ids)", n)
	}
	// Given back, c1 waits again in its place and a1 is not in rona.
	score := rdb.HGet(ctx, s1.keys.Interaction("c1"), "score").Val()
	s1.got.take()
	if err := s1.GiveBack(ctx, "c1", "takeover"); err != nil {
		t.Fatal(err)
	}
	if o := s1.one(); o == nil || o.ConnectionID != "c1" || o.Agent != "a1" {
		t.Fatalf("after the give-back: offer %+v, want c1 to a1 again", o)
	}
	if st := agentState(t, s1, "a1"); st != agents.Reserved {
		t.Fatalf("a1 %s", st)
	}
	if got := rdb.HGet(ctx, s1.keys.Interaction("c1"), "score").Val(); got != score {
		t.Fatalf("c1's score %s, was %s", got, score)
	}
}
