package api

import (
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/coder/websocket"

	"github.com/tandem-cc/tandem/acd"
	"github.com/tandem-cc/tandem/cad"
	"github.com/tandem-cc/tandem/errs"
)

// callRoute is one call-control route with a valid request for agent
// 1001, the core call it must make and a fragment of its answer.
type callRoute struct {
	name, method, path, body string
	call                     string
	want                     string
}

var callRoutes = []callRoute{
	{"get call", "GET", "/v1/agents/1001/call", "", "Call(1001)", `"connection_id":"c-1"`},
	{"hold", "POST", "/v1/agents/1001/call/hold", "", "Hold(1001)", `"customer_held":true`},
	{"resume", "POST", "/v1/agents/1001/call/resume", "{}", "Resume(1001)", `"state":"connected"`},
	{"consult agent", "POST", "/v1/agents/1001/call/consult", `{"kind":"agent","value":"1002"}`,
		"Consult(1001,agent:1002)", `"consult":{"target":{"kind":"agent","value":"1002"},"state":"ringing"}`},
	{"consult queue", "POST", "/v1/agents/1001/call/consult", `{"kind":"queue","value":"support"}`,
		"Consult(1001,queue:support)", `"kind":"queue"`},
	{"consult number", "POST", "/v1/agents/1001/call/consult", `{"kind":"number","value":"+1 (202) 555-0123"}`,
		"Consult(1001,number:+1 (202) 555-0123)", `"value":"+1 (202) 555-0123"`},
	{"end consult", "POST", "/v1/agents/1001/call/consult/end", "", "EndConsult(1001)", `"state":"held"`},
	{"blind transfer", "POST", "/v1/agents/1001/call/transfer", `{"kind":"queue","value":"support"}`,
		"Transfer(1001,queue:support)", `"state":"transferred"`},
	{"blind transfer to number", "POST", "/v1/agents/1001/call/transfer", `{"kind":"number","value":"2025550123"}`,
		"Transfer(1001,number:2025550123)", `"state":"transferred"`},
	{"complete transfer", "POST", "/v1/agents/1001/call/transfer/complete", "", "CompleteTransfer(1001)", `"state":"transferred"`},
	{"conference", "POST", "/v1/agents/1001/call/conference", "", "Conference(1001)", `"state":"conferenced"`},
	{"end", "POST", "/v1/agents/1001/call/end", "", "End(1001)", `"state":"ended"`},
	{"pause recording", "POST", "/v1/agents/1001/call/recording/pause", "", "PauseRecording(1001,false)", `"paused":true,"privacy":false`},
	{"privacy shield", "POST", "/v1/agents/1001/call/recording/pause", `{"privacy":true}`, "PauseRecording(1001,true)", `"privacy":true`},
	{"resume recording", "POST", "/v1/agents/1001/call/recording/resume", "", "ResumeRecording(1001)", `"paused":false`},
	{"accept callback", "POST", "/v1/agents/1001/call/callback-accept", "", "AcceptCallback(1001)", `"state":"dialing"`},
	{"wrap-up", "POST", "/v1/agents/1001/wrapup", `{"code":"follow-up"}`, "WrapUp(1001,follow-up)", `"state":"available"`},
	{"variables", "GET", "/v1/agents/1001/call/variables", "", "Variables(1001)", `"version":3`},
	{"edit variable", "PUT", "/v1/agents/1001/call/variables/BALANCE", `{"value":"12.50","version":3}`,
		"EditVariable(1001,BALANCE,12.50,3)", `"version":4`},
	{"clear variable", "PUT", "/v1/agents/1001/call/variables/BALANCE", `{"value":"","version":3}`,
		"EditVariable(1001,BALANCE,,3)", `"version":4`},
	{"reveal variable", "POST", "/v1/agents/1001/call/variables/CARD/reveal", "", "RevealVariable(agent:1001,1001,CARD)",
		`{"name":"CARD","value":"4111111111111111"}`},
}

