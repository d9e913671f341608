package acd

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"testing"

	"github.com/tandem-cc/tandem/agents"
	"github.com/tandem-cc/tandem/internal/redistest"
)

func newTestStore(t *testing.T, node string) *tStore {
	t.Helper()
	return newTStore(redistest.Client(t), "t", node)
}

// arriveQueued creates a call and queues it, returning any offer.
func arriveQueued(t *testing.T, s *tStore, conn, queue string, prio int) *Offer {
	t.Helper()
	ctx := context.Background()
	if _, err := s.Arrive(ctx, conn, conn+"-leg", "5551000", "800", map[string]string{"lang": "en"}); err != nil {
		t.Fatal(err)
	}
	o, err := s.Enqueue(ctx, conn, queue, prio)
	if err != nil {
		t.Fatal(err)
	}
	return o
}

func loginAvailable(t *testing.T, s *tStore, id string, queues ...string) *Offer {
	t.Helper()
	ctx := context.Background()
	if _, err := s.Login(ctx, id, "PJSIP/"+id, queues, nil); err != nil {
		t.Fatal(err)
	}
	o, err := s.SetState(ctx, id, agents.EvAvailable, "")
	if err != nil {
		t.Fatal(err)
	}
	return o
}

func agentState(t *testing.T, s *tStore, id string) agents.State {
	t.Helper()
	a, err := s.Agent(context.Background(), id)
	if err != nil {
		t.Fatal(err)
	}
	return a.State
}

func ixState(t *testing.T, s *tStore, conn string) string {
	t.Helper()
	ix, err := s.Interaction(context.Background(), conn)
	if err != nil {
		t.Fatal(err)
	}
	return ix.State
}

func TestArriveRefusesDuplicateConnectionID(t *testing.T) {
	s := newTestStore(t, "n1")
	ctx := context.Background()
	if _, err := s.Arrive(ctx, "c1", "leg", "1", "2", nil); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Arrive(ctx, "c1", "leg", "1", "2", nil); !errors.Is(err, ErrExists) {
		t.Fatalf("second arrive: got %v, want ErrExists", err)
	}
}

func TestEnqueueWithNoAgentWaitsThenAgentAvailableTakesIt(t *testing.T) {
	s := newTestStore(t, "n1")
	if o := arriveQueued(t, s, "c1", "sales", 0); o != nil {
		t.Fatalf("offer with no agents: %+v", o)
	}
	if got := ixState(t, s, "c1"); got != "queued" {
		t.Fatalf("state %s", got)
	}
	o := loginAvailable(t, s, "a1", "sales")
	if o == nil || o.ConnectionID != "c1" || o.Agent != "a1" || o.Endpoint != "PJSIP/a1" || o.Attempt != 1 {
		t.Fatalf("offer = %+v", o)
	}
	if got := agentState(t, s, "a1"); got != agents.Reserved {
		t.Fatalf("agent %s", got)
	}
	if got := ixState(t, s, "c1"); got != "offered" {
		t.Fatalf("ix %s", got)
	}
	n, _ := s.rdb.ZCard(context.Background(), s.keys.Available("sales")).Result()
	if n != 0 {
		t.Fatalf("reserved agent still available in %d entries", n)
	}
}

func TestEnqueuePicksLongestIdleAgent(t *testing.T) {
	s := newTestStore(t, "n1")
	loginAvailable(t, s, "first", "sales")
	loginAvailable(t, s, "second", "sales")
	o := arriveQueued(t, s, "c1", "sales", 0)
	if o == nil || o.Agent != "first" {
		t.Fatalf("offer = %+v, want agent first", o)
	}
}

func TestHigherPriorityServedFirstThenFIFO(t *testing.T) {
	s := newTestStore(t, "n1")
	arriveQueued(t, s, "low1", "sales", 0)
	waitRedisTick(t, s.rdb)
	arriveQueued(t, s, "low2", "sales", 0)
	arriveQueued(t, s, "high", "sales", 5)
	var got []string
	for i := 0; i < 3; i++ {
		o := loginAvailable(t, s, fmt.Sprintf("a%d", i), "sales")
		if o == nil {
			t.Fatal("no offer")
		}
		got = append(got, o.ConnectionID)
	}
	want := []string{"high", "low1", "low2"}
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Fatalf("order %v, want %v", got, want)
	}
}

