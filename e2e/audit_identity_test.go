package e2e

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/tandem-cc/tandem/acd"
	"github.com/tandem-cc/tandem/api"
	"github.com/tandem-cc/tandem/config"
	"github.com/tandem-cc/tandem/internal/keyspace"
	"github.com/tandem-cc/tandem/internal/lab"
)

// Issue 11, "Audit and identity": every token has an identity, and the
// audit stream records who acted and on whose behalf for every reveal and
// every supervisor action. A supervisor's reveal used to be written as the
// agent's (who=a1).

func sha256Hex(tok string) string {
	d := sha256.Sum256([]byte(tok))
	return hex.EncodeToString(d[:])
}

// TestAuditNamesActorAndSubject drives a real engine through the HTTP API
// with tokens configured only as digests, and reads the audit stream in
// Redis: the agent's reveal is the agent's, the supervisor's reveal of the
// same value names the supervisor acting for the agent, and the forced
// end and forced state name the supervisor, the agent and the call.
func TestAuditNamesActorAndSubject(t *testing.T) {
	forEachPBX(t, func(t *testing.T, pbx lab.PBXKind) {
		const card = "4111111111111111"
		// A wrap-up longer than any test: a1 is still in wrap-up for the call
		// when its state is forced, however slow the machine.
		l := startControlLab(t, controlOptions{pbx: pbx, wrapUp: time.Hour})
		ctx := context.Background()
		l.agent(0, "a1", l.Endpoint("1001"), false, "sales")
		auth := config.Auth{
			Agents:      []config.AgentToken{{Agent: "a1", TokenSHA256: sha256Hex("tok-a1")}},
			Supervisors: []config.SupervisorToken{{Name: "alice", TokenSHA256: sha256Hex("tok-alice")}},
		}
		srv := httptest.NewServer(api.New(l.engine(), auth, nil))
		t.Cleanup(srv.Close)

		ix := l.talking(map[string]string{"CARD": card})
		conn := ix.ConnectionID
		const reveal = "/v1/agents/a1/call/variables/CARD/reveal"
		for _, tok := range []string{"tok-a1", "tok-alice"} {
			if st, body := call(t, srv, "POST", reveal, tok, ""); st != http.StatusOK || body["value"] != card {
				t.Fatalf("reveal with %s: %d %v", tok, st, body)
			}
		}
		if st, body := call(t, srv, "POST", reveal, sha256Hex("tok-a1"), ""); st != http.StatusUnauthorized {
			t.Fatalf("the digest itself as a token: %d %v", st, body)
		}
		if st, body := call(t, srv, "POST", "/v1/supervisor/interactions/"+conn+"/end", "tok-alice",
			`{"reason":"caller stuck in silence"}`); st != http.StatusOK {
			t.Fatalf("force end: %d %v", st, body)
		}
		waitState(t, l.Lab, conn, acd.StateEnded)
		if st, body := call(t, srv, "POST", "/v1/supervisor/agents/a1/state", "tok-alice",
			`{"state":"idle","reason":"coaching","idle_reason":"break"}`); st != http.StatusOK {
			t.Fatalf("force state: %d %v", st, body)
		}

		entries, err := l.RDB.XRange(ctx, keyspace.New("tandem").Audit(), "-", "+").Result()
		if err != nil {
			t.Fatal(err)
		}
		want := []map[string]string{
			{"kind": "reveal", "actor": "agent:a1", "agent": "a1", "connection_id": conn, "name": "CARD"},
			{"kind": "reveal", "actor": "supervisor:alice", "agent": "a1", "connection_id": conn, "name": "CARD"},
			{"kind": "force_end", "actor": "supervisor:alice", "agent": "a1", "connection_id": conn, "reason": "caller stuck in silence"},
			// After the forced end a1 is in wrap-up for that call (an hour of
			// it): the forced state names that call too.
			{"kind": "force_agent_state", "actor": "supervisor:alice", "agent": "a1", "connection_id": conn,
				"reason": "coaching", "before": "wrapup", "after": "idle"},
		}
		if len(entries) != len(want) {
			t.Fatalf("%d audit entries, want %d: %v", len(entries), len(want), entries)
		}
		for i, w := range want {
			got := entries[i].Values
			for k, v := range w {
				if got[k] != v {
					t.Errorf("audit entry %d: %s = %v, want %q (entry %v)", i, k, got[k], v, got)
				}
			}
			// who, kept for readers of the older entries, is the actor too.
			if got["who"] != w["actor"] || got["at"] == "" {
				t.Errorf("audit entry %d: who %v at %v (entry %v)", i, got["who"], got["at"], got)
			}
			if strings.Contains(fmt.Sprint(got), card) {
				t.Errorf("audit entry %d holds the card: %v", i, got)
			}
		}
	})
}
