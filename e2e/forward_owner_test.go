package e2e

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/tandem-cc/tandem/acd"
	"github.com/tandem-cc/tandem/agents"
	"github.com/tandem-cc/tandem/api"
	"github.com/tandem-cc/tandem/config"
	"github.com/tandem-cc/tandem/internal/keyspace"
	"github.com/tandem-cc/tandem/pbxsim"
)

// TestCommandForStoppedOwnerAnswers503: the agent's desktop talks to
// replica r2, the call is owned by r1, and r1's engine has stopped. POST
// /call/end on r2 answers 503 with a retryable error in words and a
// Retry-After, never 500 nor a Redis error; the command is not left in
// r1's inbox to run later, and the call's state is untouched.
func TestCommandForStoppedOwnerAnswers503(t *testing.T) {
	l := startControlLab(t, controlOptions{replicas: 2})
	ctx := context.Background()
	l.agent(1, "a1", "PJSIP/1001", false, "sales")
	leg, err := l.Sim.Call(pbxsim.Caller{App: "tandem-r1", ANI: "+12025550199", DNIS: "800"})
	if err != nil {
		t.Fatal(err)
	}
	ix := waitState(t, l.Lab, interactionOf(t, l.Lab, leg).ConnectionID, acd.StateConnected)
	if ix.Owner != "r1" {
		t.Fatalf("owner %s", ix.Owner)
	}
	keys := keyspace.New("tandem")
	if n, err := l.RDB.Exists(ctx, keys.ReplicaAlive("r1")).Result(); err != nil || n != 1 {
		t.Fatalf("r1's liveness key while it runs: %d %v", n, err)
	}

	if err := l.Replicas[0].Stop(); err != nil {
		t.Fatalf("stop r1: %v", err)
	}
	if n, err := l.RDB.Exists(ctx, keys.ReplicaAlive("r1")).Result(); err != nil || n != 0 {
		t.Fatalf("r1's liveness key after a clean stop: %d %v", n, err)
	}

	auth := config.Auth{Agents: []config.AgentToken{{Agent: "a1", Token: "tok-a1"}}}
	srv := httptest.NewServer(api.New(l.Replicas[1].Engine, auth, nil))
	t.Cleanup(srv.Close)
	req, _ := http.NewRequest(http.MethodPost, srv.URL+"/v1/agents/a1/call/end", nil)
	req.Header.Set("Authorization", "Bearer tok-a1")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = resp.Body.Close() }()
	data, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != http.StatusServiceUnavailable {
		t.Fatalf("status %d, want 503: %s", resp.StatusCode, data)
	}
	if ct := resp.Header.Get("Content-Type"); ct != "application/json" {
		t.Errorf("Content-Type %q", ct)
	}
	if ra := resp.Header.Get("Retry-After"); ra != "5" {
		t.Errorf("Retry-After %q, want 5", ra)
	}
	var body struct {
		Error string `json:"error"`
	}
	if err := json.Unmarshal(data, &body); err != nil {
		t.Fatalf("body %s: %v", data, err)
	}
	if !strings.Contains(body.Error, "not running") || !strings.Contains(body.Error, "retry") {
		t.Errorf("error %q does not say the owner is gone and to retry", body.Error)
	}
	if strings.Contains(strings.ToLower(body.Error), "redis") {
		t.Errorf("error leaks Redis: %q", body.Error)
	}

	// Nothing was sent to the dead owner: a restarted r1 has no stale
	// command to run.
	msgs, err := l.RDB.XRange(ctx, keys.Inbox("r1"), "-", "+").Result()
	if err != nil {
		t.Fatal(err)
	}
	for _, m := range msgs {
		if m.Values["type"] == "command" {
			t.Errorf("command left in r1's inbox: %v", m.Values)
		}
	}
	if st := agentState(t, l.Lab, "a1"); st != agents.Connected {
		t.Errorf("a1 is %s after a refused end, want connected", st)
	}
}