func TestAgentInTwoQueuesTakesOldestAcrossThem(t *testing.T) {
	s := newTestStore(t, "n1")
	arriveQueued(t, s, "old", "support", 0)
	waitRedisTick(t, s.rdb) // arrival order is by Redis ms
	arriveQueued(t, s, "new", "sales", 0)
	o := loginAvailable(t, s, "a1", "sales", "support")
	if o == nil || o.ConnectionID != "old" {
		t.Fatalf("offer %+v, want old", o)
	}
}

func TestRONAReturnsCallToHeadOfQueueAndAgentToRONA(t *testing.T) {
	s := newTestStore(t, "n1")
	ctx := context.Background()
	loginAvailable(t, s, "a1", "sales")
	o := arriveQueued(t, s, "c1", "sales", 0)
	arriveQueued(t, s, "c2", "sales", 0)
	if err := s.Ringing(ctx, *o, "leg-a1"); err != nil {
		t.Fatal(err)
	}
	next, err := s.NoAnswer(ctx, "c1", "a1", "no_answer")
	if err != nil || next != nil {
		t.Fatalf("no answer: %v %+v", err, next)
	}
	head, _ := s.rdb.ZRange(ctx, s.keys.Waiting("sales"), 0, -1).Result()
	if fmt.Sprint(head) != "[c1 c2]" {
		t.Fatalf("queue %v, want c1 back at head", head)
	}
	if got := agentState(t, s, "a1"); got != agents.RONA {
		t.Fatalf("agent %s, want rona", got)
	}
	ix, _ := s.Interaction(ctx, "c1")
	if ix.State != "queued" || ix.RONAs != 1 || ix.Agent != "" {
		t.Fatalf("ix %+v", ix)
	}
	// The next agent gets the returned call first, as attempt 2.
	o2 := loginAvailable(t, s, "a2", "sales")
	if o2 == nil || o2.ConnectionID != "c1" || o2.Attempt != 2 {
		t.Fatalf("offer %+v", o2)
	}
	// A RONA'd agent leaves rona only by choosing available or idle.
	if _, err := s.SetState(ctx, "a1", agents.EvAvailable, ""); err != nil {
		t.Fatal(err)
	}
}

func TestConnectAndFinishReleasesAgentToNextCall(t *testing.T) {
	s := newTestStore(t, "n1")
	ctx := context.Background()
	loginAvailable(t, s, "a1", "sales")
	o := arriveQueued(t, s, "c1", "sales", 0)
	arriveQueued(t, s, "c2", "sales", 0)
	if err := s.Ringing(ctx, *o, "leg1"); err != nil {
		t.Fatal(err)
	}
	if err := s.Connect(ctx, "c1", "a1", "wrong-leg"); !errors.Is(err, ErrStale) {
		t.Fatalf("connect of wrong leg: %v", err)
	}
	if err := s.Connect(ctx, "c1", "a1", "leg1"); err != nil {
		t.Fatal(err)
	}
	if got := agentState(t, s, "a1"); got != agents.Connected {
		t.Fatalf("agent %s", got)
	}
	final, next, err := s.Finish(ctx, "c1", "hangup", "caller")
	if err != nil || final != "ended" {
		t.Fatalf("finish: %s %v", final, err)
	}
	if next == nil || next.ConnectionID != "c2" || next.Agent != "a1" {
		t.Fatalf("hand-off offer %+v", next)
	}
	if _, _, err := s.Finish(ctx, "c1", "hangup", "agent"); !errors.Is(err, ErrIllegalTransition) {
		t.Fatalf("second finish: %v", err)
	}
	ix, _ := s.Interaction(ctx, "c1")
	if ix.Answered.IsZero() || ix.Ended.IsZero() || ix.EndedBy != "caller" {
		t.Fatalf("timestamps %+v", ix)
	}
}

