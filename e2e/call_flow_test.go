package e2e

import (
	"context"
	"testing"
	"time"

	"github.com/tandem-cc/tandem/acd"
	"github.com/tandem-cc/tandem/agents"
	"github.com/tandem-cc/tandem/internal/clock"
	"github.com/tandem-cc/tandem/internal/lab"
	"github.com/tandem-cc/tandem/pbxsim"
)

func TestHappyPathBridgesCallerAndAgentAndHangsUpBothLegs(t *testing.T) {
	forEachPBX(t, func(t *testing.T, pbx lab.PBXKind) {
		l := startLabOn(t, pbx, 1, 5*time.Second, nil)
		ctx, cancel := context.WithCancel(context.Background())
		defer cancel()
		login(t, l, 0, "a1", l.Endpoint("1001"), pbxsim.Phone{Mode: pbxsim.Answer, RingFor: 100 * time.Millisecond}, "sales")
		desk, err := l.Replicas[0].Engine.SubscribeAgent(ctx, "a1")
		if err != nil {
			t.Fatal(err)
		}

		// The caller talks for a while once bridged, then hangs up.
		leg, err := l.PBX.Call(pbxsim.Caller{ANI: "5551234", DNIS: "800", Vars: map[string]string{"ACCOUNT": "42"}, TalkFor: 700 * time.Millisecond})
		if err != nil {
			t.Fatal(err)
		}
		ix := interactionOf(t, l, leg)
		ix = waitState(t, l, ix.ConnectionID, "connected")
		if ix.ANI != "5551234" || ix.DNIS != "800" || ix.Queue != "sales" || ix.Agent != "a1" || ix.Attached["ACCOUNT"] != "42" {
			t.Fatalf("interaction %+v", ix)
		}
		// Caller and agent bridged (and nobody else with them), music
		// stopped.
		waitFor(t, 5*time.Second, "caller and agent bridged", func() bool {
			with := bridgedNow(l, leg)
			return len(with) == 1 && with[0] == ix.AgentLeg
		})
		if ch, _ := l.PBX.Channel(leg); ch.MOHClass != "" {
			t.Fatalf("music still playing on the caller: %q", ch.MOHClass)
		}
		if !musicPlayed(l.Heard(leg), "sales-music") {
			t.Fatalf("caller never heard the queue's music: %+v", l.Heard(leg))
		}
		if agentState(t, l, "a1") != agents.Connected {
			t.Fatal("agent not connected")
		}

		// The caller hangs up: the agent leg is hung up, the bridge
		// destroyed (nothing of the call is left at the PBX).
		ix = waitState(t, l, ix.ConnectionID, "ended")
		waitFor(t, 5*time.Second, "agent leg hung up and bridge gone", func() bool {
			ag, ok := l.PBX.Channel(ix.AgentLeg)
			return ok && ag.HungUp && l.PBX.Leftovers().Empty()
		})
		waitAgent(t, l, "a1", agents.Available)
		if ix.EndedBy != "caller" {
			t.Fatalf("ended by %q", ix.EndedBy)
		}
		for _, ts := range [][2]time.Time{{ix.Arrived, ix.Queued}, {ix.Queued, ix.Offered}, {ix.Offered, ix.Answered}, {ix.Answered, ix.Ended}} {
			if ts[0].IsZero() || ts[1].IsZero() || ts[1].Before(ts[0]) {
				t.Fatalf("timestamps out of order: %+v", ix)
			}
		}

		// The desktop saw the screen pop, the connect and the end.
		var got []acd.AgentEvent
		timeout := time.After(5 * time.Second)
		for len(got) == 0 || got[len(got)-1].Type != "ended" {
			select {
			case ev := <-desk:
				if ev.Type != "state" {
					got = append(got, ev)
				}
			case <-timeout:
				t.Fatalf("desktop events %+v", got)
			}
		}
		if len(got) != 3 || got[0].Type != "offered" || got[1].Type != "connected" {
			t.Fatalf("desktop events %+v", got)
		}
		pop := got[0]
		if pop.ConnectionID != ix.ConnectionID || pop.ANI != "5551234" || pop.DNIS != "800" || pop.Queue != "sales" || pop.Attached["ACCOUNT"] != "42" {
			t.Fatalf("screen pop %+v", pop)
		}
		checkHistory(t, l)
	})
}

func musicPlayed(log []pbxsim.MediaEntry, class string) bool {
	for _, m := range log {
		if m.Kind == "moh_start" && m.Class == class {
			return true
		}
	}
	return false
}

func TestAbandonInQueueRecordsWaitAndLeavesQueue(t *testing.T) {
	forEachPBX(t, func(t *testing.T, pbx lab.PBXKind) {
		l := startLabOn(t, pbx, 1, 5*time.Second, nil)
		leg, err := l.PBX.Call(pbxsim.Caller{ANI: "5550001", DNIS: "800", Patience: 300 * time.Millisecond})
		if err != nil {
			t.Fatal(err)
		}
		ix := interactionOf(t, l, leg)
		ix = waitState(t, l, ix.ConnectionID, "abandoned")
		// The wait runs from the enqueue to the moment Tandem saw the hang-up
		// (Redis time); both ends move with the machine's load, so only its
		// presence is checked, not a bound.
		if ix.Wait <= 0 || ix.EndedBy != "caller" {
			t.Fatalf("abandoned %+v", ix)
		}
		q, err := l.Replicas[0].Engine.Queue(context.Background(), "sales")
		if err != nil || len(q.Waiting) != 0 {
			t.Fatalf("queue %+v %v", q, err)
		}
		checkHistory(t, l)
	})
}

