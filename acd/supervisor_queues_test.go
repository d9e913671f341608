package acd

import (
	"context"
	"errors"
	"log/slog"
	"slices"
	"testing"
	"time"

	"github.com/tandem-cc/tandem/agents"
	"github.com/tandem-cc/tandem/errs"
)

// queuesEngine is an engine of node n1 over s's Redis, with queues sales,
// support and billing.
func queuesEngine(s *tStore) *Engine {
	return NewEngine(Options{Store: NewStore(s.rdb, "t", "n1"), Logger: slog.New(slog.DiscardHandler),
		Queues: map[string]QueueSettings{"sales": {}, "support": {}, "billing": {}}})
}

// inQueue reports whether agent is in queue's available set and routing
// index (and checks the two agree), with its score in the available set.
func inQueue(t *testing.T, s *tStore, queue, agent string) (bool, float64) {
	t.Helper()
	ctx := context.Background()
	score, err := s.rdb.ZScore(ctx, s.keys.Available(queue), agent).Result()
	inSet := err == nil
	classes := 0
	for _, k := range indexKeys(t, s, queue, "elig") {
		if _, err := s.rdb.ZScore(ctx, k, agent).Result(); err == nil {
			classes++
		}
	}
	if inSet != (classes == 1) || classes > 1 {
		t.Errorf("%s in %s: available set %v but in %d index classes", agent, queue, inSet, classes)
	}
	return inSet, score
}

// TestSetAgentQueuesRoutesAtOnceAndIsAudited: an available agent moved to
// other queues leaves the old ones' sets at once, joins the new ones' in
// its place in line, and is offered a call waiting there; an idle agent
// keeps its state and uses the new queues when it becomes available.
// Each change is audited and told to the agent's desktop.
func TestSetAgentQueuesRoutesAtOnceAndIsAudited(t *testing.T) {
	ctx := context.Background()
	s := newTestStore(t, "n1")
	e := queuesEngine(s)
	loginAvailable(t, s, "a1", "sales")
	_, idleSince := inQueue(t, s, "sales", "a1")
	waitRedisTick(t, s.rdb)
	loginAvailable(t, s, "a2", "support")
	events, err := e.SubscribeAgent(ctx, "a1")
	if err != nil {
		t.Fatal(err)
	}

	a, err := e.SetAgentQueues(ctx, "a1", []string{"support", "billing"}, "cover support", "supervisor:ops")
	if err != nil {
		t.Fatal(err)
	}
	if a.State != agents.Available || !slices.Equal(a.Queues, []string{"support", "billing"}) {
		t.Fatalf("agent after: %+v", a)
	}
	if in, _ := inQueue(t, s, "sales", "a1"); in {
		t.Error("a1 still routed in sales")
	}
	for _, q := range []string{"support", "billing"} {
		if in, score := inQueue(t, s, q, "a1"); !in || score != idleSince {
			t.Errorf("a1 in %s: %v with idle-since %v, want its place in line %v", q, in, score, idleSince)
		}
	}
	if au := lastAudit(t, s); au["kind"] != "set_agent_queues" || au["agent"] != "a1" || au["actor"] != "supervisor:ops" ||
		au["who"] != "supervisor:ops" || au["reason"] != "cover support" || au["before"] != "sales" ||
		au["after"] != "support,billing" || au["state"] != "available" || au["at"] == "" {
		t.Errorf("audit entry %v", au)
	}
	select {
	case ev := <-events:
		if ev.Type != "queues" || ev.Agent != "a1" || ev.State != agents.Available || !slices.Equal(ev.Queues, []string{"support", "billing"}) {
			t.Errorf("desktop event %+v", ev)
		}
	case <-time.After(30 * time.Second):
		t.Fatal("no event on a1's channel")
	}

	// A call waits in sales, where nobody is; a1 moved there is offered
	// it at once (through the owner's inbox).
	arriveQueued(t, s, "c1", "sales", 0)
	a, err = e.SetAgentQueues(ctx, "a1", []string{"sales"}, "sales is busy", "supervisor:ops")
	if err != nil {
		t.Fatal(err)
	}
	if a.State != agents.Reserved || a.ConnectionID != "c1" {
		t.Fatalf("a1 after moving to a queue with a waiting call: %s on %q, want reserved for c1", a.State, a.ConnectionID)
	}
	inbox, err := s.rdb.XRange(ctx, s.keys.Inbox("n1"), "-", "+").Result()
	if err != nil || len(inbox) != 1 || inbox[0].Values["conn"] != "c1" || inbox[0].Values["agent"] != "a1" {
		t.Fatalf("owner's inbox %v %v, want the offer of c1 to a1", inbox, err)
	}
	for _, q := range []string{"support", "billing", "sales"} {
		if in, _ := inQueue(t, s, q, "a1"); in {
			t.Errorf("reserved a1 still available in %s", q)
		}
	}
	checkRoutingState(t, s)

	// An idle agent keeps its state; the new queues apply when it becomes
	// available.
	if _, err := s.Login(ctx, "a3", "PJSIP/a3", []string{"sales"}, nil); err != nil {
		t.Fatal(err)
	}
	if a, err = e.SetAgentQueues(ctx, "a3", []string{"billing"}, "training done", "supervisor:ops"); err != nil || a.State != agents.Idle {
		t.Fatalf("idle a3: %+v %v", a, err)
	}
	if in, _ := inQueue(t, s, "billing", "a3"); in {
		t.Error("idle a3 made available by a change of queues")
	}
	if _, err := s.SetState(ctx, "a3", agents.EvAvailable, ""); err != nil {
		t.Fatal(err)
	}
	if in, _ := inQueue(t, s, "billing", "a3"); !in {
		t.Error("a3 available but not in its new queue")
	}
	if in, _ := inQueue(t, s, "sales", "a3"); in {
		t.Error("a3 available in its old queue")
	}

	// The history has one entry per change, of its own kind: the agents'
	// state table is not asked to accept available → available.
	msgs, err := s.rdb.XRange(ctx, s.keys.Events(), "-", "+").Result()
	if err != nil {
		t.Fatal(err)
	}
	var changes []string
	for _, m := range msgs {
		if m.Values["kind"] == "queues" {
			changes = append(changes, m.Values["id"].(string)+": "+m.Values["from"].(string)+" → "+m.Values["to"].(string))
		}
	}
	want := []string{"a1: sales → support,billing", "a1: support,billing → sales", "a3: sales → billing"}
	if !slices.Equal(changes, want) {
		t.Errorf("history of queue changes %q, want %q", changes, want)
	}
}

