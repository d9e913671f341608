package e2e

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/tandem-cc/tandem/acd"
	"github.com/tandem-cc/tandem/agents"
	"github.com/tandem-cc/tandem/api"
	"github.com/tandem-cc/tandem/config"
	"github.com/tandem-cc/tandem/internal/keyspace"
	"github.com/tandem-cc/tandem/internal/lab"
	"github.com/tandem-cc/tandem/pbxsim"
)

// Issue 11, "Audit and identity": a supervisor token may use every
// /v1/agents/{id}/... route. What it does there used to be recorded as the
// agent's own action (the history named only the agent). Now every entry
// such an action writes names the actor beside the agent, and an action
// a principal takes for another agent is in the audit stream too.

// streamEntries reads a whole stream of the lab's Redis.
func streamEntries(t *testing.T, l *controlLab, stream string) []map[string]any {
	t.Helper()
	msgs, err := l.RDB.XRange(context.Background(), stream, "-", "+").Result()
	if err != nil {
		t.Fatal(err)
	}
	out := make([]map[string]any, 0, len(msgs))
	for _, m := range msgs {
		out = append(out, m.Values)
	}
	return out
}

// has reports whether entry e holds every field of want.
func has(e map[string]any, want map[string]string) bool {
	for k, v := range want {
		if e[k] != v {
			return false
		}
	}
	return true
}

// wantEntries checks that entries holds, in this order (others between
// them allowed), one entry matching each of want.
func wantEntries(t *testing.T, what string, entries []map[string]any, want ...map[string]string) {
	t.Helper()
	i := 0
	for _, e := range entries {
		if i < len(want) && has(e, want[i]) {
			i++
		}
	}
	if i < len(want) {
		t.Errorf("%s: no entry %v (after the ones before it) in %v", what, want[i], entries)
	}
}

