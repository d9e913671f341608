package acd

import (
	"context"
	"encoding/json"
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/tandem-cc/tandem/agents"
	"github.com/tandem-cc/tandem/cad"
	"github.com/tandem-cc/tandem/callbacks"
)

// The screen pop of a pending offer, read back through Engine.AgentView
// (offer_pop.go), against a real Redis: the scripts move agents and calls
// as the actors would, and a call actor built by hand publishes the pops
// (its PBX side is not needed for that).

// popCard is the secure value of the pop tests: never stored or shown.
const popCard = "4111111111111111"

// popSettings is a queue with pop-up variables, a secure one among them.
func popSettings() QueueSettings {
	return QueueSettings{Variables: []cad.Variable{
		{Name: "CUSTOMER_ID", Label: "Customer", Type: "string", Order: 1, PopUp: true},
		{Name: "CARD", Label: "Card", Type: "string", Secure: true, Order: 2, PopUp: true},
		{Name: "NOTE", Label: "Note", Type: "string", Order: 3},
	}}
}

// popWorld is an engine on a test store, and the actors it pops from.
type popWorld struct {
	t *testing.T
	s *tStore
	e *Engine
}

func newPopWorld(t *testing.T) popWorld {
	t.Helper()
	s := newTestStore(t, "n1")
	e := NewEngine(Options{Store: s.Store, Logger: slog.New(slog.DiscardHandler), Queues: map[string]QueueSettings{"sales": popSettings()}})
	return popWorld{t: t, s: s, e: e}
}

// actor is the call actor of conn in sales, as onOffer leaves it for o.
func (w popWorld) actor(conn string, o *Offer) *call {
	return &call{
		e: w.e, conn: conn, log: slog.New(slog.DiscardHandler), queueName: "sales", settings: popSettings(), offer: o,
		arrived: CallArrived{ANI: "+12025550123", DNIS: "5551000", Vars: map[string]string{"CUSTOMER_ID": "C-42", "CARD": popCard, "NOTE": "VIP"}},
	}
}

// offerOf reads the offer GET /v1/agents/{id} would show agent (nil: none).
func (w popWorld) offerOf(agent string) *AgentEvent {
	w.t.Helper()
	v, err := w.e.AgentView(context.Background(), agent)
	if err != nil {
		w.t.Fatal(err)
	}
	if v.ID != agent {
		w.t.Fatalf("AgentView(%s) reads agent %q", agent, v.ID)
	}
	return v.Offer
}

// noOffer fails unless agent has no offer pending.
func (w popWorld) noOffer(agent, when string) {
	w.t.Helper()
	if o := w.offerOf(agent); o != nil {
		w.t.Fatalf("%s: %s still shows the offer of %s (%s)", when, agent, o.ConnectionID, o.Kind)
	}
}

// ring marks o's agent ringing on leg, as the actor does before the pop.
func (w popWorld) ring(o *Offer, agent string) {
	w.t.Helper()
	if err := w.s.Ringing(context.Background(), Offer{ConnectionID: o.ConnectionID, Agent: agent, Attempt: o.Attempt}, o.ConnectionID+"-"+agent); err != nil {
		w.t.Fatal(err)
	}
}

// TestAgentViewShowsTheRingingOfferAsPublished: while the agent's phone
// rings, GET /v1/agents/{id} has the very "offered" event the desktop got
// (caller, DNIS, queue, pop-up variables, time), the secure value masked
// as in the event and nowhere in clear in Redis; before the pop there is
// none, and once the agent answers there is none either.
func TestAgentViewShowsTheRingingOfferAsPublished(t *testing.T) {
	ctx := context.Background()
	w := newPopWorld(t)
	loginAvailable(t, w.s, "a1", "sales")
	sctx, stop := context.WithCancel(ctx)
	defer stop()
	events, err := w.e.SubscribeAgent(sctx, "a1")
	if err != nil {
		t.Fatal(err)
	}
	o := arriveQueued(t, w.s, "c1", "sales", 0)
	mustOffer(t, o, "c1", "a1")
	w.noOffer("a1", "reserved, phone not rung yet")

	w.ring(o, "a1")
	c := w.actor("c1", o)
	c.showPop(ctx, "a1")
	var live AgentEvent
	for live.Type != "offered" { // the state events come first
		select {
		case live = <-events:
		case <-time.After(5 * time.Second):
			t.Fatal("no offered event published")
		}
	}
	got := w.offerOf("a1")
	if got == nil {
		t.Fatal("a1 rings for c1 and has no offer")
	}
	liveJSON, _ := json.Marshal(live)
	gotJSON, _ := json.Marshal(got)
	if string(liveJSON) != string(gotJSON) {
		t.Fatalf("offer read\n%s\nwant the published event\n%s", gotJSON, liveJSON)
	}
	if got.Type != "offered" || got.Agent != "a1" || got.ConnectionID != "c1" || got.ANI != "+12025550123" ||
		got.DNIS != "5551000" || got.Queue != "sales" || got.Kind != "" || got.At.IsZero() {
		t.Fatalf("offer %+v", got)
	}
	if len(got.Variables) != 2 || got.Variables[0].Value != "C-42" || got.Variables[1].Name != "CARD" ||
		got.Variables[1].Value != cad.Masked || got.Attached["CARD"] != cad.Masked {
		t.Fatalf("offer variables %+v attached %v, want CUSTOMER_ID then CARD masked", got.Variables, got.Attached)
	}
	if h, _ := w.s.rdb.HGetAll(ctx, w.s.keys.Interaction("c1")).Result(); strings.Contains(h["pop"], popCard) {
		t.Fatal("the stored pop holds the secure value in clear")
	}

	if err := w.s.Connect(ctx, "c1", "a1", "c1-a1"); err != nil {
		t.Fatal(err)
	}
	w.noOffer("a1", "answered (the pop stays in the hash until the call ends)")
	if _, _, err := w.s.Finish(ctx, "c1", "hangup", "agent"); err != nil {
		t.Fatal(err)
	}
	if n, _ := w.s.rdb.HExists(ctx, w.s.keys.Interaction("c1"), "pop").Result(); n {
		t.Fatal("an ended call keeps its pop")
	}
}

