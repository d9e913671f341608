package acd

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/tandem-cc/tandem/agents"
	"github.com/tandem-cc/tandem/errs"
)

var spanish5 = []SkillRequirement{{Skill: "spanish", MinLevel: 5}}

func TestLongestIdlePicksTheLongestIdleEligibleAgent(t *testing.T) {
	s := newTestStore(t, "n1")
	setRouting(t, s, "sales", QueueRouting{Strategy: StrategyLongestIdle, Skills: spanish5})
	loginSkilled(t, s, "none", nil, "sales")                         // longest idle, no skill
	loginSkilled(t, s, "low", map[string]int{"spanish": 4}, "sales") // below the minimum
	loginSkilled(t, s, "ok1", map[string]int{"spanish": 5}, "sales")
	loginSkilled(t, s, "ok2", map[string]int{"spanish": 9}, "sales")
	for _, want := range []string{"ok1", "ok2", ""} {
		o := arriveQueued(t, s, "c-"+want, "sales", 0)
		if got := offerAgent(o); got != want {
			t.Fatalf("offer to %q, want %q", got, want)
		}
	}
}

func offerAgent(o *Offer) string {
	if o == nil {
		return ""
	}
	return o.Agent
}

func TestRoundRobinRotatesInAgentIDOrder(t *testing.T) {
	s := newTestStore(t, "n1")
	setRouting(t, s, "sales", QueueRouting{Strategy: StrategyRoundRobin})
	// Longest idle would start with c; round robin goes by id from the
	// last served.
	for _, id := range []string{"c", "b", "a"} {
		loginSkilled(t, s, id, nil, "sales")
	}
	var got []string
	for i := 0; i < 7; i++ {
		o := arriveQueued(t, s, fmt.Sprintf("c%d", i), "sales", 0)
		if o == nil {
			t.Fatalf("call %d: no offer", i)
		}
		got = append(got, o.Agent)
		serve(t, s, o)
	}
	if want := "[a b c a b c a]"; fmt.Sprint(got) != want {
		t.Fatalf("order %v, want %s", got, want)
	}
}

func TestRoundRobinSkipsAgentsWithoutTheSkills(t *testing.T) {
	s := newTestStore(t, "n1")
	setRouting(t, s, "sales", QueueRouting{Strategy: StrategyRoundRobin, Skills: spanish5})
	loginSkilled(t, s, "a", map[string]int{"spanish": 5}, "sales")
	loginSkilled(t, s, "b", nil, "sales")
	loginSkilled(t, s, "c", map[string]int{"spanish": 7}, "sales")
	var got []string
	for i := 0; i < 4; i++ {
		o := arriveQueued(t, s, fmt.Sprintf("c%d", i), "sales", 0)
		if o == nil {
			t.Fatalf("call %d: no offer", i)
		}
		got = append(got, o.Agent)
		serve(t, s, o)
	}
	if want := "[a c a c]"; fmt.Sprint(got) != want {
		t.Fatalf("order %v, want %s", got, want)
	}
}

// warm gives agent n answered calls through its own queue.
func warm(t *testing.T, s *tStore, agent string, n int, talk time.Duration) {
	t.Helper()
	ctx := context.Background()
	for i := 0; i < n; i++ {
		conn := fmt.Sprintf("warm-%s-%d", agent, i)
		o := arriveQueued(t, s, conn, "own-"+agent, 0)
		if o == nil || o.Agent != agent {
			t.Fatalf("warm-up offer %+v", o)
		}
		answer(t, s, o)
		// Talked for talk: the call's talk started that long ago.
		from, _ := s.rdb.HGet(ctx, s.keys.Interaction(conn), "talk_from").Int64()
		s.rdb.HSet(ctx, s.keys.Interaction(conn), "talk_from", from-talk.Milliseconds())
		if _, _, err := s.Finish(ctx, conn, "hangup", "caller"); err != nil {
			t.Fatal(err)
		}
		waitRedisTick(t, s.rdb)
	}
}

