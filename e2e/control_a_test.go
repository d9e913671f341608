package e2e

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/tandem-cc/tandem/acd"
	"github.com/tandem-cc/tandem/agents"
	"github.com/tandem-cc/tandem/errs"
	"github.com/tandem-cc/tandem/internal/clock"
	"github.com/tandem-cc/tandem/internal/lab"
	"github.com/tandem-cc/tandem/pbxsim"
)

func TestHoldAndResumeWithMusic(t *testing.T) {
	forEachPBX(t, func(t *testing.T, pbx lab.PBXKind) {
		l := startControlLab(t, controlOptions{pbx: pbx})
		ctx := context.Background()
		l.agent(0, "a1", l.Endpoint("1001"), false, "sales")
		ix := l.callConnected(nil)
		e := l.engine()

		v, err := e.Hold(ctx, "a1")
		if err != nil || v.State != "held" || !v.CustomerHeld || v.HeldSince.IsZero() {
			t.Fatalf("hold: %+v %v", v, err)
		}
		talkStateIs(t, l.Lab, ix.ConnectionID, acd.TalkHeld)
		ch := l.channel(ix.CallerLeg)
		if ch.MOHClass != "sales-music" || !l.alone(ix.CallerLeg) {
			t.Fatalf("held customer: music %q, still bridged with %v", ch.MOHClass, bridgedNow(l.Lab, ix.CallerLeg))
		}
		if _, err := e.Hold(ctx, "a1"); !errors.Is(err, acd.ErrIllegalTransition) {
			t.Fatalf("hold twice: %v", err)
		}
		// End is refused while the customer is held and no consult is active.
		if _, err := e.End(ctx, "a1"); !errors.Is(err, acd.ErrIllegalTransition) {
			t.Fatalf("end while held: %v", err)
		}
		v, err = e.Resume(ctx, "a1")
		if err != nil || v.State != "connected" || v.CustomerHeld {
			t.Fatalf("resume: %+v %v", v, err)
		}
		talkStateIs(t, l.Lab, ix.ConnectionID, acd.TalkTalking)
		if ch := l.channel(ix.CallerLeg); ch.MOHClass != "" || !l.Bridged(ix.CallerLeg, ix.AgentLeg) {
			t.Fatalf("resumed customer: music %q, bridged with %v", ch.MOHClass, bridgedNow(l.Lab, ix.CallerLeg))
		}
		if _, err := e.Resume(ctx, "a1"); !errors.Is(err, acd.ErrIllegalTransition) {
			t.Fatalf("resume when not held: %v", err)
		}
		if _, err := e.End(ctx, "a1"); err != nil {
			t.Fatal(err)
		}
		waitState(t, l.Lab, ix.ConnectionID, "ended")
		waitAgent(t, l.Lab, "a1", agents.WrapUp)
		wantHistory(t, l.Lab, "a1", agents.Reserved, agents.Ringing, agents.Connected, agents.WrapUp)
		wantTalk(t, l.Lab, ix.ConnectionID, acd.TalkHeld, acd.TalkTalking)
		checkHistory(t, l.Lab)
	})
}

