package e2e

import (
	"context"
	"testing"
	"time"

	"github.com/tandem-cc/tandem/acd"
	"github.com/tandem-cc/tandem/agents"
	"github.com/tandem-cc/tandem/callbacks"
	"github.com/tandem-cc/tandem/internal/lab"
	"github.com/tandem-cc/tandem/pbxsim"
)

// requireCodecsOnEveryOriginate checks, when the test ends, that every leg
// Tandem originated carried an originator (the leg it was rung for: the new
// leg gets its formats and its CDR/CEL link) or explicit formats, never
// neither: without them Asterisk offers every format and a Local endpoint
// settles on slin192, so each call runs 8↔192 kHz resamplers. (Both at once
// the simulator refuses with 400, as Asterisk does.) Every lab the scenario
// tests start registers it, so inbound calls, consults, transfers, IVR
// dial-outs and callbacks are all covered.
func requireCodecsOnEveryOriginate(t *testing.T, l *lab.Lab) {
	t.Helper()
	if l.Sim == nil {
		return // ARI's originator and formats parameters: Asterisk only
	}
	t.Cleanup(func() {
		for _, o := range l.Sim.Originates() {
			if o.Originator == "" && o.Formats == "" {
				t.Errorf("leg %s to %s was originated without originator or formats", o.Channel, o.Endpoint)
			}
		}
	})
}

// originateOf returns what the originate of leg carried.
func originateOf(t *testing.T, l *lab.Lab, leg string) pbxsim.Originate {
	t.Helper()
	for _, o := range l.Sim.Originates() {
		if o.Channel == leg {
			return o
		}
	}
	t.Fatalf("leg %s was never originated", leg)
	return pbxsim.Originate{}
}

// An inbound call's agent leg, a consult leg, and the leg of a blind
// transfer to a number are each rung for the caller, and carry the
// caller's leg as originator.
func TestLegsRungForACallerCarryItAsOriginator(t *testing.T) {
	l := startControlLab(t, controlOptions{})
	ctx := context.Background()
	e := l.engine()
	l.agent(0, "a1", "PJSIP/1001", false, "sales")
	l.agent(0, "a2", "PJSIP/1002", true, "support")
	l.Sim.SetPhone("PJSIP/+442079460958", pbxsim.Phone{Mode: pbxsim.Answer, RingFor: 20 * time.Millisecond})
	ix := l.callConnected(nil)
	if _, err := e.Consult(ctx, "a1", acd.Target{Kind: acd.TargetAgent, Value: "a2"}); err != nil {
		t.Fatal(err)
	}
	l.view("a1", "consult connected", func(v acd.CallView) bool { return v.Consult != nil && v.Consult.State == "connected" })
	if _, err := e.CompleteTransfer(ctx, "a1"); err != nil {
		t.Fatal(err)
	}
	l.view("a2", "a2 has the customer", func(v acd.CallView) bool { return v.Agent == "a2" && !v.CustomerHeld })
	if _, err := e.Transfer(ctx, "a2", acd.Target{Kind: acd.TargetNumber, Value: "011 44 20 7946 0958"}); err != nil {
		t.Fatal(err)
	}
	var outside string
	waitFor(t, 5*time.Second, "outside number rung", func() bool {
		legs := l.Sim.LiveLegs("PJSIP/+442079460958")
		if len(legs) > 0 {
			outside = legs[0]
		}
		return outside != ""
	})
	for _, leg := range []string{ix.AgentLeg, ix.ConnectionID + "-c1", outside} {
		if o := originateOf(t, l.Lab, leg); o.Originator != ix.CallerLeg || o.Formats != "" {
			t.Errorf("leg %s: originator %q formats %q, want originator %s", leg, o.Originator, o.Formats, ix.CallerLeg)
		}
	}
}

// A callback rings the agent first, for nobody yet: that leg carries the
// configured formats. The customer is then dialled for the agent, whose leg
// is its originator.
func TestCallbackLegsCarryFormatsThenTheAgentAsOriginator(t *testing.T) {
	l := startCallbackLab(t, cbOptions{})
	ctx := context.Background()
	e := l.Replicas[0].Engine
	const number = "+12025550123"
	l.Sim.SetPhone("PJSIP/1001", answers)
	l.Sim.SetPhone(customer(l, number), answers)
	cb, _, err := e.RequestCallback(ctx, acd.CallbackRequest{Queue: "sales", Number: number})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := e.Login(ctx, "a1", "PJSIP/1001", []string{"sales"}, nil); err != nil {
		t.Fatal(err)
	}
	if _, err := e.SetAvailable(ctx, "a1"); err != nil {
		t.Fatal(err)
	}
	waitCallback(t, l, cb.ID, callbacks.StateDone)
	var agentLeg, customerLeg pbxsim.Originate
	for _, o := range l.Sim.Originates() {
		switch o.Endpoint {
		case "PJSIP/1001":
			agentLeg = o
		case customer(l, number):
			customerLeg = o
		}
	}
	if agentLeg.Channel == "" || agentLeg.Originator != "" || agentLeg.Formats != "ulaw" {
		t.Errorf("agent leg %+v: want formats ulaw and no originator", agentLeg)
	}
	if customerLeg.Channel == "" || customerLeg.Originator != agentLeg.Channel || customerLeg.Formats != "" {
		t.Errorf("customer leg %+v: want the agent's leg %s as originator", customerLeg, agentLeg.Channel)
	}
}

// A busy agent on a Local channel (how the Asterisk ran its
// phones): Asterisk says busy only in the Dial event, and destroys
// Tandem's half with cause 0. The RONA is recorded with reason busy, not
// failed.
func TestBusyLocalAgentIsRecordedBusy(t *testing.T) {
	l := startLab(t, 1, 5*time.Second)
	login(t, l, 0, "a1", "Local/1001@agents", pbxsim.Phone{Mode: pbxsim.Busy}, "sales")
	leg, err := l.Sim.Call(pbxsim.Caller{ANI: "5550022", DNIS: "800"})
	if err != nil {
		t.Fatal(err)
	}
	ix := interactionOf(t, l, leg)
	waitAgent(t, l, "a1", agents.RONA)
	waitState(t, l, ix.ConnectionID, "queued")
	msgs, err := l.RDB.XRange(context.Background(), l.Replicas[0].Store.Keys().Events(), "-", "+").Result()
	if err != nil {
		t.Fatal(err)
	}
	var reasons []any
	for _, m := range msgs {
		if m.Values["kind"] == "interaction" && m.Values["id"] == ix.ConnectionID && m.Values["to"] == "queued" && m.Values["from"] == "offered" {
			reasons = append(reasons, m.Values["reason"])
		}
	}
	if len(reasons) != 1 || reasons[0] != "busy" {
		t.Fatalf("RONA reasons in the history %v, want [busy]", reasons)
	}
}
