package e2e

import (
	"context"
	"fmt"
	"os"
	"testing"
	"time"

	"log/slog"

	"github.com/tandem-cc/tandem/acd"
	"github.com/tandem-cc/tandem/agents"
	"github.com/tandem-cc/tandem/cad"
	"github.com/tandem-cc/tandem/internal/clock"
	"github.com/tandem-cc/tandem/internal/lab"
	"github.com/tandem-cc/tandem/internal/redistest"
	"github.com/tandem-cc/tandem/media"
	"github.com/tandem-cc/tandem/pbxsim"
)

// controlLab is a lab set up for call control: wrap-up, an outside dial
// plan that rings the PBX's simulated phones, a recorded queue with
// variables.
type controlLab struct {
	*lab.Lab
	t *testing.T
}

// Variables of the "sales" queue in control labs.
var salesVariables = []cad.Variable{
	{Name: "ACCOUNT", Label: "Account", Type: "string", Order: 1, PopUp: true},
	{Name: "BALANCE", Label: "Balance", Type: "number", Editable: true, Order: 2, PopUp: true},
	{Name: "VIP", Label: "VIP", Type: "boolean", Editable: true, Order: 3, PopUp: true},
	{Name: "CARD", Label: "Card number", Type: "string", Secure: true, Order: 4},
	{Name: "NOTE", Label: "Note", Type: "string", Editable: true, Order: 5},
}

type controlOptions struct {
	pbx       lab.PBXKind // default Asterisk
	replicas  int
	wrapUp    time.Duration // 0: 5s
	ring      time.Duration // 0: 3s
	maxCalls  int
	blindMiss string // "abandon" or "requeue"
	logger    *slog.Logger
	wrapPBX   func(node string, pbx acd.PBX) acd.PBX
	clock     clock.Clock // runs the engines' timers (nil: the system clock)
	// forwardTimeout: how long a forwarded command waits for a live owner
	// (0: acd.DefaultForwardTimeout).
	forwardTimeout time.Duration
}

// privacyShield is how long the control labs' privacy pauses last.
const privacyShield = 300 * time.Millisecond

func startControlLab(t *testing.T, o controlOptions) *controlLab {
	t.Helper()
	if o.replicas == 0 {
		o.replicas = 1
	}
	if o.wrapUp == 0 {
		o.wrapUp = 5 * time.Second
	}
	if o.ring == 0 {
		o.ring = 3 * time.Second
	}
	logger := o.logger
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
		if os.Getenv("TANDEM_TEST_LOG") != "" {
			logger = slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelDebug}))
		}
	}
	l := startLabWith(t, lab.Options{
		PBX:       o.pbx,
		Replicas:  o.replicas,
		RedisAddr: redistest.Start(t),
		Queues: map[string]acd.QueueSettings{
			"sales":   {MOHClass: "sales-music", RingTimeout: o.ring, Record: true, Variables: salesVariables},
			"support": {MOHClass: "support-music", RingTimeout: o.ring},
			"billing": {MOHClass: "default", RingTimeout: o.ring},
		},
		DNIS:          map[string]string{"800": "sales", "801": "support"},
		SweepInterval: 200 * time.Millisecond,
		Logger:        logger,
		WrapPBX:       o.wrapPBX,
		Engine: acd.Options{
			Policy:                acd.Policy{WrapUp: o.wrapUp, MaxConcurrentCalls: o.maxCalls},
			WrapUpCodes:           []string{"resolved", "follow-up", "escalated"},
			DefaultWrapUpCode:     "resolved",
			IdleReasons:           []string{"break", "lunch"},
			Dial:                  acd.DialSettings{Endpoint: o.pbx.Endpoint("{number}"), DefaultRegion: "US", CallerID: "+18005550100", RingTimeout: 3 * time.Second},
			PrivacyShield:         privacyShield,
			Clock:                 o.clock,
			BlindTransferNoAnswer: o.blindMiss,
			BusyMessage:           media.MustParse("sound:all-circuits-busy-now"),
			ForwardTimeout:        o.forwardTimeout,
		},
	})
	requireCodecsOnEveryOriginate(t, l)
	return &controlLab{Lab: l, t: t}
}

func (l *controlLab) engine() *acd.Engine { return l.Replicas[0].Engine }

// agent logs an agent in (through replica r) with a phone that answers
// after 30 ms, and makes them available unless idle is true.
func (l *controlLab) agent(r int, id, endpoint string, idle bool, queues ...string) {
	l.t.Helper()
	l.PBX.SetPhone(endpoint, pbxsim.Phone{Mode: pbxsim.Answer, RingFor: 30 * time.Millisecond})
	e := l.Replicas[r].Engine
	ctx := context.Background()
	if _, err := e.Login(ctx, id, endpoint, queues, nil); err != nil {
		l.t.Fatal(err)
	}
	if idle {
		if _, err := e.SetIdle(ctx, id, "break"); err != nil {
			l.t.Fatal(err)
		}
		return
	}
	if _, err := e.SetAvailable(ctx, id); err != nil {
		l.t.Fatal(err)
	}
}

