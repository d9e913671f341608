package e2e

import (
	"context"
	"errors"
	"fmt"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"log/slog"

	"github.com/tandem-cc/tandem/acd"
	"github.com/tandem-cc/tandem/agents"
	"github.com/tandem-cc/tandem/api"
	"github.com/tandem-cc/tandem/callbacks"
	"github.com/tandem-cc/tandem/config"
	"github.com/tandem-cc/tandem/dialnum"
	"github.com/tandem-cc/tandem/errs"
	"github.com/tandem-cc/tandem/internal/lab"
	"github.com/tandem-cc/tandem/internal/redistest"
	"github.com/tandem-cc/tandem/media"
	"github.com/tandem-cc/tandem/pbxsim"
)

// refusedNumbers are the numbers of issue 11 that were dialled: emergency
// numbers (accepted as "internal" because they are short) and a US
// premium-rate number, each with the rule that must refuse it.
var refusedNumbers = []struct{ number, rule string }{
	{"911", dialnum.RuleEmergency},
	{"112", dialnum.RuleEmergency},
	{"999", dialnum.RuleEmergency},
	{"+19005550100", dialnum.RuleNumberType},
}

// startPolicyLab is a lab whose sales queue may call back only France (so
// the country list alone would not stop a short number), with an IVR entry
// point (DNIS 901) whose menu dials ivrDial straight away, and the
// endpoint patterns of a desk with extensions 1000-1999, on PBX pbx.
func startPolicyLab(t *testing.T, pbx lab.PBXKind, ivrDial string) *lab.Lab {
	t.Helper()
	endpoints, err := dialnum.NewEndpointPolicy([]string{pbx.Endpoint("{ext}")}, []string{"1000-1999"})
	if err != nil {
		t.Fatal(err)
	}
	return startLabWith(t, lab.Options{
		PBX:       pbx,
		RedisAddr: redistest.Start(t),
		Queues: map[string]acd.QueueSettings{
			"sales": {MOHClass: "default", RingTimeout: 3 * time.Second, Callback: acd.CallbackSettings{
				Digit: "1", Prompt: media.SoundOf("cb-enter-number"), Invalid: media.SoundOf("cb-invalid"),
				Confirm: media.SoundOf("cb-registered"), AllowedCountryCodes: []int{33},
			}},
		},
		DNIS:          map[string]string{"800": "sales"},
		SweepInterval: 200 * time.Millisecond,
		Logger:        slog.New(slog.DiscardHandler),
		Engine: acd.Options{
			Dial:      acd.DialSettings{Endpoint: pbx.Endpoint("{number}"), DefaultRegion: "US", CallerID: "+18005550100", RingTimeout: 3 * time.Second},
			Endpoints: endpoints,
			IVR: acd.IVRMenus{
				EntryPoints: map[string]string{"901": "out"},
				Nodes: map[string]acd.IVRNode{
					"out": {Prompt: media.SoundOf("please-wait"), Next: acd.IVRBranch{Dial: ivrDial}},
				},
			},
		},
	})
}

// wantNothingDialled fails if the PBX was ever asked to ring one of the
// refused numbers.
func wantNothingDialled(t *testing.T, l *lab.Lab) {
	t.Helper()
	for _, o := range l.PBX.Originates() {
		for _, r := range refusedNumbers {
			if strings.HasSuffix(o.Endpoint, "/"+r.number) {
				t.Fatalf("the PBX was asked to ring %s", o.Endpoint)
			}
		}
	}
}

