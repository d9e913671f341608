package acd

import (
	"context"
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/tandem-cc/tandem/agents"
	"github.com/tandem-cc/tandem/internal/redistest"
)

// connected returns a store with policy p and call conn connected to agent.
func connectedCall(t *testing.T, s *tStore, conn, agent, queue string) {
	t.Helper()
	ctx := context.Background()
	if _, err := s.Login(ctx, agent, "PJSIP/"+agent, []string{queue}, nil); err != nil {
		t.Fatal(err)
	}
	if _, err := s.SetState(ctx, agent, agents.EvAvailable, ""); err != nil {
		t.Fatal(err)
	}
	o := arriveQueued(t, s, conn, queue, 0)
	if o == nil || o.Agent != agent {
		t.Fatalf("offer %+v", o)
	}
	if err := s.Ringing(ctx, *o, conn+"-leg"); err != nil {
		t.Fatal(err)
	}
	if err := s.Connect(ctx, conn, agent, conn+"-leg"); err != nil {
		t.Fatal(err)
	}
}

func TestWrapUpAfterCallThenCodeMakesAvailableAndRoutes(t *testing.T) {
	s := newTestStore(t, "n1").WithPolicy(Policy{WrapUp: time.Minute})
	ctx := context.Background()
	connectedCall(t, s, "c1", "a1", "sales")
	arriveQueued(t, s, "c2", "sales", 0)
	if _, next, err := s.Finish(ctx, "c1", "hangup", "caller"); err != nil || next != nil {
		t.Fatalf("finish: %v %+v (no hand-off during wrap-up)", err, next)
	}
	if st := agentState(t, s, "a1"); st != agents.WrapUp {
		t.Fatalf("agent %s, want wrapup", st)
	}
	if _, _, err := s.WrapUpTimeout(ctx, "a1", "resolved"); !errors.Is(err, ErrNotDue) {
		t.Fatalf("early timeout: %v", err)
	}
	st, next, err := s.WrapUp(ctx, "a1", "follow-up")
	if err != nil || st != agents.Reserved || next == nil || next.ConnectionID != "c2" {
		t.Fatalf("wrap-up: %s %+v %v", st, next, err)
	}
	ix, _ := s.Interaction(ctx, "c1")
	h, _ := s.rdb.HGet(ctx, s.keys.Interaction("c1"), "wrapup:a1").Result()
	if h != "follow-up" || ix.State != "ended" {
		t.Fatalf("wrap-up code %q, ix %s", h, ix.State)
	}
	if _, _, err := s.WrapUp(ctx, "a1", "resolved"); !errors.Is(err, ErrIllegalTransition) {
		t.Fatalf("wrap-up twice: %v", err)
	}
}

func TestWrapUpTimeoutAppliesDefaultCodeAndIdleRequestedDuringCall(t *testing.T) {
	s := newTestStore(t, "n1").WithPolicy(Policy{WrapUp: 50 * time.Millisecond})
	ctx := context.Background()
	connectedCall(t, s, "c1", "a1", "sales")
	// Asking for idle during the call is remembered for after it.
	if _, err := s.SetState(ctx, "a1", agents.EvIdle, "lunch"); err != nil {
		t.Fatal(err)
	}
	if st := agentState(t, s, "a1"); st != agents.Connected {
		t.Fatalf("idle request changed the state to %s", st)
	}
	if _, _, err := s.Finish(ctx, "c1", "hangup", "agent"); err != nil {
		t.Fatal(err)
	}
	// The wrap-up is due 50 ms after the Finish, on Redis TIME.
	finished, err := s.rdb.Time(ctx).Result()
	if err != nil {
		t.Fatal(err)
	}
	waitRedisPast(t, s.rdb, finished.Add(50*time.Millisecond))
	offers, err := s.ExpireWrapUps(ctx, "resolved", 10)
	if err != nil || len(offers) != 0 {
		t.Fatalf("expire: %v %v", offers, err)
	}
	a, _ := s.Agent(ctx, "a1")
	if a.State != agents.Idle || a.Reason != "lunch" {
		t.Fatalf("after timeout %+v", a)
	}
	code, _ := s.rdb.HGet(ctx, s.keys.Interaction("c1"), "wrapup:a1").Result()
	if code != "resolved" {
		t.Fatalf("default code %q", code)
	}
}

