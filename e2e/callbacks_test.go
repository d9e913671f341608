package e2e

import (
	"context"
	"errors"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/tandem-cc/tandem/acd"
	"github.com/tandem-cc/tandem/agents"
	"github.com/tandem-cc/tandem/api"
	"github.com/tandem-cc/tandem/callbacks"
	"github.com/tandem-cc/tandem/config"
	"github.com/tandem-cc/tandem/hours"
	"github.com/tandem-cc/tandem/internal/clock"
	"github.com/tandem-cc/tandem/internal/lab"
	"github.com/tandem-cc/tandem/media"
	"github.com/tandem-cc/tandem/pbxsim"
)

var answers = pbxsim.Phone{Mode: pbxsim.Answer, RingFor: 30 * time.Millisecond}

// A caller asks for a courtesy callback while waiting; a caller who came
// after them is still waiting when an agent frees up: the callback is
// served first (it kept the caller's place), agent leg first, then the
// customer, with the callback pop-up.
func TestCourtesyCallbackKeepsItsPlace(t *testing.T) {
	forEachPBX(t, func(t *testing.T, pbx lab.PBXKind) {
		l := startCallbackLab(t, cbOptions{pbx: pbx})
		ctx := context.Background()
		e := l.Replicas[0].Engine
		l.PBX.SetPhone(l.Endpoint("1001"), answers)
		if _, err := e.Login(ctx, "a1", l.Endpoint("1001"), []string{"sales"}, nil); err != nil {
			t.Fatal(err)
		}
		const numberA, numberB = "+12025550111", "+12025550122"
		l.PBX.SetPhone(customer(l, numberA), pbxsim.Phone{Mode: pbxsim.Answer, RingFor: 100 * time.Millisecond})

		legA, err := l.PBX.Call(pbxsim.Caller{ANI: numberA, DNIS: "800"})
		if err != nil {
			t.Fatal(err)
		}
		ixA := waitState(t, l, interactionOf(t, l, legA).ConnectionID, acd.StateQueued)
		legB, err := l.PBX.Call(pbxsim.Caller{ANI: numberB, DNIS: "800"})
		if err != nil {
			t.Fatal(err)
		}
		ixB := waitState(t, l, interactionOf(t, l, legB).ConnectionID, acd.StateQueued)

		// Start (digit 1), then # for the number A calls from: register.
		if err := l.PBX.InjectDTMF(legA, "1"); err != nil {
			t.Fatal(err)
		}
		waitPlayed(t, l, legA, "sound:cb-enter-number")
		if err := l.PBX.InjectDTMF(legA, "#"); err != nil {
			t.Fatal(err)
		}
		id := registeredCallback(t, l, ixA.ConnectionID)
		waitPlayed(t, l, legA, "sound:cb-thanks")
		if ix := waitState(t, l, ixA.ConnectionID, acd.StateEnded); ix.EndedBy != "caller" {
			t.Fatalf("registered call ended by %q", ix.EndedBy)
		}
		cbIx := callbackInteraction(t, l, id, acd.StateQueued)
		if pos, _ := l.Replicas[0].Store.Position(ctx, "sales", cbIx.ConnectionID); pos != 1 {
			t.Fatalf("callback waits at position %d, want 1 (ahead of the caller behind)", pos)
		}
		cb := getCallback(t, l, id)
		if cb.Kind != callbacks.KindCourtesy || cb.Number != numberA || cb.DNIS != "800" || cb.CallerID != cbCallerID {
			t.Fatalf("callback %+v", cb)
		}

		desk, err := e.SubscribeAgent(ctx, "a1")
		if err != nil {
			t.Fatal(err)
		}
		if _, err := e.SetAvailable(ctx, "a1"); err != nil {
			t.Fatal(err)
		}
		pop := nextEvent(t, desk, "offered")
		if pop.Kind != "callback" || pop.Number != numberA || pop.DNIS != "800" || pop.Queue != "sales" ||
			pop.ConnectionID != cbIx.ConnectionID || pop.RequestedAt.IsZero() {
			t.Fatalf("callback pop-up %+v", pop)
		}
		// The agent's phone rings before the customer's is dialled.
		if n := originates(l, customer(l, numberA)); n != 0 {
			t.Fatalf("customer dialled (%d) before the agent answered", n)
		}
		conn := nextEvent(t, desk, "connected")
		if conn.Kind != "callback" || conn.ConnectionID != cbIx.ConnectionID {
			t.Fatalf("connected %+v", conn)
		}
		waitBridged(t, l, cbIx.ConnectionID)
		if n := originates(l, customer(l, numberA)); n != 1 {
			t.Fatalf("customer dialled %d times", n)
		}
		done := waitCallback(t, l, id, callbacks.StateDone)
		if len(done.Attempts) != 1 || done.Attempts[0].Outcome != callbacks.OutcomeAnswered {
			t.Fatalf("attempts %+v", done.Attempts)
		}
		// B, who called after A, did not overtake: still waiting.
		if got := interaction(t, l, ixB.ConnectionID).State; got != acd.StateQueued {
			t.Fatalf("caller behind is %s", got)
		}
		if _, err := e.End(ctx, "a1"); err != nil {
			t.Fatal(err)
		}
		waitState(t, l, ixB.ConnectionID, acd.StateConnected) // now B's turn
		if _, err := e.End(ctx, "a1"); err != nil {
			t.Fatal(err)
		}
		waitState(t, l, ixB.ConnectionID, acd.StateEnded)
		checkHistory(t, l)
	})
}