// callConnected places a call to DNIS 800 (queue sales) and waits until an
// agent has it; it returns the interaction.
func (l *controlLab) callConnected(vars map[string]string) acd.Interaction {
	l.t.Helper()
	leg, err := l.PBX.Call(pbxsim.Caller{ANI: "+12025550199", DNIS: "800", Vars: vars})
	if err != nil {
		l.t.Fatal(err)
	}
	ix := interactionOf(l.t, l.Lab, leg)
	return waitState(l.t, l.Lab, ix.ConnectionID, "connected")
}

// view waits until the agent's call view satisfies cond.
func (l *controlLab) view(agent string, what string, cond func(acd.CallView) bool) acd.CallView {
	l.t.Helper()
	var v acd.CallView
	waitFor(l.t, 5*time.Second, agent+": "+what, func() bool {
		var err error
		v, err = l.engine().Call(context.Background(), agent)
		return err == nil && cond(v)
	})
	return v
}

// channel reads a leg at the simulated PBX.
func (l *controlLab) channel(id string) pbxsim.ChannelView {
	ch, _ := l.PBX.Channel(id)
	return ch
}

// alone says whether leg shares media with no live leg now (a held
// customer hears music, nobody else).
func (l *controlLab) alone(leg string) bool { return len(bridgedNow(l.Lab, leg)) == 0 }

// onlyBridged says whether exactly the pairs of legs given share media now,
// among the legs named: every leg named in a pair is bridged with its
// partner and with no other leg named. onlyBridged(a, b) says a and b hear
// each other; onlyBridged(a, b, c) that nobody hears c; onlyBridged(a, b, b, c,
// a, c) a three-way conference.
func (l *controlLab) onlyBridged(pairs ...string) bool {
	l.t.Helper()
	want := map[[2]string]bool{}
	var legs []string
	seen := map[string]bool{}
	for i, leg := range pairs {
		if !seen[leg] {
			seen[leg] = true
			legs = append(legs, leg)
		}
		if i%2 == 1 {
			want[[2]string{pairs[i-1], leg}], want[[2]string{leg, pairs[i-1]}] = true, true
		}
	}
	for i, a := range legs {
		for _, b := range legs[i+1:] {
			if l.Bridged(a, b) != want[[2]string{a, b}] {
				return false
			}
		}
	}
	return true
}

// agentHistory reads the states an agent went through, from the shared
// event stream.
func agentHistory(t *testing.T, l *lab.Lab, id string) []agents.State {
	t.Helper()
	msgs, err := l.RDB.XRange(context.Background(), l.Replicas[0].Store.Keys().Events(), "-", "+").Result()
	if err != nil {
		t.Fatal(err)
	}
	var out []agents.State
	for _, m := range msgs {
		if m.Values["kind"] == "agent" && m.Values["id"] == id {
			out = append(out, agents.State(m.Values["to"].(string)))
		}
	}
	return out
}

// wantHistory checks an agent's history ends with want (in order).
func wantHistory(t *testing.T, l *lab.Lab, id string, want ...agents.State) {
	t.Helper()
	got := agentHistory(t, l, id)
	if len(got) < len(want) {
		t.Fatalf("agent %s history %v, want it to end with %v", id, got, want)
	}
	tail := got[len(got)-len(want):]
	for i := range want {
		if tail[i] != want[i] {
			t.Fatalf("agent %s history %v, want it to end with %v", id, got, want)
		}
	}
}

// wantTalk checks the talk states (acd.TalkHeld, …) interaction conn went
// through, in order, as its history records them.
func wantTalk(t *testing.T, l *lab.Lab, conn string, want ...string) {
	t.Helper()
	msgs, err := l.RDB.XRange(context.Background(), l.Replicas[0].Store.Keys().Events(), "-", "+").Result()
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, m := range msgs {
		if m.Values["kind"] == "talk" && m.Values["id"] == conn {
			to, _ := m.Values["to"].(string)
			got = append(got, to)
		}
	}
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Fatalf("interaction %s talk history %v, want %v", conn, got, want)
	}
}

// talkStateIs checks the talk state Redis holds for interaction conn
// (its talk_state field).
func talkStateIs(t *testing.T, l *lab.Lab, conn, want string) {
	t.Helper()
	got, err := l.RDB.HGet(context.Background(), l.Replicas[0].Store.Keys().Interaction(conn), "talk_state").Result()
	if err != nil || got != want {
		t.Fatalf("interaction %s talk_state %q (%v), want %q", conn, got, err, want)
	}
}
