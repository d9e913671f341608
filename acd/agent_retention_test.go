package acd

import (
	"context"
	"errors"
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/tandem-cc/tandem/agents"
	"github.com/tandem-cc/tandem/errs"
)

// TestLoginRefusesBadAgentIDs: the core itself refuses an id that is not
// letters, digits, '_' and '-' (starting with a letter or digit), before
// any key is written, whoever calls it.
func TestLoginRefusesBadAgentIDs(t *testing.T) {
	s := newTestStore(t, "n1")
	ctx := context.Background()
	for _, id := range []string{"..", ".", "a.b", "@x", "a@b", "-x", "_x", "a:b", "a{b}", "a/b", "a b", "a\x00b", "", strings.Repeat("a", 65)} {
		_, err := s.Login(ctx, id, "PJSIP/1001", []string{"sales"}, nil)
		var fe *errs.FieldError
		if !errors.As(err, &fe) || fe.Field != "id" {
			t.Errorf("login %q: %v, want a field error on id", id, err)
		}
	}
	keys, err := s.rdb.Keys(ctx, "*").Result()
	if err != nil {
		t.Fatal(err)
	}
	if len(keys) != 0 {
		t.Fatalf("refused logins left keys %v", keys)
	}
	for _, id := range []string{"1001", "a", "agent_7", "x-1", strings.Repeat("a", 64)} {
		if _, err := s.Login(ctx, id, "PJSIP/1001", []string{"sales"}, nil); err != nil {
			t.Errorf("login %q: %v", id, err)
		}
	}
}

// TestLoggedOutAgentRecordExpires: a logout (the agent's or a
// supervisor's) gives the record the configured expiry and takes the agent
// out of the skills hash; a login again makes the record permanent.
func TestLoggedOutAgentRecordExpires(t *testing.T) {
	ctx := context.Background()
	const ttl = 3 * time.Hour
	s := newTestStore(t, "n1").WithPolicy(Policy{LoggedOutTTL: ttl})
	if _, err := s.Login(ctx, "a1", "PJSIP/a1", []string{"sales"}, map[string]int{"billing": 3}); err != nil {
		t.Fatal(err)
	}
	key := s.keys.Agent("a1")
	if d := s.rdb.PTTL(ctx, key).Val(); d != -1 {
		t.Fatalf("logged-in record has expiry %v", d)
	}
	if _, err := s.SetState(ctx, "a1", agents.EvLogout, ""); err != nil {
		t.Fatal(err)
	}
	if d := s.rdb.PTTL(ctx, key).Val(); d <= 0 || d > ttl {
		t.Fatalf("logged-out record expires in %v, want (0, %v]", d, ttl)
	}
	if n := s.rdb.HExists(ctx, s.keys.AgentSkills(), "a1").Val(); n {
		t.Error("logged-out agent still in the skills hash")
	}
	if _, err := s.Login(ctx, "a1", "PJSIP/a1", []string{"sales"}, map[string]int{"billing": 3}); err != nil {
		t.Fatal(err)
	}
	if d := s.rdb.PTTL(ctx, key).Val(); d != -1 {
		t.Fatalf("record after a new login expires in %v, want never", d)
	}
	if !s.rdb.HExists(ctx, s.keys.AgentSkills(), "a1").Val() {
		t.Error("logged-in agent not in the skills hash")
	}

	// A supervisor's forced logout expires the record alike.
	e := NewEngine(Options{Store: s.Store, Logger: slog.New(slog.DiscardHandler)})
	if _, err := e.ForceAgentState(ctx, "a1", agents.LoggedOut, "", "left for the day", "supervisor:0", false); err != nil {
		t.Fatal(err)
	}
	if d := s.rdb.PTTL(ctx, key).Val(); d <= 0 || d > ttl {
		t.Fatalf("record after a forced logout expires in %v, want (0, %v]", d, ttl)
	}
}

// TestExpiredAgentRecordLeavesNothingBehind: 50 agents log in and out
// with a tiny retention; once their records have expired, no key names
// them, and the views and counts that list agents still work (also with
// an id left in the logged-in set whose record is gone).
func TestExpiredAgentRecordLeavesNothingBehind(t *testing.T) {
	ctx := context.Background()
	s := newTestStore(t, "n1").WithPolicy(Policy{LoggedOutTTL: time.Millisecond})
	for i := range 50 {
		id := "gone" + string(rune('a'+i%26)) + strings.Repeat("x", i/26)
		if _, err := s.Login(ctx, id, "PJSIP/"+id, []string{"sales"}, map[string]int{"billing": 3}); err != nil {
			t.Fatal(err)
		}
		if _, err := s.SetState(ctx, id, agents.EvLogout, ""); err != nil {
			t.Fatal(err)
		}
	}
	loginAvailable(t, s, "stays", "sales")
	// Expiry is Redis's own; reading a key expires it once its time
	// passed, so this waits for the event, not for a guessed delay.
	deadline := time.Now().Add(30 * time.Second)
	for {
		left := agentKeys(t, s.rdb, s.keys.Agent(""))
		if len(left) == 1 && left[0] == s.keys.Agent("stays") {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("agent records left: %v", left)
		}
		time.Sleep(time.Millisecond)
	}
	if n := s.rdb.HLen(ctx, s.keys.AgentSkills()).Val(); n != 0 {
		t.Errorf("skills hash has %d entries, want 0 (logged-in agent without skills)", n)
	}
	// A stale id in the logged-in set, its record gone, is skipped.
	s.rdb.SAdd(ctx, s.keys.Agents(), "ghost")
	counts, err := s.AgentCounts(ctx, "sales")
	if err != nil {
		t.Fatal(err)
	}
	if len(counts) != 1 || counts[agents.Available] != 1 {
		t.Errorf("agent counts %v, want 1 available", counts)
	}
	view, err := s.Queue(ctx, "sales")
	if err != nil {
		t.Fatal(err)
	}
	if got := view.Agents[agents.Available]; len(got) != 1 || got[0] != "stays" {
		t.Errorf("queue view agents %v", view.Agents)
	}
	e := NewEngine(Options{Store: s.Store, Logger: slog.New(slog.DiscardHandler)})
	byState, _, err := newStateCollector(e).stateCounts(ctx, nil)
	if err != nil {
		t.Fatal(err)
	}
	if len(byState) != 1 || byState["available"] != 1 {
		t.Errorf("state counts %v, want 1 available", byState)
	}
}

// agentKeys lists the keys starting with prefix.
func agentKeys(t *testing.T, rdb redis.UniversalClient, prefix string) []string {
	t.Helper()
	var out []string
	iter := rdb.Scan(context.Background(), 0, prefix+"*", 100).Iterator()
	for iter.Next(context.Background()) {
		out = append(out, iter.Val())
	}
	if err := iter.Err(); err != nil {
		t.Fatal(err)
	}
	return out
}