// A web callback: created through the engine's API, the agent is rung
// first, then the customer with the queue's outbound caller id.
func TestWebCallbackRingsAgentThenCustomer(t *testing.T) {
	forEachPBX(t, func(t *testing.T, pbx lab.PBXKind) {
		l := startCallbackLab(t, cbOptions{pbx: pbx})
		ctx := context.Background()
		e := l.Replicas[0].Engine
		const number = "+12025550123"
		l.PBX.SetPhone(l.Endpoint("1001"), pbxsim.Phone{Mode: pbxsim.Answer, RingFor: 300 * time.Millisecond})
		l.PBX.SetPhone(customer(l, number), answers)
		cb, merged, err := e.RequestCallback(ctx, acd.CallbackRequest{Queue: "sales", Number: "(202) 555-0123", Name: "Ann", Vars: map[string]string{"order": "42"}})
		if err != nil || merged {
			t.Fatalf("request: %v merged=%v", err, merged)
		}
		if cb.Kind != callbacks.KindWeb || cb.Number != number || cb.State != callbacks.StatePending {
			t.Fatalf("created %+v", cb)
		}
		ix := callbackInteraction(t, l, cb.ID, acd.StateQueued) // nobody logged in: it waits
		if _, err := e.Login(ctx, "a1", l.Endpoint("1001"), []string{"sales"}, nil); err != nil {
			t.Fatal(err)
		}
		if _, err := e.SetAvailable(ctx, "a1"); err != nil {
			t.Fatal(err)
		}
		waitFor(t, 5*time.Second, "agent leg ringing", func() bool { return len(l.PBX.LiveLegs(l.Endpoint("1001"))) == 1 })
		if n := originates(l, customer(l, number)); n != 0 {
			t.Fatalf("customer dialled while the agent's phone rings (%d)", n)
		}
		waitState(t, l, ix.ConnectionID, acd.StateConnected)
		waitFor(t, 5*time.Second, "customer dialled", func() bool { return originates(l, customer(l, number)) == 1 })
		legs := l.PBX.LiveLegs(customer(l, number))
		if len(legs) != 1 {
			t.Fatalf("customer legs %v", legs)
		}
		ch, _ := l.PBX.Channel(legs[0])
		if ch.CallerID != cbCallerID {
			t.Fatalf("customer sees caller id %q, want %q", ch.CallerID, cbCallerID)
		}
		done := waitCallback(t, l, cb.ID, callbacks.StateDone)
		if len(done.Attempts) != 1 || done.Attempts[0].Outcome != callbacks.OutcomeAnswered || done.Name != "Ann" || done.Vars["order"] != "42" {
			t.Fatalf("done %+v", done)
		}
		var v acd.CallView
		waitFor(t, 5*time.Second, "agent's call connected", func() bool {
			v, err = e.Call(ctx, "a1")
			return err == nil && v.State == "connected"
		})
		if v.ANI != number || v.Queue != "sales" {
			t.Fatalf("agent's call %+v", v)
		}
		// Counted as answered once, when the customer answered.
		if st := queueStats(t, l, "sales"); st.Answered != 1 || st.AnsweredWithinSL != 1 {
			t.Errorf("sales figures %+v, want the callback answered once", st)
		}
		if _, err := e.End(ctx, "a1"); err != nil {
			t.Fatal(err)
		}
		waitState(t, l, ix.ConnectionID, acd.StateEnded)
		if _, err := e.CancelCallback(ctx, cb.ID); !errors.Is(err, callbacks.ErrIllegalTransition) || !strings.Contains(err.Error(), "done") {
			t.Fatalf("cancel of a done callback: %v", err)
		}
		checkHistory(t, l)
	})
}

// With accept = agent, the customer is dialled only once the agent accepts.
func TestCallbackWaitsForTheAgentToAccept(t *testing.T) {
	forEachPBX(t, func(t *testing.T, pbx lab.PBXKind) {
		sales := salesWithCallbacks()
		sales.Callback.Accept = acd.CallbackAcceptAgent
		l := startCallbackLab(t, cbOptions{pbx: pbx, sales: &sales})
		ctx := context.Background()
		e := l.Replicas[0].Engine
		const number = "+12025550124"
		l.PBX.SetPhone(customer(l, number), answers)
		login(t, l, 0, "a1", l.Endpoint("1001"), answers, "sales")
		if _, err := e.AcceptCallback(ctx, "a1"); !errors.Is(err, acd.ErrNoCall) {
			t.Fatalf("accept with no call: %v", err)
		}
		cb, _, err := e.RequestCallback(ctx, acd.CallbackRequest{Queue: "sales", Number: number})
		if err != nil {
			t.Fatal(err)
		}
		ix := callbackInteraction(t, l, cb.ID, acd.StateConnected) // the agent answered
		// A command through the call's actor is handled after the agent's
		// answer (where auto mode dials): once it is answered, the dial would
		// have been asked for. Resuming a recording that is not paused is
		// refused and changes nothing.
		if _, err := e.ResumeRecording(ctx, "a1"); err == nil {
			t.Fatal("resumed a recording that was not paused")
		}
		if n := originates(l, customer(l, number)); n != 0 {
			t.Fatalf("customer dialled before the agent accepted (%d)", n)
		}
		// A desktop that reconnects now reads the callback's request
		// (GET /v1/agents/{id}): the label and the number to dial.
		if v, err := e.AgentView(ctx, "a1"); err != nil || v.Offer == nil || v.Offer.Kind != "callback" ||
			v.Offer.Number != number || v.Offer.ConnectionID != ix.ConnectionID || v.Offer.RequestedAt.IsZero() {
			t.Fatalf("a1 answered, not accepted: %+v %v, want the callback's offer", v, err)
		}
		if _, err := e.AcceptCallback(ctx, "a1"); err != nil {
			t.Fatal(err)
		}
		if v, err := e.AgentView(ctx, "a1"); err != nil || v.Offer != nil {
			t.Fatalf("a1 accepted: %+v %v, want no offer left", v, err)
		}
		waitCallback(t, l, cb.ID, callbacks.StateDone)
		if n := originates(l, customer(l, number)); n != 1 {
			t.Fatalf("dialled %d times", n)
		}
		waitBridged(t, l, ix.ConnectionID)
	})
}

