package e2e

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
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

// Issue 10, "nothing stuck forever": a supervisor ends any call and
// forces any agent's state, whatever replica runs them, or none.

const supTok, agentTokA1 = "tok-sup-0", "tok-a1"

// The engine serves the overrides: api.New finds them on the core it is
// given, so a core that lost them would answer 501 in production.
var _ api.SupervisorCore = (*acd.Engine)(nil)

// supervisorAPI serves replica r's engine to one supervisor token
// (audited as supervisor:alice) and a1's agent token.
func supervisorAPI(t *testing.T, l *controlLab, r int) *httptest.Server {
	t.Helper()
	auth := config.Auth{
		Supervisors: []config.SupervisorToken{{Name: "alice", Token: supTok}},
		Agents:      []config.AgentToken{{Agent: "a1", Token: agentTokA1}},
	}
	srv := httptest.NewServer(api.New(l.Replicas[r].Engine, auth, nil))
	t.Cleanup(srv.Close)
	return srv
}

func postJSON(t *testing.T, url, token, body string) (int, []byte) {
	t.Helper()
	req, _ := http.NewRequest(http.MethodPost, url, bytes.NewBufferString(body))
	req.Header.Set("Authorization", "Bearer "+token)
	req.Header.Set("Content-Type", "application/json")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = resp.Body.Close() }()
	data, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, data
}

// connectedOnR1 connects a call of replica r1 (application tandem-r1) to
// agent a1 and returns it.
func connectedOnR1(t *testing.T, l *controlLab) acd.Interaction {
	t.Helper()
	l.agent(0, "a1", l.Endpoint("1001"), false, "sales")
	leg, err := l.PBX.Call(pbxsim.Caller{App: "tandem-r1", ANI: "+12025550199", DNIS: "800"})
	if err != nil {
		t.Fatal(err)
	}
	ix := waitState(t, l.Lab, interactionOf(t, l.Lab, leg).ConnectionID, acd.StateConnected)
	if ix.Owner != "r1" || ix.AgentLeg == "" {
		t.Fatalf("interaction %+v", ix)
	}
	waitFor(t, 5*time.Second, "caller and agent bridged", func() bool { return l.Bridged(ix.CallerLeg, ix.AgentLeg) })
	return ix
}

// forceEndOK asks for the end through srv and returns what it did.
func forceEndOK(t *testing.T, srv *httptest.Server, conn string) acd.ForceEndResult {
	t.Helper()
	code, data := postJSON(t, srv.URL+"/v1/supervisor/interactions/"+conn+"/end", supTok, `{"reason":"agent stuck on a dead call"}`)
	if code != http.StatusOK {
		t.Fatalf("force end: %d %s", code, data)
	}
	var res acd.ForceEndResult
	if err := json.Unmarshal(data, &res); err != nil {
		t.Fatalf("force end answer %s: %v", data, err)
	}
	return res
}

// checkForcedEnd checks what any forced end of a connected call leaves:
// no leg of the call up at the PBX, no bridge, the interaction ended by
// the supervisor, its agent in wrap-up (the control lab's wrap-up time),
// the audit entry naming supervisor:alice, and the transition in the history.
func checkForcedEnd(t *testing.T, l *controlLab, ix acd.Interaction, res acd.ForceEndResult, path string) {
	t.Helper()
	ctx := context.Background()
	for _, leg := range []string{ix.CallerLeg, ix.AgentLeg} {
		waitFor(t, 10*time.Second, "leg "+leg+" hung up", func() bool {
			c, ok := l.PBX.Channel(leg)
			return !ok || c.HungUp
		})
	}
	// Nothing of the call is left at the PBX: no bridge, no recording.
	waitFor(t, 10*time.Second, "bridge destroyed", func() bool { return l.PBX.Leftovers().Empty() })
	got := interaction(t, l.Lab, ix.ConnectionID)
	if got.State != acd.StateEnded || got.EndedBy != "supervisor" {
		t.Errorf("interaction %s ended_by %q, want ended by supervisor", got.State, got.EndedBy)
	}
	if res.Before != acd.StateConnected || res.After != acd.StateEnded || res.Agent != "a1" ||
		res.AgentBefore != agents.Connected || res.AgentAfter != agents.WrapUp || res.Path != path || res.Owner != "r1" {
		t.Errorf("result %+v, want connected → ended, a1 connected → wrapup, path %s", res, path)
	}
	if st := agentState(t, l.Lab, "a1"); st != agents.WrapUp {
		t.Errorf("a1 is %s, want wrapup", st)
	}
	keys := keyspace.New("tandem")
	audit, err := l.RDB.XRevRangeN(ctx, keys.Audit(), "+", "-", 1).Result()
	if err != nil || len(audit) != 1 {
		t.Fatalf("audit: %v %v", audit, err)
	}
	a := audit[0].Values
	if a["kind"] != "force_end" || a["actor"] != "supervisor:alice" || a["who"] != "supervisor:alice" || a["connection_id"] != ix.ConnectionID ||
		a["reason"] != "agent stuck on a dead call" || a["before"] != "connected" || a["after"] != "ended" ||
		a["agent"] != "a1" || a["agent_before"] != "connected" || a["agent_after"] != "wrapup" || a["path"] != path {
		t.Errorf("audit entry %v", a)
	}
	hist, err := l.RDB.XRange(ctx, keys.Events(), "-", "+").Result()
	if err != nil {
		t.Fatal(err)
	}
	var ended, agentFreed, asked bool
	for _, m := range hist {
		v := m.Values
		if v["kind"] == "control" && v["id"] == ix.ConnectionID && v["action"] == "force_end" && v["who"] == "supervisor:alice" {
			asked = true
		}
		if v["kind"] == "interaction" && v["id"] == ix.ConnectionID && v["from"] == "connected" && v["to"] == "ended" {
			ended = v["by"] == "supervisor"
		}
		if v["kind"] == "agent" && v["id"] == "a1" && v["from"] == "connected" && v["to"] == "wrapup" {
			agentFreed = true
		}
	}
	if !ended || !agentFreed || !asked {
		t.Errorf("history: interaction ended by supervisor %v, a1 connected → wrapup %v, who asked %v", ended, agentFreed, asked)
	}
}