func TestConsultAgentThenConsultTransfer(t *testing.T) {
	forEachPBX(t, func(t *testing.T, pbx lab.PBXKind) {
		l := startControlLab(t, controlOptions{pbx: pbx})
		ctx := context.Background()
		l.agent(0, "a1", l.Endpoint("1001"), false, "sales")
		l.agent(0, "a2", l.Endpoint("1002"), true, "support") // idle agents may be consulted
		desk, err := l.engine().SubscribeAgent(ctx, "a2")
		if err != nil {
			t.Fatal(err)
		}
		ix := l.callConnected(map[string]string{"ACCOUNT": "42", "CARD": "4111111111111111"})
		e := l.engine()

		v, err := e.Consult(ctx, "a1", acd.Target{Kind: acd.TargetAgent, Value: "a2"})
		if err != nil || !v.CustomerHeld || v.Consult == nil || v.Consult.Agent != "a2" {
			t.Fatalf("consult: %+v %v", v, err)
		}
		// Until a2 answers, transfer and conference are refused.
		if v.Consult.State == "ringing" {
			if _, err := e.CompleteTransfer(ctx, "a1"); err != nil && !errors.Is(err, acd.ErrIllegalTransition) {
				t.Fatalf("transfer before answer: %v", err)
			}
		}
		req := waitEvent(t, desk, "consult_request")
		if req.From == nil || req.From.ID != "a1" || req.From.DN != l.Endpoint("1001") || req.From.Team != "sales" || req.Attached["ACCOUNT"] != "42" || req.Attached["CARD"] == "4111111111111111" {
			t.Fatalf("consult request %+v", req)
		}
		v = l.view("a1", "consult connected", func(v acd.CallView) bool { return v.Consult != nil && v.Consult.State == "connected" })
		consultLeg := ix.ConnectionID + "-c1"
		if !l.onlyBridged(ix.AgentLeg, consultLeg) || !l.alone(ix.CallerLeg) || l.channel(ix.CallerLeg).MOHClass == "" {
			t.Fatal("consult: a2 should talk to a1 while the customer hears music")
		}
		talkStateIs(t, l.Lab, ix.ConnectionID, acd.TalkConsulting)
		// Resume toggles: customer back, a2 on hold; and back again.
		v, err = e.Resume(ctx, "a1")
		if err != nil || v.CustomerHeld || v.Consult.State != "held" || l.channel(consultLeg).MOHClass == "" {
			t.Fatalf("toggle to customer: %+v %v", v, err)
		}
		v, err = e.Resume(ctx, "a1")
		if err != nil || !v.CustomerHeld || v.Consult.State != "connected" {
			t.Fatalf("toggle to consulted: %+v %v", v, err)
		}
		// Consult transfer: the customer goes to a2, a1 leaves to wrap-up.
		if _, err := e.CompleteTransfer(ctx, "a1"); err != nil {
			t.Fatal(err)
		}
		waitAgent(t, l.Lab, "a1", agents.WrapUp)
		v = l.view("a2", "a2 has the customer", func(v acd.CallView) bool { return v.Agent == "a2" && !v.CustomerHeld })
		if !l.Bridged(ix.CallerLeg, consultLeg) || l.channel(ix.AgentLeg).HungUp == false {
			t.Fatal("after consult transfer: customer and a2 bridged, a1's leg gone")
		}
		if got := interaction(t, l.Lab, ix.ConnectionID); got.Agent != "a2" {
			t.Fatalf("interaction agent %s", got.Agent)
		}
		if _, err := e.End(ctx, "a2"); err != nil {
			t.Fatal(err)
		}
		waitState(t, l.Lab, ix.ConnectionID, "ended")
		waitAgent(t, l.Lab, "a2", agents.WrapUp)
		wantHistory(t, l.Lab, "a1", agents.Connected, agents.WrapUp)
		wantHistory(t, l.Lab, "a2", agents.Idle, agents.Reserved, agents.Ringing, agents.Connected, agents.WrapUp)
		// Switching parties during the consult is no change of talk state; the
		// hand-over starts the new agent's talk over at talking.
		wantTalk(t, l.Lab, ix.ConnectionID, acd.TalkConsulting)
		checkHistory(t, l.Lab)
	})
}

func waitEvent(t *testing.T, ch <-chan acd.AgentEvent, typ string) acd.AgentEvent {
	t.Helper()
	timeout := time.After(5 * time.Second)
	for {
		select {
		case ev := <-ch:
			if ev.Type == typ {
				return ev
			}
		case <-timeout:
			t.Fatalf("no %s event", typ)
		}
	}
}