func TestFewestCallsPicksTheAgentWithFewestAnsweredToday(t *testing.T) {
	s := newTestStore(t, "n1")
	ctx := context.Background()
	setRouting(t, s, "sales", QueueRouting{Strategy: StrategyFewestCalls})
	loginSkilled(t, s, "a", nil, "sales", "own-a")
	loginSkilled(t, s, "b", nil, "sales", "own-b")
	warm(t, s, "a", 2, 0)
	warm(t, s, "b", 1, 0)
	loginSkilled(t, s, "c", nil, "sales") // newest idle, no calls
	for _, want := range []string{"c", "b", "a"} {
		o := arriveQueued(t, s, "c-"+want, "sales", 0)
		if offerAgent(o) != want {
			t.Fatalf("offer %+v, want %s", o, want)
		}
		answer(t, s, o) // busy from now on
	}
	for id, want := range map[string]int64{"a": 3, "b": 2, "c": 1} {
		d, err := s.AgentToday(ctx, id)
		if err != nil || d.Calls != want {
			t.Fatalf("%s today %+v %v, want %d calls", id, d, err, want)
		}
	}
}

func TestFewestCallsTiesGoToLongestIdle(t *testing.T) {
	s := newTestStore(t, "n1")
	setRouting(t, s, "sales", QueueRouting{Strategy: StrategyFewestCalls})
	loginSkilled(t, s, "z", nil, "sales")
	loginSkilled(t, s, "y", nil, "sales")
	if o := arriveQueued(t, s, "c1", "sales", 0); offerAgent(o) != "z" {
		t.Fatalf("offer %+v, want z", o)
	}
}

func TestLeastTalkTimePicksTheAgentWhoTalkedLeastToday(t *testing.T) {
	s := newTestStore(t, "n1")
	ctx := context.Background()
	setRouting(t, s, "sales", QueueRouting{Strategy: StrategyLeastTalkTime})
	loginSkilled(t, s, "a", nil, "sales", "own-a")
	loginSkilled(t, s, "b", nil, "sales", "own-b")
	loginSkilled(t, s, "c", nil, "sales", "own-c")
	warm(t, s, "a", 1, 30*time.Second)
	warm(t, s, "b", 2, 5*time.Second)  // more calls, less talk
	warm(t, s, "c", 1, 20*time.Second) // idle order now a, b, c
	for _, want := range []string{"b", "c", "a"} {
		o := arriveQueued(t, s, "c-"+want, "sales", 0)
		if offerAgent(o) != want {
			t.Fatalf("offer %+v, want %s", o, want)
		}
		answer(t, s, o)
	}
	d, err := s.AgentToday(ctx, "b")
	if err != nil || d.Talk < 10*time.Second || d.Talk > 11*time.Second {
		t.Fatalf("b talked %v (%v), want about 10s", d.Talk, err)
	}
}

func TestBestSkillPicksHighestLevelThenLongestIdle(t *testing.T) {
	s := newTestStore(t, "n1")
	setRouting(t, s, "sales", QueueRouting{Strategy: StrategyBestSkill,
		Skills: []SkillRequirement{{Skill: "spanish", MinLevel: 5}, {Skill: "billing", MinLevel: 1}}})
	loginSkilled(t, s, "none", map[string]int{"billing": 10}, "sales")
	loginSkilled(t, s, "six", map[string]int{"spanish": 6, "billing": 1}, "sales")
	loginSkilled(t, s, "nine1", map[string]int{"spanish": 9, "billing": 1}, "sales")
	loginSkilled(t, s, "nine2", map[string]int{"spanish": 9, "billing": 9}, "sales")
	loginSkilled(t, s, "ten-nobilling", map[string]int{"spanish": 10}, "sales")
	for _, want := range []string{"nine1", "nine2", "six", ""} {
		o := arriveQueued(t, s, "c-"+want, "sales", 0)
		if offerAgent(o) != want {
			t.Fatalf("offer %+v, want %q", o, want)
		}
	}
}