// TestForceEndCallOfStoppedReplica is the stuck call: r1 runs a
// connected call and stops; the caller hangs up while nobody listens. The
// agent's leg stays up alone in the bridge, the interaction and the agent
// stay connected, and no replica will ever act on them. A supervisor on
// r2 ends it: r2 hangs the remaining leg up, destroys the bridge, and
// finishes the interaction and frees the agent in Redis.
func TestForceEndCallOfStoppedReplica(t *testing.T) {
	forEachPBX(t, func(t *testing.T, pbx lab.PBXKind) {
		l := startControlLab(t, controlOptions{pbx: pbx, replicas: 2})
		srv := supervisorAPI(t, l, 1)
		ix := connectedOnR1(t, l)
		if err := l.Replicas[0].Stop(); err != nil {
			t.Fatalf("stop r1: %v", err)
		}
		if err := l.PBX.HangUp(ix.CallerLeg); err != nil {
			t.Fatal(err)
		}
		// Stuck: the PBX still has the agent's leg in the call's bridge.
		if c, ok := l.PBX.Channel(ix.AgentLeg); !ok || c.HungUp || c.BridgeID != ix.ConnectionID {
			t.Fatalf("agent leg %+v, want up in bridge %s", c, ix.ConnectionID)
		}
		if st := interaction(t, l.Lab, ix.ConnectionID).State; st != acd.StateConnected {
			t.Fatalf("interaction %s before the override", st)
		}
		// An agent token may not use the override.
		if code, _ := postJSON(t, srv.URL+"/v1/supervisor/interactions/"+ix.ConnectionID+"/end", agentTokA1, `{"reason":"x"}`); code != http.StatusForbidden {
			t.Errorf("agent token: %d, want 403", code)
		}

		res := forceEndOK(t, srv, ix.ConnectionID)
		checkForcedEnd(t, l, ix, res, acd.ForcedDeadOwner)

		// Once over, it is over: 409, and 404 for a call that never was.
		if code, data := postJSON(t, srv.URL+"/v1/supervisor/interactions/"+ix.ConnectionID+"/end", supTok, `{"reason":"again"}`); code != http.StatusConflict {
			t.Errorf("second end: %d %s, want 409", code, data)
		}
		if code, data := postJSON(t, srv.URL+"/v1/supervisor/interactions/no-such-call/end", supTok, `{"reason":"x"}`); code != http.StatusNotFound {
			t.Errorf("unknown call: %d %s, want 404", code, data)
		}
		// The wrap-up ends on r2 (its timer, or the sweep's safety net): the
		// agent takes calls again.
		waitAgent(t, l.Lab, "a1", agents.Available)
	})
}

