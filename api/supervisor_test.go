package api

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"testing"

	"github.com/tandem-cc/tandem/acd"
	"github.com/tandem-cc/tandem/agents"
	"github.com/tandem-cc/tandem/config"
	"github.com/tandem-cc/tandem/errs"
)

// The fake core's supervisor side (SupervisorCore).

func (f *fakeCore) ForceEnd(_ context.Context, conn, who, reason string) (acd.ForceEndResult, error) {
	if err := f.record("ForceEnd(%s,%s,%s)", conn, who, reason); err != nil {
		return acd.ForceEndResult{}, err
	}
	return acd.ForceEndResult{ConnectionID: conn, Before: "connected", After: "ended", Path: acd.ForcedDeadOwner}, nil
}

func (f *fakeCore) ForceAgentState(_ context.Context, agent string, state agents.State, idleReason, reason, who string, forceEnd bool) (acd.ForceAgentResult, error) {
	if err := f.record("ForceAgentState(%s,%s,%s,%s,%s,%v)", agent, state, idleReason, reason, who, forceEnd); err != nil {
		return acd.ForceAgentResult{}, err
	}
	return acd.ForceAgentResult{Agent: agents.Agent{ID: agent, State: state, Since: since}, Before: agents.Connected}, nil
}

const (
	forceEndPath   = "/v1/supervisor/interactions/c-1/end"
	forceStatePath = "/v1/supervisor/agents/1001/state"
)

func TestSupervisorRoutesAuth(t *testing.T) {
	for _, tc := range []struct {
		name, path, body string
	}{
		{"end", forceEndPath, `{"reason":"stuck"}`},
		{"state", forceStatePath, `{"state":"logged_out","reason":"stuck"}`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			w := newWorld(t)
			if rec := w.do("POST", tc.path, "", tc.body); rec.Code != http.StatusUnauthorized {
				t.Errorf("no token: %d", rec.Code)
			}
			if rec := w.do("POST", tc.path, wrongTok, tc.body); rec.Code != http.StatusUnauthorized {
				t.Errorf("wrong token: %d", rec.Code)
			}
			// Even for itself, an agent may not use them.
			wantRefusedBeforeCore(t, w, w.do("POST", tc.path, agentTok, tc.body), http.StatusForbidden, "")
			if rec := w.do("GET", tc.path, superTok, ""); rec.Code != http.StatusMethodNotAllowed {
				t.Errorf("GET: %d", rec.Code)
			}
		})
	}
}

// TestSupervisorIdentityIsTheConfiguredName: the core is told who acted
// as "supervisor:<name>", the name auth.supervisors gives the token, or
// the generated "supervisor-<n>" of an unnamed (plain-string) entry.
func TestSupervisorIdentityIsTheConfiguredName(t *testing.T) {
	core := newFakeCore()
	h := New(core, config.Auth{Supervisors: []config.SupervisorToken{{Token: "tok-s0"}, {Name: "bob", Token: "tok-s1"}}}, nil)
	w := &world{core: core, h: h, logs: &syncBuffer{}}
	if rec := w.do("POST", forceEndPath, "tok-s1", `{"reason":"caller gone, agent stuck"}`); rec.Code != http.StatusOK {
		t.Fatalf("status %d: %s", rec.Code, rec.Body)
	}
	if rec := w.do("POST", forceStatePath, "tok-s0", `{"state":"idle","reason":"r","idle_reason":"meeting","force_end":true}`); rec.Code != http.StatusOK {
		t.Fatalf("status %d: %s", rec.Code, rec.Body)
	}
	want := []string{
		"ForceEnd(c-1,supervisor:bob,caller gone, agent stuck)",
		"ForceAgentState(1001,idle,meeting,r,supervisor:supervisor-1,true)",
	}
	if got := w.core.Calls(); strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Errorf("calls %q, want %q", got, want)
	}
}

