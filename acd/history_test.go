package acd

import (
	"context"
	"log/slog"
	"strings"
	"testing"

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
