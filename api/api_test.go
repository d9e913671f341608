package api

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/tandem-cc/tandem/config"
	"github.com/tandem-cc/tandem/errs"
)

const (
	agentTok = "tok-agent-1001"
	otherTok = "tok-agent-1002"
	superTok = "tok-supervisor"
	wrongTok = "tok-agent-100" // a prefix of a real token
	agentID  = "1001"
	otherID  = "1002"
)

var testAuth = config.Auth{
	Agents:      []config.AgentToken{{Agent: agentID, Token: agentTok}, {Agent: otherID, Token: otherTok}},
	Supervisors: []config.SupervisorToken{{Token: superTok}},
}

// world is one API instance over a fake core, with its log captured.
type world struct {
	core *fakeCore
	h    http.Handler
	logs *syncBuffer
}

func newWorld(t *testing.T) *world {
	t.Helper()
	logs := &syncBuffer{}
	core := newFakeCore()
	return &world{core: core, h: New(core, testAuth, slog.New(slog.NewJSONHandler(logs, &slog.HandlerOptions{Level: slog.LevelDebug}))), logs: logs}
}

// do sends one request; token "" sends no Authorization header.
func (w *world) do(method, path, token, body string) *httptest.ResponseRecorder {
	var r *http.Request
	if body == "" {
		r = httptest.NewRequest(method, path, nil)
	} else {
		r = httptest.NewRequest(method, path, strings.NewReader(body))
		r.Header.Set("Content-Type", "application/json")
	}
	if token != "" {
		r.Header.Set("Authorization", "Bearer "+token)
	}
	rec := httptest.NewRecorder()
	w.h.ServeHTTP(rec, r)
	return rec
}

// wantRefusedBeforeCore checks a request the API refused on its own: the
// status, the field named, and a core that was never called.
func wantRefusedBeforeCore(t *testing.T, w *world, rec *httptest.ResponseRecorder, status int, field string) {
	t.Helper()
	if rec.Code != status {
		t.Fatalf("status %d, want %d: %s", rec.Code, status, rec.Body)
	}
	if eb := decodeErr(t, rec); eb.Field != field {
		t.Errorf("field %q, want %q (%s)", eb.Field, field, eb.Error)
	}
	if calls := w.core.Calls(); len(calls) != 0 {
		t.Errorf("core called despite bad input: %v", calls)
	}
}

// wantCoreErrorMapped checks the answer to an error of the core: the
// status, the field named, no internals (the core's errors here mention
// 10.1.2.3) in the body, and a 500 logged with them. It returns the body.
func wantCoreErrorMapped(t *testing.T, w *world, rec *httptest.ResponseRecorder, status int, field string) errorBody {
	t.Helper()
	if rec.Code != status {
		t.Fatalf("status %d, want %d: %s", rec.Code, status, rec.Body)
	}
	eb := decodeErr(t, rec)
	if eb.Field != field {
		t.Errorf("field %q, want %q", eb.Field, field)
	}
	if strings.Contains(eb.Error, "10.1.2.3") {
		t.Errorf("response leaks internals: %s", eb.Error)
	}
	if status == 500 && !strings.Contains(w.logs.String(), "10.1.2.3") {
		t.Errorf("500 not logged: %s", w.logs)
	}
	return eb
}

func decodeErr(t *testing.T, rec *httptest.ResponseRecorder) errorBody {
	t.Helper()
	if ct := rec.Header().Get("Content-Type"); ct != "application/json" {
		t.Errorf("Content-Type = %q", ct)
	}
	var eb errorBody
	dec := json.NewDecoder(rec.Body)
	dec.DisallowUnknownFields()
	if err := dec.Decode(&eb); err != nil {
		t.Fatalf("error body: %v", err)
	}
	if eb.Error == "" {
		t.Error("error body has no message")
	}
	return eb
}

