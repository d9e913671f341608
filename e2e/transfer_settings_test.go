package e2e

import (
	"context"
	"testing"
	"time"

	"github.com/tandem-cc/tandem/acd"
	"github.com/tandem-cc/tandem/agents"
	"github.com/tandem-cc/tandem/internal/lab"
	"github.com/tandem-cc/tandem/pbxsim"
)

// A call transferred to a queue is that queue's call from then on: sales
// records its calls, support does not, so a support call transferred to
// sales (blind, or consulting an agent found through sales) is recorded
// once a sales agent has it, and the interaction says sales.
func TestTransferToAQueueTakesThatQueuesSettings(t *testing.T) {
	forEachPBX(t, func(t *testing.T, pbx lab.PBXKind) {
		for _, consult := range []bool{false, true} {
			name := "blind"
			if consult {
				name = "consult"
			}
			t.Run(name, func(t *testing.T) {
				l := startControlLab(t, controlOptions{pbx: pbx})
				ctx := context.Background()
				e := l.engine()
				l.agent(0, "s1", l.Endpoint("2001"), false, "support")
				l.agent(0, "a2", l.Endpoint("1002"), true, "sales")
				leg, err := l.PBX.Call(pbxsim.Caller{ANI: "+12025550123", DNIS: "801"})
				if err != nil {
					t.Fatal(err)
				}
				conn := interactionOf(t, l.Lab, leg).ConnectionID
				waitState(t, l.Lab, conn, acd.StateConnected)
				if v := l.view("s1", "support call", func(v acd.CallView) bool { return v.ConnectionID == conn }); v.Recording != nil {
					t.Fatalf("a support call is recorded: %+v", v.Recording)
				}
				if _, err := e.SetAvailable(ctx, "a2"); err != nil {
					t.Fatal(err)
				}
				sales := acd.Target{Kind: acd.TargetQueue, Value: "sales"}
				if consult {
					if _, err := e.Consult(ctx, "s1", sales); err != nil {
						t.Fatal(err)
					}
					l.view("s1", "a2 answered the consult", func(v acd.CallView) bool { return v.Consult != nil && v.Consult.State == "connected" })
					if _, err := e.CompleteTransfer(ctx, "s1"); err != nil {
						t.Fatal(err)
					}
				} else if _, err := e.Transfer(ctx, "s1", sales); err != nil {
					t.Fatal(err)
				}
				waitFor(t, 5*time.Second, "a2 connected", func() bool {
					ix := interaction(t, l.Lab, conn)
					return ix.State == acd.StateConnected && ix.Agent == "a2"
				})
				v := l.view("a2", "a2 has the customer", func(v acd.CallView) bool {
					return v.Agent == "a2" && v.Consult == nil && !v.CustomerHeld
				})
				if v.Recording == nil || !v.Recording.Active || l.liveRecording(v.Recording.Name) != "recording" {
					t.Fatalf("the call is sales' now but not recorded: view %+v", v.Recording)
				}
				if v.Queue != "sales" {
					t.Errorf("view queue %q", v.Queue)
				}
				if got := interaction(t, l.Lab, conn); got.Queue != "sales" {
					t.Errorf("interaction queue %q", got.Queue)
				}
				waitAgent(t, l.Lab, "s1", agents.WrapUp)
				if _, err := e.End(ctx, "a2"); err != nil {
					t.Fatal(err)
				}
				waitState(t, l.Lab, conn, acd.StateEnded)
				waitFor(t, 5*time.Second, "recording stopped", func() bool { return l.liveRecording(v.Recording.Name) == "" })
				checkHistory(t, l.Lab)
			})
		}
	})
}