func TestAbandonInQueueAndWhileRinging(t *testing.T) {
	s := newTestStore(t, "n1")
	ctx := context.Background()
	arriveQueued(t, s, "c1", "sales", 0)
	final, _, err := s.Finish(ctx, "c1", "hangup", "caller")
	if err != nil || final != "abandoned" {
		t.Fatalf("%s %v", final, err)
	}
	if n, _ := s.rdb.ZCard(ctx, s.keys.Waiting("sales")).Result(); n != 0 {
		t.Fatal("abandoned call still waiting")
	}
	ix, _ := s.Interaction(ctx, "c1")
	if ix.Ended.IsZero() || ix.Wait < 0 {
		t.Fatalf("%+v", ix)
	}
	o := loginAvailable(t, s, "a1", "sales")
	if o != nil {
		t.Fatal("offered an abandoned call")
	}
	o = arriveQueued(t, s, "c2", "sales", 0)
	if err := s.Ringing(ctx, *o, "leg"); err != nil {
		t.Fatal(err)
	}
	final, _, err = s.Finish(ctx, "c2", "hangup", "caller")
	if err != nil || final != "abandoned" {
		t.Fatalf("%s %v", final, err)
	}
	if got := agentState(t, s, "a1"); got != agents.Available {
		t.Fatalf("agent %s after abandon while ringing", got)
	}
}

func TestIllegalAgentTransitionsChangeNothing(t *testing.T) {
	s := newTestStore(t, "n1")
	ctx := context.Background()
	if _, err := s.SetState(ctx, "ghost", agents.EvAvailable, ""); !errors.Is(err, ErrNotFound) {
		t.Fatalf("unknown agent: %v", err)
	}
	loginAvailable(t, s, "a1", "sales")
	if _, err := s.SetState(ctx, "a1", agents.EvAvailable, ""); !errors.Is(err, ErrIllegalTransition) {
		t.Fatalf("available twice: %v", err)
	}
	if _, err := s.Login(ctx, "a1", "PJSIP/x", []string{"other"}, nil); !errors.Is(err, ErrIllegalTransition) {
		t.Fatalf("login twice: %v", err)
	}
	a, _ := s.Agent(ctx, "a1")
	if a.Endpoint != "PJSIP/a1" || a.State != agents.Available {
		t.Fatalf("state changed: %+v", a)
	}
	o := arriveQueued(t, s, "c1", "sales", 0)
	if o == nil {
		t.Fatal("no offer")
	}
	if _, err := s.SetState(ctx, "a1", agents.EvLogout, ""); !errors.Is(err, ErrIllegalTransition) {
		t.Fatalf("logout while reserved: %v", err)
	}
	if got := agentState(t, s, "a1"); got != agents.Reserved {
		t.Fatalf("agent %s", got)
	}
}

func TestIdleAndLogoutLeaveAvailableSets(t *testing.T) {
	s := newTestStore(t, "n1")
	ctx := context.Background()
	loginAvailable(t, s, "a1", "sales", "support")
	if _, err := s.SetState(ctx, "a1", agents.EvIdle, "break"); err != nil {
		t.Fatal(err)
	}
	a, _ := s.Agent(ctx, "a1")
	if a.State != agents.Idle || a.Reason != "break" {
		t.Fatalf("%+v", a)
	}
	if o := arriveQueued(t, s, "c1", "support", 0); o != nil {
		t.Fatal("idle agent offered a call")
	}
	if _, err := s.SetState(ctx, "a1", agents.EvLogout, ""); err != nil {
		t.Fatal(err)
	}
	if n, _ := s.rdb.SCard(ctx, s.keys.Agents()).Result(); n != 0 {
		t.Fatal("logged-out agent still listed")
	}
}