func TestCallControlRoutesHappyPath(t *testing.T) {
	for _, tc := range callRoutes {
		t.Run(tc.name, func(t *testing.T) {
			w := newWorld(t)
			rec := w.do(tc.method, tc.path, agentTok, tc.body)
			if rec.Code != http.StatusOK {
				t.Fatalf("status %d: %s", rec.Code, rec.Body)
			}
			if !strings.Contains(rec.Body.String(), tc.want) {
				t.Errorf("body %s lacks %s", rec.Body, tc.want)
			}
			if got := w.core.Calls(); len(got) != 1 || got[0] != tc.call {
				t.Errorf("core calls %v, want [%s]", got, tc.call)
			}
		})
	}
}

// TestCallControlAuth: an agent token acts only on its own agent's call;
// a supervisor acts on anyone's.
func TestCallControlAuth(t *testing.T) {
	for _, tc := range callRoutes {
		t.Run(tc.name, func(t *testing.T) {
			other := strings.Replace(tc.path, "/1001/", "/1002/", 1)

			w := newWorld(t)
			if rec := w.do(tc.method, other, agentTok, tc.body); rec.Code != http.StatusForbidden {
				t.Errorf("agent acting for another: status %d: %s", rec.Code, rec.Body)
			}
			if rec := w.do(tc.method, tc.path, "", tc.body); rec.Code != http.StatusUnauthorized {
				t.Errorf("no token: status %d", rec.Code)
			}
			if calls := w.core.Calls(); len(calls) != 0 {
				t.Fatalf("core called: %v", calls)
			}

			rec := w.do(tc.method, other, superTok, tc.body)
			if rec.Code != http.StatusOK {
				t.Fatalf("supervisor: status %d: %s", rec.Code, rec.Body)
			}
			// The core learns who acted where it audits it: the
			// supervisor, not the agent it acted for.
			want := strings.Replace(tc.call, "(agent:1001,1001", "(supervisor:supervisor-1,1002", 1)
			want = strings.Replace(want, "(1001", "(1002", 1)
			if calls := w.core.Calls(); len(calls) != 1 || calls[0] != want {
				t.Errorf("core calls %v, want [%s]", calls, want)
			}
		})
	}
}

