package e2e

import (
	"context"
	"sync/atomic"
	"testing"
	"time"

	"github.com/tandem-cc/tandem/acd"
	"github.com/tandem-cc/tandem/agents"
	"github.com/tandem-cc/tandem/internal/lab"
	"github.com/tandem-cc/tandem/internal/redistest"
	"github.com/tandem-cc/tandem/pbxsim"
)

// agentGoneAtCallerJoin hangs the offered agent's leg up at the PBX just
// before the caller is joined to the call's bridge (once, when armed).
type agentGoneAtCallerJoin struct {
	acd.PBX
	sim       func() lab.PBXSim
	callerLeg *atomic.Value
	armed     *atomic.Bool
	ep        string
}

func (p agentGoneAtCallerJoin) AddToBridge(ctx context.Context, bridge, leg string) error {
	if cl, _ := p.callerLeg.Load().(string); cl == leg && p.armed.CompareAndSwap(true, false) {
		s := p.sim()
		for _, a := range s.LiveLegs(p.ep) {
			_ = s.HangUp(a)
			deadline := time.Now().Add(5 * time.Second)
			for time.Now().Before(deadline) {
				if ch, ok := s.Channel(a); !ok || ch.HungUp {
					break
				}
				time.Sleep(time.Millisecond)
			}
		}
	}
	return p.PBX.AddToBridge(ctx, bridge, leg)
}

// The agent's phone hangs up after answering, just as the caller is joined
// to the call's bridge: that is the agent not taking the call (RONA), and
// the caller, who never hung up, goes back to the head of the queue with
// their music. On FreeSWITCH the refused join (uuid_bridge: "Invalid uuid")
// names neither leg, and the caller used to be taken for gone: abandoned,
// and left parked at the PBX for good.
func TestAgentGoneAsTheCallerJoinsIsARONANotAnAbandon(t *testing.T) {
	forEachPBX(t, func(t *testing.T, pbx lab.PBXKind) {
		var l *lab.Lab
		callerLeg := &atomic.Value{}
		callerLeg.Store("")
		armed := &atomic.Bool{}
		l = startLabWith(t, lab.Options{
			PBX: pbx, Replicas: 1, RedisAddr: redistest.Start(t),
			Queues: map[string]acd.QueueSettings{"sales": {MOHClass: "sales-music", RingTimeout: time.Minute}},
			DNIS:   map[string]string{"800": "sales"},
			WrapPBX: func(_ string, d acd.PBX) acd.PBX {
				return agentGoneAtCallerJoin{PBX: d, sim: func() lab.PBXSim { return l.PBX }, callerLeg: callerLeg, armed: armed, ep: pbx.Endpoint("1001")}
			},
		})
		armed.Store(true)
		leg, err := l.PBX.Call(pbxsim.Caller{ANI: "1", DNIS: "800"})
		if err != nil {
			t.Fatal(err)
		}
		callerLeg.Store(leg)
		c := interactionOfWait(t, l, leg)
		waitState(t, l, c, acd.StateQueued)
		login(t, l, 0, "a1", l.Endpoint("1001"), pbxsim.Phone{Mode: pbxsim.Answer, RingFor: 10 * time.Millisecond}, "sales")
		waitFor(t, 10*time.Second, "the agent's RONA", func() bool { return agentState(t, l, "a1") == agents.RONA })
		if armed.Load() {
			t.Fatal("the agent's leg was never hung up at the caller's join: the test staged nothing")
		}
		waitFor(t, 10*time.Second, "the caller queued again", func() bool { return interaction(t, l, c).State == acd.StateQueued })
		if ch, _ := l.PBX.Channel(leg); ch.HungUp {
			t.Fatal("the caller's leg was hung up")
		}
		waitFor(t, 10*time.Second, "the caller's music again", func() bool { ch, _ := l.PBX.Channel(leg); return ch.MOHClass != "" })
		if err := l.PBX.HangUp(leg); err != nil {
			t.Fatal(err)
		}
		if got := waitState(t, l, c, acd.StateAbandoned); got.EndedBy != "caller" {
			t.Fatalf("ended by %q after the caller hung up", got.EndedBy)
		}
	})
}
