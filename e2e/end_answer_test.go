package e2e

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/tandem-cc/tandem/acd"
	"github.com/tandem-cc/tandem/agents"
	"github.com/tandem-cc/tandem/internal/lab"
)

// TestLeavingACallAnswersLeftAndEndingItAnswersEnded: the answer to a
// request that takes the agent off the call says what is true for that
// agent, through the HTTP API: an agent who ends their call reads
// "ended"; one who leaves a call that goes on (the owner leaving a
// conference, the consulted agent ending their part, a blind transfer)
// reads "left" with who has the customer now and the role they had, never
// the others' "connected"; the others' view is unchanged. So does one who
// hands the customer over (consult or blind transfer).
func TestLeavingACallAnswersLeftAndEndingItAnswersEnded(t *testing.T) {
	forEachPBX(t, func(t *testing.T, pbx lab.PBXKind) {
		type answer struct{ state, agent, role string }
		for _, tc := range []struct {
			name  string
			run   func(t *testing.T, l *controlLab) (path, token string)
			want  answer
			after func(t *testing.T, l *controlLab)
		}{
			{"the agent ends the call", func(t *testing.T, l *controlLab) (string, string) {
				return "/v1/agents/a1/call/end", "tok-a1"
			}, answer{acd.StateEnded, "a1", "owner"}, nil},
			{"the owner leaves a conference", func(t *testing.T, l *controlLab) (string, string) {
				conference(t, l)
				return "/v1/agents/a1/call/end", "tok-a1"
			}, answer{acd.CallLeft, "a2", "owner"}, func(t *testing.T, l *controlLab) {
				l.view("a2", "a2 keeps the customer", func(v acd.CallView) bool { return v.Agent == "a2" && v.State == "connected" })
			}},
			{"the consulted agent leaves a conference", func(t *testing.T, l *controlLab) (string, string) {
				conference(t, l)
				return "/v1/agents/a2/call/end", "tok-a2"
			}, answer{acd.CallLeft, "a1", "consulted"}, func(t *testing.T, l *controlLab) {
				l.view("a1", "a1 keeps the customer", func(v acd.CallView) bool { return v.Consult == nil && v.State == "connected" })
			}},
			{"the consulted agent ends the consult", func(t *testing.T, l *controlLab) (string, string) {
				consultConnected(t, l)
				return "/v1/agents/a2/call/end", "tok-a2"
			}, answer{acd.CallLeft, "a1", "consulted"}, func(t *testing.T, l *controlLab) {
				l.view("a1", "a1 back with the customer on hold", func(v acd.CallView) bool { return v.Consult == nil && v.State == "held" })
			}},
			{"the agent completes a consult transfer", func(t *testing.T, l *controlLab) (string, string) {
				consultConnected(t, l)
				return "/v1/agents/a1/call/transfer/complete", "tok-a1"
			}, answer{acd.CallLeft, "a2", "owner"}, func(t *testing.T, l *controlLab) {
				l.view("a2", "a2 has the customer", func(v acd.CallView) bool { return v.Agent == "a2" && v.State == "connected" })
			}},
			{"the agent transfers the call to a queue", func(t *testing.T, l *controlLab) (string, string) {
				return "/v1/agents/a1/call/transfer", "tok-a1"
			}, answer{acd.CallLeft, "", "owner"}, func(t *testing.T, l *controlLab) {
				waitFor(t, 10*time.Second, "the call waiting in support", func() bool {
					q, err := l.engine().Queue(context.Background(), "support")
					return err == nil && len(q.Waiting) == 1
				})
			}},
		} {
			t.Run(tc.name, func(t *testing.T) {
				l := startControlLab(t, controlOptions{pbx: pbx})
				srv := l.controlAPI(nil, "a1", "a2")
				l.agent(0, "a1", l.Endpoint("1001"), false, "sales")
				l.agent(0, "a2", l.Endpoint("1002"), true, "support") // idle: consulted, never offered the call
				ix := l.callConnected(nil)
				path, token := tc.run(t, l)
				reqBody := ""
				if strings.HasSuffix(path, "/transfer") {
					reqBody = `{"kind":"queue","value":"support"}`
				}
				st, body := call(t, srv, "POST", path, token, reqBody)
				if st != 200 {
					t.Fatalf("%s: %d %v", path, st, body)
				}
				got := answer{str(body["state"]), str(body["agent"]), str(body["role"])}
				if got != tc.want || str(body["connection_id"]) != ix.ConnectionID {
					t.Errorf("%s answered %v, want %+v", path, body, tc.want)
				}
				if got.state == acd.CallLeft && (body["consult"] != nil || body["recording"] != nil || body["customer_held"] != false) {
					t.Errorf("a left call shows what the agent is no longer part of: %v", body)
				}
				leaver := map[string]string{"tok-a1": "a1", "tok-a2": "a2"}[token]
				waitAgent(t, l.Lab, leaver, agents.WrapUp)
				if tc.after != nil {
					tc.after(t, l)
				}
				// The caller hangs up, so that every interaction's history is
				// complete for checkHistory.
				if !l.channel(ix.CallerLeg).HungUp {
					l.hangUp(ix.CallerLeg)
				}
				waitFor(t, 10*time.Second, "the call over", func() bool { return interaction(t, l.Lab, ix.ConnectionID).Terminal() })
				checkHistory(t, l.Lab)
			})
		}
	})
}

// conference consults a2 from a1's call and conferences the three.
func conference(t *testing.T, l *controlLab) {
	t.Helper()
	consultConnected(t, l)
	if v, err := l.engine().Conference(context.Background(), "a1"); err != nil || v.State != "conferenced" {
		t.Fatalf("conference: %+v %v", v, err)
	}
}

// consultConnected consults a2 from a1's call and waits until a2 answered.
func consultConnected(t *testing.T, l *controlLab) {
	t.Helper()
	if _, err := l.engine().Consult(context.Background(), "a1", acd.Target{Kind: acd.TargetAgent, Value: "a2"}); err != nil {
		t.Fatal(err)
	}
	l.view("a1", "consult connected", func(v acd.CallView) bool { return v.Consult != nil && v.Consult.State == "connected" })
}

func str(v any) string { s, _ := v.(string); return s }

// TestSecondLoginThroughTheAPISaysAlreadyLoggedIn: logging in an agent who
// is logged in is a 409 that says so in words, with the agent's state,
// and changes nothing.
func TestSecondLoginThroughTheAPISaysAlreadyLoggedIn(t *testing.T) {
	l := startControlLab(t, controlOptions{})
	srv := l.controlAPI(nil, "a1")
	l.agent(0, "a1", "PJSIP/1001", true, "sales")
	st, body := call(t, srv, "POST", "/v1/agents/a1/login", "tok-a1", `{"endpoint":"PJSIP/1001","queues":["support"]}`)
	want := "agent a1 is already logged in (state idle); log out first: illegal transition"
	if st != 409 || body["error"] != want {
		t.Fatalf("second login: %d %v, want 409 %q", st, body, want)
	}
	a, err := l.engine().Agent(context.Background(), "a1")
	if err != nil || a.State != agents.Idle || len(a.Queues) != 1 || a.Queues[0] != "sales" {
		t.Fatalf("after the refused login: %+v %v", a, err)
	}
}