func TestConsultFailureSendsAgentToRONAAndTellsConsultingAgent(t *testing.T) {
	forEachPBX(t, func(t *testing.T, pbx lab.PBXKind) {
		// The consult's ring timer runs on fake time.
		const ring = 300 * time.Millisecond
		fc := clock.NewFake(time.Now())
		l := startControlLab(t, controlOptions{pbx: pbx, ring: ring, clock: fc})
		ctx := context.Background()
		l.agent(0, "a1", l.Endpoint("1001"), false, "sales")
		l.agent(0, "a2", l.Endpoint("1002"), false, "support")
		l.PBX.SetPhone(l.Endpoint("1002"), pbxsim.Phone{Mode: pbxsim.NoAnswer})
		desk, err := l.engine().SubscribeAgent(ctx, "a1")
		if err != nil {
			t.Fatal(err)
		}
		ix := l.callConnected(nil)
		// Past the customer's own ring timer (a no-op now that a1 answered),
		// so that the consult's is the only one at its moment.
		fc.Advance(time.Second)
		if _, err := l.engine().Consult(ctx, "a1", acd.Target{Kind: acd.TargetAgent, Value: "a2"}); err != nil {
			t.Fatal(err)
		}
		if st := agentState(t, l.Lab, "a2"); st != agents.Reserved && st != agents.Ringing {
			t.Fatalf("a2 %s before the consult's ring timed out", st)
		}
		// The queue's ring timeout or the dial's (3 s), whichever the consult
		// rings with.
		now := fc.Now()
		at := fc.WaitAnyTimer(now.Add(ring), now.Add(3*time.Second))
		fc.Advance(at.Sub(now))
		if ev := waitEvent(t, desk, "consult_failed"); ev.ConnectionID != ix.ConnectionID {
			t.Fatalf("failure event %+v", ev)
		}
		waitAgent(t, l.Lab, "a2", agents.RONA)
		v := l.view("a1", "consult gone", func(v acd.CallView) bool { return v.Consult == nil })
		if !v.CustomerHeld {
			t.Fatal("customer should still be on hold after a failed consult")
		}
		if _, err := l.engine().Resume(ctx, "a1"); err != nil {
			t.Fatal(err)
		}
		wantHistory(t, l.Lab, "a2", agents.Reserved, agents.Ringing, agents.RONA)
	})
}

func TestConsultQueueAndNumber(t *testing.T) {
	forEachPBX(t, func(t *testing.T, pbx lab.PBXKind) {
		l := startControlLab(t, controlOptions{pbx: pbx})
		ctx := context.Background()
		l.agent(0, "a1", l.Endpoint("1001"), false, "sales")
		l.agent(0, "s1", l.Endpoint("2001"), false, "support")
		l.PBX.SetPhone(l.Endpoint("+14155550123"), pbxsim.Phone{Mode: pbxsim.Answer, RingFor: 20 * time.Millisecond})
		ix := l.callConnected(nil)
		e := l.engine()

		// Consult a queue: its longest-idle agent is rung.
		if _, err := e.Consult(ctx, "a1", acd.Target{Kind: acd.TargetQueue, Value: "support"}); err != nil {
			t.Fatal(err)
		}
		v := l.view("a1", "queue consult answered", func(v acd.CallView) bool { return v.Consult != nil && v.Consult.State == "connected" })
		if v.Consult.Agent != "s1" || agentState(t, l.Lab, "s1") != agents.Connected {
			t.Fatalf("queue consult %+v", v.Consult)
		}
		// The consulted agent leaves the consult.
		if _, err := e.EndConsult(ctx, "s1"); err != nil {
			t.Fatal(err)
		}
		l.view("a1", "consult over", func(v acd.CallView) bool { return v.Consult == nil })
		waitAgent(t, l.Lab, "s1", agents.WrapUp)
		wantHistory(t, l.Lab, "s1", agents.Available, agents.Reserved, agents.Ringing, agents.Connected, agents.WrapUp)

		// Consult a number, pasted with spaces and a national format.
		if _, err := e.Consult(ctx, "a1", acd.Target{Kind: acd.TargetNumber, Value: "(415) 555-0123"}); err != nil {
			t.Fatal(err)
		}
		v = l.view("a1", "number consult answered", func(v acd.CallView) bool { return v.Consult != nil && v.Consult.State == "connected" })
		if n := l.PBX.Stats().OriginatesByEndpoint[l.Endpoint("+14155550123")]; n != 1 {
			t.Fatalf("the normalised number was dialled %d times", n)
		}
		if _, err := e.EndConsult(ctx, "a1"); err != nil {
			t.Fatal(err)
		}
		// An invalid number is refused, naming the rule, and changes nothing.
		_, err := e.Consult(ctx, "a1", acd.Target{Kind: acd.TargetNumber, Value: "12"})
		var fe *errs.FieldError
		if !errors.As(err, &fe) || fe.Field != "number" {
			t.Fatalf("bad number: %v", err)
		}
		if v, _ := e.Call(ctx, "a1"); v.Consult != nil {
			t.Fatal("a refused consult left a consult behind")
		}
		if _, err := e.Resume(ctx, "a1"); err != nil {
			t.Fatal(err)
		}
		if _, err := e.End(ctx, "a1"); err != nil {
			t.Fatal(err)
		}
		waitState(t, l.Lab, ix.ConnectionID, "ended")
		checkHistory(t, l.Lab)
	})
}