// TestEmergencyNumbersRefusedOnEveryDiallingPath: 911, 112, 999 and a
// premium-rate number are refused, naming the rule, on every path that
// dials a number: a web callback through the engine and through the API,
// a courtesy callback keyed in by a waiting caller, a consult and a blind
// transfer to a number (engine and API), and an IVR dial branch (refused
// by config at load, and by the engine if one gets there anyway) — on a
// queue with allowed_country_codes [33], which did not stop short numbers.
// The PBX never rings any of them.
func TestEmergencyNumbersRefusedOnEveryDiallingPath(t *testing.T) {
	forEachPBX(t, func(t *testing.T, pbx lab.PBXKind) {
		l := startPolicyLab(t, pbx, "911")
		ctx := context.Background()
		e := l.Replicas[0].Engine
		srv := httptest.NewServer(api.New(e, config.Auth{
			Agents:      []config.AgentToken{{Agent: "a1", Token: "tok-a1"}},
			Supervisors: []config.SupervisorToken{{Name: "sup", Token: "tok-sup"}},
		}, nil))
		defer srv.Close()

		// Callbacks: engine and API.
		for _, r := range refusedNumbers {
			_, _, err := e.RequestCallback(ctx, acd.CallbackRequest{Queue: "sales", Number: r.number})
			var cfe *callbacks.FieldError
			if !errors.As(err, &cfe) || cfe.Field != "number" || cfe.Rule != r.rule {
				t.Errorf("engine callback to %s: %v, want field number rule %s", r.number, err, r.rule)
			}
			st, body := call(t, srv, "POST", "/v1/callbacks", "tok-sup", fmt.Sprintf(`{"queue":"sales","number":%q}`, r.number))
			if st != 400 || body["field"] != "number" || body["rule"] != r.rule {
				t.Errorf("API callback to %s: %d %v, want 400 number %s", r.number, st, body, r.rule)
			}
		}
		if cbs, err := callbacks.NewStore(l.RDB, "tandem").Waiting(ctx, "sales"); err != nil || len(cbs) != 0 {
			t.Fatalf("refused callbacks left %v (%v)", cbs, err)
		}

		// A courtesy callback keyed in by a caller waiting in sales (nobody is
		// logged in yet, so the caller waits): refused, the caller is told and
		// asked again, and cancels with *.
		leg, err := l.PBX.Call(pbxsim.Caller{ANI: "+33140000001", DNIS: "800"})
		if err != nil {
			t.Fatal(err)
		}
		waitState(t, l, interactionOf(t, l, leg).ConnectionID, acd.StateQueued)
		if err := l.PBX.InjectDTMF(leg, "1"); err != nil {
			t.Fatal(err)
		}
		waitPlayed(t, l, leg, "sound:cb-enter-number")
		if err := l.PBX.InjectDTMF(leg, "911#"); err != nil {
			t.Fatal(err)
		}
		waitPlayed(t, l, leg, "sound:cb-invalid")
		if err := l.PBX.InjectDTMF(leg, "*"); err != nil { // back to the queue in place
			t.Fatal(err)
		}

		// Consult and blind transfer on a connected call: the agent answers
		// the caller, back in the queue after the refusal.
		l.PBX.SetPhone(l.Endpoint("1001"), answers)
		if _, err := e.Login(ctx, "a1", l.Endpoint("1001"), []string{"sales"}, nil); err != nil {
			t.Fatal(err)
		}
		if _, err := e.SetAvailable(ctx, "a1"); err != nil {
			t.Fatal(err)
		}
		ix := waitState(t, l, interactionOf(t, l, leg).ConnectionID, "connected")
		for _, r := range refusedNumbers {
			for _, op := range []struct {
				name string
				do   func(context.Context, string, acd.Target) (acd.CallView, error)
				path string
			}{{"consult", e.Consult, "consult"}, {"transfer", e.Transfer, "transfer"}} {
				_, err := op.do(ctx, "a1", acd.Target{Kind: acd.TargetNumber, Value: r.number})
				var fe *errs.FieldError
				if !errors.As(err, &fe) || fe.Field != "number" || !strings.Contains(fe.Msg, "rule "+r.rule) {
					t.Errorf("%s to %s: %v, want field number naming rule %s", op.name, r.number, err, r.rule)
				}
				st, body := call(t, srv, "POST", "/v1/agents/a1/call/"+op.path, "tok-a1", fmt.Sprintf(`{"kind":"number","value":%q}`, r.number))
				if st != 400 || body["field"] != "number" || !strings.Contains(fmt.Sprint(body["error"]), "rule "+r.rule) {
					t.Errorf("API %s to %s: %d %v, want 400 number naming rule %s", op.name, r.number, st, body, r.rule)
				}
			}
		}
		if v, err := e.Call(ctx, "a1"); err != nil || v.Consult != nil {
			t.Fatalf("after the refusals: %+v %v, want the call with no consult", v, err)
		}
		if got := waitState(t, l, ix.ConnectionID, "connected"); got.Agent != "a1" {
			t.Fatalf("after the refusals the call is %+v", got)
		}

		// An IVR dial branch: refused by config at load, naming the key …
		c := config.Default()
		c.NodeID = "n1"
		c.Queues = map[string]config.Queue{"sales": {Strategy: "longest_idle", Weight: 1, ServiceLevel: 20 * time.Second,
			Callback: config.QueueCallback{AllowedCountryCodes: []int{33}}}}
		for _, r := range refusedNumbers {
			c.IVR = config.IVR{EntryPoints: map[string]string{"901": "out"}, Nodes: map[string]config.Node{
				"out": {Prompt: media.SoundOf("please-wait"), Next: config.Branch{Dial: r.number}},
			}}
			err := c.Validate()
			var ke *config.KeyError
			if !errors.As(err, &ke) || ke.Key != "ivr.nodes.out.next.dial" || !strings.Contains(ke.Msg, "rule "+r.rule) {
				t.Errorf("IVR dial branch to %s: %v, want ivr.nodes.out.next.dial naming rule %s", r.number, err, r.rule)
			}
		}
		// … and by the engine, which fails the call rather than dial it.
		ivrLeg, err := l.PBX.Call(pbxsim.Caller{ANI: "+12025550100", DNIS: "901"})
		if err != nil {
			t.Fatal(err)
		}
		waitState(t, l, interactionOf(t, l, ivrLeg).ConnectionID, acd.StateFailed)

		wantNothingDialled(t, l)
	})
}