// A scheduled callback on a fixed clock: a window wholly outside the
// queue's hours is refused naming the rule; one that starts before opening
// is moved to the opening and not dialled before it; one in the future is
// not dialled before its start.
func TestScheduledCallbackKeepsToWindowAndHours(t *testing.T) {
	forEachPBX(t, func(t *testing.T, pbx lab.PBXKind) {
		ny, err := time.LoadLocation("America/New_York")
		if err != nil {
			t.Fatal(err)
		}
		// Monday 2026-11-23, 1.5 s before the queue opens at 09:00 New York.
		base := time.Date(2026, 11, 23, 8, 59, 58, 500_000_000, ny)
		start := time.Now()
		clock := func() time.Time { return base.Add(time.Since(start)) }
		sales := salesWithCallbacks()
		sales.Hours = acd.OpeningHours{Hours: hours.Hours{TimeZone: "America/New_York", Weekly: []hours.Window{{Days: []string{"mon", "tue", "wed", "thu", "fri"}, From: "09:00", To: "17:00"}}}}
		l := startCallbackLab(t, cbOptions{pbx: pbx, sales: &sales, now: clock})
		ctx := context.Background()
		e := l.Replicas[0].Engine
		login(t, l, 0, "a1", l.Endpoint("1001"), answers, "sales")

		// Sunday 10:00-11:00 in the customer's zone: the queue is closed.
		sunday := time.Date(2026, 11, 29, 10, 0, 0, 0, ny)
		skew := time.Until(clock())
		_, _, err = e.RequestCallback(ctx, acd.CallbackRequest{Queue: "sales", Number: "+12025550131",
			EarliestAt: sunday.Add(-skew), WindowEnd: sunday.Add(time.Hour - skew), TimeZone: "America/New_York"})
		var fe *callbacks.FieldError
		if !errors.As(err, &fe) || fe.Field != "window" || fe.Rule != "outside-hours" {
			t.Fatalf("window outside hours: %v", err)
		}

		// From now (closed) for an hour: moved to the opening.
		const early, later = "+12025550132", "+12025550133"
		l.PBX.SetPhone(customer(l, early), answers)
		l.PBX.SetPhone(customer(l, later), answers)
		cb, _, err := e.RequestCallback(ctx, acd.CallbackRequest{Queue: "sales", Number: early, WindowEnd: time.Now().Add(time.Hour)})
		if err != nil {
			t.Fatal(err)
		}
		opening := time.Date(2026, 11, 23, 9, 0, 0, 0, ny).Add(-skew) // in real time
		if cb.Kind != callbacks.KindScheduled || cb.Due.Before(opening.Add(-10*time.Millisecond)) {
			t.Fatalf("due %v, want the opening %v", cb.Due, opening)
		}
		waitFor(t, 10*time.Second, "early callback dialled", func() bool { return originates(l, customer(l, early)) == 1 })
		if dialled := time.Now(); dialled.Before(opening) {
			t.Fatalf("dialled at %v, before the queue opened at %v", dialled, opening)
		}
		waitCallback(t, l, cb.ID, callbacks.StateDone)
		if _, err := e.End(ctx, "a1"); err != nil {
			t.Fatal(err)
		}

		// A window starting in 700 ms: not dialled before it.
		from := time.Now().Add(700 * time.Millisecond)
		cb2, _, err := e.RequestCallback(ctx, acd.CallbackRequest{Queue: "sales", Number: later, EarliestAt: from, WindowEnd: from.Add(time.Hour)})
		if err != nil {
			t.Fatal(err)
		}
		waitFor(t, 10*time.Second, "later callback dialled", func() bool { return originates(l, customer(l, later)) == 1 })
		if time.Now().Before(from) {
			t.Fatal("dialled before its window")
		}
		waitCallback(t, l, cb2.ID, callbacks.StateDone)
	})
}

// Start then cancel: the caller goes back to the queue in the place they
// had; a caller who hangs up during the dialog is abandoned.
func TestCancelCallbackReturnsCallerToTheirPlace(t *testing.T) {
	forEachPBX(t, func(t *testing.T, pbx lab.PBXKind) {
		l := startCallbackLab(t, cbOptions{pbx: pbx})
		ctx := context.Background()
		e := l.Replicas[0].Engine
		l.PBX.SetPhone(l.Endpoint("1001"), answers)
		if _, err := e.Login(ctx, "a1", l.Endpoint("1001"), []string{"sales"}, nil); err != nil {
			t.Fatal(err)
		}
		legA, _ := l.PBX.Call(pbxsim.Caller{ANI: "+12025550141", DNIS: "800"})
		ixA := waitState(t, l, interactionOf(t, l, legA).ConnectionID, acd.StateQueued)
		legB, _ := l.PBX.Call(pbxsim.Caller{ANI: "+12025550142", DNIS: "800"})
		ixB := waitState(t, l, interactionOf(t, l, legB).ConnectionID, acd.StateQueued)

		if err := l.PBX.InjectDTMF(legA, "1"); err != nil {
			t.Fatal(err)
		}
		waitState(t, l, ixA.ConnectionID, acd.StateCallback)
		if pos, _ := l.Replicas[0].Store.Position(ctx, "sales", ixB.ConnectionID); pos != 1 {
			t.Fatalf("while A gives a number, B is at %d", pos)
		}
		waitPlayed(t, l, legA, "sound:cb-enter-number")
		if err := l.PBX.InjectDTMF(legA, "555*"); err != nil {
			t.Fatal(err)
		}
		waitState(t, l, ixA.ConnectionID, acd.StateQueued)
		if pos, _ := l.Replicas[0].Store.Position(ctx, "sales", ixA.ConnectionID); pos != 1 {
			t.Fatalf("after cancel A is at %d, want 1", pos)
		}
		waitFor(t, 5*time.Second, "A hears the queue's music again", func() bool {
			ch, _ := l.PBX.Channel(legA)
			return ch.MOHClass == "sales-music"
		})

		// The API drives the same steps: start, then the caller hangs up.
		if _, err := e.CallbackFlow(ctx, ixB.ConnectionID, acd.FlowStart, "", "", ""); err != nil {
			t.Fatal(err)
		}
		waitState(t, l, ixB.ConnectionID, acd.StateCallback)
		if err := l.PBX.HangUp(legB); err != nil {
			t.Fatal(err)
		}
		if ix := waitState(t, l, ixB.ConnectionID, acd.StateAbandoned); ix.EndedBy != "caller" {
			t.Fatalf("B ended by %q", ix.EndedBy)
		}
		if _, err := e.CallbackFlow(ctx, ixA.ConnectionID, acd.FlowCancel, "", "", ""); !errors.Is(err, acd.ErrIllegalTransition) {
			t.Fatalf("cancel without a start: %v", err)
		}
		if _, err := e.SetAvailable(ctx, "a1"); err != nil {
			t.Fatal(err)
		}
		waitState(t, l, ixA.ConnectionID, acd.StateConnected)
		if _, err := e.End(ctx, "a1"); err != nil {
			t.Fatal(err)
		}
		waitState(t, l, ixA.ConnectionID, acd.StateEnded)
		checkHistory(t, l)
	})
}

// Register with a recorded message: the caller records after the beep,
// and the agent hears the message before the customer is dialled.
func TestRegisterWithRecordedMessage(t *testing.T) {
	forEachPBX(t, func(t *testing.T, pbx lab.PBXKind) {
		sales := salesWithCallbacks()
		sales.Callback.RecordMessage = 300 * time.Millisecond
		sales.Callback.Beep = media.SoundOf("beep")
		l := startCallbackLab(t, cbOptions{pbx: pbx, sales: &sales})
		ctx := context.Background()
		e := l.Replicas[0].Engine
		const number = "+12025550151"
		l.PBX.SetPhone(customer(l, number), answers)
		l.PBX.SetPhone(l.Endpoint("1001"), answers)
		if _, err := e.Login(ctx, "a1", l.Endpoint("1001"), []string{"sales"}, nil); err != nil {
			t.Fatal(err)
		}
		leg, ix := askForCallback(t, l, "+12025550150")
		if err := l.PBX.InjectDTMF(leg, "2025550151#"); err != nil {
			t.Fatal(err)
		}
		waitPlayed(t, l, leg, "sound:beep")
		id := registeredCallback(t, l, ix.ConnectionID)
		cb := getCallback(t, l, id)
		if want := "recording:callback-" + ix.ConnectionID; cb.Media != want || cb.Number != number {
			t.Fatalf("callback media %q number %q, want %q %q", cb.Media, cb.Number, want, number)
		}
		if _, err := e.SetAvailable(ctx, "a1"); err != nil {
			t.Fatal(err)
		}
		cbIx := callbackInteraction(t, l, id, acd.StateConnected)
		waitCallback(t, l, id, callbacks.StateDone)
		agentLeg := interaction(t, l, cbIx.ConnectionID).AgentLeg
		var msgEnd, dialled time.Time
		for _, m := range l.Heard(agentLeg) {
			if m.Kind == "playback_end" && m.MediaURI == cb.Media {
				msgEnd = m.Time
			}
		}
		legs := l.PBX.LiveLegs(customer(l, number))
		if len(legs) != 1 {
			t.Fatalf("customer legs %v", legs)
		}
		if ch, _ := l.PBX.Channel(legs[0]); true {
			dialled = ch.Created
		}
		if msgEnd.IsZero() || dialled.Before(msgEnd) {
			t.Fatalf("message ended %v, customer dialled %v: want the message first", msgEnd, dialled)
		}
	})
}

