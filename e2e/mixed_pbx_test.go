package e2e

import (
	"context"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"os"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/tandem-cc/tandem/acd"
	"github.com/tandem-cc/tandem/agents"
	"github.com/tandem-cc/tandem/internal/lab"
	"github.com/tandem-cc/tandem/internal/redistest"
	"github.com/tandem-cc/tandem/pbxsim"
)

// TestOneContactCenterOnAsteriskAndFreeSWITCHServes200Calls runs one
// contact center over a simulated Asterisk (ast1) and a simulated
// FreeSWITCH (fs1) side by side: one Redis, two Tandem replicas each
// driving both PBXs, 20 agents, ten on each PBX, and 200 callers arriving
// on both PBXs in turn. An agent is rung on the caller's PBX, through the
// SIP trunk when it lives on the other one. Every invariant of the demo's
// report must be 0 at the end, and calls must have crossed the trunk in
// both directions and been answered there, so the test cannot pass by
// keeping each PBX to itself.
func TestOneContactCenterOnAsteriskAndFreeSWITCHServes200Calls(t *testing.T) {
	if testing.Short() {
		t.Skip("load scenario")
	}
	const calls, agentsN = 200, 20
	logger := slog.New(slog.DiscardHandler)
	if os.Getenv("TANDEM_TEST_LOG") != "" {
		logger = slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelDebug}))
	}
	l := startLabWith(t, lab.Options{
		PBX:           lab.Mixed,
		Replicas:      2,
		RedisAddr:     redistest.Start(t),
		Queues:        map[string]acd.QueueSettings{"sales": {MOHClass: "default", RingTimeout: 3 * time.Second}},
		DNIS:          map[string]string{"800": "sales"},
		SweepInterval: 500 * time.Millisecond,
		Logger:        logger,
	})
	mixed, ok := l.PBX.(*lab.MixedSim)
	if !ok {
		t.Fatalf("a mixed lab's PBX is %T", l.PBX)
	}

	rng := rand.New(rand.NewPCG(12, 200))
	onNode := map[string]int{}
	agentNode := map[string]string{}
	for i := range agentsN {
		id := fmt.Sprintf("agent%02d", i)
		ep := l.Endpoint(fmt.Sprint(1000 + i))
		node, _, _ := strings.Cut(ep, "/")
		onNode[node]++
		agentNode[id] = node
		// An agent talks 100-250 ms: a phone hangs up its talk time after
		// answering, bridged or not, and on a starved machine (-race)
		// answer-to-bridge through the event socket can take longer, so
		// some agents hang up before their bridge is made. FreeSWITCH's
		// refusal then names no leg; the esl driver must not take the
		// caller for gone (it used to, and left callers parked for good).
		phone := pbxsim.Phone{Mode: pbxsim.Answer, RingFor: time.Duration(20+rng.IntN(80)) * time.Millisecond,
			TalkFor: time.Duration(100+rng.IntN(150)) * time.Millisecond}
		if i == 9 || i == 14 {
			phone = pbxsim.Phone{Mode: pbxsim.NoAnswer} // RONAs, one agent on each PBX
		}
		// Agents of both PBXs log in through both replicas.
		login(t, l, (i/2)%2, id, ep, phone, "sales")
	}
	if onNode[lab.MixedAsteriskNode] != agentsN/2 || onNode[lab.MixedFreeSWITCHNode] != agentsN/2 {
		t.Fatalf("agents per PBX node: %v, want %d on each", onNode, agentsN/2)
	}

	// A supervisor puts RONA'd agents back, as in the two-replica test: an
	// agent left in RONA would leave the callers behind it waiting.
	defer putRONABack(l, agentsN)()

	legNode := map[string]string{}
	for i := range calls {
		// Callers wait as long as it takes (a loaded machine serves them
		// late, not never); a few on each PBX give up at once.
		c := pbxsim.Caller{ANI: fmt.Sprintf("555%04d", i), DNIS: "800", Patience: time.Hour}
		if i%20 == 7 || i%20 == 12 {
			c.Patience = 50 * time.Millisecond
		}
		leg, err := l.PBX.Call(c)
		if err != nil {
			t.Fatalf("call %d: %v", i, err)
		}
		if _, ok := mixed.Asterisk.Channel(leg); ok {
			legNode[leg] = lab.MixedAsteriskNode
		} else {
			legNode[leg] = lab.MixedFreeSWITCHNode
		}
		time.Sleep(5 * time.Millisecond)
	}

	notOver := waitAllTerminal(t, l, calls)
	// The callers' legs go and recordings stop after the interactions
	// end: wait for the PBXs to be done, without hanging anyone up.
	sctx, scancel := context.WithTimeout(context.Background(), settleTimeout)
	settled := l.Settle(sctx, false)
	scancel()

	// The demo report's invariants, read from Redis and the two PBXs.
	all := interactions(t, l)
	accounted := map[string]bool{}
	byState := map[string]int{}
	crossed := map[string]int{} // answered by an agent on the other PBX, by the caller's PBX
	for _, ix := range all {
		byState[ix.State]++
		if legNode[ix.CallerLeg] != "" {
			accounted[ix.CallerLeg] = true
		}
		if !ix.Answered.IsZero() && agentNode[ix.Agent] != legNode[ix.CallerLeg] {
			crossed[legNode[ix.CallerLeg]]++
		}
	}
	stuck := 0 // agents left reserved, ringing or connected with no call
	for id := range agentNode {
		switch agentState(t, l, id) {
		case agents.Reserved, agents.Ringing, agents.Connected:
			stuck++
		}
	}
	st := l.PBX.Stats()
	invariants := []struct {
		name string
		n    int
	}{
		{"double_offers", st.DoubleOffers},
		{"agents_with_two_calls", st.AgentsWithTwoCalls},
		{"interactions_not_terminal", len(notOver)},
		{"agents_stuck", stuck},
		{"calls_unaccounted", len(legNode) - len(accounted)},
		{"interactions_not_of_a_call", len(all) - len(accounted)},
		{"answered_not_bridged", len(answeredNotBridged(t, l))},
		{"pbx_channels_left", settled.Channels},
		{"bridges_left", len(settled.Left.Bridges)},
		{"snoops_left", len(settled.Left.Snoops)},
		{"recordings_left", len(settled.Left.Recordings)},
	}
	var report []string
	for _, iv := range invariants {
		report = append(report, fmt.Sprintf("%s=%d", iv.name, iv.n))
		if iv.n != 0 {
			t.Errorf("invariant %s = %d, want 0", iv.name, iv.n)
		}
	}
	t.Logf("invariants: %s", strings.Join(report, " "))
	if !settled.Clean() {
		t.Errorf("the PBXs once every call ended: %s", settled)
		for _, c := range l.PBX.Channels() {
			for _, ix := range all {
				if ix.CallerLeg == c.ID {
					t.Logf("left: %+v; its interaction %+v", c, ix)
				}
			}
		}
	}
	// Only the callers with a 50 ms patience may abandon (one in ten).
	if byState["abandoned"] > calls/10 || byState["ended"]+byState["abandoned"] != calls {
		t.Errorf("outcomes %v", byState)
	}

	// The trunk was crossed both ways: ast1 rang fs1's phones as
	// PJSIP/<ext>@fs1, fs1 rang ast1's as sofia/gateway/ast1/<ext>, and
	// calls of each PBX were answered by agents of the other.
	viaTrunk := map[string]int{
		lab.MixedAsteriskNode:   countDials(mixed.Asterisk.Originates(), `^PJSIP/1\d{3}@fs1$`),
		lab.MixedFreeSWITCHNode: countDials(mixed.FreeSWITCH.Originates(), `^sofia/gateway/ast1/1\d{3}$`),
	}
	for _, node := range []string{lab.MixedAsteriskNode, lab.MixedFreeSWITCHNode} {
		if viaTrunk[node] == 0 || crossed[node] == 0 {
			t.Errorf("node %s: %d rings through the trunk, %d of its calls answered on the other PBX; want both > 0", node, viaTrunk[node], crossed[node])
		}
	}
	checkHistory(t, l)
	t.Logf("outcomes %v; rings through the trunk by node %v; answered across by caller's node %v; ast1 %+v; fs1 %+v",
		byState, viaTrunk, crossed, mixed.Asterisk.Stats(), mixed.FreeSWITCH.Stats())
}

// countDials counts the originates whose dial string matches pattern.
func countDials(origs []pbxsim.Originate, pattern string) int {
	re := regexp.MustCompile(pattern)
	n := 0
	for _, o := range origs {
		if re.MatchString(o.Endpoint) {
			n++
		}
	}
	return n
}
