package api

import (
	"context"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"

	"github.com/tandem-cc/tandem/acd"
	"github.com/tandem-cc/tandem/agents"
)

// actorCore is the fake core noting the actor each agent-route call
// finds in its context (acd.ActorOf): what the engine records beside the
// agent id.
type actorCore struct {
	*fakeCore
	mu     sync.Mutex
	actors []string
}

func (c *actorCore) note(ctx context.Context, what string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.actors = append(c.actors, what+" "+acd.ActorOf(ctx))
}

func (c *actorCore) Hold(ctx context.Context, id string) (acd.CallView, error) {
	c.note(ctx, "Hold("+id+")")
	return c.fakeCore.Hold(ctx, id)
}

func (c *actorCore) Logout(ctx context.Context, id string) (agents.Agent, error) {
	c.note(ctx, "Logout("+id+")")
	return c.fakeCore.Logout(ctx, id)
}

// TestGuardGivesTheCoreTheActor: the core's methods take only the agent
// acted for; who acted reaches them in the context, set by the guard for
// every principal, so a supervisor's hold or logout for an agent is never
// the agent's own.
func TestGuardGivesTheCoreTheActor(t *testing.T) {
	core := &actorCore{fakeCore: newFakeCore()}
	h := New(core, testAuth, nil)
	for _, c := range []struct{ path, token string }{
		{"/v1/agents/" + agentID + "/call/hold", agentTok},
		{"/v1/agents/" + agentID + "/call/hold", superTok},
		{"/v1/agents/" + otherID + "/logout", superTok},
		{"/v1/agents/" + otherID + "/logout", otherTok},
	} {
		r := httptest.NewRequest(http.MethodPost, c.path, nil)
		r.Header.Set("Authorization", "Bearer "+c.token)
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, r)
		if rec.Code != http.StatusOK {
			t.Fatalf("POST %s: %d %s", c.path, rec.Code, rec.Body)
		}
	}
	want := []string{
		"Hold(" + agentID + ") agent:" + agentID,
		"Hold(" + agentID + ") supervisor:supervisor-1", // the plain-list token's generated name
		"Logout(" + otherID + ") supervisor:supervisor-1",
		"Logout(" + otherID + ") agent:" + otherID,
	}
	if got := strings.Join(core.actors, "\n"); got != strings.Join(want, "\n") {
		t.Fatalf("actors the core saw:\n%s\nwant:\n%s", got, strings.Join(want, "\n"))
	}
}