// Nobody answers: each attempt frees the agent, the callback is retried
// after its delay, and after the last it fails with every attempt kept.
func TestCallbackRetriesThenFails(t *testing.T) {
	forEachPBX(t, func(t *testing.T, pbx lab.PBXKind) {
		sales := salesWithCallbacks()
		sales.Callback.MaxAttempts = 2
		l := startCallbackLab(t, cbOptions{pbx: pbx, sales: &sales, dialRing: 300 * time.Millisecond})
		ctx := context.Background()
		e := l.Replicas[0].Engine
		const number = "+12025550161"
		l.PBX.SetPhone(customer(l, number), pbxsim.Phone{Mode: pbxsim.NoAnswer})
		login(t, l, 0, "a1", l.Endpoint("1001"), answers, "sales")
		cb, _, err := e.RequestCallback(ctx, acd.CallbackRequest{Queue: "sales", Number: number})
		if err != nil {
			t.Fatal(err)
		}
		failed := waitCallback(t, l, cb.ID, callbacks.StateFailed)
		if len(failed.Attempts) != 2 {
			t.Fatalf("attempts %+v", failed.Attempts)
		}
		for i, a := range failed.Attempts {
			if a.Outcome != callbacks.OutcomeNoAnswer || a.Node != "r1" {
				t.Errorf("attempt %d: %+v", i+1, a)
			}
		}
		if gap := failed.Attempts[1].At.Sub(failed.Attempts[0].At); gap < sales.Callback.RetryDelay {
			t.Errorf("retried after %v, want at least %v", gap, sales.Callback.RetryDelay)
		}
		if n := originates(l, customer(l, number)); n != 2 {
			t.Fatalf("dialled %d times", n)
		}
		waitAgent(t, l, "a1", agents.Available) // freed after each attempt
		wantHistory(t, l, "a1", agents.Reserved, agents.Ringing, agents.Connected, agents.Available, agents.Reserved, agents.Ringing, agents.Connected, agents.Available)
		// The agent answered twice, the customer never: nothing was answered
		// (service level and average speed of answer count answered calls).
		if st := queueStats(t, l, "sales"); st.Answered != 0 || st.AnsweredWithinSL != 0 || st.ASASeconds != 0 {
			t.Errorf("sales figures %+v, want no call answered", st)
		}
		waitFor(t, 5*time.Second, "no channel left", func() bool { return len(l.PBX.LiveLegs(customer(l, number))) == 0 })
		checkHistory(t, l)
	})
}

// The agent's phone does not answer: RONA, and the callback goes back to
// the head of its queue for the next agent.
func TestCallbackAgentNoAnswerReturnsToHeadOfQueue(t *testing.T) {
	forEachPBX(t, func(t *testing.T, pbx lab.PBXKind) {
		sales := salesWithCallbacks()
		sales.RingTimeout = 300 * time.Millisecond
		l := startCallbackLab(t, cbOptions{pbx: pbx, sales: &sales})
		ctx := context.Background()
		e := l.Replicas[0].Engine
		const number = "+12025550171"
		l.PBX.SetPhone(customer(l, number), answers)
		login(t, l, 0, "a1", l.Endpoint("1001"), pbxsim.Phone{Mode: pbxsim.NoAnswer}, "sales")
		cb, _, err := e.RequestCallback(ctx, acd.CallbackRequest{Queue: "sales", Number: number})
		if err != nil {
			t.Fatal(err)
		}
		waitAgent(t, l, "a1", agents.RONA)
		ix := callbackInteraction(t, l, cb.ID, acd.StateQueued)
		if ix.RONAs != 1 {
			t.Fatalf("RONAs %d", ix.RONAs)
		}
		if n := originates(l, customer(l, number)); n != 0 {
			t.Fatalf("customer dialled without an agent (%d)", n)
		}
		login(t, l, 0, "a2", l.Endpoint("1002"), answers, "sales")
		waitCallback(t, l, cb.ID, callbacks.StateDone)
		if got := interaction(t, l, ix.ConnectionID).Agent; got != "a2" {
			t.Fatalf("served by %q", got)
		}
		if got := getCallback(t, l, cb.ID); len(got.Attempts) != 1 {
			t.Fatalf("the agent's RONA counted as an attempt: %+v", got.Attempts)
		}
	})
}

// Duplicates merge; invalid numbers are refused naming the rule, through
// the API and when a caller keys one.
func TestCallbackDuplicatesMergeAndBadNumbersAreRefused(t *testing.T) {
	forEachPBX(t, func(t *testing.T, pbx lab.PBXKind) {
		sales := salesWithCallbacks()
		sales.Callback.AllowedCountryCodes = []int{1}
		l := startCallbackLab(t, cbOptions{pbx: pbx, sales: &sales})
		ctx := context.Background()
		e := l.Replicas[0].Engine
		first, merged, err := e.RequestCallback(ctx, acd.CallbackRequest{Queue: "sales", Number: "+1 202 555 0181"})
		if err != nil || merged {
			t.Fatal(err, merged)
		}
		again, merged, err := e.RequestCallback(ctx, acd.CallbackRequest{Queue: "sales", Number: "(202) 555-0181"})
		if err != nil || !merged || again.ID != first.ID {
			t.Fatalf("duplicate: %v merged=%v id %s vs %s", err, merged, again.ID, first.ID)
		}
		for _, c := range []struct{ number, rule string }{
			{"12", "length"},
			{"+44 20 7946 0958", "country-not-allowed"},
			{"202-555-01x1", "characters"},
		} {
			_, _, err := e.RequestCallback(ctx, acd.CallbackRequest{Queue: "sales", Number: c.number})
			var fe *callbacks.FieldError
			if !errors.As(err, &fe) || fe.Field != "number" || fe.Rule != c.rule {
				t.Errorf("%q: %v, want rule %s", c.number, err, c.rule)
			}
		}
		if _, _, err := e.RequestCallback(ctx, acd.CallbackRequest{Queue: "nope", Number: "+12025550181"}); err == nil {
			t.Error("unknown queue accepted")
		}

		// A caller keys a UK number: refused, told, asked again; then # with
		// their own number is accepted.
		leg, ix := askForCallback(t, l, "+12025550182")
		if err := l.PBX.InjectDTMF(leg, "442079460958#"); err != nil {
			t.Fatal(err)
		}
		waitPlayed(t, l, leg, "sound:cb-invalid")
		waitFor(t, 5*time.Second, "asked again", func() bool {
			n := 0
			for _, m := range played(l, leg) {
				if m == "sound:cb-enter-number" {
					n++
				}
			}
			return n == 2
		})
		if err := l.PBX.InjectDTMF(leg, "#"); err != nil {
			t.Fatal(err)
		}
		id := registeredCallback(t, l, ix.ConnectionID)
		if cb := getCallback(t, l, id); cb.Number != "+12025550182" {
			t.Fatalf("registered %q", cb.Number)
		}
	})
}