// TestForceEndCallOfRestartedReplica: r1 restarts while its call is
// connected; the new r1 is alive but does not run the call (issue 10 point
// 2). Asked through r2, the end goes to r1, which answers that it has no
// such call; r2 then ends it itself. (A replica that rebuilds its calls at
// start ends it as the owner instead: the outcome is the same.)
func TestForceEndCallOfRestartedReplica(t *testing.T) {
	forEachPBX(t, func(t *testing.T, pbx lab.PBXKind) {
		l := startControlLab(t, controlOptions{pbx: pbx, replicas: 2})
		srv := supervisorAPI(t, l, 1)
		ix := connectedOnR1(t, l)
		if err := l.Replicas[0].Stop(); err != nil {
			t.Fatalf("stop r1: %v", err)
		}
		if _, err := l.AddReplica(context.Background(), "r1"); err != nil {
			t.Fatalf("restart r1: %v", err)
		}
		keys := keyspace.New("tandem")
		waitFor(t, 10*time.Second, "r1 alive again", func() bool {
			n, err := l.RDB.Exists(context.Background(), keys.ReplicaAlive("r1")).Result()
			return err == nil && n == 1
		})
		res := forceEndOK(t, srv, ix.ConnectionID)
		t.Logf("ended by path %q", res.Path)
		want := acd.ForcedOrphan
		if res.Path == acd.ForcedByOwner {
			want = acd.ForcedByOwner // r1 picked its call back up at start
		}
		checkForcedEnd(t, l, ix, res, want)
	})
}

// TestForceEndLiveCallGoesThroughItsOwner: the call runs on r1, alive;
// the supervisor asks r2. r2 forwards the end to r1, whose actor ends the
// call as for any end; r2 writes the audit entry and the history's record
// of who asked (checkForcedEnd).
func TestForceEndLiveCallGoesThroughItsOwner(t *testing.T) {
	forEachPBX(t, func(t *testing.T, pbx lab.PBXKind) {
		l := startControlLab(t, controlOptions{pbx: pbx, replicas: 2})
		srv := supervisorAPI(t, l, 1)
		ix := connectedOnR1(t, l)
		res := forceEndOK(t, srv, ix.ConnectionID)
		checkForcedEnd(t, l, ix, res, acd.ForcedByOwner)
	})
}

// TestForceAgentStateOnLiveCall: a1 is connected on r1's live call.
// Logging a1 out is refused (409 naming the call and its replica); with
// force_end the call is ended first, then a1 is logged out.
func TestForceAgentStateOnLiveCall(t *testing.T) {
	forEachPBX(t, func(t *testing.T, pbx lab.PBXKind) {
		l := startControlLab(t, controlOptions{pbx: pbx, replicas: 2})
		srv := supervisorAPI(t, l, 1)
		ix := connectedOnR1(t, l)
		url := srv.URL + "/v1/supervisor/agents/a1/state"
		code, data := postJSON(t, url, supTok, `{"state":"logged_out","reason":"end of shift"}`)
		var refused struct {
			Field        string `json:"field"`
			ConnectionID string `json:"connection_id"`
			Owner        string `json:"owner"`
		}
		if err := json.Unmarshal(data, &refused); err != nil || code != http.StatusConflict ||
			refused.ConnectionID != ix.ConnectionID || refused.Owner != "r1" || refused.Field != "force_end" {
			t.Fatalf("without force_end: %d %s, want 409 naming %s", code, data, ix.ConnectionID)
		}
		if st := agentState(t, l.Lab, "a1"); st != agents.Connected {
			t.Fatalf("a1 moved to %s after a refusal", st)
		}
		code, data = postJSON(t, url, supTok, `{"state":"logged_out","reason":"end of shift","force_end":true}`)
		if code != http.StatusOK {
			t.Fatalf("with force_end: %d %s", code, data)
		}
		var res acd.ForceAgentResult
		if err := json.Unmarshal(data, &res); err != nil {
			t.Fatal(err)
		}
		if res.Agent.State != agents.LoggedOut || res.Before != agents.WrapUp || res.Ended == nil ||
			res.Ended.ConnectionID != ix.ConnectionID || res.Ended.Path != acd.ForcedByOwner {
			t.Errorf("result %+v (ended %+v)", res, res.Ended)
		}
		if st := agentState(t, l.Lab, "a1"); st != agents.LoggedOut {
			t.Errorf("a1 is %s, want logged_out", st)
		}
		if got := interaction(t, l.Lab, ix.ConnectionID); got.State != acd.StateEnded || got.EndedBy != "supervisor" {
			t.Errorf("interaction %s by %q", got.State, got.EndedBy)
		}
		for _, leg := range []string{ix.CallerLeg, ix.AgentLeg} {
			waitFor(t, 10*time.Second, "leg "+leg+" hung up", func() bool {
				c, ok := l.PBX.Channel(leg)
				return !ok || c.HungUp
			})
		}
	})
}