func TestRingAllOffersEveryEligibleAgentAndReleasesTheOthersOnAnswer(t *testing.T) {
	s := newTestStore(t, "n1")
	ctx := context.Background()
	setRouting(t, s, "sales", QueueRouting{Strategy: StrategyRingAll, Skills: spanish5})
	loginSkilled(t, s, "a", map[string]int{"spanish": 5}, "sales")
	loginSkilled(t, s, "x", map[string]int{"spanish": 2}, "sales") // not eligible
	loginSkilled(t, s, "b", map[string]int{"spanish": 6}, "sales")
	loginSkilled(t, s, "c", map[string]int{"spanish": 7}, "sales")
	o := arriveQueued(t, s, "c1", "sales", 0)
	if got := offerAgents(o); fmt.Sprint(got) != "[a b c]" {
		t.Fatalf("ring-all offer %+v, want a b c", o)
	}
	if o.RingAll[0].Endpoint != "PJSIP/b" || o.Attempt != 1 {
		t.Fatalf("offer %+v", o)
	}
	for _, id := range []string{"a", "b", "c"} {
		if st := agentState(t, s, id); st != agents.Reserved {
			t.Fatalf("%s is %s, want reserved", id, st)
		}
	}
	if n, _ := s.rdb.ZCard(ctx, s.keys.Available("sales")).Result(); n != 1 {
		t.Fatalf("%d agents still available, want only x", n)
	}
	// A second call waits: everyone eligible is ringing for c1.
	if o2 := arriveQueued(t, s, "c2", "sales", 0); o2 != nil {
		t.Fatalf("c2 offered %+v while all ring for c1", o2)
	}
	for _, id := range offerAgents(o) {
		if err := s.Ringing(ctx, Offer{ConnectionID: "c1", Agent: id}, "leg-"+id); err != nil {
			t.Fatal(err)
		}
	}
	if err := s.Connect(ctx, "c1", "a", "leg-a"); !errors.Is(err, ErrStale) {
		t.Fatalf("connect before the ring-all is settled: %v", err)
	}
	released, next, err := s.RingAllAnswered(ctx, "c1", "b")
	if err != nil {
		t.Fatal(err)
	}
	if fmt.Sprint(released) != "[a c]" {
		t.Fatalf("released %v", released)
	}
	// a was released first and takes the waiting call; c is available.
	if len(next) != 1 || next[0].ConnectionID != "c2" || next[0].Agent != "a" {
		t.Fatalf("next offers %+v", next)
	}
	if st := agentState(t, s, "c"); st != agents.Available {
		t.Fatalf("c is %s", st)
	}
	if _, _, err := s.RingAllAnswered(ctx, "c1", "c"); !errors.Is(err, ErrStale) {
		t.Fatalf("a second answer: %v", err)
	}
	if err := s.Connect(ctx, "c1", "b", "leg-b"); err != nil {
		t.Fatal(err)
	}
	ix, _ := s.Interaction(ctx, "c1")
	if ix.State != "connected" || ix.Agent != "b" || ix.AgentLeg != "leg-b" {
		t.Fatalf("ix %+v", ix)
	}
	if h, _ := s.rdb.HGetAll(ctx, s.keys.Interaction("c1")).Result(); h["ring"] != "" || h["leg:a"] != "" {
		t.Fatalf("ring-all leftovers %v", h)
	}
}

func TestRingAllCapsTheAgentsRung(t *testing.T) {
	s := newTestStore(t, "n1")
	setRouting(t, s, "sales", QueueRouting{Strategy: StrategyRingAll})
	for i := 0; i < RingAllMax+3; i++ {
		loginSkilled(t, s, fmt.Sprintf("a%02d", i), nil, "sales")
	}
	o := arriveQueued(t, s, "c1", "sales", 0)
	if got := offerAgents(o); len(got) != RingAllMax || got[0] != "a00" {
		t.Fatalf("rang %v, want the %d longest idle", got, RingAllMax)
	}
}