// At the contact center's maximum of concurrent calls a due callback is
// not dialled; it waits until a call ends.
func TestCallbacksWaitAtMaximumConcurrentCalls(t *testing.T) {
	forEachPBX(t, func(t *testing.T, pbx lab.PBXKind) {
		l := startCallbackLab(t, cbOptions{pbx: pbx, maxCalls: 1})
		ctx := context.Background()
		e := l.Replicas[0].Engine
		login(t, l, 0, "a1", l.Endpoint("1001"), answers, "sales")
		login(t, l, 0, "a2", l.Endpoint("1002"), answers, "sales")
		leg, _ := l.PBX.Call(pbxsim.Caller{ANI: "+12025550190", DNIS: "800"})
		ix := waitState(t, l, interactionOf(t, l, leg).ConnectionID, acd.StateConnected)
		const number = "+12025550191"
		l.PBX.SetPhone(customer(l, number), answers)
		cb, _, err := e.RequestCallback(ctx, acd.CallbackRequest{Queue: "sales", Number: number})
		if err != nil {
			t.Fatal(err)
		}
		waitFor(t, 5*time.Second, "callback released at the cap", func() bool {
			got := getCallback(t, l, cb.ID)
			return got.State == callbacks.StatePending && got.Due.After(cb.Due)
		})
		if n := originates(l, customer(l, number)); n != 0 || agentState(t, l, "a2") != agents.Available {
			t.Fatalf("callback served at the cap: %d dials, a2 %s", n, agentState(t, l, "a2"))
		}
		if err := l.PBX.HangUp(leg); err != nil {
			t.Fatal(err)
		}
		waitState(t, l, ix.ConnectionID, acd.StateEnded)
		waitCallback(t, l, cb.ID, callbacks.StateDone)
	})
}

// A replica dies in the middle of dialling a callback's customer: another
// replica takes the dial over when the lease runs out and completes it.
// The customer is dialled exactly once.
func TestReplicaKilledMidDialAnotherCompletesTheCallback(t *testing.T) {
	forEachPBX(t, func(t *testing.T, pbx lab.PBXKind) {
		l := startCallbackLab(t, cbOptions{pbx: pbx, lease: 600 * time.Millisecond, dialRing: 10 * time.Second})
		ctx := context.Background()
		const number = "+12025550199"
		// The customer answers 3 s after being dialled: long after the dead
		// replica's lease has run out.
		l.PBX.SetPhone(customer(l, number), pbxsim.Phone{Mode: pbxsim.Answer, RingFor: 3 * time.Second})
		login(t, l, 0, "a1", l.Endpoint("1001"), answers, "sales")
		cb, _, err := l.Replicas[0].Engine.RequestCallback(ctx, acd.CallbackRequest{Queue: "sales", Number: number})
		if err != nil {
			t.Fatal(err)
		}
		waitFor(t, 10*time.Second, "customer dialled", func() bool { return originates(l, customer(l, number)) == 1 })
		dead := l.Replicas[0]
		if got := getCallback(t, l, cb.ID); got.State != callbacks.StateDialing || got.Node != dead.Node+"#1" || got.DialStarted != 1 {
			t.Fatalf("before the crash: %+v", got)
		}
		r2, err := l.AddReplica(ctx, "r2")
		if err != nil {
			t.Fatal(err)
		}
		if err := dead.Stop(); err != nil { // a crash: no hang-ups, the socket drops
			t.Fatal(err)
		}
		done := waitCallback(t, l, cb.ID, callbacks.StateDone)
		if len(done.Attempts) != 1 || done.Attempts[0].Outcome != callbacks.OutcomeAnswered || done.Attempts[0].Node != r2.Node {
			t.Fatalf("attempts %+v", done.Attempts)
		}
		ix := callbackInteraction(t, l, cb.ID, acd.StateConnected)
		if ix.Owner != r2.Node {
			t.Fatalf("interaction owned by %s", ix.Owner)
		}
		waitBridged(t, l, ix.ConnectionID)
		if n := originates(l, customer(l, number)); n != 1 {
			t.Fatalf("customer dialled %d times", n)
		}
		if st := l.PBX.Stats(); st.DoubleOffers != 0 || st.AgentsWithTwoCalls != 0 {
			t.Fatalf("double offers %d, agents with two calls %d", st.DoubleOffers, st.AgentsWithTwoCalls)
		}
		// The survivor runs the rest of the call: the customer hangs up.
		if err := l.PBX.HangUp(l.PBX.LiveLegs(customer(l, number))[0]); err != nil {
			t.Fatal(err)
		}
		waitState(t, l, ix.ConnectionID, acd.StateEnded)
		waitAgent(t, l, "a1", agents.Available)
		waitFor(t, 5*time.Second, "no channel left", func() bool { return len(l.PBX.Channels()) == 0 })
		checkHistory(t, l)
	})
}