func TestRoutesHappyPath(t *testing.T) {
	for _, tc := range []struct {
		name, method, path, token, body string
		call                            string
		want                            string // a fragment of the JSON answer
	}{
		{"login", "POST", "/v1/agents/1001/login", agentTok, `{"endpoint":"PJSIP/1001","queues":["sales","support"]}`,
			"Login(1001,PJSIP/1001,sales|support)", `"state":"idle"`},
		{"available", "POST", "/v1/agents/1001/available", agentTok, "", "SetAvailable(1001)", `"state":"available"`},
		{"available with empty object", "POST", "/v1/agents/1001/available", agentTok, "{}", "SetAvailable(1001)", `"state":"available"`},
		{"idle with reason", "POST", "/v1/agents/1001/idle", agentTok, `{"reason":"lunch break"}`, "SetIdle(1001,lunch break)", `"reason":"lunch break"`},
		{"idle without body", "POST", "/v1/agents/1001/idle", agentTok, "", "SetIdle(1001,)", `"state":"idle"`},
		{"logout", "POST", "/v1/agents/1001/logout", agentTok, "", "Logout(1001)", `"state":"logged_out"`},
		{"get agent", "GET", "/v1/agents/1001", agentTok, "", "AgentView(1001)", `"id":"1001"`},
		{"get queue as agent", "GET", "/v1/queues/sales", agentTok, "", "Queue(sales)", `"name":"sales"`},
		{"get queue as supervisor", "GET", "/v1/queues/sales", superTok, "", "Queue(sales)", `"available":["1001"]`},
		{"supervisor acts for an agent", "POST", "/v1/agents/1002/idle", superTok, `{"reason":"coaching"}`, "SetIdle(1002,coaching)", `"id":"1002"`},
		{"id with allowed punctuation", "GET", "/v1/agents/jane_doe-acme-1", superTok, "", "AgentView(jane_doe-acme-1)", `"id":"jane_doe-acme-1"`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			w := newWorld(t)
			rec := w.do(tc.method, tc.path, tc.token, tc.body)
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

func TestHealthzNeedsNoToken(t *testing.T) {
	w := newWorld(t)
	if rec := w.do("GET", "/healthz", "", ""); rec.Code != http.StatusOK {
		t.Fatalf("status %d", rec.Code)
	}
}

// TestReadyzNamesWhatIsNotReady: /readyz needs no token, answers 200 when
// the check finds nothing missing and 503 naming each missing part.
func TestReadyzNamesWhatIsNotReady(t *testing.T) {
	core := newFakeCore()
	var missing []string
	h := New(core, testAuth, nil, WithReadiness(func(context.Context) []string { return missing }))
	for _, tc := range []struct {
		missing []string
		code    int
		body    string
	}{
		{nil, http.StatusOK, `{"ready":true}`},
		{[]string{"pbx"}, http.StatusServiceUnavailable, `{"ready":false,"not_ready":["pbx"]}`},
		{[]string{"pbx", "redis"}, http.StatusServiceUnavailable, `{"ready":false,"not_ready":["pbx","redis"]}`},
	} {
		missing = tc.missing
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, httptest.NewRequest("GET", "/readyz", nil))
		if rec.Code != tc.code || strings.TrimSpace(rec.Body.String()) != tc.body {
			t.Errorf("missing %v: %d %s, want %d %s", tc.missing, rec.Code, rec.Body, tc.code, tc.body)
		}
	}
	// Without a readiness check there is no /readyz to be fooled by.
	if rec := newWorld(t).do("GET", "/readyz", "", ""); rec.Code != http.StatusNotFound {
		t.Errorf("readyz without WithReadiness: %d, want 404", rec.Code)
	}
}

func TestAuthRules(t *testing.T) {
	for _, tc := range []struct {
		name, method, path, token string
		header                    string // raw Authorization, overrides token
		want                      int
	}{
		{"no token", "GET", "/v1/agents/1001", "", "", 401},
		{"unknown token", "GET", "/v1/agents/1001", "nope", "", 401},
		{"prefix of a token", "GET", "/v1/agents/1001", wrongTok, "", 401},
		{"token with extra char", "GET", "/v1/agents/1001", agentTok + "x", "", 401},
		{"wrong scheme", "GET", "/v1/agents/1001", "", "Basic " + agentTok, 401},
		{"scheme only", "GET", "/v1/agents/1001", "", "Bearer", 401},
		{"lower-case scheme", "GET", "/v1/agents/1001", "", "bearer " + agentTok, 200},
		{"query token ignored off the websocket", "GET", "/v1/agents/1001?access_token=" + agentTok, "", "", 401},
		{"no token on queue", "GET", "/v1/queues/sales", "", "", 401},
		{"no token on events", "GET", "/v1/agents/1001/events", "", "", 401},
		{"agent acts for another agent", "POST", "/v1/agents/1002/available", agentTok, "", 403},
		{"agent reads another agent", "GET", "/v1/agents/1002", agentTok, "", 403},
		{"agent subscribes to another agent", "GET", "/v1/agents/1002/events", agentTok, "", 403},
		{"agent reads own", "GET", "/v1/agents/1001", agentTok, "", 200},
		{"other agent reads own", "GET", "/v1/agents/1002", otherTok, "", 200},
		{"supervisor reads any", "GET", "/v1/agents/1002", superTok, "", 200},
	} {
		t.Run(tc.name, func(t *testing.T) {
			w := newWorld(t)
			r := httptest.NewRequest(tc.method, tc.path, nil)
			switch {
			case tc.header != "":
				r.Header.Set("Authorization", tc.header)
			case tc.token != "":
				r.Header.Set("Authorization", "Bearer "+tc.token)
			}
			rec := httptest.NewRecorder()
			w.h.ServeHTTP(rec, r)
			if rec.Code != tc.want {
				t.Fatalf("status %d, want %d: %s", rec.Code, tc.want, rec.Body)
			}
			if tc.want != 200 {
				decodeErr(t, rec)
				if calls := w.core.Calls(); len(calls) != 0 {
					t.Errorf("core called: %v", calls)
				}
			}
			if tc.want == 401 && rec.Header().Get("WWW-Authenticate") == "" {
				t.Error("401 without WWW-Authenticate")
			}
		})
	}
}

// TestBadInputLeavesCoreUntouched proves validation happens before the core
// is called: every case answers 4xx naming the field, and the fake core
// records no call.
func TestBadInputLeavesCoreUntouched(t *testing.T) {
	long := func(n int) string { return strings.Repeat("a", n) }
	queues := func(n int) string {
		q := make([]string, n)
		for i := range q {
			q[i] = fmt.Sprintf("%q", fmt.Sprintf("q%d", i))
		}
		return "[" + strings.Join(q, ",") + "]"
	}
	login := "/v1/agents/1001/login"
	for _, tc := range []struct {
		name, method, path, body string
		status                   int
		field                    string
	}{
		{"malformed JSON", "POST", login, `{"endpoint":`, 400, ""},
		{"not an object", "POST", login, `[1,2]`, 400, ""},
		{"two objects", "POST", login, `{"endpoint":"PJSIP/1","queues":["a"]}{}`, 400, ""},
		{"empty login body", "POST", login, "", 400, ""},
		{"unknown field", "POST", login, `{"endpoint":"PJSIP/1","queues":["a"],"admin":true}`, 400, "admin"},
		{"wrong type", "POST", login, `{"endpoint":5,"queues":["a"]}`, 400, "endpoint"},
		{"missing endpoint", "POST", login, `{"queues":["sales"]}`, 400, "endpoint"},
		{"endpoint too long", "POST", login, `{"endpoint":"` + long(129) + `","queues":["sales"]}`, 400, "endpoint"},
		{"endpoint with dial-string separator", "POST", login, `{"endpoint":"PJSIP/1001&PJSIP/9","queues":["sales"]}`, 400, "endpoint"},
		{"endpoint with channel variables", "POST", login, `{"endpoint":"{x=1}user/1001","queues":["sales"]}`, 400, "endpoint"},
		{"missing queues", "POST", login, `{"endpoint":"PJSIP/1001"}`, 400, "queues"},
		{"empty queues", "POST", login, `{"endpoint":"PJSIP/1001","queues":[]}`, 400, "queues"},
		{"too many queues", "POST", login, `{"endpoint":"PJSIP/1001","queues":` + queues(33) + `}`, 400, "queues"},
		{"empty queue name", "POST", login, `{"endpoint":"PJSIP/1001","queues":["sales",""]}`, 400, "queues[1]"},
		{"bad queue name", "POST", login, `{"endpoint":"PJSIP/1001","queues":["sa les"]}`, 400, "queues[0]"},
		{"queue name too long", "POST", login, `{"endpoint":"PJSIP/1001","queues":["` + long(65) + `"]}`, 400, "queues[0]"},
		{"duplicate queue", "POST", login, `{"endpoint":"PJSIP/1001","queues":["a","b","a"]}`, 400, "queues[2]"},
		{"reason too long", "POST", "/v1/agents/1001/idle", `{"reason":"` + long(65) + `"}`, 400, "reason"},
		{"reason with control char", "POST", "/v1/agents/1001/idle", `{"reason":"a\u0007"}`, 400, "reason"},
		{"unknown field on available", "POST", "/v1/agents/1001/available", `{"force":true}`, 400, "force"},
		{"unknown field on logout", "POST", "/v1/agents/1001/logout", `{"force":true}`, 400, "force"},
		{"id too long", "GET", "/v1/agents/" + long(65), "", 400, "id"},
		{"id with bad char", "POST", "/v1/agents/a%20b/available", "", 400, "id"},
		{"bad queue name in path", "GET", "/v1/queues/sa%20les", "", 400, "name"},
		{"empty queue name in path", "GET", "/v1/queues/", "", 400, "name"},
		{"queue name too long in path", "GET", "/v1/queues/" + long(65), "", 400, "name"},
		{"body too large", "POST", login, `{"endpoint":"` + long(70<<10) + `"}`, 413, ""},
		{"wrong method on login", "GET", login, "", 405, ""},
		{"wrong method on agent", "DELETE", "/v1/agents/1001", "", 405, ""},
		{"wrong method on queue", "POST", "/v1/queues/sales", "", 405, ""},
		{"wrong method on healthz", "POST", "/healthz", "", 405, ""},
		{"unknown route", "GET", "/v1/nothing", "", 404, ""},
		{"events without upgrade", "GET", "/v1/agents/1001/events", "", 426, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			w := newWorld(t)
			rec := w.do(tc.method, tc.path, superTok, tc.body)
			wantRefusedBeforeCore(t, w, rec, tc.status, tc.field)
		})
	}
}

// TestBodyTooLargeByLength refuses a body by its declared length, before
// reading it.
func TestBodyTooLargeByLength(t *testing.T) {
	w := newWorld(t)
	r := httptest.NewRequest("POST", "/v1/agents/1001/login", bytes.NewReader(make([]byte, maxBody+1)))
	r.Header.Set("Authorization", "Bearer "+agentTok)
	rec := httptest.NewRecorder()
	w.h.ServeHTTP(rec, r)
	if rec.Code != http.StatusRequestEntityTooLarge {
		t.Fatalf("status %d", rec.Code)
	}
}

func TestWrongMethodListsAllowed(t *testing.T) {
	w := newWorld(t)
	rec := w.do("GET", "/v1/agents/1001/logout", agentTok, "")
	if rec.Code != 405 || rec.Header().Get("Allow") != "POST" {
		t.Fatalf("status %d Allow %q", rec.Code, rec.Header().Get("Allow"))
	}
}

func TestCoreErrorsMapToStatus(t *testing.T) {
	secret := errors.New("dial tcp 10.1.2.3:6379: connection refused")
	for _, tc := range []struct {
		name   string
		err    error
		status int
		field  string
	}{
		{"not found", fmt.Errorf("agent 1001: %w", errs.ErrNotFound), 404, ""},
		{"illegal transition", fmt.Errorf("set available: %w", fmt.Errorf("agent logged_out on available: %w", errs.ErrIllegalTransition)), 409, ""},
		{"field error", fmt.Errorf("login: %w", &errs.FieldError{Field: "queues", Msg: "unknown queue \"nope\""}), 400, "queues"},
		{"anything else", fmt.Errorf("login: %w", secret), 500, ""},
	} {
		for _, route := range []struct{ method, path, body string }{
			{"POST", "/v1/agents/1001/login", `{"endpoint":"PJSIP/1001","queues":["sales"]}`},
			{"POST", "/v1/agents/1001/available", ""},
			{"POST", "/v1/agents/1001/idle", `{"reason":"x"}`},
			{"POST", "/v1/agents/1001/logout", ""},
			{"GET", "/v1/agents/1001", ""},
			{"GET", "/v1/queues/sales", ""},
		} {
			t.Run(tc.name+" "+route.path, func(t *testing.T) {
				w := newWorld(t)
				w.core.err = tc.err
				rec := w.do(route.method, route.path, agentTok, route.body)
				wantCoreErrorMapped(t, w, rec, tc.status, tc.field)
			})
		}
	}
}

func TestLogsCarryAgentIDAndNoTokens(t *testing.T) {
	w := newWorld(t)
	w.do("POST", "/v1/agents/1001/login", agentTok, `{"endpoint":"PJSIP/1001","queues":["sales"]}`)
	w.do("GET", "/v1/agents/1001", superTok, "")
	w.do("GET", "/v1/agents/1001", "bogus-token", "")
	logs := w.logs.String()
	for _, tok := range []string{agentTok, superTok, "bogus-token"} {
		if strings.Contains(logs, tok) {
			t.Errorf("log leaks token %s", tok)
		}
	}
	lines := strings.Split(strings.TrimSpace(logs), "\n")
	if len(lines) < 3 {
		t.Fatalf("expected request lines, got %s", logs)
	}
	for _, l := range lines {
		var m map[string]any
		if err := json.Unmarshal([]byte(l), &m); err != nil {
			t.Fatal(err)
		}
		if m["agent_id"] != agentID {
			t.Errorf("line without agent_id: %s", l)
		}
	}
}
