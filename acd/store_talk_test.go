package acd

import (
	"context"
	"errors"
	"testing"

	"github.com/redis/go-redis/v9"
)

// TestTalkStatesRecordedWhileConnected: talk.lua moves a connected call's
// talk_state from the state the actor saw, appends each move to the
// history, and refuses a stale from or a call that is not connected;
// connect starts it at talking and the end of the call removes it.
func TestTalkStatesRecordedWhileConnected(t *testing.T) {
	s := newTestStore(t, "n1")
	ctx := context.Background()
	if err := s.Talk(ctx, "nope", TalkTalking, TalkHeld, "hold"); !errors.Is(err, ErrIllegalTransition) {
		t.Fatalf("talk on an unknown call: %v", err)
	}
	connectedCall(t, s, "c1", "a1", "sales")
	talkState := func() string {
		t.Helper()
		v, err := s.rdb.HGet(ctx, s.keys.Interaction("c1"), "talk_state").Result()
		if errors.Is(err, redis.Nil) {
			return ""
		} else if err != nil {
			t.Fatal(err)
		}
		return v
	}
	if got := talkState(); got != TalkTalking {
		t.Fatalf("after connect: talk_state %q", got)
	}
	if err := s.Talk(ctx, "c1", TalkTalking, TalkHeld, "hold", "agent", "a1"); err != nil {
		t.Fatal(err)
	}
	if err := s.Talk(ctx, "c1", TalkTalking, TalkConsulting, "consult"); !errors.Is(err, ErrStale) {
		t.Fatalf("consult from a talk state the call is not in: %v", err)
	}
	if err := s.Talk(ctx, "c1", TalkHeld, TalkConsulting, "consult", "agent", "a1", "target_kind", "agent", "target", "a2"); err != nil {
		t.Fatal(err)
	}
	if got := talkState(); got != TalkConsulting {
		t.Fatalf("talk_state %q, want consulting", got)
	}
	msgs, err := s.rdb.XRange(ctx, s.keys.Events(), "-", "+").Result()
	if err != nil {
		t.Fatal(err)
	}
	var moves []map[string]any
	for _, m := range msgs {
		if m.Values["kind"] == "talk" {
			moves = append(moves, m.Values)
		}
	}
	if len(moves) != 2 {
		t.Fatalf("talk history %v", moves)
	}
	last := moves[1]
	if last["id"] != "c1" || last["from"] != TalkHeld || last["to"] != TalkConsulting || last["what"] != "consult" ||
		last["target_kind"] != "agent" || last["target"] != "a2" || last["agent"] != "a1" || last["at"] == "" {
		t.Fatalf("talk history entry %v", last)
	}
	for _, m := range moves {
		from, _ := m["from"].(string)
		to, _ := m["to"].(string)
		if err := CheckTalkTransition(from, to); err != nil {
			t.Error(err)
		}
	}
	if _, _, err := s.Finish(ctx, "c1", "hangup", "caller"); err != nil {
		t.Fatal(err)
	}
	if got := talkState(); got != "" {
		t.Fatalf("talk_state %q after the end", got)
	}
	if err := s.Talk(ctx, "c1", TalkConsulting, TalkHeld, "consult_end"); !errors.Is(err, ErrIllegalTransition) {
		t.Fatalf("talk after the end: %v", err)
	}
}

func TestTalkStateTable(t *testing.T) {
	for _, c := range []struct {
		from, to string
		legal    bool
	}{
		{TalkTalking, TalkHeld, true},
		{TalkTalking, TalkConsulting, true},
		{TalkHeld, TalkTalking, true},
		{TalkHeld, TalkConsulting, true},
		{TalkConsulting, TalkHeld, true},
		{TalkConsulting, TalkTalking, true},
		{TalkConsulting, TalkConferenced, true},
		{TalkConferenced, TalkTalking, true},
		{TalkTalking, TalkConferenced, false},
		{TalkHeld, TalkConferenced, false},
		{TalkConferenced, TalkHeld, false},
		{TalkConferenced, TalkConsulting, false},
		{TalkHeld, TalkHeld, false},
		{"", TalkHeld, false},
	} {
		err := CheckTalkTransition(c.from, c.to)
		if c.legal != (err == nil) || (!c.legal && !errors.Is(err, ErrIllegalTransition)) {
			t.Errorf("%q → %q: %v, want legal %v", c.from, c.to, err, c.legal)
		}
	}
	// The recorded states are the actor's talk machine's, mapped.
	for s := range map[talkState]bool{talkTalking: true, talkHeld: true, talkConsultRinging: true, talkConsultRingingBack: true,
		talkConsulting: true, talkConsultOnHold: true, talkConference: true} {
		if _, ok := talkStateTransitions[s.recorded()]; !ok {
			t.Errorf("%s is recorded as %q, not in the table", s, s.recorded())
		}
	}
	// Every move of the actor's machine between recorded states is in the
	// Redis table (the hand-over and joins are recorded by other scripts).
	for ev, m := range talkTransitions {
		if ev == tevJoin || ev == tevLeave || ev == tevHandOver {
			continue
		}
		for from, to := range m {
			if rf, rt := from.recorded(), to.recorded(); rf != rt {
				if err := CheckTalkTransition(rf, rt); err != nil {
					t.Errorf("%s on %s → %s: %v", from, ev, to, err)
				}
			}
		}
	}
}