// The queue tells a waiting caller about the callback digit once they
// waited long enough and their estimated wait is long; a queue whose
// threshold is not reached says nothing.
func TestCallbackOfferedWhenTheWaitIsLong(t *testing.T) {
	forEachPBX(t, func(t *testing.T, pbx lab.PBXKind) {
		sales := salesWithCallbacks()
		sales.Callback.Offer, sales.Callback.OfferAfter, sales.Callback.OfferEWT = media.SoundOf("cb-offer"), 200*time.Millisecond, time.Minute
		l := startCallbackLab(t, cbOptions{pbx: pbx, sales: &sales})
		// One agent, busy on a call: the estimate for the next caller is about
		// a handle time (3 minutes before any call ended), over the threshold.
		login(t, l, 0, "a1", l.Endpoint("1001"), answers, "sales")
		first, _ := l.PBX.Call(pbxsim.Caller{ANI: "+12025550201", DNIS: "800"})
		waitState(t, l, interactionOf(t, l, first).ConnectionID, acd.StateConnected)
		leg, _ := l.PBX.Call(pbxsim.Caller{ANI: "+12025550202", DNIS: "800"})
		ix := waitState(t, l, interactionOf(t, l, leg).ConnectionID, acd.StateQueued)
		waitPlayed(t, l, leg, "sound:cb-offer")
		waitFor(t, 5*time.Second, "music back after the offer", func() bool {
			ch, _ := l.PBX.Channel(leg)
			return ch.MOHClass == "sales-music"
		})
		// The caller takes it.
		if err := l.PBX.InjectDTMF(leg, "1"); err != nil {
			t.Fatal(err)
		}
		waitState(t, l, ix.ConnectionID, acd.StateCallback)

		// A threshold of ten hours is not reached: no offer. The offer's
		// timers run on fake time here: the check is due OfferAfter after the
		// caller queued, and when it finds the wait short it checks again
		// later (a timer armed then is the event that it has decided).
		sales.Callback.OfferEWT = 10 * time.Hour
		fc := clock.NewFake(time.Now())
		l2 := startCallbackLab(t, cbOptions{pbx: pbx, sales: &sales, clock: fc})
		login(t, l2, 0, "a1", l.Endpoint("1001"), answers, "sales")
		first2, _ := l2.PBX.Call(pbxsim.Caller{ANI: "+12025550203", DNIS: "800"})
		waitState(t, l2, interactionOf(t, l2, first2).ConnectionID, acd.StateConnected)
		leg2, _ := l2.PBX.Call(pbxsim.Caller{ANI: "+12025550204", DNIS: "800"})
		waitState(t, l2, interactionOf(t, l2, leg2).ConnectionID, acd.StateQueued)
		// Two offer timers are armed for then: the first call's (it queued
		// before it was offered; its timer fires as a no-op) and the second's.
		fc.WaitTimers(fc.Now().Add(sales.Callback.OfferAfter), 2)
		fc.Advance(sales.Callback.OfferAfter)
		for {
			// acd's callbackOfferRecheck (15 s) once the check found the wait
			// short; callbackOfferBusy (5 s) if something was playing then.
			now := fc.Now()
			if at := fc.WaitAnyTimer(now.Add(15*time.Second), now.Add(5*time.Second)); at.Equal(now.Add(15 * time.Second)) {
				break
			}
			fc.Advance(5 * time.Second)
		}
		for _, m := range played(l2, leg2) {
			if m == "sound:cb-offer" {
				t.Fatal("offered under the threshold")
			}
		}
	})
}

// An IVR branch and an overflow treatment both start the callback dialog;
// the callback waits in the branch's queue.
func TestIVRBranchAndOverflowStartTheCallbackDialog(t *testing.T) {
	forEachPBX(t, func(t *testing.T, pbx lab.PBXKind) {
		sales := salesWithCallbacks()
		sales.Overflow = acd.Overflow{After: 300 * time.Millisecond, Action: acd.Treatment{Type: "callback"}}
		ivr := acd.IVRMenus{
			EntryPoints: map[string]string{"900": "main"},
			Nodes: map[string]acd.IVRNode{
				"main": {
					Prompt:   media.MustParse("sound:welcome"),
					Collect:  acd.IVRCollect{MaxDigits: 1, Timeout: 2 * time.Second},
					Branches: map[string]acd.IVRBranch{"2": {Callback: true, Queue: "support"}},
				},
			},
		}
		l := startCallbackLab(t, cbOptions{pbx: pbx, sales: &sales, ivr: ivr})
		// Queue support has no callback prompt configured: the dialog still
		// takes digits.
		leg, _ := l.PBX.Call(pbxsim.Caller{ANI: "+12025550211", DNIS: "900", Digits: "2", DigitsAfter: 10 * time.Millisecond})
		ix := interactionOf(t, l, leg)
		waitState(t, l, ix.ConnectionID, acd.StateCallback)
		if err := l.PBX.InjectDTMF(leg, "#"); err != nil {
			t.Fatal(err)
		}
		id := registeredCallback(t, l, ix.ConnectionID)
		if cb := getCallback(t, l, id); cb.Queue != "support" || cb.Number != "+12025550211" || cb.Kind != callbacks.KindCourtesy {
			t.Fatalf("IVR callback %+v", cb)
		}

		// Waiting in sales past overflow.after: the dialog starts by itself.
		leg2, _ := l.PBX.Call(pbxsim.Caller{ANI: "+12025550212", DNIS: "800"})
		ix2 := interactionOf(t, l, leg2)
		waitState(t, l, ix2.ConnectionID, acd.StateCallback)
		waitPlayed(t, l, leg2, "sound:cb-enter-number")
		if err := l.PBX.InjectDTMF(leg2, "#"); err != nil {
			t.Fatal(err)
		}
		if cb := getCallback(t, l, registeredCallback(t, l, ix2.ConnectionID)); cb.Queue != "sales" {
			t.Fatalf("overflow callback in %s", cb.Queue)
		}
		for _, conn := range []string{ix.ConnectionID, ix2.ConnectionID} {
			if got := waitState(t, l, conn, acd.StateEnded); got.EndedBy != "caller" {
				t.Fatalf("%s ended by %s", conn, got.EndedBy)
			}
		}
	})
}