// TestAgentViewNeverShowsAnOfferNoLongerTheAgents: a pop is shown only to
// the agents it was published to, for the offer they hold: not after a
// RONA, not to the next agent offered the same call before their own pop
// (nor to one whose phone was not rung), not once the caller is gone, not
// to the ring-all members another agent beat to it, not after a takeover
// gave the offer back or a dead owner's agent was freed, and not to the
// agent a call is blind-transferred to until their own "transfer" pop.
func TestAgentViewNeverShowsAnOfferNoLongerTheAgents(t *testing.T) {
	ctx := context.Background()
	t.Run("rona then the next agent", func(t *testing.T) {
		w := newPopWorld(t)
		loginAvailable(t, w.s, "a1", "sales")
		o := arriveQueued(t, w.s, "c1", "sales", 0)
		w.ring(o, "a1")
		w.actor("c1", o).showPop(ctx, "a1")
		if w.offerOf("a1") == nil {
			t.Fatal("a1 rings and has no offer")
		}
		if _, err := w.s.NoAnswer(ctx, "c1", "a1", "no_answer"); err != nil {
			t.Fatal(err)
		}
		w.noOffer("a1", "after RONA")
		o2 := loginAvailable(t, w.s, "a2", "sales")
		mustOffer(t, o2, "c1", "a2")
		w.noOffer("a2", "offered c1 again, before its own pop")
		w.ring(o2, "a2")
		w.noOffer("a2", "ringing for c1, before its own pop")
		w.actor("c1", o2).showPop(ctx, "a2")
		if got := w.offerOf("a2"); got == nil || got.Agent != "a2" || got.ConnectionID != "c1" {
			t.Fatalf("a2's offer %+v after its pop", got)
		}
		w.noOffer("a1", "after a2's pop")
		if _, _, err := w.s.Finish(ctx, "c1", "hangup", "caller"); err != nil {
			t.Fatal(err)
		}
		w.noOffer("a2", "the caller hung up")
		if n, _ := w.s.rdb.HExists(ctx, w.s.keys.Interaction("c1"), "pop").Result(); n {
			t.Fatal("an ended call keeps its pop")
		}
	})
	t.Run("ring-all answered by another", func(t *testing.T) {
		w := newPopWorld(t)
		setRouting(t, w.s, "sales", QueueRouting{Strategy: StrategyRingAll})
		for _, a := range []string{"a1", "a2", "a3"} {
			loginAvailable(t, w.s, a, "sales")
		}
		o := arriveQueued(t, w.s, "c1", "sales", 0)
		if got := offerAgents(o); len(got) != 3 {
			t.Fatalf("ring-all offer %+v", o)
		}
		c := w.actor("c1", o)
		// a3's phone could not be rung: it gets no pop, and shows none.
		for _, a := range []string{"a1", "a2"} {
			w.ring(o, a)
			c.showPop(ctx, a)
		}
		for _, a := range []string{"a1", "a2"} {
			if got := w.offerOf(a); got == nil || got.Agent != a {
				t.Fatalf("%s's offer %+v while everyone rings", a, got)
			}
		}
		w.noOffer("a3", "reserved, never rung")
		if _, _, err := w.s.RingAllAnswered(ctx, "c1", "a2"); err != nil {
			t.Fatal(err)
		}
		w.noOffer("a1", "a2 answered the ring-all")
		w.noOffer("a3", "a2 answered the ring-all")
		if w.offerOf("a2") == nil {
			t.Fatal("a2 answered but is not connected yet: the offer is still theirs")
		}
	})
	t.Run("takeover gives the offer back", func(t *testing.T) {
		w := newPopWorld(t)
		loginAvailable(t, w.s, "a1", "sales")
		o := arriveQueued(t, w.s, "c1", "sales", 0)
		w.ring(o, "a1")
		w.actor("c1", o).showPop(ctx, "a1")
		if err := w.s.GiveBack(ctx, "c1", "takeover"); err != nil {
			t.Fatal(err)
		}
		w.noOffer("a1", "the reconciliation gave the offer back")
	})
	t.Run("dead owner's agent freed", func(t *testing.T) {
		w := newPopWorld(t)
		loginAvailable(t, w.s, "a1", "sales")
		o := arriveQueued(t, w.s, "c1", "sales", 0)
		w.ring(o, "a1")
		w.actor("c1", o).showPop(ctx, "a1")
		// n1 holds no lease: another replica frees its overdue agent.
		overdue(t, w.s.Store, "a1", 1)
		r2 := newTStore(w.s.rdb, "t", "n2")
		if r, err := r2.Recover(ctx, 100, time.Minute, time.Second); err != nil || r.Agents != 1 {
			t.Fatalf("recovered %+v %v", r, err)
		}
		w.noOffer("a1", "freed from a dead owner's offer")
	})
	t.Run("blind transfer to an agent", func(t *testing.T) {
		w := newPopWorld(t)
		loginAvailable(t, w.s, "a1", "sales")
		o := arriveQueued(t, w.s, "c1", "sales", 0)
		w.ring(o, "a1")
		w.actor("c1", o).showPop(ctx, "a1")
		// Answered: the pop stays in the hash until the call ends.
		if err := w.s.Connect(ctx, "c1", "a1", "c1-a1"); err != nil {
			t.Fatal(err)
		}
		if _, err := w.s.Login(ctx, "a2", "PJSIP/a2", []string{"support"}, nil); err != nil {
			t.Fatal(err)
		}
		if _, err := w.s.SetState(ctx, "a2", agents.EvAvailable, ""); err != nil {
			t.Fatal(err)
		}
		to, err := w.s.TransferToAgent(ctx, "c1", "a2", "a1")
		if err != nil {
			t.Fatal(err)
		}
		w.noOffer("a2", "transferred to, before its pop")
		w.ring(&to, "a2")
		c := w.actor("c1", &to)
		c.transferred = true
		c.showPop(ctx, "a2")
		if got := w.offerOf("a2"); got == nil || got.Kind != "transfer" || got.ANI != "+12025550123" || got.Queue != "sales" {
			t.Fatalf("a2's transfer offer %+v", got)
		}
		w.noOffer("a1", "in wrap-up after the transfer")
	})
}