// TestCallControlBadInputLeavesCoreUntouched: every bad input answers 4xx
// naming the field, and the core is not called, so nothing changes.
func TestCallControlBadInputLeavesCoreUntouched(t *testing.T) {
	const (
		consult = "/v1/agents/1001/call/consult"
		edit    = "/v1/agents/1001/call/variables/BALANCE"
	)
	long := func(n int) string { return strings.Repeat("a", n) }
	for _, tc := range []struct {
		name, method, path, body string
		status                   int
		field                    string
	}{
		{"consult without body", "POST", consult, "", 400, ""},
		{"consult without kind", "POST", consult, `{"value":"1002"}`, 400, "kind"},
		{"consult to unknown kind", "POST", consult, `{"kind":"fax","value":"1002"}`, 400, "kind"},
		{"consult kind in capitals", "POST", consult, `{"kind":"Agent","value":"1002"}`, 400, "kind"},
		{"consult without value", "POST", consult, `{"kind":"agent"}`, 400, "value"},
		{"consult value too long", "POST", consult, `{"kind":"number","value":"` + strings.Repeat("1", 65) + `"}`, 400, "value"},
		{"consult bad agent id", "POST", consult, `{"kind":"agent","value":"10 02"}`, 400, "value"},
		{"consult bad queue name", "POST", consult, `{"kind":"queue","value":"sup{port}"}`, 400, "value"},
		{"consult number with control char", "POST", consult, `{"kind":"number","value":"2025550123\n"}`, 400, "value"},
		{"consult value wrong type", "POST", consult, `{"kind":"number","value":2025550123}`, 400, "value"},
		{"consult unknown field", "POST", consult, `{"kind":"agent","value":"1002","warm":true}`, 400, "warm"},
		{"transfer without kind", "POST", "/v1/agents/1001/call/transfer", `{"value":"support"}`, 400, "kind"},
		{"transfer empty value", "POST", "/v1/agents/1001/call/transfer", `{"kind":"queue","value":""}`, 400, "value"},
		{"transfer unknown field", "POST", "/v1/agents/1001/call/transfer", `{"kind":"queue","value":"q","x":1}`, 400, "x"},
		{"hold with unknown field", "POST", "/v1/agents/1001/call/hold", `{"music":"jazz"}`, 400, "music"},
		{"end with unknown field", "POST", "/v1/agents/1001/call/end", `{"cause":16}`, 400, "cause"},
		{"complete transfer with unknown field", "POST", "/v1/agents/1001/call/transfer/complete", `{"to":"x"}`, 400, "to"},
		{"pause with unknown field", "POST", "/v1/agents/1001/call/recording/pause", `{"seconds":5}`, 400, "seconds"},
		{"pause privacy wrong type", "POST", "/v1/agents/1001/call/recording/pause", `{"privacy":"yes"}`, 400, "privacy"},
		{"wrap-up without body", "POST", "/v1/agents/1001/wrapup", "", 400, ""},
		{"wrap-up without code", "POST", "/v1/agents/1001/wrapup", `{}`, 400, "code"},
		{"wrap-up code with capitals", "POST", "/v1/agents/1001/wrapup", `{"code":"Resolved"}`, 400, "code"},
		{"wrap-up code with space", "POST", "/v1/agents/1001/wrapup", `{"code":"follow up"}`, 400, "code"},
		{"wrap-up code too long", "POST", "/v1/agents/1001/wrapup", `{"code":"` + long(33) + `"}`, 400, "code"},
		{"wrap-up unknown field", "POST", "/v1/agents/1001/wrapup", `{"code":"resolved","notes":"x"}`, 400, "notes"},
		{"edit without body", "PUT", edit, "", 400, ""},
		{"edit without value", "PUT", edit, `{"version":3}`, 400, "value"},
		{"edit value too long", "PUT", edit, `{"value":"` + long(257) + `","version":3}`, 400, "value"},
		{"edit value of 257 runes", "PUT", edit, `{"value":"` + strings.Repeat("é", 257) + `","version":3}`, 400, "value"},
		{"edit without version", "PUT", edit, `{"value":"1"}`, 400, "version"},
		{"edit version zero", "PUT", edit, `{"value":"1","version":0}`, 400, "version"},
		{"edit version negative", "PUT", edit, `{"value":"1","version":-2}`, 400, "version"},
		{"edit version not an integer", "PUT", edit, `{"value":"1","version":2.5}`, 400, "version"},
		{"edit version as string", "PUT", edit, `{"value":"1","version":"3"}`, 400, "version"},
		{"edit unknown field", "PUT", edit, `{"value":"1","version":3,"force":true}`, 400, "force"},
		{"edit name starting with digit", "PUT", "/v1/agents/1001/call/variables/1BALANCE", `{"value":"1","version":3}`, 400, "name"},
		{"edit name with dash", "PUT", "/v1/agents/1001/call/variables/BAL-ANCE", `{"value":"1","version":3}`, 400, "name"},
		{"edit name too long", "PUT", "/v1/agents/1001/call/variables/A" + long(64), `{"value":"1","version":3}`, 400, "name"},
		{"edit empty name", "PUT", "/v1/agents/1001/call/variables/", `{"value":"1","version":3}`, 400, "name"},
		{"reveal bad name", "POST", "/v1/agents/1001/call/variables/CA%20RD/reveal", "", 400, "name"},
		{"reveal unknown field", "POST", "/v1/agents/1001/call/variables/CARD/reveal", `{"reason":"x"}`, 400, "reason"},
		{"bad agent id on call", "GET", "/v1/agents/a%20b/call", "", 400, "id"},
		{"wrong method on call", "POST", "/v1/agents/1001/call", "", 405, ""},
		{"wrong method on hold", "GET", "/v1/agents/1001/call/hold", "", 405, ""},
		{"wrong method on edit", "POST", edit, `{"value":"1","version":3}`, 405, ""},
		{"wrong method on variables", "PUT", "/v1/agents/1001/call/variables", "", 405, ""},
		{"wrong method on events", "POST", "/v1/events", "", 405, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			w := newWorld(t)
			rec := w.do(tc.method, tc.path, agentTok, tc.body)
			wantRefusedBeforeCore(t, w, rec, tc.status, tc.field)
		})
	}
}