// A web callback can be cancelled while it waits for an agent (it leaves
// the queue) and while the agent's phone rings (the phone stops); once the
// customer is being dialled the cancel is refused with its state.
func TestWebCallbackCancelUntilItIsDialled(t *testing.T) {
	forEachPBX(t, func(t *testing.T, pbx lab.PBXKind) {
		l := startCallbackLab(t, cbOptions{pbx: pbx, dialRing: 5 * time.Second})
		ctx := context.Background()
		e := l.Replicas[0].Engine

		// Waiting in queue, nobody logged in.
		cb, _, err := e.RequestCallback(ctx, acd.CallbackRequest{Queue: "sales", Number: "+12025550221"})
		if err != nil {
			t.Fatal(err)
		}
		ix := callbackInteraction(t, l, cb.ID, acd.StateQueued)
		got, err := e.CancelCallback(ctx, cb.ID)
		if err != nil || got.State != callbacks.StateCancelled {
			t.Fatalf("cancel waiting: %+v %v", got, err)
		}
		if done := waitState(t, l, ix.ConnectionID, acd.StateEnded); done.EndedBy != "cancelled" {
			t.Fatalf("withdrawn interaction ended by %q", done.EndedBy)
		}
		if _, err := l.Replicas[0].Store.Position(ctx, "sales", ix.ConnectionID); err == nil {
			t.Fatal("cancelled callback still in the queue")
		}

		// The agent's phone rings (it never answers): the cancel stops it and
		// frees the agent.
		login(t, l, 0, "a1", l.Endpoint("1001"), pbxsim.Phone{Mode: pbxsim.NoAnswer}, "sales")
		cb2, _, err := e.RequestCallback(ctx, acd.CallbackRequest{Queue: "sales", Number: "+12025550222"})
		if err != nil {
			t.Fatal(err)
		}
		waitAgent(t, l, "a1", agents.Ringing)
		if _, err := e.CancelCallback(ctx, cb2.ID); err != nil {
			t.Fatal(err)
		}
		waitAgent(t, l, "a1", agents.Available)
		waitFor(t, 5*time.Second, "agent's phone stopped", func() bool { return len(l.PBX.LiveLegs(l.Endpoint("1001"))) == 0 })

		// Being dialled: refused, naming the state; the dial goes on.
		l.PBX.SetPhone(l.Endpoint("1001"), answers)
		const number = "+12025550223"
		l.PBX.SetPhone(customer(l, number), pbxsim.Phone{Mode: pbxsim.Answer, RingFor: time.Second})
		cb3, _, err := e.RequestCallback(ctx, acd.CallbackRequest{Queue: "sales", Number: number})
		if err != nil {
			t.Fatal(err)
		}
		waitFor(t, 5*time.Second, "customer dialled", func() bool { return originates(l, customer(l, number)) == 1 })
		if _, err := e.CancelCallback(ctx, cb3.ID); !errors.Is(err, callbacks.ErrIllegalTransition) || !strings.Contains(err.Error(), "dialing") {
			t.Fatalf("cancel while dialling: %v", err)
		}
		waitCallback(t, l, cb3.ID, callbacks.StateDone)
		if _, err := e.End(ctx, "a1"); err != nil {
			t.Fatal(err)
		}
		checkHistory(t, l)
	})
}

// The callbacks API on a real engine: a web callback requested over HTTP
// (a refused number names the rule and creates nothing), read back,
// cancelled while it waits; and a caller's dialog driven over HTTP (start,
// then register with a number), as an external flow engine would.
func TestCallbacksThroughHTTP(t *testing.T) {
	forEachPBX(t, func(t *testing.T, pbx lab.PBXKind) {
		l := startCallbackLab(t, cbOptions{pbx: pbx})
		srv := httptest.NewServer(api.New(l.Replicas[0].Engine, config.Auth{Supervisors: []config.SupervisorToken{{Token: "tok-sup"}}}, nil))
		defer srv.Close()

		st, body := call(t, srv, "POST", "/v1/callbacks", "tok-sup", `{"queue":"sales","number":"12"}`)
		if st != 400 || body["field"] != "number" || body["rule"] != "length" {
			t.Fatalf("bad number: %d %v", st, body)
		}
		if n, _ := l.RDB.Keys(context.Background(), "tandem:v1:{cb}:cb:*").Result(); len(n) != 0 {
			t.Fatalf("a refused request left %d callbacks", len(n))
		}
		st, body = call(t, srv, "POST", "/v1/callbacks", "tok-sup", `{"queue":"sales","number":"(202) 555-0231","name":"Ann","variables":{"order":"42"}}`)
		if st != 201 || body["merged"] != false {
			t.Fatalf("create: %d %v", st, body)
		}
		id := body["callback"].(map[string]any)["id"].(string)
		callbackInteraction(t, l, id, acd.StateQueued) // nobody logged in
		st, body = call(t, srv, "GET", "/v1/callbacks/"+id, "tok-sup", "")
		if st != 200 || body["number"] != "+12025550231" || body["kind"] != "web" || body["state"] != "queued" {
			t.Fatalf("get: %d %v", st, body)
		}
		if st, body := call(t, srv, "DELETE", "/v1/callbacks/"+id, "tok-sup", ""); st != 200 || body["state"] != "cancelled" {
			t.Fatalf("cancel: %d %v", st, body)
		}
		if st, body := call(t, srv, "DELETE", "/v1/callbacks/"+id, "tok-sup", ""); st != 409 || body["state"] != "cancelled" {
			t.Fatalf("cancel twice: %d %v", st, body)
		}

		leg, err := l.PBX.Call(pbxsim.Caller{ANI: "+12025550232", DNIS: "800"})
		if err != nil {
			t.Fatal(err)
		}
		ix := waitState(t, l, interactionOf(t, l, leg).ConnectionID, acd.StateQueued)
		if st, body := call(t, srv, "POST", "/v1/calls/"+ix.ConnectionID+"/callback/start", "tok-sup", ""); st != 200 || body["state"] != "callback" {
			t.Fatalf("start: %d %v", st, body)
		}
		if st, body := call(t, srv, "POST", "/v1/calls/"+ix.ConnectionID+"/callback/register", "tok-sup", `{"number":"+44 20 7946 0958x"}`); st != 400 || body["field"] != "number" {
			t.Fatalf("register a bad number: %d %v", st, body)
		}
		st, body = call(t, srv, "POST", "/v1/calls/"+ix.ConnectionID+"/callback/register", "tok-sup", `{"number":"202 555 0233"}`)
		if st != 200 || body["callback_id"] == nil {
			t.Fatalf("register: %d %v", st, body)
		}
		cb := getCallback(t, l, body["callback_id"].(string))
		score, err := l.RDB.HGet(context.Background(), l.Replicas[0].Store.Keys().Interaction(ix.ConnectionID), "score").Float64()
		if err != nil {
			t.Fatal(err)
		}
		if cb.Number != "+12025550233" || cb.Kind != callbacks.KindCourtesy || cb.Score != score {
			t.Fatalf("registered %+v (the call's place %v)", cb, score)
		}
		waitState(t, l, ix.ConnectionID, acd.StateEnded)
	})
}

// A courtesy callback registered while an agent is free is not dialled
// until its caller's own call has ended (the confirmation is heard and the
// line hung up first): the customer's line is never busy with the call
// that asked for the callback.
func TestCallbackNeverRingsItsCallerStillOnTheLine(t *testing.T) {
	forEachPBX(t, func(t *testing.T, pbx lab.PBXKind) {
		l := startCallbackLab(t, cbOptions{pbx: pbx})
		const number = "+12025550241"
		l.PBX.SetPhone(customer(l, number), answers)
		leg, ix := askForCallback(t, l, number)
		login(t, l, 0, "a1", l.Endpoint("1001"), answers, "sales") // free before the register
		if err := l.PBX.InjectDTMF(leg, "#"); err != nil {
			t.Fatal(err)
		}
		waitFor(t, 10*time.Second, "customer dialled", func() bool { return originates(l, customer(l, number)) == 1 })
		if ch, _ := l.PBX.Channel(leg); !ch.HungUp {
			t.Fatal("the callback dialled its caller while they were still on the line")
		}
		if got := waitState(t, l, ix.ConnectionID, acd.StateEnded); got.EndedBy != "caller" {
			t.Fatalf("caller's call ended by %q", got.EndedBy)
		}
		waitCallback(t, l, registeredCallback(t, l, ix.ConnectionID), callbacks.StateDone)
	})
}