// TestAgentViewKeepsACallbackOfferUntilAccepted: a callback's pop (label,
// the customer's number, when it was asked for) stays readable after the
// agent answers, until the customer is dialled (the actor clears it as
// the dial starts: dialCustomer), and never once the customer is on the
// line (the call has its view).
func TestAgentViewKeepsACallbackOfferUntilAccepted(t *testing.T) {
	ctx := context.Background()
	w := newPopWorld(t)
	loginAvailable(t, w.s, "a1", "sales")
	const number = "+12025550188"
	requested := time.Now().Add(-90 * time.Second).Round(time.Millisecond)
	for _, conn := range []string{"cb1", "cb2"} {
		if err := w.s.ArriveCallback(ctx, conn, "id-"+conn, number, "5551000", nil); err != nil {
			t.Fatal(err)
		}
	}
	o, err := w.s.Enqueue(ctx, "cb1", "sales", 0)
	if err != nil {
		t.Fatal(err)
	}
	mustOffer(t, o, "cb1", "a1")
	w.ring(o, "a1")
	c := w.actor("cb1", o)
	c.cb = &cbCall{rec: callbacks.Callback{ID: "id-cb1", Number: number, Created: requested}}
	c.showPop(ctx, "a1")
	check := func(when string) {
		t.Helper()
		got := w.offerOf("a1")
		if got == nil || got.Kind != "callback" || got.Number != number || !got.RequestedAt.Equal(requested) || got.Queue != "sales" {
			t.Fatalf("%s: a1's offer %+v, want the callback to %s asked for at %v", when, got, number, requested)
		}
	}
	check("ringing")
	if err := w.s.Connect(ctx, "cb1", "a1", "cb1-a1"); err != nil {
		t.Fatal(err)
	}
	check("answered, not accepted")
	// The customer answered (the actor saves the call's view): the pop,
	// even if left behind, is over.
	if err := w.s.rdb.HSet(ctx, w.s.keys.Interaction("cb1"), "view", `{"state":"connected"}`).Err(); err != nil {
		t.Fatal(err)
	}
	w.noOffer("a1", "the customer on the line")
	if err := w.s.rdb.HDel(ctx, w.s.keys.Interaction("cb1"), "view").Err(); err != nil {
		t.Fatal(err)
	}
	check("answered, not accepted (no view)")
	c.clearPop(ctx) // the dial starts: accepted
	w.noOffer("a1", "accepted, the customer being dialled")
}
