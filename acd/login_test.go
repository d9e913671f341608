package acd

import (
	"context"
	"errors"
	"strings"
	"testing"

	"github.com/tandem-cc/tandem/agents"
)

// TestLoginOfALoggedInAgentSaysSoInWords: a second login is refused as an
// illegal transition (the API's 409) whose message says, in words, that
// the agent is already logged in and in which state, not the script's
// reply code; the refusal changes nothing.
func TestLoginOfALoggedInAgentSaysSoInWords(t *testing.T) {
	s := newTestStore(t, "n1")
	ctx := context.Background()
	if _, err := s.Login(ctx, "1002", "PJSIP/1002", []string{"sales"}, nil); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		to   agents.Event
		want string
	}{
		{"", "agent 1002 is already logged in (state idle); log out first"},
		{agents.EvAvailable, "agent 1002 is already logged in (state available); log out first"},
	} {
		if tc.to != "" {
			if _, err := s.SetState(ctx, "1002", tc.to, ""); err != nil {
				t.Fatal(err)
			}
		}
		_, err := s.Login(ctx, "1002", "PJSIP/9999", []string{"support"}, nil)
		if !errors.Is(err, ErrIllegalTransition) {
			t.Fatalf("second login: %v, want an illegal transition", err)
		}
		if msg := err.Error(); !strings.HasPrefix(msg, tc.want) || strings.Contains(msg, "ILLEGAL") {
			t.Errorf("second login said %q, want it to start %q", msg, tc.want)
		}
		a, err := s.Agent(ctx, "1002")
		if err != nil {
			t.Fatal(err)
		}
		if a.Endpoint != "PJSIP/1002" || len(a.Queues) != 1 || a.Queues[0] != "sales" {
			t.Errorf("the refused login changed the agent: %+v", a)
		}
	}
}

// TestRefusedAgentStateChangesSayWhyInWords: available, idle and logout
// refused by the agent's state are illegal transitions (409) whose
// message names the agent, what was asked and the state it was refused
// in, in words.
func TestRefusedAgentStateChangesSayWhyInWords(t *testing.T) {
	s := newTestStore(t, "n1")
	ctx := context.Background()
	loginAvailable(t, s, "a1", "sales")
	refused := func(ev agents.Event, want string) {
		t.Helper()
		_, err := s.SetState(ctx, "a1", ev, "")
		if !errors.Is(err, ErrIllegalTransition) {
			t.Fatalf("%s: %v, want an illegal transition", ev, err)
		}
		if msg := err.Error(); msg != want+": illegal transition" {
			t.Errorf("%s said %q, want %q", ev, msg, want)
		}
	}
	refused(agents.EvAvailable, "agent a1 is already available")
	// A call takes the agent: reserved for it.
	if o := arriveQueued(t, s, "c1", "sales", 0); o == nil || o.Agent != "a1" {
		t.Fatalf("offer %+v, want a1 reserved", o)
	}
	refused(agents.EvLogout, "agent a1 cannot log out while reserved")
	refused(agents.EvAvailable, "agent a1 cannot become available while reserved")
	if got := agentState(t, s, "a1"); got != agents.Reserved {
		t.Fatalf("a refused change moved a1 to %s", got)
	}
	if _, err := s.Login(ctx, "a2", "PJSIP/a2", []string{"sales"}, nil); err != nil {
		t.Fatal(err)
	}
	if _, err := s.SetState(ctx, "a2", agents.EvLogout, ""); err != nil {
		t.Fatal(err)
	}
	if _, err := s.SetState(ctx, "a2", agents.EvIdle, ""); !errors.Is(err, ErrIllegalTransition) || err.Error() != "agent a2 is not logged in: illegal transition" {
		t.Errorf("idle when logged out: %v", err)
	}
}