// TestAgentEndpointRefusedAtLogin: an agent token logging in with an
// endpoint outside the patterns (a Local channel back into the inbound
// dialplan, a trunk, an extension outside the ranges) is refused through
// the API with 400, field endpoint and the rule, and no agent is created.
func TestAgentEndpointRefusedAtLogin(t *testing.T) {
	l := startPolicyLab(t, lab.Asterisk, "+33140000001")
	srv := httptest.NewServer(api.New(l.Replicas[0].Engine, config.Auth{
		Agents: []config.AgentToken{{Agent: "1002", Token: "tok-1002"}},
	}, nil))
	defer srv.Close()
	for _, tc := range []struct{ endpoint, rule string }{
		{"Local/1002@from-pstn", dialnum.RuleEndpointPattern},
		{"PJSIP/1002@trunk", dialnum.RuleEndpointPattern},
		{"PJSIP/2002", dialnum.RuleExtensionRange},
	} {
		st, body := call(t, srv, "POST", "/v1/agents/1002/login", "tok-1002", fmt.Sprintf(`{"endpoint":%q,"queues":["sales"]}`, tc.endpoint))
		if st != 400 || body["field"] != "endpoint" || !strings.Contains(fmt.Sprint(body["error"]), "rule "+tc.rule) {
			t.Errorf("login as %s: %d %v, want 400 endpoint naming rule %s", tc.endpoint, st, body, tc.rule)
		}
		if st, _ := call(t, srv, "GET", "/v1/agents/1002", "tok-1002", ""); st != 404 {
			t.Fatalf("a refused login as %s left an agent behind: %d", tc.endpoint, st)
		}
	}
	if st, body := call(t, srv, "POST", "/v1/agents/1002/login", "tok-1002", `{"endpoint":"PJSIP/1002","queues":["sales"]}`); st != 200 || body["endpoint"] != "PJSIP/1002" {
		t.Fatalf("login as PJSIP/1002: %d %v", st, body)
	}
}

// TestCallbackStoredBeforeThePolicyIsCancelledUndialled: a callback whose
// number passed when it was registered (here: stored under a policy that
// allowed 911 by name) is checked again before the dial; the engine's
// policy refuses it, so it is cancelled, the agent freed, and nothing is
// dialled.
func TestCallbackStoredBeforeThePolicyIsCancelledUndialled(t *testing.T) {
	forEachPBX(t, func(t *testing.T, pbx lab.PBXKind) {
		l := startPolicyLab(t, pbx, "+33140000001")
		ctx := context.Background()
		e := l.Replicas[0].Engine
		l.PBX.SetPhone(l.Endpoint("1001"), answers)
		if _, err := e.Login(ctx, "a1", l.Endpoint("1001"), []string{"sales"}, nil); err != nil {
			t.Fatal(err)
		}
		old, err := dialnum.NewPolicy(dialnum.PolicyConfig{AllowNumbers: []string{"911"}})
		if err != nil {
			t.Fatal(err)
		}
		store := callbacks.NewStore(l.RDB, "tandem")
		cb, _, err := store.Create(ctx, callbacks.Request{Queue: "sales", Number: "911", Policy: old})
		if err != nil {
			t.Fatal(err)
		}
		if _, err := e.SetAvailable(ctx, "a1"); err != nil {
			t.Fatal(err)
		}
		waitFor(t, 10*time.Second, "callback cancelled", func() bool {
			got, err := store.Get(ctx, cb.ID)
			return err == nil && got.State == callbacks.StateCancelled
		})
		waitAgent(t, l, "a1", agents.Available)
		if got, _ := store.Get(ctx, cb.ID); len(got.Attempts) != 0 {
			t.Fatalf("attempts %+v, want none", got.Attempts)
		}
		wantNothingDialled(t, l)
	})
}
