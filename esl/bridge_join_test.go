package esl_test

import (
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/tandem-cc/tandem/acd"
	"github.com/tandem-cc/tandem/pbxsim"
	"github.com/tandem-cc/tandem/pbxsim/eslsim"
)

// script hangs legs up at exact points of the driver's exchange with the
// simulator (eslsim.Options.BeforeAPI): what a loaded machine does now
// and then, made deterministic. It also keeps every command the switch
// ran.
type script struct {
	mu   sync.Mutex
	sim  *eslsim.Sim
	seen map[string]int    // "cmd arg" → times run so far
	at   map[string]string // "cmd arg#n" → leg to hang up before its n-th run
	ran  []string
}

func newScript() *script { return &script{seen: map[string]int{}, at: map[string]string{}} }

func (s *script) setSim(sim *eslsim.Sim) {
	s.mu.Lock()
	s.sim = sim
	s.mu.Unlock()
}

// hangUpBefore hangs leg up just before the n-th run of command.
func (s *script) hangUpBefore(command string, n int, leg string) {
	s.mu.Lock()
	s.at[fmt.Sprintf("%s#%d", command, n)] = leg
	s.mu.Unlock()
}

func (s *script) before(cmd, arg string) {
	command := cmd + " " + arg
	s.mu.Lock()
	s.seen[command]++
	leg, ok := s.at[fmt.Sprintf("%s#%d", command, s.seen[command])]
	s.ran = append(s.ran, command)
	sim := s.sim
	s.mu.Unlock()
	if ok && sim != nil {
		if err := sim.HangUp(leg); err != nil {
			panic(err) // the scenario is wrong: the leg should be live here
		}
	}
}

// commands returns every command the switch ran so far, in order.
func (s *script) commands() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return slices.Clone(s.ran)
}

// TestAgentGoneWhileJoinedIsLegGone: joining an agent's leg to a bridge
// whose other member turns out gone makes the driver look at the legs
// and try again without it; if the agent's phone is put down in between
// (a loaded machine takes long enough for that), AddToBridge answers
// acd.ErrLegGone, which the engine reads as "the agent left before the
// bridge" and puts the caller back in the queue. It answered a plain
// error, and the engine failed the caller's call ("bridge"): an e2e run
// on a loaded machine ended a call "failed" so.
func TestAgentGoneWhileJoinedIsLegGone(t *testing.T) {
	sc := newScript()
	w := newWorld(t, eslsim.Options{BeforeAPI: sc.before}, nil)
	sc.setSim(w.sim)
	caller := w.arrive(pbxsim.Caller{})
	if err := w.driver.Answer(ctxT(t), caller); err != nil {
		t.Fatal(err)
	}
	w.agent("agent-a", "user/2001")
	w.agent("agent-b", "user/2002")
	if err := w.driver.Bridge(ctxT(t), "br-1"); err != nil {
		t.Fatal(err)
	}
	if err := w.driver.AddToBridge(ctxT(t), "br-1", "agent-a"); err != nil {
		t.Fatal(err)
	}
	// agent-a goes just as agent-b is bridged with it; agent-b goes as it
	// is joined again on its own.
	sc.hangUpBefore("uuid_bridge agent-a agent-b", 1, "agent-a")
	sc.hangUpBefore("uuid_setvar agent-b tandem_bridge br-1", 2, "agent-b")
	err := w.driver.AddToBridge(ctxT(t), "br-1", "agent-b")
	if !errors.Is(err, acd.ErrLegGone) {
		t.Fatalf("AddToBridge of an agent that hung up while joined: %v, want acd.ErrLegGone", err)
	}

	// The bridge goes on with the next agent, the customer joined to them.
	w.agent("agent-c", "user/2003")
	if err := w.driver.AddToBridge(ctxT(t), "br-1", "agent-c"); err != nil {
		t.Fatal(err)
	}
	if err := w.driver.AddToBridge(ctxT(t), "br-1", caller); err != nil {
		t.Fatal(err)
	}
	waitSim(t, "customer bridged with agent-c", func() bool { return peerOf(w.sim, caller) == "agent-c" })
}

// TestAgentGoneBeforeJoinedLeavesNoMember: an agent leg whose hang-up the
// driver handled before the engine asked to join it (the engine learns of
// the hang-up afterwards) is acd.ErrLegGone, and is no member of the
// bridge afterwards: the next agent's join sends nothing about it. It
// stayed a member, so the next join first failed on it, then asked
// FreeSWITCH about every member and joined again, which on a loaded
// machine left time enough for that agent to go too.
func TestAgentGoneBeforeJoinedLeavesNoMember(t *testing.T) {
	sc := newScript()
	w := newWorld(t, eslsim.Options{BeforeAPI: sc.before}, nil)
	sc.setSim(w.sim)
	caller := w.arrive(pbxsim.Caller{})
	if err := w.driver.Answer(ctxT(t), caller); err != nil {
		t.Fatal(err)
	}
	w.agent("agent-a", "user/2001")
	if err := w.driver.Bridge(ctxT(t), "br-1"); err != nil {
		t.Fatal(err)
	}
	if err := w.sim.HangUp("agent-a"); err != nil {
		t.Fatal(err)
	}
	w.rec.waitFor(t, "hang-up of agent-a", func(evs []acd.Event) bool { return count[acd.LegHungUp](evs, "agent-a") > 0 })
	if err := w.driver.AddToBridge(ctxT(t), "br-1", "agent-a"); !errors.Is(err, acd.ErrLegGone) {
		t.Fatalf("AddToBridge of a leg that hung up: %v, want acd.ErrLegGone", err)
	}

	w.agent("agent-b", "user/2002")
	mark := len(sc.commands())
	if err := w.driver.AddToBridge(ctxT(t), "br-1", "agent-b"); err != nil {
		t.Fatal(err)
	}
	if err := w.driver.AddToBridge(ctxT(t), "br-1", caller); err != nil {
		t.Fatal(err)
	}
	waitSim(t, "customer bridged with agent-b", func() bool { return peerOf(w.sim, caller) == "agent-b" })
	for _, c := range sc.commands()[mark:] {
		if strings.Contains(c, "agent-a") {
			t.Errorf("the next joins sent %q: the gone leg is still a member", c)
		}
	}
}