func TestSupervisorRoutesBadInput(t *testing.T) {
	long := strings.Repeat("x", 257)
	for _, tc := range []struct {
		name, path, body, field string
		status                  int
	}{
		{"end: bad conn", "/v1/supervisor/interactions/c.1/end", `{"reason":"x"}`, "connection_id", 400},
		{"end: no body", forceEndPath, ``, "", 400},
		{"end: no reason", forceEndPath, `{}`, "reason", 400},
		{"end: long reason", forceEndPath, `{"reason":"` + long + `"}`, "reason", 400},
		{"end: control char", forceEndPath, `{"reason":"a\u0007"}`, "reason", 400},
		{"end: unknown field", forceEndPath, `{"reason":"x","why":"y"}`, "why", 400},
		{"state: bad agent id", "/v1/supervisor/agents/a%20b/state", `{"state":"idle","reason":"x"}`, "id", 400},
		{"state: no state", forceStatePath, `{"reason":"x"}`, "state", 400},
		{"state: connected", forceStatePath, `{"state":"connected","reason":"x"}`, "state", 400},
		{"state: no reason", forceStatePath, `{"state":"available"}`, "reason", 400},
		{"state: idle reason off idle", forceStatePath, `{"state":"available","reason":"x","idle_reason":"lunch"}`, "idle_reason", 400},
		{"state: long idle reason", forceStatePath, `{"state":"idle","reason":"x","idle_reason":"` + long + `"}`, "idle_reason", 400},
		{"state: force_end not a bool", forceStatePath, `{"state":"idle","reason":"x","force_end":"yes"}`, "force_end", 400},
	} {
		t.Run(tc.name, func(t *testing.T) {
			w := newWorld(t)
			wantRefusedBeforeCore(t, w, w.do("POST", tc.path, superTok, tc.body), tc.status, tc.field)
		})
	}
}

func TestSupervisorRoutesCoreErrors(t *testing.T) {
	for _, tc := range []struct {
		name, path, body string
		err              error
		status           int
	}{
		{"end: unknown call", forceEndPath, `{"reason":"x"}`, fmt.Errorf("interaction c-1: %w", errs.ErrNotFound), 404},
		{"end: already over", forceEndPath, `{"reason":"x"}`, fmt.Errorf("call c-1 is already ended: %w", errs.ErrIllegalTransition), 409},
		{"end: redis down", forceEndPath, `{"reason":"x"}`, fmt.Errorf("dial 10.1.2.3:6379: refused"), 500},
		{"state: unknown agent", forceStatePath, `{"state":"idle","reason":"x"}`, fmt.Errorf("agent 1001: %w", errs.ErrNotFound), 404},
		{"state: logged out", forceStatePath, `{"state":"available","reason":"x"}`, fmt.Errorf("ILLEGAL logged_out: %w", errs.ErrIllegalTransition), 409},
	} {
		t.Run(tc.name, func(t *testing.T) {
			w := newWorld(t)
			w.core.err = tc.err
			wantCoreErrorMapped(t, w, w.do("POST", tc.path, superTok, tc.body), tc.status, "")
		})
	}
}

// TestForceStateOnLiveCallNamesTheCall: the 409 says which call holds the
// agent and which replica runs it, and how to go on (force_end).
func TestForceStateOnLiveCallNamesTheCall(t *testing.T) {
	w := newWorld(t)
	w.core.err = &acd.AgentOnCallError{Agent: "1001", ConnectionID: "c-9", State: "connected", Owner: "r1"}
	rec := w.do("POST", forceStatePath, superTok, `{"state":"logged_out","reason":"x"}`)
	if rec.Code != http.StatusConflict {
		t.Fatalf("status %d: %s", rec.Code, rec.Body)
	}
	var b agentOnCallBody
	if err := json.NewDecoder(rec.Body).Decode(&b); err != nil {
		t.Fatal(err)
	}
	if b.ConnectionID != "c-9" || b.Owner != "r1" || b.Field != "force_end" || !strings.Contains(b.Error, "force_end") {
		t.Errorf("body %+v", b)
	}
}

func TestForceEndAnswersWhatWasDone(t *testing.T) {
	w := newWorld(t)
	rec := w.do("POST", forceEndPath, superTok, `{"reason":"x"}`)
	if rec.Code != http.StatusOK {
		t.Fatalf("status %d: %s", rec.Code, rec.Body)
	}
	var res acd.ForceEndResult
	if err := json.NewDecoder(rec.Body).Decode(&res); err != nil {
		t.Fatal(err)
	}
	if res.ConnectionID != "c-1" || res.After != "ended" || res.Path != acd.ForcedDeadOwner {
		t.Errorf("result %+v", res)
	}
}

// TestSupervisorRoutesWithoutSupervisorCore: a core that cannot carry the
// overrides out answers 501, after the token checks.
func TestSupervisorRoutesWithoutSupervisorCore(t *testing.T) {
	core := newFakeCore()
	w := &world{core: core, h: New(struct{ Core }{core}, testAuth, nil), logs: &syncBuffer{}}
	if rec := w.do("POST", forceEndPath, agentTok, `{"reason":"x"}`); rec.Code != http.StatusForbidden {
		t.Errorf("agent token: %d", rec.Code)
	}
	wantRefusedBeforeCore(t, w, w.do("POST", forceEndPath, superTok, `{"reason":"x"}`), http.StatusNotImplemented, "")
}