func TestBlindTransferToAgent(t *testing.T) {
	forEachPBX(t, func(t *testing.T, pbx lab.PBXKind) {
		l := startControlLab(t, controlOptions{pbx: pbx})
		ctx := context.Background()
		l.agent(0, "a1", l.Endpoint("1001"), false, "sales")
		l.agent(0, "a2", l.Endpoint("1002"), true, "sales")
		desk1, err := l.engine().SubscribeAgent(ctx, "a1")
		if err != nil {
			t.Fatal(err)
		}
		desk2, err := l.engine().SubscribeAgent(ctx, "a2")
		if err != nil {
			t.Fatal(err)
		}
		ix := l.callConnected(nil)
		if pop := waitEvent(t, desk1, "offered"); pop.Kind != "" {
			t.Errorf("the first offer's pop-up says %q, want no kind (inbound)", pop.Kind)
		}
		e := l.engine()
		// Only available agents can take a blind transfer.
		if _, err := e.Transfer(ctx, "a1", acd.Target{Kind: acd.TargetAgent, Value: "a2"}); !errors.Is(err, acd.ErrIllegalTransition) {
			t.Fatalf("transfer to an idle agent: %v", err)
		}
		if agentState(t, l.Lab, "a1") != agents.Connected {
			t.Fatal("refused transfer changed a1")
		}
		if _, err := e.SetAvailable(ctx, "a2"); err != nil {
			t.Fatal(err)
		}
		if _, err := e.Transfer(ctx, "a1", acd.Target{Kind: acd.TargetAgent, Value: "a2"}); err != nil {
			t.Fatal(err)
		}
		// The desktop labels the request "transfer".
		if pop := waitEvent(t, desk2, "offered"); pop.Kind != "transfer" || pop.ConnectionID != ix.ConnectionID {
			t.Errorf("the transferred call's pop-up %+v, want kind transfer", pop)
		}
		waitAgent(t, l.Lab, "a1", agents.WrapUp)
		waitAgent(t, l.Lab, "a2", agents.Connected)
		got := waitState(t, l.Lab, ix.ConnectionID, "connected")
		if got.Agent != "a2" {
			t.Fatalf("call with %s", got.Agent)
		}
		waitFor(t, 5*time.Second, "customer and a2 bridged", func() bool {
			return l.Bridged(ix.CallerLeg, got.AgentLeg)
		})
		wantHistory(t, l.Lab, "a1", agents.Connected, agents.WrapUp)
		wantHistory(t, l.Lab, "a2", agents.Available, agents.Reserved, agents.Ringing, agents.Connected)
	})
}

func TestBlindTransferToAgentWhoDoesNotAnswer(t *testing.T) {
	forEachPBX(t, func(t *testing.T, pbx lab.PBXKind) {
		for _, policy := range []string{"abandon", "requeue"} {
			t.Run(policy, func(t *testing.T) {
				l := startControlLab(t, controlOptions{pbx: pbx, ring: 300 * time.Millisecond, blindMiss: policy})
				ctx := context.Background()
				l.agent(0, "a1", l.Endpoint("1001"), false, "sales")
				l.agent(0, "a2", l.Endpoint("1002"), false, "support")
				l.PBX.SetPhone(l.Endpoint("1002"), pbxsim.Phone{Mode: pbxsim.NoAnswer})
				ix := l.callConnected(nil)
				if _, err := l.engine().Transfer(ctx, "a1", acd.Target{Kind: acd.TargetAgent, Value: "a2"}); err != nil {
					t.Fatal(err)
				}
				waitAgent(t, l.Lab, "a2", agents.RONA)
				wantHistory(t, l.Lab, "a2", agents.Available, agents.Reserved, agents.Ringing, agents.RONA)
				wantHistory(t, l.Lab, "a1", agents.Connected, agents.WrapUp)
				if policy == "abandon" {
					waitState(t, l.Lab, ix.ConnectionID, "abandoned")
					waitFor(t, 5*time.Second, "customer hung up", func() bool { return l.channel(ix.CallerLeg).HungUp })
					checkHistory(t, l.Lab)
					return
				}
				got := waitState(t, l.Lab, ix.ConnectionID, "queued")
				if got.Queue != "sales" {
					t.Fatalf("requeued into %s", got.Queue)
				}
			})
		}
	})
}