func TestRingAllWithOneEligibleAgentIsAnOrdinaryOffer(t *testing.T) {
	s := newTestStore(t, "n1")
	ctx := context.Background()
	setRouting(t, s, "sales", QueueRouting{Strategy: StrategyRingAll})
	loginSkilled(t, s, "a", nil, "sales")
	o := arriveQueued(t, s, "c1", "sales", 0)
	if o == nil || len(o.RingAll) != 0 {
		t.Fatalf("offer %+v", o)
	}
	answer(t, s, o)
	if released, next, err := s.RingAllAnswered(ctx, "c1", "a"); !errors.Is(err, ErrStale) || released != nil || next != nil {
		t.Fatalf("ring-all answer of a connected call: %v %v %v", released, next, err)
	}
}

func TestRingAllDeclinesThenNoneAnsweredRequeues(t *testing.T) {
	s := newTestStore(t, "n1")
	ctx := context.Background()
	setRouting(t, s, "sales", QueueRouting{Strategy: StrategyRingAll})
	for _, id := range []string{"a", "b", "c"} {
		loginSkilled(t, s, id, nil, "sales")
	}
	o := arriveQueued(t, s, "c1", "sales", 0)
	for _, id := range offerAgents(o) {
		if err := s.Ringing(ctx, Offer{ConnectionID: "c1", Agent: id}, "leg-"+id); err != nil {
			t.Fatal(err)
		}
	}
	// a rejects: b and c keep ringing, the call stays offered.
	next, err := s.NoAnswer(ctx, "c1", "a", "rejected")
	if err != nil || next != nil {
		t.Fatalf("decline: %v %+v", err, next)
	}
	if st := agentState(t, s, "a"); st != agents.RONA {
		t.Fatalf("a is %s", st)
	}
	if ixState(t, s, "c1") != "offered" || agentState(t, s, "b") != agents.Ringing {
		t.Fatal("the others stopped ringing")
	}
	if _, err := s.NoAnswer(ctx, "c1", "a", "rejected"); !errors.Is(err, ErrStale) {
		t.Fatalf("second decline of a: %v", err)
	}
	// Nobody else answers in time.
	loginSkilled(t, s, "d", nil, "other") // not in sales: the call waits
	next, err = s.RingAllNoAnswer(ctx, "c1", "timeout")
	if err != nil || next != nil {
		t.Fatalf("none answered: %v %+v", err, next)
	}
	for _, id := range []string{"b", "c"} {
		if st := agentState(t, s, id); st != agents.RONA {
			t.Fatalf("%s is %s, want rona", id, st)
		}
	}
	ix, _ := s.Interaction(ctx, "c1")
	if ix.State != "queued" || ix.RONAs != 1 || ix.Agent != "" {
		t.Fatalf("ix %+v", ix)
	}
	if h, _ := s.rdb.HGetAll(ctx, s.keys.Interaction("c1")).Result(); h["ring"] != "" || h["leg:b"] != "" {
		t.Fatalf("ring-all leftovers %v", h)
	}
	// The next agent of the queue gets it, as attempt 2.
	if o := loginSkilled(t, s, "e", nil, "sales"); o == nil || o.ConnectionID != "c1" || o.Attempt != 2 {
		t.Fatalf("offer %+v", o)
	}
}

func TestRingAllCallerHangsUpReleasesEveryAgentWithoutLosingOffers(t *testing.T) {
	s := newTestStore(t, "n1")
	ctx := context.Background()
	setRouting(t, s, "sales", QueueRouting{Strategy: StrategyRingAll})
	for _, id := range []string{"a", "b", "c"} {
		loginSkilled(t, s, id, nil, "sales")
	}
	o := arriveQueued(t, s, "c1", "sales", 0)
	if len(offerAgents(o)) != 3 {
		t.Fatalf("offer %+v", o)
	}
	arriveQueued(t, s, "c2", "sales", 0)
	arriveQueued(t, s, "c3", "sales", 0)
	final, next, err := s.Finish(ctx, "c1", "hangup", "caller")
	if err != nil || final != "abandoned" {
		t.Fatalf("finish %s %v", final, err)
	}
	if next == nil || next.ConnectionID != "c2" || next.Agent != "a" {
		t.Fatalf("hand-off %+v", next)
	}
	// b's offer of c3 did not fit in the reply: it is in this node's inbox.
	msgs, err := s.rdb.XRange(ctx, s.keys.Inbox("n1"), "-", "+").Result()
	if err != nil || len(msgs) != 1 {
		t.Fatalf("inbox %v %v", msgs, err)
	}
	if in := OfferFromInbox(msgs[0].Values); in.ConnectionID != "c3" || in.Agent != "b" || in.Endpoint != "PJSIP/b" || in.Attempt != 1 {
		t.Fatalf("inbox offer %+v", in)
	}
	if st := agentState(t, s, "c"); st != agents.Available {
		t.Fatalf("c is %s", st)
	}
}