// TestEditVariableEdges: the limits themselves are accepted.
func TestEditVariableEdges(t *testing.T) {
	w := newWorld(t)
	value := strings.Repeat("é", 256) // 256 characters, 512 bytes
	name := "_" + strings.Repeat("a", 63)
	rec := w.do("PUT", "/v1/agents/1001/call/variables/"+name, agentTok, `{"value":"`+value+`","version":1}`)
	if rec.Code != http.StatusOK {
		t.Fatalf("status %d: %s", rec.Code, rec.Body)
	}
	if calls := w.core.Calls(); len(calls) != 1 || calls[0] != "EditVariable(1001,"+name+","+value+",1)" {
		t.Errorf("core calls %v", calls)
	}
}

// TestEditConflictAnswersWithCurrentValues: the loser of a concurrent edit
// gets 409 with the field and the winner's view, to show and retry from.
func TestEditConflictAnswersWithCurrentValues(t *testing.T) {
	w := newWorld(t)
	current := fakeView(4, "99")
	w.core.err = fmt.Errorf("edit BALANCE: %w", &cad.ConflictError{Name: "BALANCE", Current: current})
	rec := w.do("PUT", "/v1/agents/1001/call/variables/BALANCE", agentTok, `{"value":"12.50","version":3}`)
	if rec.Code != http.StatusConflict {
		t.Fatalf("status %d: %s", rec.Code, rec.Body)
	}
	var body struct {
		Error   string   `json:"error"`
		Field   string   `json:"field"`
		Current cad.View `json:"current"`
	}
	dec := json.NewDecoder(rec.Body)
	dec.DisallowUnknownFields()
	if err := dec.Decode(&body); err != nil {
		t.Fatal(err)
	}
	if body.Error == "" || body.Field != "BALANCE" {
		t.Errorf("error %q field %q", body.Error, body.Field)
	}
	if body.Current.Version != 4 || len(body.Current.Values) != 3 || body.Current.Values[1].Value != "99" {
		t.Errorf("current = %+v, want the winner's view at version 4", body.Current)
	}
	if body.Current.Values[2].Value != cad.Masked {
		t.Errorf("secure value not as the core masked it: %+v", body.Current.Values[2])
	}
}

// TestValueErrorNamesTheRule: a desktop branches on the rule an edit broke.
func TestValueErrorNamesTheRule(t *testing.T) {
	w := newWorld(t)
	w.core.err = fmt.Errorf("edit: %w", &cad.ValueError{Name: "BALANCE", Rule: cad.RuleNumber, Msg: "must be a number"})
	rec := w.do("PUT", "/v1/agents/1001/call/variables/BALANCE", agentTok, `{"value":"ten","version":3}`)
	if rec.Code != http.StatusBadRequest {
		t.Fatalf("status %d: %s", rec.Code, rec.Body)
	}
	if eb := decodeErr(t, rec); eb.Field != "value" || eb.Rule != cad.RuleNumber {
		t.Errorf("field %q rule %q", eb.Field, eb.Rule)
	}
}