// TestForceAgentStateOfStoppedReplicasAgent: a1 is connected on a call of
// r1, which stopped. Nothing runs that call, so a1 is not held back: a
// supervisor makes a1 available, leaving the call (for a later forced end)
// or, with force_end, ending it first; a1 is then back in line, and the
// next call, on r2, reaches a1.
func TestForceAgentStateOfStoppedReplicasAgent(t *testing.T) {
	forEachPBX(t, func(t *testing.T, pbx lab.PBXKind) {
		for _, end := range []bool{false, true} {
			name := "leave the call"
			if end {
				name = "end the call"
			}
			t.Run(name, func(t *testing.T) {
				ctx := context.Background()
				l := startControlLab(t, controlOptions{pbx: pbx, replicas: 2})
				srv := supervisorAPI(t, l, 1)
				ix := connectedOnR1(t, l)
				if err := l.Replicas[0].Stop(); err != nil {
					t.Fatalf("stop r1: %v", err)
				}
				body := `{"state":"available","reason":"r1 is gone"}`
				if end {
					body = `{"state":"available","reason":"r1 is gone","force_end":true}`
				}
				code, data := postJSON(t, srv.URL+"/v1/supervisor/agents/a1/state", supTok, body)
				if code != http.StatusOK {
					t.Fatalf("force available: %d %s", code, data)
				}
				var res acd.ForceAgentResult
				if err := json.Unmarshal(data, &res); err != nil {
					t.Fatal(err)
				}
				a, err := l.Replicas[1].Store.Agent(ctx, "a1")
				if err != nil {
					t.Fatal(err)
				}
				if a.State != agents.Available || a.ConnectionID != "" {
					t.Errorf("a1 %s on %q, want available and free", a.State, a.ConnectionID)
				}
				if _, err := l.RDB.ZScore(ctx, keyspace.New("tandem").Available("sales"), "a1").Result(); err != nil {
					t.Errorf("a1 not in sales' available set: %v", err)
				}
				got := interaction(t, l.Lab, ix.ConnectionID)
				if !end {
					if res.Before != agents.Connected || res.Ended != nil || got.State != acd.StateConnected {
						t.Errorf("result %+v, interaction %s: want a1 taken from the call, the call left as it was", res, got.State)
					}
					restartForTheEnd(l.Lab, 0)
					return
				}
				if res.Before != agents.WrapUp || res.Ended == nil || res.Ended.Path != acd.ForcedDeadOwner ||
					got.State != acd.StateEnded || got.EndedBy != "supervisor" {
					t.Errorf("result %+v (ended %+v), interaction %s by %q", res, res.Ended, got.State, got.EndedBy)
				}
				for _, leg := range []string{ix.CallerLeg, ix.AgentLeg} {
					waitFor(t, 10*time.Second, "leg "+leg+" hung up", func() bool {
						c, ok := l.PBX.Channel(leg)
						return !ok || c.HungUp
					})
				}
				// Back in line: r2's next call is a1's.
				leg, err := l.PBX.Call(pbxsim.Caller{App: "tandem-r2", ANI: "+12025550123", DNIS: "800"})
				if err != nil {
					t.Fatal(err)
				}
				next := waitState(t, l.Lab, interactionOf(t, l.Lab, leg).ConnectionID, acd.StateConnected)
				if next.Agent != "a1" || next.Owner != "r2" {
					t.Errorf("next call %+v, want a1 on r2", next)
				}
			})
		}
	})
}