func TestBlindTransferToQueueNeverComesBack(t *testing.T) {
	forEachPBX(t, func(t *testing.T, pbx lab.PBXKind) {
		l := startControlLab(t, controlOptions{pbx: pbx, wrapUp: 100 * time.Millisecond})
		ctx := context.Background()
		l.agent(0, "a1", l.Endpoint("1001"), false, "sales", "support")
		ix := l.callConnected(nil)
		if _, err := l.engine().Transfer(ctx, "a1", acd.Target{Kind: acd.TargetQueue, Value: "support"}); err != nil {
			t.Fatal(err)
		}
		got := waitState(t, l.Lab, ix.ConnectionID, "queued")
		if got.Queue != "support" {
			t.Fatalf("transferred call %+v", got)
		}
		waitFor(t, 5*time.Second, "support's music", func() bool { return l.channel(ix.CallerLeg).MOHClass == "support-music" })
		// a1 is back from wrap-up, available in support, and still not offered it.
		waitAgent(t, l.Lab, "a1", agents.Available)
		waitSweeps(t, l.Lab, 2) // two sweeps: nothing may route it to a1
		if st := interaction(t, l.Lab, ix.ConnectionID).State; st != "queued" {
			t.Fatalf("call went to the transferring agent (%s)", st)
		}
		l.agent(0, "s1", l.Endpoint("2001"), true, "support") // idle until its desk listens
		desk, err := l.engine().SubscribeAgent(ctx, "s1")
		if err != nil {
			t.Fatal(err)
		}
		if _, err := l.engine().SetAvailable(ctx, "s1"); err != nil {
			t.Fatal(err)
		}
		if pop := waitEvent(t, desk, "offered"); pop.Kind != "transfer" || pop.Queue != "support" {
			t.Errorf("the transferred call's pop-up %+v, want kind transfer in support", pop)
		}
		got = waitState(t, l.Lab, ix.ConnectionID, "connected")
		if got.Agent != "s1" {
			t.Fatalf("taken by %s", got.Agent)
		}
		wantHistory(t, l.Lab, "a1", agents.Connected, agents.WrapUp, agents.Available)
		wantHistory(t, l.Lab, "s1", agents.Available, agents.Reserved, agents.Ringing, agents.Connected)
	})
}

func TestBlindTransferToNumber(t *testing.T) {
	forEachPBX(t, func(t *testing.T, pbx lab.PBXKind) {
		l := startControlLab(t, controlOptions{pbx: pbx})
		ctx := context.Background()
		l.agent(0, "a1", l.Endpoint("1001"), false, "sales")
		l.PBX.SetPhone(l.Endpoint("+442079460958"), pbxsim.Phone{Mode: pbxsim.Answer, RingFor: 20 * time.Millisecond, TalkFor: 300 * time.Millisecond})
		ix := l.callConnected(nil)
		if _, err := l.engine().Transfer(ctx, "a1", acd.Target{Kind: acd.TargetNumber, Value: "011 44 20 7946 0958"}); err != nil {
			t.Fatal(err)
		}
		waitAgent(t, l.Lab, "a1", agents.WrapUp)
		outside := ix.ConnectionID + "-x1"
		waitFor(t, 5*time.Second, "customer bridged with the outside number", func() bool {
			return l.Bridged(ix.CallerLeg, outside)
		})
		// The outside party hangs up: the call ends, recorded as ended by them
		// (not by the agent, who left at the transfer).
		if got := waitState(t, l.Lab, ix.ConnectionID, "ended"); got.EndedBy != "outside" {
			t.Errorf("ended by %q, want outside", got.EndedBy)
		}
		waitFor(t, 5*time.Second, "customer hung up", func() bool { return l.channel(ix.CallerLeg).HungUp })
		checkHistory(t, l.Lab)
	})
}

