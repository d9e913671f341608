package acd

import (
	"context"
	"errors"
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/tandem-cc/tandem/agents"
	"github.com/tandem-cc/tandem/errs"
)

// putAgentIn brings agent a1 of queue sales to state st the normal way
// (call c1 when it needs one, owned by the store's node), and returns the
// call's connection id ("" if none).
func putAgentIn(t *testing.T, s *tStore, st agents.State) string {
	t.Helper()
	ctx := context.Background()
	must := func(err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
	}
	if _, err := s.Login(ctx, "a1", "PJSIP/a1", []string{"sales"}, nil); err != nil {
		t.Fatal(err)
	}
	switch st {
	case agents.Idle:
		return ""
	case agents.LoggedOut:
		_, err := s.SetState(ctx, "a1", agents.EvLogout, "")
		must(err)
		return ""
	}
	_, err := s.SetState(ctx, "a1", agents.EvAvailable, "")
	must(err)
	if st == agents.Available {
		return ""
	}
	o := arriveQueued(t, s, "c1", "sales", 0)
	if o == nil || o.Agent != "a1" {
		t.Fatalf("offer %+v", o)
	}
	switch st {
	case agents.Reserved:
		return "c1"
	case agents.RONA:
		_, err := s.NoAnswer(ctx, "c1", "a1", "no_answer")
		must(err)
		// The caller gives up: no call waits that a1 could be offered.
		_, _, err = s.Finish(ctx, "c1", "hangup", "caller")
		must(err)
		return ""
	}
	must(s.Ringing(ctx, *o, "c1-a1"))
	if st == agents.Ringing {
		return "c1"
	}
	must(s.Connect(ctx, "c1", "a1", "c1-a1"))
	if st == agents.Connected {
		return "c1"
	}
	_, _, err = s.Finish(ctx, "c1", "hangup", "caller")
	must(err)
	if got := agentState(t, s, "a1"); got != agents.WrapUp {
		t.Fatalf("setup: agent %s, want wrapup", got)
	}
	return "c1" // bound to the call until its code is given
}

// lastAudit reads the newest entry of the audit stream.
func lastAudit(t *testing.T, s *tStore) map[string]any {
	t.Helper()
	msgs, err := s.rdb.XRevRangeN(context.Background(), s.keys.Audit(), "+", "-", 1).Result()
	if err != nil || len(msgs) == 0 {
		t.Fatalf("audit stream: %v %v", msgs, err)
	}
	return msgs[0].Values
}

