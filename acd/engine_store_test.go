package acd

import (
	"context"
	"log/slog"
	"strings"
	"testing"

	"github.com/tandem-cc/tandem/agents"
	"github.com/tandem-cc/tandem/internal/redistest"
	"github.com/tandem-cc/tandem/internal/syncbuf"
)

// TestHistoryWriteFailureIsLoggedAndCounted: a history append Redis
// refuses is logged (naming the call and the action) and counted on the
// engine's stats; one that succeeds is in the stream and not counted.
func TestHistoryWriteFailureIsLoggedAndCounted(t *testing.T) {
	ctx := context.Background()
	rdb := redistest.Client(t)
	var logs syncbuf.Buffer
	e := NewEngine(Options{Store: NewStore(rdb, "t", "n1"), Logger: slog.New(slog.NewJSONHandler(&logs, nil))})
	events := e.store.keys.Events()

	// The stream's key holds a string: Redis refuses XADD (WRONGTYPE).
	if err := rdb.Set(ctx, events, "not a stream", 0).Err(); err != nil {
		t.Fatal(err)
	}
	e.store.Record(ctx, "c1", "hold", "agent", "a1")
	if n := e.Stats().HistoryWriteFailures(); n != 1 {
		t.Fatalf("failures counted %d, want 1", n)
	}
	line := logs.String()
	if !strings.Contains(line, `"msg":"history write failed"`) || !strings.Contains(line, `"connection_id":"c1"`) ||
		!strings.Contains(line, `"action":"hold"`) || !strings.Contains(line, "WRONGTYPE") {
		t.Fatalf("log %s", line)
	}

	if err := rdb.Del(ctx, events).Err(); err != nil {
		t.Fatal(err)
	}
	e.store.Record(ctx, "c1", "resume", "agent", "a1")
	if n := e.Stats().HistoryWriteFailures(); n != 1 {
		t.Fatalf("failures counted %d after a good write, want 1", n)
	}
	msgs, err := rdb.XRange(ctx, events, "-", "+").Result()
	if err != nil || len(msgs) != 1 || msgs[0].Values["action"] != "resume" || msgs[0].Values["id"] != "c1" {
		t.Fatalf("history %+v %v", msgs, err)
	}
}

// TestEngineGivesBackOffersForCallsItDoesNotRun: the engine's delivery
// path takes every offer its store makes. An offer for a call this node
// runs no actor for (it ended here, or the node restarted) is not left
// pending: the call is failed and the agent released — and the offer the
// agent then gets is delivered the same way, so the agent ends available,
// never reserved for a call nobody rings.
func TestEngineGivesBackOffersForCallsItDoesNotRun(t *testing.T) {
	ctx := context.Background()
	rdb := redistest.Client(t)
	e := NewEngine(Options{Store: NewStore(rdb, "t", "n1"), Logger: slog.New(slog.DiscardHandler)})
	s := e.store
	for _, conn := range []string{"c1", "c2"} {
		if _, err := s.Arrive(ctx, conn, conn+"-leg", "1", "2", nil); err != nil {
			t.Fatal(err)
		}
		if err := s.Enqueue(ctx, conn, "sales", 0); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := s.Login(ctx, "a1", "PJSIP/a1", []string{"sales"}, nil); err != nil {
		t.Fatal(err)
	}
	if err := s.SetState(ctx, "a1", agents.EvAvailable, ""); err != nil {
		t.Fatal(err)
	}
	for _, conn := range []string{"c1", "c2"} {
		ix, err := s.Interaction(ctx, conn)
		if err != nil || ix.State != "failed" || ix.Agent != "a1" {
			t.Fatalf("%s: %+v %v, want failed after an offer to a1", conn, ix, err)
		}
	}
	if a, err := s.Agent(ctx, "a1"); err != nil || a.State != agents.Available {
		t.Fatalf("a1 %+v %v, want available", a, err)
	}
}