func TestOfferForAnotherNodesCallGoesToItsInbox(t *testing.T) {
	rdb := redistest.Client(t)
	n1 := newTStore(rdb, "t", "n1")
	n2 := newTStore(rdb, "t", "n2")
	arriveQueued(t, n1, "c1", "sales", 0)
	markAlive(t, n1.Store, "n1")
	// The agent becomes available through node n2: the call is n1's.
	if o := loginAvailable(t, n2, "a1", "sales"); o != nil {
		t.Fatalf("n2 got n1's offer: %+v", o)
	}
	msgs, err := rdb.XRange(context.Background(), n1.keys.Inbox("n1"), "-", "+").Result()
	if err != nil || len(msgs) != 1 || msgs[0].Values["conn"] != "c1" || msgs[0].Values["agent"] != "a1" {
		t.Fatalf("inbox %v %v", msgs, err)
	}
}

func TestSweepPairsWhatEventsMissed(t *testing.T) {
	s := newTestStore(t, "n1")
	ctx := context.Background()
	arriveQueued(t, s, "c1", "sales", 0)
	arriveQueued(t, s, "c2", "sales", 0)
	arriveQueued(t, s, "c3", "sales", 0)
	// Simulate two agents made available by hand (an event that was lost).
	for _, id := range []string{"a1", "a2"} {
		if _, err := s.Login(ctx, id, "PJSIP/"+id, []string{"sales"}, nil); err != nil {
			t.Fatal(err)
		}
		s.rdb.HSet(ctx, s.keys.Agent(id), "state", "available")
		s.rdb.ZAdd(ctx, s.keys.Available("sales"), redisZ(id))
	}
	offers, err := s.Sweep(ctx, "sales", 10)
	if err != nil || len(offers) != 2 || offers[0].ConnectionID != "c1" || offers[1].ConnectionID != "c2" {
		t.Fatalf("sweep %+v %v", offers, err)
	}
}

// TestConcurrentRoutingNeverDoubleOffers races many goroutines making agents
// available and queueing calls; every call is offered at most once and no
// agent is reserved twice.
func TestConcurrentRoutingNeverDoubleOffers(t *testing.T) {
	rdb := redistest.Client(t)
	ctx := context.Background()
	const calls, agentsN = 200, 40
	var mu sync.Mutex
	offeredCalls := map[string]int{}
	offeredAgents := map[string]int{}
	record := func(o *Offer) {
		if o == nil {
			return
		}
		mu.Lock()
		offeredCalls[o.ConnectionID]++
		offeredAgents[o.Agent]++
		mu.Unlock()
	}
	var wg sync.WaitGroup
	for w := 0; w < 8; w++ {
		s := newTStore(rdb, "t", "n1")
		wg.Add(1)
		go func(w int) {
			defer wg.Done()
			for i := w; i < calls; i += 8 {
				conn := fmt.Sprintf("c%03d", i)
				if _, err := s.Arrive(ctx, conn, "l", "1", "2", nil); err != nil {
					t.Error(err)
					return
				}
				o, err := s.Enqueue(ctx, conn, "sales", i%3)
				if err != nil {
					t.Error(err)
					return
				}
				record(o)
				if i < agentsN {
					id := fmt.Sprintf("a%02d", i)
					if _, err := s.Login(ctx, id, "PJSIP/"+id, []string{"sales"}, nil); err != nil {
						t.Error(err)
						return
					}
					o, err := s.SetState(ctx, id, agents.EvAvailable, "")
					if err != nil {
						t.Error(err)
						return
					}
					record(o)
				}
			}
		}(w)
	}
	wg.Wait()
	for c, n := range offeredCalls {
		if n > 1 {
			t.Errorf("call %s offered %d times", c, n)
		}
	}
	for a, n := range offeredAgents {
		if n > 1 {
			t.Errorf("agent %s reserved %d times", a, n)
		}
	}
	if len(offeredAgents) != agentsN {
		t.Errorf("%d agents reserved, want all %d (calls outnumber agents)", len(offeredAgents), agentsN)
	}
	s := newTStore(rdb, "t", "n1")
	waiting, _ := rdb.ZCard(ctx, s.keys.Waiting("sales")).Result()
	if int(waiting)+len(offeredCalls) != calls {
		t.Errorf("waiting %d + offered %d != %d calls", waiting, len(offeredCalls), calls)
	}
}