func TestConferenceWithEachPartyLeaving(t *testing.T) {
	forEachPBX(t, func(t *testing.T, pbx lab.PBXKind) {
		type leaver string
		for _, who := range []leaver{"consulting", "consulted", "customer"} {
			t.Run(string(who), func(t *testing.T) {
				l := startControlLab(t, controlOptions{pbx: pbx})
				ctx := context.Background()
				l.agent(0, "a1", l.Endpoint("1001"), false, "sales")
				l.agent(0, "a2", l.Endpoint("1002"), false, "support")
				ix := l.callConnected(nil)
				e := l.engine()
				if _, err := e.Consult(ctx, "a1", acd.Target{Kind: acd.TargetAgent, Value: "a2"}); err != nil {
					t.Fatal(err)
				}
				l.view("a1", "consult connected", func(v acd.CallView) bool { return v.Consult != nil && v.Consult.State == "connected" })
				v, err := e.Conference(ctx, "a1")
				if err != nil || v.State != "conferenced" || v.CustomerHeld {
					t.Fatalf("conference %+v %v", v, err)
				}
				talkStateIs(t, l.Lab, ix.ConnectionID, acd.TalkConferenced)
				consultLeg := ix.ConnectionID + "-c1"
				// Each of the three hears the other two.
				if !l.onlyBridged(ix.CallerLeg, ix.AgentLeg, ix.AgentLeg, consultLeg, ix.CallerLeg, consultLeg) {
					t.Fatalf("not a three-way conference: customer with %v, a1 with %v", bridgedNow(l.Lab, ix.CallerLeg), bridgedNow(l.Lab, ix.AgentLeg))
				}
				switch who {
				case "consulting":
					if _, err := e.End(ctx, "a1"); err != nil {
						t.Fatal(err)
					}
					waitAgent(t, l.Lab, "a1", agents.WrapUp)
					l.view("a2", "a2 keeps the customer", func(v acd.CallView) bool { return v.Agent == "a2" && v.State == "connected" })
					if !l.Bridged(ix.CallerLeg, consultLeg) {
						t.Fatal("customer and a2 should stay connected")
					}
					wantHistory(t, l.Lab, "a1", agents.Connected, agents.WrapUp)
					wantHistory(t, l.Lab, "a2", agents.Reserved, agents.Ringing, agents.Connected)
					talkStateIs(t, l.Lab, ix.ConnectionID, acd.TalkTalking) // a2 talks with the customer now
					wantTalk(t, l.Lab, ix.ConnectionID, acd.TalkConsulting, acd.TalkConferenced)
				case "consulted":
					if _, err := e.End(ctx, "a2"); err != nil {
						t.Fatal(err)
					}
					waitAgent(t, l.Lab, "a2", agents.WrapUp)
					l.view("a1", "a1 keeps the customer", func(v acd.CallView) bool { return v.Consult == nil && v.State == "connected" })
					if !l.Bridged(ix.CallerLeg, ix.AgentLeg) {
						t.Fatal("customer and a1 should stay connected")
					}
					wantHistory(t, l.Lab, "a2", agents.Reserved, agents.Ringing, agents.Connected, agents.WrapUp)
					if agentState(t, l.Lab, "a1") != agents.Connected {
						t.Fatal("a1 should still be connected")
					}
					talkStateIs(t, l.Lab, ix.ConnectionID, acd.TalkTalking)
					wantTalk(t, l.Lab, ix.ConnectionID, acd.TalkConsulting, acd.TalkConferenced, acd.TalkTalking)
				case "customer":
					if err := l.PBX.HangUp(ix.CallerLeg); err != nil {
						t.Fatal(err)
					}
					waitState(t, l.Lab, ix.ConnectionID, "ended")
					waitAgent(t, l.Lab, "a1", agents.WrapUp)
					waitAgent(t, l.Lab, "a2", agents.WrapUp)
					waitFor(t, 5*time.Second, "every leg hung up", func() bool {
						return l.channel(ix.AgentLeg).HungUp && l.channel(consultLeg).HungUp
					})
					wantHistory(t, l.Lab, "a1", agents.Connected, agents.WrapUp)
					wantHistory(t, l.Lab, "a2", agents.Connected, agents.WrapUp)
					wantTalk(t, l.Lab, ix.ConnectionID, acd.TalkConsulting, acd.TalkConferenced, acd.TalkTalking)
					checkHistory(t, l.Lab)
				}
			})
		}
	})
}