// TestForceAgentStateFromEveryState forces each target state from each
// agent state. A call the agent is bound to belongs to replica n1, which
// is not running (no liveness key): nothing runs it, so nothing holds the
// agent back.
func TestForceAgentStateFromEveryState(t *testing.T) {
	from := []agents.State{agents.LoggedOut, agents.Idle, agents.Available, agents.Reserved,
		agents.Ringing, agents.Connected, agents.WrapUp, agents.RONA}
	to := []agents.State{agents.LoggedOut, agents.Available, agents.Idle}
	for _, st := range from {
		for _, target := range to {
			t.Run(string(st)+"_to_"+string(target), func(t *testing.T) {
				ctx := context.Background()
				s := newTestStore(t, "n1").WithPolicy(Policy{WrapUp: time.Hour})
				conn := putAgentIn(t, s, st)
				e := NewEngine(Options{Store: NewStore(s.rdb, "t", "n2"), Logger: slog.New(slog.DiscardHandler)})
				res, err := e.ForceAgentState(ctx, "a1", target, "", "stuck since the crash", "supervisor:0", false)
				if st == agents.LoggedOut && target != agents.LoggedOut {
					if !errors.Is(err, ErrIllegalTransition) {
						t.Fatalf("logged-out agent forced to %s: %v, want illegal transition", target, err)
					}
					return
				}
				if err != nil {
					t.Fatal(err)
				}
				a, err := s.Agent(ctx, "a1")
				if err != nil {
					t.Fatal(err)
				}
				if res.Before != st || a.State != target || res.Agent.State != target {
					t.Fatalf("before %s after %s (result %s), want %s → %s", res.Before, a.State, res.Agent.State, st, target)
				}
				if a.ConnectionID != "" {
					t.Errorf("agent still bound to %s", a.ConnectionID)
				}
				if target == agents.Idle && a.Reason != "supervisor" {
					t.Errorf("idle reason %q, want supervisor", a.Reason)
				}
				// The longest-idle set has the agent iff it is available.
				_, zerr := s.rdb.ZScore(ctx, s.keys.Available("sales"), "a1").Result()
				if inSet := zerr == nil; inSet != (target == agents.Available) {
					t.Errorf("in the available set: %v, state %s", inSet, target)
				}
				member, _ := s.rdb.SIsMember(ctx, s.keys.Agents(), "a1").Result()
				if member != (target != agents.LoggedOut) {
					t.Errorf("in the logged-in set: %v, state %s", member, target)
				}
				if n, _ := s.rdb.ZCard(ctx, s.keys.WrapUpDue()).Result(); n != 0 {
					t.Errorf("%d wrap-ups still due", n)
				}
				au := lastAudit(t, s)
				if au["kind"] != "force_agent_state" || au["agent"] != "a1" || au["actor"] != "supervisor:0" || au["who"] != "supervisor:0" ||
					au["reason"] != "stuck since the crash" || au["before"] != string(st) || au["after"] != string(target) ||
					au["connection_id"] != conn {
					t.Errorf("audit %v", au)
				}
				if st != target || target == agents.Idle {
					// The agent's forced move, then (bound to a call) a
					// record in that call's history.
					hist, err := s.rdb.XRevRangeN(ctx, s.keys.Events(), "+", "-", 2).Result()
					if err != nil || len(hist) != 2 {
						t.Fatal(hist, err)
					}
					h, c := hist[1].Values, hist[0].Values
					if conn == "" {
						h = c
					} else if c["kind"] != "control" || c["id"] != conn || c["action"] != "force_agent_state" ||
						c["agent"] != "a1" || c["who"] != "supervisor:0" || c["after"] != string(target) {
						t.Errorf("call's history %v", c)
					}
					if h["kind"] != "agent" || h["id"] != "a1" || h["from"] != string(st) || h["to"] != string(target) ||
						h["forced"] != "1" || h["who"] != "supervisor:0" {
						t.Errorf("history %v", h)
					}
				}
			})
		}
	}
}

// TestForceAgentStateRefusesAgentOnLiveOwnersCall: the call's owner is
// alive, so the call may be running: 409 naming the call, the agent
// untouched, nothing audited.
func TestForceAgentStateRefusesAgentOnLiveOwnersCall(t *testing.T) {
	for _, st := range []agents.State{agents.Reserved, agents.Ringing, agents.Connected} {
		t.Run(string(st), func(t *testing.T) {
			ctx := context.Background()
			s := newTestStore(t, "n1")
			conn := putAgentIn(t, s, st)
			if err := s.rdb.Set(ctx, s.keys.ReplicaAlive("n1"), 1, time.Minute).Err(); err != nil {
				t.Fatal(err)
			}
			e := NewEngine(Options{Store: NewStore(s.rdb, "t", "n2"), Logger: slog.New(slog.DiscardHandler)})
			_, err := e.ForceAgentState(ctx, "a1", agents.LoggedOut, "", "end of shift", "supervisor:1", false)
			var busy *AgentOnCallError
			if !errors.As(err, &busy) || !errors.Is(err, ErrIllegalTransition) || busy.ConnectionID != conn || busy.Owner != "n1" {
				t.Fatalf("err %v, want AgentOnCallError for %s owned by n1", err, conn)
			}
			if got := agentState(t, s, "a1"); got != st {
				t.Errorf("agent moved to %s", got)
			}
			if n, _ := s.rdb.XLen(ctx, s.keys.Audit()).Result(); n != 0 {
				t.Errorf("%d audit entries for a refused request", n)
			}
		})
	}
}

