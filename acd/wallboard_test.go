package acd

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"slices"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/tandem-cc/tandem/agents"
	"github.com/tandem-cc/tandem/cad"
	"github.com/tandem-cc/tandem/callbacks"
	"github.com/tandem-cc/tandem/internal/redistest"
)

// TestWallboardReadsAgentsQueuesCallbacksAndSettings sets up a connected
// agent whose customer is on hold, an idle one, a logged-out one, a
// waiting call and callbacks, and reads them as the pages do.
func TestWallboardReadsAgentsQueuesCallbacksAndSettings(t *testing.T) {
	ctx := context.Background()
	s := newTestStore(t, "n1")
	e := NewEngine(Options{Store: NewStore(s.rdb, "t", "n1"), Logger: slog.New(slog.DiscardHandler),
		Queues: map[string]QueueSettings{
			"sales": {ServiceLevel: 20 * time.Second, Variables: []cad.Variable{
				{Name: "CARD", Label: "Card", Type: "string", Secure: true, Order: 3},
				{Name: "ACCOUNT", Label: "Account", Type: "string", Order: 1, PopUp: true},
				{Name: "NOTE", Label: "Note", Type: "text", Editable: true, Order: 2},
			}},
			"support": {ServiceLevel: 20 * time.Second},
		},
		IdleReasons: []string{"lunch", "break"}, WrapUpCodes: []string{"resolved", "escalated"}, DefaultWrapUpCode: "resolved",
		Policy: Policy{WrapUp: 45 * time.Second},
	})

	loginAvailable(t, s, "a1", "sales")
	o := arriveQueued(t, s, "c1", "sales", 0)
	if o == nil || o.Agent != "a1" {
		t.Fatalf("offer %+v", o)
	}
	must(t, s.Ringing(ctx, *o, "c1-a1"))
	must(t, s.Connect(ctx, "c1", "a1", "c1-a1"))
	must(t, s.Talk(ctx, "c1", TalkTalking, TalkHeld, "hold"))
	if _, err := s.Login(ctx, "a2", "PJSIP/a2", []string{"support", "sales"}, nil); err != nil {
		t.Fatal(err)
	}
	if _, err := s.SetState(ctx, "a2", agents.EvIdle, "lunch"); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Login(ctx, "a0", "PJSIP/a0", []string{"sales"}, nil); err != nil {
		t.Fatal(err)
	}
	if _, err := s.SetState(ctx, "a0", agents.EvLogout, ""); err != nil {
		t.Fatal(err)
	}
	arriveQueued(t, s, "c2", "sales", 0) // nobody available: it waits

	list, err := e.Agents(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if len(list) != 2 || list[0].ID != "a1" || list[1].ID != "a2" {
		t.Fatalf("agents %+v, want a1 and a2 (logged-in only, by id)", list)
	}
	a1, a2 := list[0], list[1]
	ix, err := s.Interaction(ctx, "c1")
	if err != nil {
		t.Fatal(err)
	}
	if a1.State != agents.Connected || a1.Endpoint != "PJSIP/a1" || a1.Call == nil ||
		*a1.Call != (AgentCall{ConnectionID: "c1", Queue: "sales", State: TalkHeld, Since: ix.Answered}) {
		t.Errorf("a1 %+v call %+v, want connected on c1 of sales, held, since it was answered (%v)", a1, a1.Call, ix.Answered)
	}
	if a2.State != agents.Idle || a2.Reason != "lunch" || a2.Call != nil || !slices.Equal(a2.Queues, []string{"support", "sales"}) || a2.Since.IsZero() {
		t.Errorf("a2 %+v", a2)
	}

	if _, _, err := e.RequestCallback(ctx, CallbackRequest{Queue: "sales", Number: "+12025550123", Vars: map[string]string{"CARD": "4111111111111111"}}); err != nil {
		t.Fatal(err)
	}
	waitRedisTick(t, s.rdb)
	second, _, err := e.RequestCallback(ctx, CallbackRequest{Queue: "support", Number: "+12025550124", EarliestAt: time.Now().Add(time.Hour)})
	if err != nil {
		t.Fatal(err)
	}
	waitRedisTick(t, s.rdb)
	third, _, err := e.RequestCallback(ctx, CallbackRequest{Queue: "sales", Number: "+12025550125"})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := e.CancelCallback(ctx, third.ID); err != nil {
		t.Fatal(err)
	}

	queues, err := e.Queues(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if len(queues) != 2 || queues[0].Name != "sales" || queues[1].Name != "support" {
		t.Fatalf("queues %+v, want sales and support", queues)
	}
	sales, support := queues[0], queues[1]
	if len(sales.Waiting) != 1 || sales.Waiting[0].ConnectionID != "c2" || sales.PendingCallbacks != 1 || sales.Stats == nil ||
		!slices.Equal(sales.Agents[agents.Connected], []string{"a1"}) || !slices.Equal(sales.Agents[agents.Idle], []string{"a2"}) {
		t.Errorf("sales %+v", sales)
	}
	if len(support.Waiting) != 0 || support.PendingCallbacks != 1 || !slices.Equal(support.Agents[agents.Idle], []string{"a2"}) {
		t.Errorf("support %+v", support)
	}
	one, err := e.Queue(ctx, "support")
	if err != nil || one.PendingCallbacks != 1 {
		t.Errorf("one queue: %+v %v", one, err)
	}

	cbs, err := e.Callbacks(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if len(cbs) != 2 || cbs[0].Queue != "sales" || cbs[1].ID != second.ID {
		t.Fatalf("callbacks %+v, want sales' then support's (oldest first), not the cancelled one", cbs)
	}
	if cbs[0].Vars["CARD"] != cad.Masked {
		t.Errorf("a secure variable listed in clear: %q", cbs[0].Vars["CARD"])
	}
	if cbs[1].Kind != callbacks.KindScheduled || !cbs[1].Due.After(cbs[1].Created) {
		t.Errorf("scheduled callback %+v", cbs[1])
	}

	ds := e.DesktopSettings()
	got, _ := json.Marshal(ds)
	want := `{"idle_reasons":["lunch","break"],"wrapup":{"codes":["resolved","escalated"],"default_code":"resolved","timeout_s":45},` +
		`"queues":[{"name":"sales","variables":[` +
		`{"name":"ACCOUNT","label":"Account","type":"string","editable":false,"secure":false,"order":1,"popup":true},` +
		`{"name":"NOTE","label":"Note","type":"text","editable":true,"secure":false,"order":2,"popup":false},` +
		`{"name":"CARD","label":"Card","type":"string","editable":false,"secure":true,"order":3,"popup":false}]},` +
		`{"name":"support","variables":[]}]}`
	if string(got) != want {
		t.Errorf("settings\n%s\nwant\n%s", got, want)
	}
}

func must(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

// TestQueuesReadInTheSameRoundTripsForOneQueueAsForTwenty: the wallboard
// polls GET /v1/queues every 2 s; reading every queue with its waiting
// calls, agents, figures and callback count costs the same round trips
// with 20 queues as with one (it used to cost about four per queue), and
// still reads each queue right.
func TestQueuesReadInTheSameRoundTripsForOneQueueAsForTwenty(t *testing.T) {
	ctx := context.Background()
	read := func(n int) (trips, oneTrips int64) {
		rdb := redis.NewClient(&redis.Options{Addr: redistest.Start(t)})
		t.Cleanup(func() { _ = rdb.Close() })
		rt := &roundTrips{}
		rdb.AddHook(rt)
		s := newTStore(rdb, "t", "n1")
		qs := map[string]QueueSettings{}
		for i := range n {
			qs[fmt.Sprintf("q%02d", i)] = QueueSettings{ServiceLevel: 20 * time.Second}
		}
		e := NewEngine(Options{Store: s.Store, Queues: qs, Logger: slog.New(slog.DiscardHandler)})
		for i := range n {
			q := fmt.Sprintf("q%02d", i)
			// Two waiting calls (the agent is idle), a figure, a callback.
			if _, err := s.Login(ctx, "a"+q, "PJSIP/a"+q, []string{q}, nil); err != nil {
				t.Fatal(err)
			}
			arriveQueued(t, s, "c1"+q, q, 0)
			arriveQueued(t, s, "c2"+q, q, 0)
			s.CountAnswered(ctx, q, 5*time.Second, 20*time.Second)
			if _, _, err := e.RequestCallback(ctx, CallbackRequest{Queue: q, Number: fmt.Sprintf("+1202555%04d", i)}); err != nil {
				t.Fatal(err)
			}
		}
		before := rt.n.Load()
		views, err := e.Queues(ctx)
		if err != nil {
			t.Fatal(err)
		}
		trips = rt.n.Load() - before
		if len(views) != n {
			t.Fatalf("%d queues read, want %d", len(views), n)
		}
		for i, v := range views {
			q := fmt.Sprintf("q%02d", i)
			if v.Name != q || len(v.Waiting) != 2 || v.Waiting[0].ConnectionID != "c1"+q || v.Waiting[1].ConnectionID != "c2"+q ||
				v.PendingCallbacks != 1 || v.Stats == nil || v.Stats.Answered != 1 || v.Stats.AnsweredWithinSL != 1 ||
				v.Stats.LongestWaitSeconds != v.Waiting[0].WaitSeconds || !slices.Equal(v.Agents[agents.Idle], []string{"a" + q}) {
				t.Errorf("%d queues: view %d %+v (stats %+v)", n, i, v, v.Stats)
			}
		}
		before = rt.n.Load()
		if _, err := e.Queue(ctx, "q00"); err != nil {
			t.Fatal(err)
		}
		return trips, rt.n.Load() - before
	}
	one, oneQueue := read(1)
	twenty, _ := read(20)
	if one != twenty || one != 2 {
		t.Errorf("round trips to read every queue: %d with one queue, %d with 20; want 2 and 2", one, twenty)
	}
	if oneQueue != one {
		t.Errorf("round trips to read one queue by name: %d, want %d as for all", oneQueue, one)
	}
}