// TestCommandOnAnotherReplicaIsForwardedToTheOwner: the agent's desktop
// talks to replica r2, the call is owned by r1; hold and resume are
// forwarded through r1's inbox and answered.
func TestCommandOnAnotherReplicaIsForwardedToTheOwner(t *testing.T) {
	forEachPBX(t, func(t *testing.T, pbx lab.PBXKind) {
		l := startControlLab(t, controlOptions{pbx: pbx, replicas: 2})
		ctx := context.Background()
		l.agent(1, "a1", l.Endpoint("1001"), false, "sales")
		leg, err := l.PBX.Call(pbxsim.Caller{App: "tandem-r1", ANI: "+12025550199", DNIS: "800"})
		if err != nil {
			t.Fatal(err)
		}
		ix := waitState(t, l.Lab, interactionOf(t, l.Lab, leg).ConnectionID, "connected")
		if ix.Owner != "r1" {
			t.Fatalf("owner %s", ix.Owner)
		}
		r2 := l.Replicas[1].Engine
		v, err := r2.Hold(ctx, "a1")
		if err != nil || !v.CustomerHeld {
			t.Fatalf("hold through r2: %+v %v", v, err)
		}
		if l.channel(ix.CallerLeg).MOHClass == "" {
			t.Fatal("customer not on hold music")
		}
		// Errors cross replicas with their kind.
		if _, err := r2.Hold(ctx, "a1"); !errors.Is(err, acd.ErrIllegalTransition) {
			t.Fatalf("second hold through r2: %v", err)
		}
		if _, err := r2.Resume(ctx, "a1"); err != nil {
			t.Fatal(err)
		}
		if v, err := r2.Call(ctx, "a1"); err != nil || v.CustomerHeld {
			t.Fatalf("view read on r2: %+v %v", v, err)
		}
	})
}

// TestConsultQueueThenTransfer: a consult found through a queue becomes a
// consult transfer; the consulted agent keeps the customer (and is not sent
// to wrap-up by the consult's own end).
func TestConsultQueueThenTransfer(t *testing.T) {
	forEachPBX(t, func(t *testing.T, pbx lab.PBXKind) {
		l := startControlLab(t, controlOptions{pbx: pbx})
		ctx := context.Background()
		l.agent(0, "a1", l.Endpoint("1001"), false, "sales")
		l.agent(0, "s1", l.Endpoint("2001"), false, "support")
		ix := l.callConnected(nil)
		e := l.engine()
		if _, err := e.Consult(ctx, "a1", acd.Target{Kind: acd.TargetQueue, Value: "support"}); err != nil {
			t.Fatal(err)
		}
		l.view("a1", "queue consult answered", func(v acd.CallView) bool { return v.Consult != nil && v.Consult.State == "connected" })
		if _, err := e.CompleteTransfer(ctx, "a1"); err != nil {
			t.Fatal(err)
		}
		waitAgent(t, l.Lab, "a1", agents.WrapUp)
		v := l.view("s1", "s1 has the customer", func(v acd.CallView) bool { return v.Agent == "s1" })
		if v.CustomerHeld || agentState(t, l.Lab, "s1") != agents.Connected {
			t.Fatalf("after transfer %+v, s1 %s", v, agentState(t, l.Lab, "s1"))
		}
		if _, err := e.End(ctx, "s1"); err != nil {
			t.Fatal(err)
		}
		waitState(t, l.Lab, ix.ConnectionID, "ended")
		wantHistory(t, l.Lab, "s1", agents.Available, agents.Reserved, agents.Ringing, agents.Connected, agents.WrapUp)
		checkHistory(t, l.Lab)
	})
}