func TestCallControlErrorsMapToStatus(t *testing.T) {
	secret := errors.New("dial tcp 10.1.2.3:6379: connection refused")
	for _, tc := range []struct {
		name   string
		err    error
		status int
		field  string
		msg    string // a fragment of the error message, when it matters
	}{
		{"forbidden", fmt.Errorf("transfer c-1: %w", acd.ErrForbidden), 403, "", ""},
		{"no call", fmt.Errorf("hold 1001: %w", acd.ErrNoCall), 409, "", "no call"},
		{"illegal transition passes the core's message", fmt.Errorf("resume: customer is not on hold: %w", errs.ErrIllegalTransition),
			409, "", "resume: customer is not on hold"},
		{"plain conflict", fmt.Errorf("edit: %w", acd.ErrConflict), 409, "", ""},
		{"unknown variable", fmt.Errorf("edit NOPE: %w", cad.ErrUnknownVariable), 404, "name", ""},
		{"unknown agent", fmt.Errorf("agent 1001: %w", errs.ErrNotFound), 404, "", ""},
		{"bad number", fmt.Errorf("consult: %w", &errs.FieldError{Field: "number", Msg: "not a dialable number"}), 400, "number", "not a dialable number"},
		{"value breaks its type", fmt.Errorf("edit: %w", &cad.ValueError{Name: "BALANCE", Rule: cad.RuleNumber, Msg: "must be a number"}), 400, "value", "BALANCE: must be a number"},
		{"read-only variable", fmt.Errorf("edit: %w", &cad.ValueError{Name: "CUSTOMER_ID", Rule: cad.RuleReadOnly, Msg: "is read-only"}), 400, "name", "CUSTOMER_ID: is read-only"},
		{"owner replica gone", fmt.Errorf("forward hold to r1: replica is not running: %w", errs.ErrOwnerUnavailable), 503, "", "not running; retry"},
		{"seat moving to another replica", fmt.Errorf("hold: %w", errs.ErrFenced), 503, "", "moving to another replica; retry"},
		{"owner replica too slow", fmt.Errorf("forward hold to r1: no answer in 10s: %w", errs.ErrOwnerTimeout), 504, "", "did not answer in time"},
		{"anything else", fmt.Errorf("hold: %w", secret), 500, "", "internal error"},
	} {
		for _, route := range callRoutes {
			t.Run(tc.name+"/"+route.name, func(t *testing.T) {
				w := newWorld(t)
				w.core.err = tc.err
				rec := w.do(route.method, route.path, agentTok, route.body)
				eb := wantCoreErrorMapped(t, w, rec, tc.status, tc.field)
				if !strings.Contains(eb.Error, tc.msg) {
					t.Errorf("error %q lacks %q", eb.Error, tc.msg)
				}
				// Only a 503 says when to come back.
				if ra := rec.Header().Get("Retry-After"); (tc.status == 503) != (ra != "") {
					t.Errorf("status %d with Retry-After %q", tc.status, ra)
				}
			})
		}
	}
}

// TestRevealedValueNeverLoggedNorCached: the clear value goes to the
// caller only.
func TestRevealedValueNeverLoggedNorCached(t *testing.T) {
	w := newWorld(t)
	rec := w.do("POST", "/v1/agents/1001/call/variables/CARD/reveal", agentTok, "")
	if rec.Code != http.StatusOK {
		t.Fatalf("status %d: %s", rec.Code, rec.Body)
	}
	if cc := rec.Header().Get("Cache-Control"); cc != "no-store" {
		t.Errorf("Cache-Control = %q", cc)
	}
	if strings.Contains(w.logs.String(), "4111111111111111") {
		t.Errorf("log leaks the revealed value: %s", w.logs)
	}
}

// dialSupervisor opens /v1/events with the token in a header, or in the
// query when query is true.
func dialSupervisor(t *testing.T, srv *httptest.Server, token string, query bool) (*websocket.Conn, error) {
	t.Helper()
	return dialPath(t, srv, "/v1/events", token, query)
}