// A message for the agent longer than the callback's lease is played
// while the lease is renewed: the callback is not taken back from its
// replica, and is served once.
func TestLongMessageDoesNotLoseTheLease(t *testing.T) {
	forEachPBX(t, func(t *testing.T, pbx lab.PBXKind) {
		sales := salesWithCallbacks()
		sales.Callback.RecordMessage = 300 * time.Millisecond
		// Every prompt and the message last 1.5 s; the lease is 600 ms.
		l := startCallbackLab(t, cbOptions{pbx: pbx, sales: &sales, lease: 600 * time.Millisecond, playback: 1500 * time.Millisecond})
		ctx := context.Background()
		const number = "+12025550251"
		l.PBX.SetPhone(customer(l, number), answers)
		leg, ix := askForCallback(t, l, number)
		if err := l.PBX.InjectDTMF(leg, "#"); err != nil {
			t.Fatal(err)
		}
		id := registeredCallback(t, l, ix.ConnectionID)
		login(t, l, 0, "a1", l.Endpoint("1001"), answers, "sales")
		done := waitCallback(t, l, id, callbacks.StateDone)
		if len(done.Attempts) != 1 || originates(l, customer(l, number)) != 1 {
			t.Fatalf("attempts %+v, dials %d", done.Attempts, originates(l, customer(l, number)))
		}
		claims, err := l.RDB.HGet(ctx, "tandem:v1:{cb}:cb:"+id, "claims").Int()
		if err != nil || claims != 1 {
			t.Fatalf("claimed %d times (%v): the lease was lost while the message played", claims, err)
		}
		cbIx := callbackInteraction(t, l, id, acd.StateConnected)
		var played bool
		for _, m := range l.Heard(interaction(t, l, cbIx.ConnectionID).AgentLeg) {
			played = played || (m.Kind == "playback_end" && m.MediaURI == done.Media && m.State == "done")
		}
		if !played {
			t.Fatal("the message was not played to the end")
		}
	})
}

// A callback in a ring-all queue: every agent rung sees the callback
// pop-up; the first to answer gets it and the customer is dialled once.
func TestCallbackInARingAllQueue(t *testing.T) {
	forEachPBX(t, func(t *testing.T, pbx lab.PBXKind) {
		sales := salesWithCallbacks()
		sales.Strategy = "ring_all"
		l := startCallbackLab(t, cbOptions{pbx: pbx, sales: &sales})
		ctx := context.Background()
		e := l.Replicas[0].Engine
		const number = "+12025550261"
		l.PBX.SetPhone(customer(l, number), answers)
		login(t, l, 0, "a1", l.Endpoint("1001"), pbxsim.Phone{Mode: pbxsim.Answer, RingFor: 200 * time.Millisecond}, "sales")
		login(t, l, 0, "a2", l.Endpoint("1002"), pbxsim.Phone{Mode: pbxsim.NoAnswer}, "sales")
		desk1, err := e.SubscribeAgent(ctx, "a1")
		if err != nil {
			t.Fatal(err)
		}
		desk2, err := e.SubscribeAgent(ctx, "a2")
		if err != nil {
			t.Fatal(err)
		}
		cb, _, err := e.RequestCallback(ctx, acd.CallbackRequest{Queue: "sales", Number: number})
		if err != nil {
			t.Fatal(err)
		}
		for _, desk := range []<-chan acd.AgentEvent{desk1, desk2} {
			if pop := nextEvent(t, desk, "offered"); pop.Kind != "callback" || pop.Number != number {
				t.Fatalf("ring-all pop-up %+v", pop)
			}
		}
		waitCallback(t, l, cb.ID, callbacks.StateDone)
		ix := callbackInteraction(t, l, cb.ID, acd.StateConnected)
		if ix.Agent != "a1" || originates(l, customer(l, number)) != 1 {
			t.Fatalf("served by %q, customer dialled %d times", ix.Agent, originates(l, customer(l, number)))
		}
		waitFor(t, 5*time.Second, "a2's phone stopped", func() bool { return len(l.PBX.LiveLegs(l.Endpoint("1002"))) == 0 })
	})
}

// queueStats reads a queue's figures for today.
func queueStats(t *testing.T, l *lab.Lab, queue string) acd.QueueStats {
	t.Helper()
	v, err := l.Replicas[0].Engine.Queue(context.Background(), queue)
	if err != nil {
		t.Fatal(err)
	}
	if v.Stats == nil {
		t.Fatalf("queue %s has no figures", queue)
	}
	return *v.Stats
}

// The number keyed in the callback dialog ends when the caller stops
// keying: the timeout runs from the last digit, on fake time here, so a
// pause shorter than it between digits changes nothing and the number is
// taken once it has passed after the last one.
func TestCallbackNumberEndsAfterTheInterDigitTimeout(t *testing.T) {
	forEachPBX(t, func(t *testing.T, pbx lab.PBXKind) {
		const timeout = 10 * time.Second // acd's callbackDigitTimeout
		fc := clock.NewFake(time.Now())
		l := startCallbackLab(t, cbOptions{pbx: pbx, clock: fc})
		leg, ix := askForCallback(t, l, "+12025550184")
		// The prompt has ended: the timeout for a caller who keys nothing is
		// armed. Time moves on so that each digit's timer is told apart.
		fc.WaitTimers(fc.Now().Add(timeout), 1)
		fc.Advance(time.Second)
		for _, d := range "2025550185" {
			if err := l.PBX.InjectDTMF(leg, string(d)); err != nil {
				t.Fatal(err)
			}
			fc.WaitTimers(fc.Now().Add(timeout), 1) // the digit was taken
			fc.Advance(timeout - time.Second)       // a pause, shorter than the timeout
		}
		msgs, err := l.RDB.XRange(context.Background(), l.Replicas[0].Store.Keys().Events(), "-", "+").Result()
		if err != nil {
			t.Fatal(err)
		}
		for _, m := range msgs {
			if m.Values["id"] == ix.ConnectionID && m.Values["action"] == "callback_registered" {
				t.Fatal("registered before the caller stopped keying")
			}
		}
		fc.Advance(time.Second) // the timeout after the last digit
		id := registeredCallback(t, l, ix.ConnectionID)
		if cb := getCallback(t, l, id); cb.Number != "+12025550185" {
			t.Fatalf("registered %q, want the keyed number", cb.Number)
		}
	})
}