func TestRingAllOfferForAnotherNodeGoesToItsInboxWithTheList(t *testing.T) {
	s := newTestStore(t, "n1")
	n2 := newTStore(s.rdb, "t", "n2")
	ctx := context.Background()
	setRouting(t, s, "sales", QueueRouting{Strategy: StrategyRingAll})
	for _, id := range []string{"a", "b", "c"} {
		loginSkilled(t, n2, id, nil, "sales")
	}
	// n1 owns the call (and is alive); n2 happens to queue it.
	markAlive(t, s.Store, "n1")
	if _, err := s.Arrive(ctx, "c1", "leg", "1", "2", nil); err != nil {
		t.Fatal(err)
	}
	if o, err := n2.Enqueue(ctx, "c1", "sales", 0); err != nil || o != nil {
		t.Fatalf("n2 got n1's offer: %+v %v", o, err)
	}
	msgs, _ := s.rdb.XRange(ctx, s.keys.Inbox("n1"), "-", "+").Result()
	if len(msgs) != 1 {
		t.Fatalf("inbox %v", msgs)
	}
	in := OfferFromInbox(msgs[0].Values)
	want := []RingMember{{"b", "PJSIP/b"}, {"c", "PJSIP/c"}}
	if in.ConnectionID != "c1" || in.Agent != "a" || in.Endpoint != "PJSIP/a" || !slices.Equal(in.RingAll, want) {
		t.Fatalf("inbox offer %+v", in)
	}
}

func TestAgentInTwoQueuesWeightCountsAsMinutesOfWaiting(t *testing.T) {
	for _, tc := range []struct {
		name          string
		vipW, stdW    int
		stdOlder      time.Duration
		want          string
		vipPrio, prio int
	}{
		{"equal weights: oldest wins", 0, 0, 30 * time.Second, "std", 0, 0},
		{"weight 2 beats 90s of waiting", 2, 0, 90 * time.Second, "vip", 0, 0},
		{"but not 150s", 2, 0, 150 * time.Second, "std", 0, 0},
		{"weights relative", 3, 1, 90 * time.Second, "vip", 0, 0},
		{"priority still first", 100, 0, 0, "std", 0, 5},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s := newTestStore(t, "n1")
			if err := s.SetQueues(context.Background(), map[string]QueueRouting{
				"vip": {Weight: tc.vipW}, "std": {Weight: tc.stdW},
			}); err != nil {
				t.Fatal(err)
			}
			arriveQueued(t, s, "std", "std", tc.prio)
			ageCall(t, s, "std", tc.stdOlder)
			arriveQueued(t, s, "vip", "vip", tc.vipPrio)
			o := loginSkilled(t, s, "a", nil, "vip", "std")
			if o == nil || o.ConnectionID != tc.want {
				t.Fatalf("offer %+v, want %s", o, tc.want)
			}
		})
	}
}