// TestForceEndBeforeAnswer ends calls that never reached an agent, with
// their owner alive (ended by its actor) and stopped (ended here): a
// waiting call leaves its queue, a ringing agent's phone stops ringing and
// the agent is available at once (it never talked: no wrap-up); the
// interaction ends abandoned, by the supervisor.
func TestForceEndBeforeAnswer(t *testing.T) {
	forEachPBX(t, func(t *testing.T, pbx lab.PBXKind) {
		for _, tc := range []struct {
			name         string
			ringing      bool
			ownerStopped bool
		}{
			{"queued, owner alive", false, false},
			{"queued, owner stopped", false, true},
			{"ringing, owner alive", true, false},
			{"ringing, owner stopped", true, true},
		} {
			t.Run(tc.name, func(t *testing.T) {
				ctx := context.Background()
				// A long ring timeout: the ringing call is still ringing when the
				// supervisor ends it.
				l := startControlLab(t, controlOptions{pbx: pbx, replicas: 2, ring: 30 * time.Second})
				srv := supervisorAPI(t, l, 1)
				if tc.ringing {
					l.agent(0, "a1", l.Endpoint("1001"), false, "sales")
					l.PBX.SetPhone(l.Endpoint("1001"), pbxsim.Phone{Mode: pbxsim.NoAnswer})
				}
				leg, err := l.PBX.Call(pbxsim.Caller{App: "tandem-r1", ANI: "+12025550199", DNIS: "800"})
				if err != nil {
					t.Fatal(err)
				}
				conn := interactionOf(t, l.Lab, leg).ConnectionID
				want, path := acd.StateQueued, acd.ForcedByOwner
				if tc.ringing {
					want = acd.StateOffered
					waitAgent(t, l.Lab, "a1", agents.Ringing)
				}
				ix := waitState(t, l.Lab, conn, want)
				if tc.ownerStopped {
					if err := l.Replicas[0].Stop(); err != nil {
						t.Fatal(err)
					}
					path = acd.ForcedDeadOwner
				}
				res := forceEndOK(t, srv, conn)
				if res.Path != path || res.Before != want || res.After != acd.StateAbandoned {
					t.Errorf("result %+v, want %s → abandoned by path %s", res, want, path)
				}
				legs := []string{ix.CallerLeg}
				if tc.ringing {
					legs = append(legs, ix.AgentLeg)
					if res.Agent != "a1" || res.AgentBefore != agents.Ringing || res.AgentAfter != agents.Available {
						t.Errorf("agent in result: %+v", res)
					}
					if st := agentState(t, l.Lab, "a1"); st != agents.Available {
						t.Errorf("a1 is %s, want available", st)
					}
				}
				for _, leg := range legs {
					waitFor(t, 10*time.Second, "leg "+leg+" hung up", func() bool {
						c, ok := l.PBX.Channel(leg)
						return !ok || c.HungUp
					})
				}
				got := interaction(t, l.Lab, conn)
				if got.State != acd.StateAbandoned || got.EndedBy != "supervisor" {
					t.Errorf("interaction %s by %q", got.State, got.EndedBy)
				}
				if n, err := l.RDB.ZCard(ctx, keyspace.New("tandem").Waiting("sales")).Result(); err != nil || n != 0 {
					t.Errorf("%d calls still waiting (%v)", n, err)
				}
			})
		}
	})
}

// TestForceEndDuringConsult: a1 consults a2 when the supervisor ends the
// call. Both agents are freed, whether the owner ends it (it also hangs
// the consulted party's leg up) or, its owner stopped, r2 does (a2 is
// named in the call's view).
func TestForceEndDuringConsult(t *testing.T) {
	forEachPBX(t, func(t *testing.T, pbx lab.PBXKind) {
		for _, ownerStopped := range []bool{false, true} {
			name := "owner alive"
			if ownerStopped {
				name = "owner stopped"
			}
			t.Run(name, func(t *testing.T) {
				l := startControlLab(t, controlOptions{pbx: pbx, replicas: 2})
				srv := supervisorAPI(t, l, 1)
				l.agent(0, "a2", l.Endpoint("1002"), true, "support")
				ix := connectedOnR1(t, l)
				if _, err := l.Replicas[0].Engine.Consult(context.Background(), "a1", acd.Target{Kind: acd.TargetAgent, Value: "a2"}); err != nil {
					t.Fatal(err)
				}
				l.view("a1", "consult connected", func(v acd.CallView) bool { return v.Consult != nil && v.Consult.State == "connected" })
				waitAgent(t, l.Lab, "a2", agents.Connected)
				path := acd.ForcedByOwner
				if ownerStopped {
					if err := l.Replicas[0].Stop(); err != nil {
						t.Fatal(err)
					}
					path = acd.ForcedDeadOwner
				}
				res := forceEndOK(t, srv, ix.ConnectionID)
				if res.Path != path || res.After != acd.StateEnded {
					t.Errorf("result %+v, want ended by path %s", res, path)
				}
				for _, id := range []string{"a1", "a2"} {
					a, err := l.Replicas[1].Store.Agent(context.Background(), id)
					if err != nil {
						t.Fatal(err)
					}
					if a.State != agents.WrapUp && a.State != agents.Available {
						t.Errorf("%s is %s after the end, want wrapup or available", id, a.State)
					}
				}
				legs := []string{ix.CallerLeg, ix.AgentLeg}
				if !ownerStopped {
					legs = append(legs, ix.ConnectionID+"-c1")
				}
				for _, leg := range legs {
					waitFor(t, 10*time.Second, "leg "+leg+" hung up", func() bool {
						c, ok := l.PBX.Channel(leg)
						return !ok || c.HungUp
					})
				}
			})
		}
	})
}