func TestAbandonWhileRingingCancelsAgentLegAndFreesAgent(t *testing.T) {
	forEachPBX(t, func(t *testing.T, pbx lab.PBXKind) {
		l := startLabOn(t, pbx, 1, 10*time.Second, nil)
		login(t, l, 0, "a1", l.Endpoint("1001"), pbxsim.Phone{Mode: pbxsim.NoAnswer}, "sales")
		leg, err := l.PBX.Call(pbxsim.Caller{ANI: "5550002", DNIS: "800", Patience: 500 * time.Millisecond})
		if err != nil {
			t.Fatal(err)
		}
		ix := interactionOf(t, l, leg)
		waitAgent(t, l, "a1", agents.Ringing)
		ix = waitState(t, l, ix.ConnectionID, "abandoned")
		agentLeg := ix.ConnectionID + "-a1"
		waitFor(t, 5*time.Second, "agent leg cancelled", func() bool {
			ch, ok := l.PBX.Channel(agentLeg)
			return ok && ch.HungUp
		})
		waitAgent(t, l, "a1", agents.Available)
		checkHistory(t, l)
	})
}

func TestRONAReturnsCallToHeadOfQueue(t *testing.T) {
	forEachPBX(t, func(t *testing.T, pbx lab.PBXKind) {
		// The ring timer runs on fake time: it fires when the test says, after
		// the second call is queued, however slow the machine.
		const ring = 400 * time.Millisecond
		fc := clock.NewFake(time.Now())
		l := startLabOn(t, pbx, 1, ring, fc)
		ctx := context.Background()
		login(t, l, 0, "a1", l.Endpoint("1001"), pbxsim.Phone{Mode: pbxsim.NoAnswer}, "sales")
		leg1, err := l.PBX.Call(pbxsim.Caller{ANI: "5550011", DNIS: "800"})
		if err != nil {
			t.Fatal(err)
		}
		first := interactionOf(t, l, leg1)
		waitAgent(t, l, "a1", agents.Ringing)
		leg2, err := l.PBX.Call(pbxsim.Caller{ANI: "5550012", DNIS: "800"})
		if err != nil {
			t.Fatal(err)
		}
		second := interactionOf(t, l, leg2)
		second = waitState(t, l, second.ConnectionID, "queued")

		// The ring times out: RONA.
		if st := agentState(t, l, "a1"); st != agents.Ringing {
			t.Fatalf("a1 %s before the ring timed out", st)
		}
		fc.WaitTimers(fc.Now().Add(ring), 1)
		fc.Advance(ring)
		waitAgent(t, l, "a1", agents.RONA)
		ix := waitState(t, l, first.ConnectionID, "queued")
		if ix.RONAs != 1 || ix.Queued.After(second.Queued) {
			t.Fatalf("returned call %+v", ix)
		}
		q, err := l.Replicas[0].Engine.Queue(ctx, "sales")
		if err != nil || len(q.Waiting) != 2 || q.Waiting[0].ConnectionID != first.ConnectionID {
			t.Fatalf("queue after RONA: %+v %v", q.Waiting, err)
		}
		waitFor(t, 5*time.Second, "RONA'd leg hung up", func() bool {
			ch, ok := l.PBX.Channel(first.ConnectionID + "-a1")
			return ok && ch.HungUp
		})
		// The next agent gets the returned call first.
		login(t, l, 0, "a2", l.Endpoint("1002"), pbxsim.Phone{Mode: pbxsim.Answer, RingFor: 50 * time.Millisecond}, "sales")
		ix = waitState(t, l, first.ConnectionID, "connected")
		if ix.Agent != "a2" {
			t.Fatalf("returned call went to %s", ix.Agent)
		}
		if st := agentState(t, l, "a1"); st != agents.RONA {
			t.Fatalf("RONA agent moved to %s by itself", st)
		}
	})
}

func TestBusyAgentEndpointIsTreatedAsNoAnswer(t *testing.T) {
	forEachPBX(t, func(t *testing.T, pbx lab.PBXKind) {
		l := startLabOn(t, pbx, 1, 5*time.Second, nil)
		login(t, l, 0, "a1", l.Endpoint("1001"), pbxsim.Phone{Mode: pbxsim.Busy}, "sales")
		leg, err := l.PBX.Call(pbxsim.Caller{ANI: "5550021", DNIS: "800"})
		if err != nil {
			t.Fatal(err)
		}
		ix := interactionOf(t, l, leg)
		waitAgent(t, l, "a1", agents.RONA)
		ix = waitState(t, l, ix.ConnectionID, "queued")
		if ix.RONAs != 1 {
			t.Fatalf("%+v", ix)
		}
	})
}

func TestUnreachableAgentEndpointIsTreatedAsNoAnswer(t *testing.T) {
	forEachPBX(t, func(t *testing.T, pbx lab.PBXKind) {
		l := startLabOn(t, pbx, 1, 5*time.Second, nil)
		login(t, l, 0, "a1", l.Endpoint("1001"), pbxsim.Phone{Mode: pbxsim.Unreachable}, "sales")
		leg, err := l.PBX.Call(pbxsim.Caller{ANI: "5550031", DNIS: "800"})
		if err != nil {
			t.Fatal(err)
		}
		interactionOf(t, l, leg)
		waitAgent(t, l, "a1", agents.RONA)
	})
}