func TestForceAgentStateBadInput(t *testing.T) {
	ctx := context.Background()
	s := newTestStore(t, "n1")
	e := NewEngine(Options{Store: NewStore(s.rdb, "t", "n2"), Logger: slog.New(slog.DiscardHandler), IdleReasons: []string{"lunch"}})
	if _, err := e.ForceAgentState(ctx, "nobody", agents.Idle, "", "x", "supervisor:0", false); !errors.Is(err, ErrNotFound) {
		t.Errorf("unknown agent: %v", err)
	}
	var fe *errs.FieldError
	if _, err := e.ForceAgentState(ctx, "a1", agents.Connected, "", "x", "supervisor:0", false); !errors.As(err, &fe) || fe.Field != "state" {
		t.Errorf("state connected: %v", err)
	}
	if _, err := e.ForceAgentState(ctx, "a1", agents.Idle, "coffee", "x", "supervisor:0", false); !errors.As(err, &fe) || fe.Field != "idle_reason" {
		t.Errorf("unknown idle reason: %v", err)
	}
}

// TestForceEndRefusesUnknownAndFinished: 404 and 409 come before any PBX
// command (this engine has no PBX at all).
func TestForceEndRefusesUnknownAndFinished(t *testing.T) {
	ctx := context.Background()
	s := newTestStore(t, "n1")
	e := NewEngine(Options{Store: NewStore(s.rdb, "t", "n2"), Logger: slog.New(slog.DiscardHandler)})
	if _, err := e.ForceEnd(ctx, "nope", "supervisor:0", "x"); !errors.Is(err, ErrNotFound) {
		t.Errorf("unknown call: %v", err)
	}
	arriveQueued(t, s, "c1", "sales", 0)
	if _, _, err := s.Finish(ctx, "c1", "hangup", "caller"); err != nil {
		t.Fatal(err)
	}
	if _, err := e.ForceEnd(ctx, "c1", "supervisor:0", "x"); !errors.Is(err, ErrIllegalTransition) {
		t.Errorf("finished call: %v", err)
	}
	if n, err := s.rdb.XLen(ctx, s.keys.Audit()).Result(); err != nil || n != 0 {
		t.Errorf("audit entries %d (%v)", n, err)
	}
}

// TestForceEndRefusesConsultOfLiveCall: a consult waiting in a queue is
// run by the customer's call; while that call is live (and its owner
// alive) the consult is not ended behind its back: 409 naming the call.
func TestForceEndRefusesConsultOfLiveCall(t *testing.T) {
	ctx := context.Background()
	s := newTestStore(t, "n1")
	arriveQueued(t, s, "c1", "sales", 0)
	if err := s.ArriveConsult(ctx, "k1", "c1", "a9"); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Enqueue(ctx, "k1", "support", 0); err != nil {
		t.Fatal(err)
	}
	if err := s.rdb.Set(ctx, s.keys.ReplicaAlive("n1"), 1, time.Minute).Err(); err != nil {
		t.Fatal(err)
	}
	e := NewEngine(Options{Store: NewStore(s.rdb, "t", "n2"), Logger: slog.New(slog.DiscardHandler)})
	_, err := e.ForceEnd(ctx, "k1", "supervisor:0", "x")
	if !errors.Is(err, ErrIllegalTransition) || !strings.Contains(err.Error(), "c1") {
		t.Fatalf("err %v, want a 409 naming c1", err)
	}
	if st := ixState(t, s, "k1"); st != StateQueued {
		t.Errorf("consult %s, want still queued", st)
	}
}

// TestRecordedLegs: the legs a direct forced end hangs up are every leg
// field of the interaction, caller and agent first, each once.
func TestRecordedLegs(t *testing.T) {
	h := map[string]string{
		"caller_leg": "c1", "agent_leg": "c1-a2", "leg:b": "c1-a2", "leg:a": "c1-a1",
		"consult_leg": "c1-c3", "state": "connected", "agent": "a", "legs": "x",
	}
	got := strings.Join(recordedLegs(h), ",")
	if want := "c1,c1-a2,c1-a1,c1-c3"; got != want {
		t.Errorf("legs %s, want %s", got, want)
	}
	if got := recordedLegs(map[string]string{"caller_leg": ""}); len(got) != 0 {
		t.Errorf("legs of an empty record: %v", got)
	}
}