func TestMaxConcurrentCallsRefusesAndCounts(t *testing.T) {
	s := newTestStore(t, "n1").WithPolicy(Policy{MaxConcurrentCalls: 2})
	ctx := context.Background()
	for _, c := range []string{"c1", "c2"} {
		if _, err := s.Arrive(ctx, c, "l", "1", "2", nil); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := s.Arrive(ctx, "c3", "l", "1", "2", nil); !errors.Is(err, ErrFull) {
		t.Fatalf("third call: %v", err)
	}
	if _, err := s.Interaction(ctx, "c3"); !errors.Is(err, ErrNotFound) {
		t.Fatal("refused call left an interaction")
	}
	if _, _, err := s.Finish(ctx, "c1", "hangup", "caller"); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Arrive(ctx, "c4", "l", "1", "2", nil); err != nil {
		t.Fatalf("after one ended: %v", err)
	}
	n, _ := s.rdb.Get(ctx, s.keys.RefusedFull()).Int()
	if n != 1 {
		t.Fatalf("refusals counted %d", n)
	}
}

func TestTransferToQueueNeverReturnsToTransferringAgent(t *testing.T) {
	s := newTestStore(t, "n1")
	ctx := context.Background()
	connectedCall(t, s, "c1", "a1", "sales")
	if _, err := s.Login(ctx, "a1b", "PJSIP/a1b", []string{"support"}, nil); err != nil {
		t.Fatal(err)
	}
	// a1 serves support too once free; the transferred call must skip a1.
	s.rdb.HSet(ctx, s.keys.Agent("a1"), "queues", "sales,support")
	o, err := s.TransferToQueue(ctx, "c1", "support", "a1")
	if err != nil || o != nil {
		t.Fatalf("transfer: %+v %v", o, err)
	}
	if st := agentState(t, s, "a1"); st != agents.Available {
		t.Fatalf("transferring agent %s", st) // no wrap-up time in the default policy
	}
	ix, _ := s.Interaction(ctx, "c1")
	if ix.State != "queued" || ix.Queue != "support" {
		t.Fatalf("%+v", ix)
	}
	// a1 is available and in support, yet gets nothing; a2 gets the call.
	o = loginAvailable(t, s, "a2", "support")
	if o == nil || o.ConnectionID != "c1" || o.Agent != "a2" {
		t.Fatalf("offer %+v", o)
	}
}

func TestTransferToAgentNeedsAnAvailableAgent(t *testing.T) {
	s := newTestStore(t, "n1")
	ctx := context.Background()
	connectedCall(t, s, "c1", "a1", "sales")
	if _, err := s.Login(ctx, "a2", "PJSIP/a2", []string{"sales"}, nil); err != nil {
		t.Fatal(err)
	}
	if _, err := s.TransferToAgent(ctx, "c1", "a2", "a1"); !errors.Is(err, ErrIllegalTransition) {
		t.Fatalf("transfer to an idle agent: %v", err)
	}
	if st := agentState(t, s, "a1"); st != agents.Connected {
		t.Fatalf("refused transfer moved a1 to %s", st)
	}
	if _, err := s.SetState(ctx, "a2", agents.EvAvailable, ""); err != nil {
		t.Fatal(err)
	}
	o, err := s.TransferToAgent(ctx, "c1", "a2", "a1")
	if err != nil || o.Agent != "a2" || o.Endpoint != "PJSIP/a2" || o.Attempt != 2 {
		t.Fatalf("transfer %+v %v", o, err)
	}
	if agentState(t, s, "a2") != agents.Reserved || ixState(t, s, "c1") != "offered" {
		t.Fatal("target not reserved / call not offered")
	}
}

func TestReserveAgentForConsultAndSteps(t *testing.T) {
	s := newTestStore(t, "n1").WithPolicy(Policy{WrapUp: time.Minute})
	ctx := context.Background()
	connectedCall(t, s, "c1", "a1", "sales")
	if _, err := s.Login(ctx, "b", "PJSIP/b", []string{"sales"}, nil); err != nil {
		t.Fatal(err)
	}
	ep, err := s.ReserveAgent(ctx, "b", "c1", agents.Available, agents.Idle)
	if err != nil || ep != "PJSIP/b" {
		t.Fatalf("reserve idle agent: %q %v", ep, err)
	}
	if _, err := s.ReserveAgent(ctx, "b", "c1", agents.Available, agents.Idle); !errors.Is(err, ErrIllegalTransition) {
		t.Fatalf("reserve twice: %v", err)
	}
	for _, step := range []string{StepRing, StepConnect} {
		if _, err := s.AgentStep(ctx, "b", "c1", step); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := s.AgentStep(ctx, "b", "other", StepDone); !errors.Is(err, ErrStale) {
		t.Fatalf("step on another call: %v", err)
	}
	if _, err := s.AgentStep(ctx, "b", "c1", StepDone); err != nil {
		t.Fatal(err)
	}
	if st := agentState(t, s, "b"); st != agents.WrapUp {
		t.Fatalf("consulted agent after consult %s", st)
	}
	// A consulted agent who never answers goes to RONA.
	if _, err := s.Login(ctx, "c", "PJSIP/c", []string{"sales"}, nil); err != nil {
		t.Fatal(err)
	}
	if _, err := s.ReserveAgent(ctx, "c", "c1", agents.Available, agents.Idle); err != nil {
		t.Fatal(err)
	}
	if _, err := s.AgentStep(ctx, "c", "c1", StepNoAnswer); err != nil {
		t.Fatal(err)
	}
	if st := agentState(t, s, "c"); st != agents.RONA {
		t.Fatalf("consulted no-answer %s", st)
	}
}

func TestHandOverMovesCallToConsultedAgent(t *testing.T) {
	rdb := redistest.Client(t)
	s := newTStore(rdb, "t", "n1").WithPolicy(Policy{WrapUp: time.Minute})
	ctx := context.Background()
	connectedCall(t, s, "c1", "a1", "sales")
	if _, err := s.Login(ctx, "b", "PJSIP/b", []string{"sales"}, nil); err != nil {
		t.Fatal(err)
	}
	if _, err := s.ReserveAgent(ctx, "b", "c1", agents.Idle); err != nil {
		t.Fatal(err)
	}
	if _, err := s.AgentStep(ctx, "b", "c1", StepConnect); err != nil {
		t.Fatal(err)
	}
	if err := s.HandOver(ctx, "c1", "a1", "b", "c1-c1", "consult_transfer"); err != nil {
		t.Fatal(err)
	}
	ix, _ := s.Interaction(ctx, "c1")
	if ix.Agent != "b" || ix.AgentLeg != "c1-c1" || agentState(t, s, "a1") != agents.WrapUp || agentState(t, s, "b") != agents.Connected {
		t.Fatalf("after hand-over %+v", ix)
	}
	// The customer hangs up: b (now the call's agent) goes to wrap-up.
	if _, _, err := s.Finish(ctx, "c1", "hangup", "caller"); err != nil {
		t.Fatal(err)
	}
	if agentState(t, s, "b") != agents.WrapUp {
		t.Fatal("b not in wrap-up")
	}
}

func TestQueueCapHoldsUnderConcurrency(t *testing.T) {
	s := newTestStore(t, "n1")
	ctx := context.Background()
	const callers, capacity = 20, 5
	errs := make(chan error, callers)
	for i := 0; i < callers; i++ {
		go func(i int) {
			conn := fmt.Sprintf("c%02d", i)
			if _, err := s.Arrive(ctx, conn, "l", "1", "2", nil); err != nil {
				errs <- err
				return
			}
			_, err := s.EnqueueCapped(ctx, conn, "sales", 0, nil, capacity)
			errs <- err
		}(i)
	}
	full := 0
	for i := 0; i < callers; i++ {
		if err := <-errs; errors.Is(err, ErrQueueFull) {
			full++
		} else if err != nil {
			t.Fatal(err)
		}
	}
	n, _ := s.rdb.ZCard(ctx, s.keys.Waiting("sales")).Result()
	if n != capacity || full != callers-capacity {
		t.Fatalf("%d waiting, %d refused; want %d and %d", n, full, capacity, callers-capacity)
	}
}

func TestFinishedInteractionsExpire(t *testing.T) {
	s := newTestStore(t, "n1")
	ctx := context.Background()
	arriveQueued(t, s, "c1", "sales", 0)
	if ttl, _ := s.rdb.PTTL(ctx, s.keys.Interaction("c1")).Result(); ttl > 0 {
		t.Fatalf("a live interaction expires in %v", ttl)
	}
	if _, _, err := s.Finish(ctx, "c1", "hangup", "caller"); err != nil {
		t.Fatal(err)
	}
	ttl, err := s.rdb.PTTL(ctx, s.keys.Interaction("c1")).Result()
	if err != nil || ttl < 6*24*time.Hour || ttl > 7*24*time.Hour {
		t.Fatalf("finished interaction TTL %v %v, want about a week", ttl, err)
	}
}

func TestAgentCountsByStateInTwoRoundTrips(t *testing.T) {
	s := newTestStore(t, "n1")
	ctx := context.Background()
	loginAvailable(t, s, "a1", "sales")
	loginAvailable(t, s, "a2", "sales", "support")
	if _, err := s.Login(ctx, "a3", "PJSIP/a3", []string{"sales"}, nil); err != nil {
		t.Fatal(err)
	}
	loginAvailable(t, s, "b1", "support")
	if _, err := s.SetState(ctx, "b1", agents.EvLogout, ""); err != nil {
		t.Fatal(err)
	}
	got, err := s.AgentCounts(ctx, "sales")
	if err != nil || got[agents.Available] != 2 || got[agents.Idle] != 1 || len(got) != 2 {
		t.Fatalf("sales counts %v %v", got, err)
	}
	got, _ = s.AgentCounts(ctx, "support")
	if got[agents.Available] != 1 || len(got) != 1 {
		t.Fatalf("support counts %v (a logged-out agent must not count)", got)
	}
}