func TestSupervisorStreamDeliversEveryAgentsEvents(t *testing.T) {
	for _, query := range []bool{false, true} {
		t.Run(fmt.Sprintf("token in query %t", query), func(t *testing.T) {
			core := newFakeCore()
			core.events = someEvents(50)
			for i := range core.events {
				core.events[i].Agent = []string{agentID, otherID}[i%2]
			}
			logs := &syncBuffer{}
			srv, _ := serve(t, core, logs)
			conn, err := dialSupervisor(t, srv, superTok, query)
			if err != nil {
				t.Fatal(err)
			}
			for i, want := range core.events {
				var got acd.AgentEvent
				if err := recv(conn, &got); err != nil {
					t.Fatalf("event %d: %v", i, err)
				}
				if got.Agent != want.Agent || got.ConnectionID != want.ConnectionID {
					t.Fatalf("event %d = %+v, want %+v", i, got, want)
				}
			}
			var extra acd.AgentEvent
			if err := recv(conn, &extra); websocket.CloseStatus(err) != websocket.StatusNormalClosure {
				t.Fatalf("after the last event: %v (event %+v), want a normal close", err, extra)
			}
			if calls := core.Calls(); len(calls) != 1 || calls[0] != "SubscribeSupervisor()" {
				t.Errorf("core calls %v", calls)
			}
			waitForLog(t, logs, `"msg":"event stream closed","stream":"supervisor"`)
			if strings.Contains(logs.String(), superTok) {
				t.Error("log leaks the token")
			}
		})
	}
}

func TestSupervisorStreamRefusesAgentTokens(t *testing.T) {
	for _, tc := range []struct {
		name, token string
		query       bool
		upgrade     bool
		coreErr     error
		want        int
	}{
		{"agent token in header", agentTok, false, true, nil, http.StatusForbidden},
		{"agent token in query", agentTok, true, true, nil, http.StatusForbidden},
		{"agent token without upgrade", agentTok, false, false, nil, http.StatusForbidden},
		{"no token", "", false, true, nil, http.StatusUnauthorized},
		{"bad token", "nope", true, true, nil, http.StatusUnauthorized},
		{"supervisor without upgrade", superTok, false, false, nil, http.StatusUpgradeRequired},
		{"core refuses", superTok, false, true, errors.New("redis: 10.1.2.3 down"), http.StatusInternalServerError},
	} {
		t.Run(tc.name, func(t *testing.T) {
			w := newWorld(t)
			w.core.err = tc.coreErr
			path := "/v1/events"
			if tc.query {
				path += "?access_token=" + tc.token
			}
			r := httptest.NewRequest("GET", path, nil)
			if !tc.query && tc.token != "" {
				r.Header.Set("Authorization", "Bearer "+tc.token)
			}
			if tc.upgrade {
				r.Header.Set("Upgrade", "websocket")
				r.Header.Set("Connection", "Upgrade")
			}
			rec := httptest.NewRecorder()
			w.h.ServeHTTP(rec, r)
			if rec.Code != tc.want {
				t.Fatalf("status %d, want %d: %s", rec.Code, tc.want, rec.Body)
			}
			decodeErr(t, rec)
			if tc.coreErr == nil {
				if calls := w.core.Calls(); len(calls) != 0 {
					t.Errorf("core called: %v", calls)
				}
			}
			if tc.token != "" && strings.Contains(w.logs.String(), tc.token) {
				t.Error("log leaks the token")
			}
		})
	}
}

// TestSupervisorStreamRefusedOverRealSocket: an agent's desktop cannot
// open the supervisor stream with its own token.
func TestSupervisorStreamRefusedOverRealSocket(t *testing.T) {
	core := newFakeCore()
	srv, _ := serve(t, core, &syncBuffer{})
	if _, err := dialSupervisor(t, srv, agentTok, false); err == nil {
		t.Fatal("agent token opened the supervisor stream")
	}
	if calls := core.Calls(); len(calls) != 0 {
		t.Errorf("core called: %v", calls)
	}
}
