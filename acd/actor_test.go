package acd

import (
	"context"
	"encoding/json"
	"testing"
	"time"

	"github.com/tandem-cc/tandem/agents"
)

func TestActorContext(t *testing.T) {
	ctx := context.Background()
	if ActorOf(ctx) != "" || actorOrSystem(ctx) != ActorSystem {
		t.Fatalf("no principal: %q %q", ActorOf(ctx), actorOrSystem(ctx))
	}
	sup := WithActor(ctx, "supervisor:alice")
	if ActorOf(sup) != "supervisor:alice" || actorOrSystem(sup) != "supervisor:alice" {
		t.Fatalf("supervisor: %q %q", ActorOf(sup), actorOrSystem(sup))
	}
	for _, c := range []struct {
		actor, agent string
		audit        bool
	}{
		{"agent:a1", "a1", false},
		{"supervisor:alice", "a1", true},
		{"agent:a2", "a1", true}, // never allowed by the API; audited if it ever were
		{ActorSystem, "a1", false},
		{"", "a1", false},
		{"agent:a1x", "a1", true},
	} {
		if got := actsForOther(c.actor, c.agent); got != c.audit {
			t.Errorf("actsForOther(%q, %q) = %v, want %v", c.actor, c.agent, got, c.audit)
		}
	}
}

// A forwarded command is JSON in the owner's inbox stream: the actor
// must come out as it went in, or the owner's history would name nobody.
func TestForwardedCommandKeepsItsActor(t *testing.T) {
	cmd := withActor(WithActor(context.Background(), "supervisor:alice"), command{ID: "x", Agent: "a1", Op: opHold})
	data, err := json.Marshal(cmd)
	if err != nil {
		t.Fatal(err)
	}
	var back command
	if err := json.Unmarshal(data, &back); err != nil {
		t.Fatal(err)
	}
	if back.Actor != "supervisor:alice" || back != cmd {
		t.Fatalf("round trip %+v, want %+v", back, cmd)
	}
	// A command that has an actor keeps it whatever ctx says.
	if c := withActor(context.Background(), back); c.Actor != "supervisor:alice" {
		t.Fatalf("actor %q", c.Actor)
	}
	if c := withActor(context.Background(), command{Op: opHold}); c.Actor != ActorSystem {
		t.Fatalf("no principal: actor %q", c.Actor)
	}
}

// historyOf is the history entries of kind about id, oldest first.
func historyOf(t *testing.T, s *tStore, kind, id string) []map[string]any {
	t.Helper()
	msgs, err := s.rdb.XRange(context.Background(), s.keys.Events(), "-", "+").Result()
	if err != nil {
		t.Fatal(err)
	}
	var out []map[string]any
	for _, m := range msgs {
		if m.Values["kind"] == kind && m.Values["id"] == id {
			out = append(out, m.Values)
		}
	}
	return out
}

// An agent's state changes name who asked: the principal in the context
// for a login, a state change or a code; the system for what nobody
// asked for (an offer, the end of a call, a wrap-up timeout), even when
// the context it runs in carries a principal.
func TestAgentHistoryNamesTheActor(t *testing.T) {
	s := newTestStore(t, "n1").WithPolicy(Policy{WrapUp: 50 * time.Millisecond})
	ctx := context.Background()
	sup := WithActor(ctx, "supervisor:alice")
	own := WithActor(ctx, "agent:a1")
	if _, err := s.Login(sup, "a1", "PJSIP/a1", []string{"sales"}, nil); err != nil {
		t.Fatal(err)
	}
	if _, err := s.SetState(own, "a1", agents.EvAvailable, ""); err != nil {
		t.Fatal(err)
	}
	o := arriveQueued(t, s, "c1", "sales", 0)
	if o == nil || o.Agent != "a1" {
		t.Fatalf("offer %+v", o)
	}
	if err := s.Ringing(ctx, *o, "c1-leg"); err != nil {
		t.Fatal(err)
	}
	if err := s.Connect(ctx, "c1", "a1", "c1-leg"); err != nil {
		t.Fatal(err)
	}
	if _, _, err := s.Finish(ctx, "c1", "hangup", "caller"); err != nil {
		t.Fatal(err)
	}
	finished, err := s.rdb.Time(ctx).Result()
	if err != nil {
		t.Fatal(err)
	}
	waitRedisPast(t, s.rdb, finished.Add(50*time.Millisecond))
	if _, _, err := s.WrapUpTimeout(sup, "a1", "resolved"); err != nil {
		t.Fatal(err)
	}
	want := []struct{ to, actor string }{
		{"idle", "supervisor:alice"},
		{"available", "agent:a1"},
		{"reserved", ActorSystem},
		{"ringing", ActorSystem},
		{"connected", ActorSystem},
		{"wrapup", ActorSystem},
		{"available", ActorSystem},
	}
	got := historyOf(t, s, "agent", "a1")
	if len(got) != len(want) {
		t.Fatalf("history %v, want %d entries", got, len(want))
	}
	for i, w := range want {
		if got[i]["to"] != w.to || got[i]["actor"] != w.actor {
			t.Errorf("entry %d: %v, want to=%s actor=%s", i, got[i], w.to, w.actor)
		}
	}
	if w := historyOf(t, s, "wrapup", "a1"); len(w) != 1 || w[0]["actor"] != ActorSystem || w[0]["by"] != "timeout" {
		t.Errorf("wrap-up entries %v, want one by the timeout, actor system", w)
	}
}