// TestSetAgentQueuesRefusals: bad queue lists, an unknown or logged-out
// agent are refused and change nothing.
func TestSetAgentQueuesRefusals(t *testing.T) {
	ctx := context.Background()
	s := newTestStore(t, "n1")
	e := queuesEngine(s)
	loginAvailable(t, s, "a1", "sales")
	if _, err := s.Login(ctx, "gone", "PJSIP/gone", []string{"sales"}, nil); err != nil {
		t.Fatal(err)
	}
	if _, err := s.SetState(ctx, "gone", agents.EvLogout, ""); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name, agent string
		queues      []string
		field       string
		sentinel    error
	}{
		{"no queue", "a1", nil, "queues", nil},
		{"unknown queue", "a1", []string{"support", "nope"}, "queues", nil},
		{"queue twice", "a1", []string{"support", "support"}, "queues", nil},
		{"unknown agent", "nobody", []string{"support"}, "", ErrNotFound},
		{"logged out", "gone", []string{"support"}, "", ErrIllegalTransition},
	} {
		t.Run(tc.name, func(t *testing.T) {
			before := s.rdb.XLen(ctx, s.keys.Audit()).Val()
			_, err := e.SetAgentQueues(ctx, tc.agent, tc.queues, "why", "supervisor:ops")
			var fe *errs.FieldError
			switch {
			case tc.field != "" && (!errors.As(err, &fe) || fe.Field != tc.field):
				t.Fatalf("err %v, want a field error on %s", err, tc.field)
			case tc.sentinel != nil && !errors.Is(err, tc.sentinel):
				t.Fatalf("err %v, want %v", err, tc.sentinel)
			}
			if a, _ := s.Agent(ctx, "a1"); !slices.Equal(a.Queues, []string{"sales"}) {
				t.Errorf("a1's queues became %v", a.Queues)
			}
			if after := s.rdb.XLen(ctx, s.keys.Audit()).Val(); after != before {
				t.Errorf("a refusal was audited (%d → %d entries)", before, after)
			}
		})
	}
	if _, err := e.SetAgentQueues(ctx, "a1", []string{"support"}, "why", ""); err == nil {
		t.Error("a change with nobody to audit was made")
	}
}