func TestSetQueuesValidatesAndReadsBack(t *testing.T) {
	s := newTestStore(t, "n1")
	ctx := context.Background()
	want := QueueRouting{Strategy: StrategyBestSkill, Weight: 3, Skills: []SkillRequirement{
		{Skill: "spanish", MinLevel: 7, Relax: []SkillRelaxation{{After: 30 * time.Second, MinLevel: 5}, {After: time.Minute, MinLevel: 0}}},
		{Skill: "billing", MinLevel: 2},
	}}
	if err := s.SetQueues(ctx, map[string]QueueRouting{"sales": want, "plain": {}}); err != nil {
		t.Fatal(err)
	}
	got, err := s.QueueRouting(ctx, "sales")
	if err != nil || fmt.Sprint(got) != fmt.Sprint(want) {
		t.Fatalf("read back %+v %v, want %+v", got, err, want)
	}
	if got, _ := s.QueueRouting(ctx, "plain"); got.Strategy != StrategyLongestIdle {
		t.Fatalf("default strategy %+v", got)
	}
	for _, bad := range []struct {
		q     QueueRouting
		field string
	}{
		{QueueRouting{Strategy: "random"}, "queues.q.strategy"},
		{QueueRouting{Weight: -1}, "queues.q.weight"},
		{QueueRouting{Skills: []SkillRequirement{{Skill: "a,b", MinLevel: 1}}}, "queues.q.skills[0].skill"},
		{QueueRouting{Skills: []SkillRequirement{{Skill: "a", MinLevel: 11}}}, "queues.q.skills[0].min_level"},
		{QueueRouting{Skills: []SkillRequirement{{Skill: "a", MinLevel: 3}, {Skill: "a", MinLevel: 2}}}, "queues.q.skills[1].skill"},
		{QueueRouting{Skills: []SkillRequirement{{Skill: "a", MinLevel: 3, Relax: []SkillRelaxation{{After: time.Second, MinLevel: 4}}}}}, "queues.q.skills[0].relax[0].min_level"},
		{QueueRouting{Skills: []SkillRequirement{{Skill: "a", MinLevel: 3, Relax: []SkillRelaxation{{After: time.Second, MinLevel: 2}, {After: time.Second, MinLevel: 1}}}}}, "queues.q.skills[0].relax[1].after"},
	} {
		err := s.SetQueues(ctx, map[string]QueueRouting{"q": bad.q})
		var fe *errs.FieldError
		if !errors.As(err, &fe) || fe.Field != bad.field {
			t.Errorf("%+v: error %v, want field %s", bad.q, err, bad.field)
		}
	}
}

func TestLoginSkillsAreValidatedAndReadBack(t *testing.T) {
	s := newTestStore(t, "n1")
	ctx := context.Background()
	for _, bad := range []map[string]int{{"spanish": 0}, {"spanish": 11}, {"bad:name": 3}, {"": 1}} {
		_, err := s.Login(ctx, "a1", "PJSIP/a1", []string{"sales"}, bad)
		var fe *errs.FieldError
		if !errors.As(err, &fe) || fe.Field != "skills" {
			t.Errorf("skills %v: %v, want a skills field error", bad, err)
		}
	}
	a, err := s.Login(ctx, "a1", "PJSIP/a1", []string{"sales"}, map[string]int{"spanish": 7, "billing": 3})
	if err != nil || fmt.Sprint(a.Skills) != "map[billing:3 spanish:7]" {
		t.Fatalf("login %+v %v", a, err)
	}
	if h, _ := s.rdb.HGet(ctx, s.keys.Agent("a1"), "skills").Result(); h != "billing:3,spanish:7" {
		t.Fatalf("stored skills %q", h)
	}
	// Logging in again (after logout) replaces them.
	if _, err := s.SetState(ctx, "a1", agents.EvLogout, ""); err != nil {
		t.Fatal(err)
	}
	a, err = s.Login(ctx, "a1", "PJSIP/a1", []string{"sales"}, nil)
	if err != nil || a.Skills != nil {
		t.Fatalf("login without skills %+v %v", a, err)
	}
	if n, _ := s.rdb.HLen(ctx, s.keys.AgentSkills()).Result(); n != 0 {
		t.Fatalf("stale skills of a1 still routable")
	}
	if !slices.Equal(a.Queues, []string{"sales"}) {
		t.Fatalf("%+v", a)
	}
}
