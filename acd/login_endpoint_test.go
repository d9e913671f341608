package acd

import (
	"context"
	"errors"
	"log/slog"
	"strings"
	"testing"

	"github.com/tandem-cc/tandem/dialnum"
	"github.com/tandem-cc/tandem/errs"
	"github.com/tandem-cc/tandem/internal/redistest"
)

// TestLoginRefusesEndpointsOutsideThePatterns: every call offered to an
// agent goes to the endpoint given at login, so one outside the configured
// patterns is refused (field endpoint, the rule named) and no agent record
// is written; one inside is accepted.
func TestLoginRefusesEndpointsOutsideThePatterns(t *testing.T) {
	ctx := context.Background()
	rdb := redistest.Client(t)
	endpoints, err := dialnum.NewEndpointPolicy([]string{"PJSIP/{ext}", "PJSIP/{agent}"}, []string{"1000-1999"})
	if err != nil {
		t.Fatal(err)
	}
	e := NewEngine(Options{Store: NewStore(rdb, "t", "n1"), Logger: slog.New(slog.DiscardHandler),
		Queues: map[string]QueueSettings{"sales": {}}, Endpoints: endpoints})
	for _, tc := range []struct{ agent, endpoint, rule string }{
		{"1002", "Local/1002@from-pstn", dialnum.RuleEndpointPattern},
		{"1002", "PJSIP/1002@trunk", dialnum.RuleEndpointPattern},
		{"1002", "SIP/1002", dialnum.RuleEndpointPattern},
		{"ann", "PJSIP/bob", dialnum.RuleEndpointPattern},
		{"1002", "PJSIP/2002", dialnum.RuleExtensionRange},
	} {
		_, err := e.Login(ctx, tc.agent, tc.endpoint, []string{"sales"}, nil)
		var fe *errs.FieldError
		if !errors.As(err, &fe) || fe.Field != "endpoint" || !strings.Contains(fe.Msg, "(rule "+tc.rule+")") {
			t.Errorf("login %s as %s: %v, want field endpoint naming rule %s", tc.agent, tc.endpoint, err, tc.rule)
		}
		if _, err := e.store.Agent(ctx, tc.agent); !errors.Is(err, ErrNotFound) {
			t.Fatalf("a refused login of %s left an agent: %v", tc.agent, err)
		}
	}
	for _, tc := range []struct{ agent, endpoint string }{{"1002", "PJSIP/1002"}, {"ann", "PJSIP/ann"}, {"bob", "PJSIP/1999"}} {
		if a, err := e.Login(ctx, tc.agent, tc.endpoint, []string{"sales"}, nil); err != nil || a.Endpoint != tc.endpoint {
			t.Errorf("login %s as %s: %+v %v", tc.agent, tc.endpoint, a, err)
		}
	}
}

// TestLoginReadsTheEndpointAgainstThePBXNodes: with one node its prefix is
// optional and what is kept is the bare dial string the driver rings; with
// several, an endpoint must name its node (field endpoint) and is kept
// node-qualified, for the mux to route.
func TestLoginReadsTheEndpointAgainstThePBXNodes(t *testing.T) {
	ctx := context.Background()
	rdb := redistest.Client(t)
	one := NewEngine(Options{Store: NewStore(rdb, "one", "n1"), Logger: slog.New(slog.DiscardHandler),
		Queues: map[string]QueueSettings{"sales": {}}, PBXNodes: []string{"fs1"}})
	for _, ep := range []string{"fs1/user/1001", "user/1001"} {
		if a, err := one.Login(ctx, "1001", ep, []string{"sales"}, nil); err != nil || a.Endpoint != "user/1001" {
			t.Fatalf("one node, login as %s: %+v %v, want endpoint user/1001", ep, a, err)
		}
		if _, err := one.Logout(ctx, "1001"); err != nil {
			t.Fatal(err)
		}
	}
	two := NewEngine(Options{Store: NewStore(rdb, "two", "n1"), Logger: slog.New(slog.DiscardHandler),
		Queues: map[string]QueueSettings{"sales": {}}, PBXNodes: []string{"ast1", "fs1"}})
	_, err := two.Login(ctx, "1002", "user/1002", []string{"sales"}, nil)
	var fe *errs.FieldError
	if !errors.As(err, &fe) || fe.Field != "endpoint" {
		t.Fatalf("two nodes, no node named: %v, want field endpoint", err)
	}
	if _, err := two.store.Agent(ctx, "1002"); !errors.Is(err, ErrNotFound) {
		t.Fatalf("a refused login left an agent: %v", err)
	}
	if a, err := two.Login(ctx, "1002", "fs1/user/1002", []string{"sales"}, nil); err != nil || a.Endpoint != "fs1/user/1002" {
		t.Fatalf("two nodes: %+v %v, want endpoint fs1/user/1002", a, err)
	}
}