// TestSupervisorActionsForAgentNameActorAndAgent: a supervisor (alice)
// holds, resumes, edits a variable of and transfers a1's call, wraps a1
// up, ends a1's next call and logs a2 out, all through a1's and a2's own
// routes; a1 holds and resumes its call itself first. The API is served
// by replica r2 while r1 owns the calls, so every call-control command
// crosses to r1 through its inbox stream: the history r1 writes names the
// actor r2 authenticated. The history names actor and agent for every
// step; the audit stream holds the supervisor's steps and none of a1's own.
func TestSupervisorActionsForAgentNameActorAndAgent(t *testing.T) {
	forEachPBX(t, func(t *testing.T, pbx lab.PBXKind) {
		l := startControlLab(t, controlOptions{pbx: pbx, replicas: 2, wrapUp: time.Hour})
		keys := keyspace.New("tandem")
		outside := l.Endpoint("+442079460958")
		l.PBX.SetPhone(outside, pbxsim.Phone{Mode: pbxsim.Answer, RingFor: 20 * time.Millisecond, TalkFor: 300 * time.Millisecond})
		// Logged in through the core with no API principal: the system's.
		l.agent(0, "a1", l.Endpoint("1001"), false, "sales")
		l.agent(0, "a2", l.Endpoint("1002"), true, "support")
		auth := config.Auth{
			Supervisors: []config.SupervisorToken{{Name: "alice", Token: supTok}},
			Agents:      []config.AgentToken{{Agent: "a1", Token: agentTokA1}},
		}
		srv := httptest.NewServer(api.New(l.Replicas[1].Engine, auth, nil))
		t.Cleanup(srv.Close)
		if l.Replicas[1].Engine == l.Replicas[0].Engine {
			t.Fatal("one engine for both replicas")
		}
		post := func(tok, path, body string) {
			t.Helper()
			if st, out := call(t, srv, "POST", path, tok, body); st != http.StatusOK {
				t.Fatalf("POST %s as %s: %d %v", path, tok, st, out)
			}
		}
		callOnR1 := func() acd.Interaction {
			t.Helper()
			leg, err := l.PBX.Call(pbxsim.Caller{App: "tandem-r1", ANI: "+12025550199", DNIS: "800"})
			if err != nil {
				t.Fatal(err)
			}
			ix := waitState(t, l.Lab, interactionOf(t, l.Lab, leg).ConnectionID, acd.StateConnected)
			if ix.Owner != "r1" || ix.Agent != "a1" {
				t.Fatalf("interaction %+v, want a1's on r1", ix)
			}
			return ix
		}

		first := callOnR1()
		post(agentTokA1, "/v1/agents/a1/call/hold", "")
		post(agentTokA1, "/v1/agents/a1/call/resume", "")
		post(supTok, "/v1/agents/a1/call/hold", "")
		post(supTok, "/v1/agents/a1/call/resume", "")
		st, vars := call(t, srv, "GET", "/v1/agents/a1/call/variables", supTok, "")
		if st != http.StatusOK {
			t.Fatalf("variables: %d %v", st, vars)
		}
		if st, out := call(t, srv, "PUT", "/v1/agents/a1/call/variables/BALANCE", supTok,
			fmt.Sprintf(`{"value":"12.50","version":%v}`, vars["version"])); st != http.StatusOK {
			t.Fatalf("edit: %d %v", st, out)
		}
		post(supTok, "/v1/agents/a1/call/transfer", `{"kind":"number","value":"011 44 20 7946 0958"}`)
		waitAgent(t, l.Lab, "a1", agents.WrapUp)
		waitState(t, l.Lab, first.ConnectionID, acd.StateEnded)
		post(supTok, "/v1/agents/a1/wrapup", `{"code":"resolved"}`)
		waitAgent(t, l.Lab, "a1", agents.Available)

		second := callOnR1()
		post(supTok, "/v1/agents/a1/call/end", "")
		waitState(t, l.Lab, second.ConnectionID, acd.StateEnded)
		post(supTok, "/v1/agents/a2/logout", "")

		const sup = "supervisor:alice"
		history := streamEntries(t, l, keys.Events())
		c1, c2 := first.ConnectionID, second.ConnectionID
		// The call's own entries, written by r1, the call's owner.
		wantEntries(t, "history of the first call", history,
			map[string]string{"kind": "talk", "id": c1, "to": acd.TalkHeld, "agent": "a1", "actor": "agent:a1"},
			map[string]string{"kind": "talk", "id": c1, "to": acd.TalkTalking, "agent": "a1", "actor": "agent:a1"},
			map[string]string{"kind": "talk", "id": c1, "to": acd.TalkHeld, "agent": "a1", "actor": sup},
			map[string]string{"kind": "talk", "id": c1, "to": acd.TalkTalking, "agent": "a1", "actor": sup},
			map[string]string{"kind": "control", "id": c1, "action": "variable_edit", "agent": "a1", "name": "BALANCE", "actor": sup},
			map[string]string{"kind": "control", "id": c1, "action": "transfer", "agent": "a1", "target_kind": "number", "actor": sup},
		)
		wantEntries(t, "history of a1's wrap-up", history,
			map[string]string{"kind": "wrapup", "id": "a1", "to": "resolved", "conn": c1, "actor": sup},
			map[string]string{"kind": "agent", "id": "a1", "from": "wrapup", "to": "available", "actor": sup},
		)
		wantEntries(t, "history of the second call", history,
			map[string]string{"kind": "control", "id": c2, "action": "end", "agent": "a1", "actor": sup},
			// The call ending sends a1 to wrap-up: a consequence, not a request.
			map[string]string{"kind": "agent", "id": "a1", "from": "connected", "to": "wrapup", "actor": acd.ActorSystem},
		)
		wantEntries(t, "history of a2", history,
			map[string]string{"kind": "agent", "id": "a2", "from": "logged_out", "to": "idle", "actor": acd.ActorSystem},
			map[string]string{"kind": "agent", "id": "a2", "to": "logged_out", "actor": sup},
		)
		for _, e := range history {
			if (e["kind"] == "talk" || e["kind"] == "control") && (e["id"] == c1 || e["id"] == c2) && e["actor"] == nil {
				t.Errorf("history entry without an actor: %v", e)
			}
		}

		// The audit stream: the supervisor's seven steps, in order, each
		// naming who acted, for whom, on which call and when; nothing of a1's
		// own hold and resume.
		audit := streamEntries(t, l, keys.Audit())
		want := []map[string]string{
			{"op": "hold", "agent": "a1", "connection_id": c1},
			{"op": "resume", "agent": "a1", "connection_id": c1},
			{"op": "variable_edit", "agent": "a1", "connection_id": c1, "name": "BALANCE"},
			{"op": "transfer", "agent": "a1", "connection_id": c1, "target_kind": "number", "target": "011 44 20 7946 0958"},
			{"op": "wrapup", "agent": "a1", "connection_id": c1, "code": "resolved"},
			{"op": "end", "agent": "a1", "connection_id": c2},
			{"op": "logout", "agent": "a2", "connection_id": "", "state": "logged_out"},
		}
		if len(audit) != len(want) {
			t.Fatalf("%d audit entries, want %d: %v", len(audit), len(want), audit)
		}
		for i, w := range want {
			w["kind"], w["actor"], w["who"] = "agent_action", sup, sup
			if !has(audit[i], w) || audit[i]["at"] == "" || audit[i]["at"] == nil {
				t.Errorf("audit entry %d: %v, want %v and at", i, audit[i], w)
			}
		}
	})
}
