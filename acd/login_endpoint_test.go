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
