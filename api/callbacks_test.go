package api

import (
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"
	_ "time/tzdata" // the window tests need zones even where the OS has no database

	"github.com/tandem-cc/tandem/acd"
	"github.com/tandem-cc/tandem/callbacks"
)

// callbackRoute is one callback route with a valid request, the core call
// it must make, its status and a fragment of its answer.
type callbackRoute struct {
	name, method, path, body string
	call                     string
	status                   int
	want                     string
}

var callbackRoutes = []callbackRoute{
	{"web callback", "POST", "/v1/callbacks",
		`{"queue":"sales","number":"+1 202 555 0123","name":"Ann","variables":{"order":"42","ref":"x y"}}`,
		"RequestCallback(sales,+1 202 555 0123,Ann,map[order:42 ref:x y],-,-,)", 201, `"kind":"web"`},
	{"scheduled with instants", "POST", "/v1/callbacks",
		`{"queue":"sales","number":"+1 202 555 0123","earliest_at":"2026-11-23T10:00:00-05:00","window_end":"2026-11-23T11:00:00-05:00"}`,
		"RequestCallback(sales,+1 202 555 0123,,map[],2026-11-23T15:00:00Z,2026-11-23T16:00:00Z,)", 201, `"window_end":"2026-11-23T11:00:00-05:00"`},
	{"scheduled in the customer's zone", "POST", "/v1/callbacks",
		`{"queue":"sales","number":"+1 202 555 0123","window":{"from":"2026-11-23T10:00","to":"2026-11-23T11:00","time_zone":"America/New_York"}}`,
		"RequestCallback(sales,+1 202 555 0123,,map[],2026-11-23T15:00:00Z,2026-11-23T16:00:00Z,America/New_York)", 201, `"time_zone":"America/New_York"`},
	{"window in summer time without an end", "POST", "/v1/callbacks",
		`{"queue":"sales","number":"0612345678","window":{"from":"2026-07-01T09:30:15","time_zone":"Europe/Paris"}}`,
		"RequestCallback(sales,0612345678,,map[],2026-07-01T07:30:15Z,-,Europe/Paris)", 201, `"kind":"scheduled"`},
	{"get", "GET", "/v1/callbacks/cb-9", "", "Callback(cb-9)", 200, `"id":"cb-9"`},
	{"cancel", "DELETE", "/v1/callbacks/cb-9", "", "CancelCallback(cb-9)", 200, `"state":"cancelled"`},
	{"flow start in the call's queue", "POST", "/v1/calls/c-7/callback/start", "",
		"CallbackFlow(c-7,start,,,)", 200, `"connection_id":"c-7"`},
	{"flow start in another queue", "POST", "/v1/calls/c-7/callback/start", `{"queue":"support"}`,
		"CallbackFlow(c-7,start,support,,)", 200, `"state":"callback_start"`},
	{"flow register the caller's number", "POST", "/v1/calls/c-7/callback/register", "",
		"CallbackFlow(c-7,register,,,)", 200, `"callback_id":"cb-1"`},
	{"flow register another number with a message", "POST", "/v1/calls/c-7/callback/register",
		`{"number":"+1 202 555 0199","media":"recording:msg-1"}`,
		"CallbackFlow(c-7,register,,+1 202 555 0199,recording:msg-1)", 200, `"callback_id":"cb-1"`},
	{"flow cancel", "POST", "/v1/calls/c-7/callback/cancel", "{}", "CallbackFlow(c-7,cancel,,,)", 200, `"state":"callback_cancel"`},
}

func TestCallbackRoutesHappyPath(t *testing.T) {
	for _, tc := range callbackRoutes {
		t.Run(tc.name, func(t *testing.T) {
			w := newWorld(t)
			rec := w.do(tc.method, tc.path, superTok, tc.body)
			if rec.Code != tc.status {
				t.Fatalf("status %d, want %d: %s", rec.Code, tc.status, rec.Body)
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

// TestCreateCallbackAnswersCreatedOrMerged: a new callback is 201 with its
// location; one merged into the queue's live callback for the number is
// 200 and says so.
func TestCreateCallbackAnswersCreatedOrMerged(t *testing.T) {
	for _, merged := range []bool{false, true} {
		t.Run(fmt.Sprintf("merged %t", merged), func(t *testing.T) {
			w := newWorld(t)
			w.core.merged = merged
			rec := w.do("POST", "/v1/callbacks", superTok, `{"queue":"sales","number":"+12025550123"}`)
			wantStatus, wantLocation := http.StatusCreated, "/v1/callbacks/cb-1"
			if merged {
				wantStatus, wantLocation = http.StatusOK, ""
			}
			if rec.Code != wantStatus {
				t.Fatalf("status %d, want %d: %s", rec.Code, wantStatus, rec.Body)
			}
			if got := rec.Header().Get("Location"); got != wantLocation {
				t.Errorf("Location %q, want %q", got, wantLocation)
			}
			var body struct {
				Callback struct {
					ID    string `json:"id"`
					State string `json:"state"`
				} `json:"callback"`
				Merged *bool `json:"merged"`
			}
			if err := json.NewDecoder(rec.Body).Decode(&body); err != nil {
				t.Fatal(err)
			}
			if body.Merged == nil || *body.Merged != merged {
				t.Errorf("merged = %v, want %t", body.Merged, merged)
			}
			if body.Callback.ID != "cb-1" || body.Callback.State != "pending" {
				t.Errorf("callback = %+v", body.Callback)
			}
		})
	}
}

// TestCallbackRoutesNeedSupervisorToken: a website or flow engine uses a
// supervisor token; an agent's token is refused, and so is no token.
func TestCallbackRoutesNeedSupervisorToken(t *testing.T) {
	for _, tc := range callbackRoutes {
		t.Run(tc.name, func(t *testing.T) {
			w := newWorld(t)
			if rec := w.do(tc.method, tc.path, agentTok, tc.body); rec.Code != http.StatusForbidden {
				t.Errorf("agent token: status %d: %s", rec.Code, rec.Body)
			} else {
				decodeErr(t, rec)
			}
			rec := w.do(tc.method, tc.path, "", tc.body)
			if rec.Code != http.StatusUnauthorized || rec.Header().Get("WWW-Authenticate") == "" {
				t.Errorf("no token: status %d, WWW-Authenticate %q", rec.Code, rec.Header().Get("WWW-Authenticate"))
			}
			if calls := w.core.Calls(); len(calls) != 0 {
				t.Errorf("core called: %v", calls)
			}
		})
	}
}

// TestCallbackBadInputLeavesCoreUntouched: every bad input answers 4xx
// naming the field, and the core is not called.
func TestCallbackBadInputLeavesCoreUntouched(t *testing.T) {
	const (
		create   = "/v1/callbacks"
		start    = "/v1/calls/c-7/callback/start"
		register = "/v1/calls/c-7/callback/register"
	)
	long := func(n int) string { return strings.Repeat("a", n) }
	vars := func(n int) string {
		v := make([]string, n)
		for i := range v {
			v[i] = fmt.Sprintf(`"v%d":"x"`, i)
		}
		return "{" + strings.Join(v, ",") + "}"
	}
	// body is a create body: queue and number, then more.
	body := func(more string) string {
		if more != "" {
			more = "," + more
		}
		return `{"queue":"sales","number":"+12025550123"` + more + `}`
	}
	window := func(from, to, zone string) string {
		return body(fmt.Sprintf(`"window":{"from":%q,"to":%q,"time_zone":%q}`, from, to, zone))
	}
	for _, tc := range []struct {
		name, method, path, body string
		status                   int
		field                    string
	}{
		{"empty body", "POST", create, "", 400, ""},
		{"malformed JSON", "POST", create, `{"queue":`, 400, ""},
		{"missing queue", "POST", create, `{"number":"+12025550123"}`, 400, "queue"},
		{"bad queue name", "POST", create, `{"queue":"sa les","number":"+12025550123"}`, 400, "queue"},
		{"missing number", "POST", create, `{"queue":"sales"}`, 400, "number"},
		{"blank number", "POST", create, `{"queue":"sales","number":"   "}`, 400, "number"},
		{"number too long", "POST", create, `{"queue":"sales","number":"` + strings.Repeat("1", 65) + `"}`, 400, "number"},
		{"number with control char", "POST", create, `{"queue":"sales","number":"2025550123\n"}`, 400, "number"},
		{"number wrong type", "POST", create, `{"queue":"sales","number":2025550123}`, 400, "number"},
		{"name too long", "POST", create, body(`"name":"` + strings.Repeat("é", 129) + `"`), 400, "name"},
		{"name with control char", "POST", create, body(`"name":"Ann\u0000"`), 400, "name"},
		{"too many variables", "POST", create, body(`"variables":` + vars(33)), 400, "variables"},
		{"bad variable name", "POST", create, body(`"variables":{"or-der":"42"}`), 400, "variables"},
		{"variable value too long", "POST", create, body(`"variables":{"order":"` + long(257) + `"}`), 400, "variables.order"},
		{"unknown field", "POST", create, body(`"priority":1`), 400, "priority"},
		{"earliest_at not RFC 3339", "POST", create, body(`"earliest_at":"2026-11-23 10:00"`), 400, "earliest_at"},
		{"earliest_at without offset", "POST", create, body(`"earliest_at":"2026-11-23T10:00:00"`), 400, "earliest_at"},
		{"window_end not RFC 3339", "POST", create, body(`"window_end":"tomorrow"`), 400, "window_end"},
		{"window_end before earliest_at", "POST", create,
			body(`"earliest_at":"2026-11-23T11:00:00-05:00","window_end":"2026-11-23T10:00:00-05:00"`), 400, "window_end"},
		{"both window forms", "POST", create,
			body(`"earliest_at":"2026-11-23T10:00:00-05:00","window":{"from":"2026-11-23T10:00","time_zone":"America/New_York"}`), 400, "window"},
		{"window_end with a local window", "POST", create,
			body(`"window_end":"2026-11-23T11:00:00-05:00","window":{"from":"2026-11-23T10:00","time_zone":"America/New_York"}`), 400, "window"},
		{"window without time zone", "POST", create, body(`"window":{"from":"2026-11-23T10:00"}`), 400, "window.time_zone"},
		{"unknown time zone", "POST", create, window("2026-11-23T10:00", "", "America/Gotham"), 400, "window.time_zone"},
		{"server's local zone", "POST", create, window("2026-11-23T10:00", "", "Local"), 400, "window.time_zone"},
		{"time zone as a path", "POST", create, window("2026-11-23T10:00", "", "../../etc/passwd"), 400, "window.time_zone"},
		{"time zone too long", "POST", create, window("2026-11-23T10:00", "", "America/"+long(60)), 400, "window.time_zone"},
		{"time zone wrong type", "POST", create, body(`"window":{"from":"2026-11-23T10:00","time_zone":5}`), 400, "window.time_zone"},
		{"window without from", "POST", create, window("", "2026-11-23T11:00", "America/New_York"), 400, "window.from"},
		{"window from with offset", "POST", create, window("2026-11-23T10:00:00-05:00", "", "America/New_York"), 400, "window.from"},
		{"window from not a time", "POST", create, window("tomorrow 10am", "", "America/New_York"), 400, "window.from"},
		{"window from the clocks skip", "POST", create, window("2026-03-08T02:30", "2026-03-08T04:00", "America/New_York"), 400, "window.from"},
		{"window to not a time", "POST", create, window("2026-11-23T10:00", "11:00", "America/New_York"), 400, "window.to"},
		{"window to before from", "POST", create, window("2026-11-23T10:00", "2026-11-23T09:00", "America/New_York"), 400, "window.to"},
		{"window to equal to from", "POST", create, window("2026-11-23T10:00", "2026-11-23T10:00:00", "America/New_York"), 400, "window.to"},
		{"bad callback id", "GET", "/v1/callbacks/cb:9", "", 400, "id"},
		{"callback id too long", "GET", "/v1/callbacks/" + long(65), "", 400, "id"},
		{"empty callback id", "GET", "/v1/callbacks/", "", 400, "id"},
		{"bad callback id on cancel", "DELETE", "/v1/callbacks/cb.9", "", 400, "id"},
		{"bad connection id", "POST", "/v1/calls/c%207/callback/start", "", 400, "connection_id"},
		{"start with bad queue name", "POST", start, `{"queue":"sup port"}`, 400, "queue"},
		{"start with unknown field", "POST", start, `{"queue":"sales","digit":"1"}`, 400, "digit"},
		{"register number too long", "POST", register, `{"number":"` + strings.Repeat("1", 65) + `"}`, 400, "number"},
		{"register number with control char", "POST", register, `{"number":"2025550123\r"}`, 400, "number"},
		{"register two media", "POST", register, `{"media":"recording:msg-1,sound:beep"}`, 400, "media"},
		{"register media without scheme", "POST", register, `{"media":"msg-1"}`, 400, "media"},
		{"register media leaving its folder", "POST", register, `{"media":"sound:../../secret"}`, 400, "media"},
		{"register media too long", "POST", register, `{"media":"sound:` + long(123) + `"}`, 400, "media"},
		{"register unknown field", "POST", register, `{"digits":"123"}`, 400, "digits"},
		{"cancel with unknown field", "POST", "/v1/calls/c-7/callback/cancel", `{"why":"x"}`, 400, "why"},
		{"accept with unknown field", "POST", "/v1/agents/1001/call/callback-accept", `{"now":true}`, 400, "now"},
		{"wrong method on callbacks", "PUT", create, "", 405, ""},
		{"wrong method on a callback", "PUT", "/v1/callbacks/cb-9", "", 405, ""},
		{"wrong method on flow", "GET", start, "", 405, ""},
		{"wrong method on accept", "GET", "/v1/agents/1001/call/callback-accept", "", 405, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			w := newWorld(t)
			rec := w.do(tc.method, tc.path, superTok, tc.body)
			wantRefusedBeforeCore(t, w, rec, tc.status, tc.field)
		})
	}
}

// TestCallbackLimitsThemselvesAreAccepted: the largest name and variables
// allowed reach the core.
func TestCallbackLimitsThemselvesAreAccepted(t *testing.T) {
	vars := make(map[string]string, maxCallbackVariables)
	for i := range maxCallbackVariables {
		vars[fmt.Sprintf("v%d", i)] = strings.Repeat("é", maxVariableValue)
	}
	req, err := json.Marshal(map[string]any{
		"queue": strings.Repeat("q", 64), "number": strings.Repeat("1", 64),
		"name": strings.Repeat("é", maxCallbackName), "variables": vars,
	})
	if err != nil {
		t.Fatal(err)
	}
	w := newWorld(t)
	if rec := w.do("POST", "/v1/callbacks", superTok, string(req)); rec.Code != http.StatusCreated {
		t.Fatalf("status %d: %s", rec.Code, rec.Body)
	}
	if calls := w.core.Calls(); len(calls) != 1 || !strings.HasPrefix(calls[0], "RequestCallback(") {
		t.Errorf("core calls %v", calls)
	}
}

// TestCallbackWindowUsesTheOffsetOfEachEnd: each end of a local window is
// read with the zone's offset at that moment, not today's.
func TestCallbackWindowUsesTheOffsetOfEachEnd(t *testing.T) {
	w := newWorld(t)
	// 00:30 to 03:00 on the night New York leaves summer time
	// (2026-11-01, at 02:00): 00:30 is EDT (-4), 03:00 is EST (-5).
	rec := w.do("POST", "/v1/callbacks", superTok,
		`{"queue":"sales","number":"+12025550123","window":{"from":"2026-11-01T00:30","to":"2026-11-01T03:00","time_zone":"America/New_York"}}`)
	if rec.Code != http.StatusCreated {
		t.Fatalf("status %d: %s", rec.Code, rec.Body)
	}
	want := "RequestCallback(sales,+12025550123,,map[],2026-11-01T04:30:00Z,2026-11-01T08:00:00Z,America/New_York)"
	if calls := w.core.Calls(); len(calls) != 1 || calls[0] != want {
		t.Errorf("core calls %v, want [%s]", calls, want)
	}
}

// TestCallbackFieldErrorKeepsFieldAndRule: what the core refuses in a
// callback request reaches the web form with the field and the rule, and
// the message meant for the person who typed it.
func TestCallbackFieldErrorKeepsFieldAndRule(t *testing.T) {
	for _, fe := range []*callbacks.FieldError{
		{Field: "number", Rule: "country-not-allowed", Msg: "queue sales may only call country codes +1"},
		{Field: "queue", Rule: "unknown-queue", Msg: `unknown queue "sales"`},
		{Field: "window", Rule: "outside-hours", Msg: "queue sales is closed for the whole window"},
	} {
		t.Run(fe.Rule, func(t *testing.T) {
			w := newWorld(t)
			w.core.err = fmt.Errorf("create callback in sales: %w", fe)
			rec := w.do("POST", "/v1/callbacks", superTok, `{"queue":"sales","number":"+12025550123"}`)
			if rec.Code != http.StatusBadRequest {
				t.Fatalf("status %d: %s", rec.Code, rec.Body)
			}
			eb := decodeErr(t, rec)
			if eb.Field != fe.Field || eb.Rule != fe.Rule || eb.Error != fe.Msg {
				t.Errorf("got %+v, want field %q rule %q error %q", eb, fe.Field, fe.Rule, fe.Msg)
			}
		})
	}
}

func TestCallbackRouteErrorsMapToStatus(t *testing.T) {
	secret := errors.New("dial tcp 10.1.2.3:6379: connection refused")
	for _, tc := range []struct {
		name   string
		err    error
		status int
		field  string
	}{
		{"unknown callback or call", fmt.Errorf("callback cb-9: %w", callbacks.ErrNotFound), 404, ""},
		{"call is over", fmt.Errorf("call c-7 is over: %w", acd.ErrNoCall), 409, ""},
		// DELETE reads the state back; here the read fails too, so it is
		// the plain 409 of every route.
		{"illegal transition", fmt.Errorf("register callback: no callback was started: %w", callbacks.ErrIllegalTransition), 409, ""},
		{"field error", fmt.Errorf("create: %w", &callbacks.FieldError{Field: "number", Rule: "invalid", Msg: "not a phone number"}), 400, "number"},
		{"anything else", fmt.Errorf("create: %w", secret), 500, ""},
	} {
		for _, route := range callbackRoutes {
			t.Run(tc.name+"/"+route.name, func(t *testing.T) {
				w := newWorld(t)
				w.core.err = tc.err
				rec := w.do(route.method, route.path, superTok, route.body)
				wantCoreErrorMapped(t, w, rec, tc.status, tc.field)
			})
		}
	}
}

// TestCancelRefusedAnswersTheState: a callback that cannot be cancelled
// (being dialled, or already over) answers 409 with its current state.
func TestCancelRefusedAnswersTheState(t *testing.T) {
	for _, state := range []callbacks.State{callbacks.StateDialing, callbacks.StateDone} {
		t.Run(string(state), func(t *testing.T) {
			w := newWorld(t)
			w.core.cancelErr = fmt.Errorf("cancel callback cb-9: %w",
				fmt.Errorf("callback %s on cancel: %w", state, callbacks.ErrIllegalTransition))
			w.core.cbState = state
			rec := w.do("DELETE", "/v1/callbacks/cb-9", superTok, "")
			if rec.Code != http.StatusConflict {
				t.Fatalf("status %d: %s", rec.Code, rec.Body)
			}
			var body stateBody
			dec := json.NewDecoder(rec.Body)
			dec.DisallowUnknownFields()
			if err := dec.Decode(&body); err != nil {
				t.Fatal(err)
			}
			if body.Field != "state" || body.State != string(state) {
				t.Errorf("field %q state %q, want state %q", body.Field, body.State, state)
			}
			if !strings.Contains(body.Error, string(state)+" on cancel") {
				t.Errorf("error %q lacks the core's message", body.Error)
			}
			want := []string{"CancelCallback(cb-9)", "Callback(cb-9)"}
			if calls := w.core.Calls(); !slices.Equal(calls, want) {
				t.Errorf("core calls %v, want %v", calls, want)
			}
		})
	}
}

// TestCallbackJSONShowsNoLeaseInternals: the view has exactly the
// documented fields; the lease, the dial in progress and the queue score
// stay inside the core.
func TestCallbackJSONShowsNoLeaseInternals(t *testing.T) {
	want := []string{"attempts", "caller_id", "created", "dnis", "due", "id", "kind", "max_attempts", "media",
		"name", "number", "queue", "retry_delay_seconds", "state", "time_zone", "variables"}
	for _, tc := range []struct {
		method string
		extra  []string // fields present on this answer only
	}{
		{"GET", nil},
		{"DELETE", []string{"ended"}},
	} {
		t.Run(tc.method, func(t *testing.T) {
			w := newWorld(t)
			rec := w.do(tc.method, "/v1/callbacks/cb-9", superTok, "")
			if rec.Code != http.StatusOK {
				t.Fatalf("status %d: %s", rec.Code, rec.Body)
			}
			raw := rec.Body.String()
			for _, leak := range []string{"LEASE-", "1234.5", "score", "lease", "dial_", "agent_leg", `"conn"`} {
				if strings.Contains(raw, leak) {
					t.Errorf("JSON shows %s: %s", leak, raw)
				}
			}
			var m map[string]json.RawMessage
			if err := json.Unmarshal(rec.Body.Bytes(), &m); err != nil {
				t.Fatal(err)
			}
			got := slices.Sorted(func(yield func(string) bool) {
				for k := range m {
					if !yield(k) {
						return
					}
				}
			})
			wantHere := slices.Sorted(slices.Values(append(slices.Clone(want), tc.extra...)))
			if !slices.Equal(got, wantHere) {
				t.Errorf("fields %v, want %v", got, wantHere)
			}
		})
	}
}

// TestCallbackViewValues: times, the retry delay in seconds and the
// attempts as a client reads them.
func TestCallbackViewValues(t *testing.T) {
	w := newWorld(t)
	rec := w.do("GET", "/v1/callbacks/cb-9", superTok, "")
	if rec.Code != http.StatusOK {
		t.Fatalf("status %d: %s", rec.Code, rec.Body)
	}
	var v struct {
		Due               time.Time         `json:"due"`
		Created           time.Time         `json:"created"`
		RetryDelaySeconds float64           `json:"retry_delay_seconds"`
		MaxAttempts       int               `json:"max_attempts"`
		Variables         map[string]string `json:"variables"`
		Attempts          []struct {
			At      time.Time `json:"at"`
			Outcome string    `json:"outcome"`
			Node    string    `json:"node"`
		} `json:"attempts"`
	}
	if err := json.Unmarshal(rec.Body.Bytes(), &v); err != nil {
		t.Fatal(err)
	}
	switch {
	case !v.Due.Equal(since.Add(time.Hour)) || !v.Created.Equal(since):
		t.Errorf("due %v created %v", v.Due, v.Created)
	case v.RetryDelaySeconds != 300 || v.MaxAttempts != 3:
		t.Errorf("retry_delay_seconds %v max_attempts %d", v.RetryDelaySeconds, v.MaxAttempts)
	case v.Variables["order"] != "42":
		t.Errorf("variables %v", v.Variables)
	case len(v.Attempts) != 1 || v.Attempts[0].Outcome != "no_answer" || v.Attempts[0].Node != "node-a" ||
		!v.Attempts[0].At.Equal(since.Add(30*time.Minute)):
		t.Errorf("attempts %+v", v.Attempts)
	}
	if !strings.Contains(rec.Body.String(), `"due":"2025-01-02T04:04:05Z"`) {
		t.Errorf("due not RFC 3339: %s", rec.Body)
	}

	// A callback without variables or attempts shows {} and [], not null.
	rec = w.do("POST", "/v1/callbacks", superTok, `{"queue":"sales","number":"+12025550123"}`)
	for _, frag := range []string{`"variables":{}`, `"attempts":[]`} {
		if !strings.Contains(rec.Body.String(), frag) {
			t.Errorf("body %s lacks %s", rec.Body, frag)
		}
	}
}

// TestCallbackLogsNameTheirIDs: request lines carry the callback's or the
// call's id under its own name, never as agent_id, and no customer number.
func TestCallbackLogsNameTheirIDs(t *testing.T) {
	for _, tc := range []struct {
		method, path, body string
		attr, id           string
	}{
		{"GET", "/v1/callbacks/cb-9", "", "callback_id", "cb-9"},
		{"DELETE", "/v1/callbacks/cb-9", "", "callback_id", "cb-9"},
		{"POST", "/v1/calls/c-7/callback/start", "", "connection_id", "c-7"},
		{"POST", "/v1/callbacks", `{"queue":"sales","number":"+1 202 555 0123"}`, "callback_id", "cb-1"},
	} {
		t.Run(tc.method+" "+tc.path, func(t *testing.T) {
			w := newWorld(t)
			w.do(tc.method, tc.path, superTok, tc.body)
			lines := strings.Split(strings.TrimSpace(w.logs.String()), "\n")
			found := false
			for _, l := range lines {
				var m map[string]any
				if err := json.Unmarshal([]byte(l), &m); err != nil {
					t.Fatal(err)
				}
				if _, ok := m["agent_id"]; ok {
					t.Errorf("line with agent_id: %s", l)
				}
				found = found || m[tc.attr] == tc.id
			}
			if !found {
				t.Errorf("no line with %s=%s: %s", tc.attr, tc.id, w.logs)
			}
			// Not a bare "555": log timestamps contain digits too.
			if logs := w.logs.String(); strings.Contains(logs, "202 555 0123") || strings.Contains(logs, "2025550123") || strings.Contains(logs, superTok) {
				t.Errorf("log leaks the number or the token: %s", logs)
			}
		})
	}
}

func TestCallbackWrongMethodListsAllowed(t *testing.T) {
	w := newWorld(t)
	rec := w.do("PUT", "/v1/callbacks/cb-9", superTok, "")
	if rec.Code != http.StatusMethodNotAllowed || rec.Header().Get("Allow") != "DELETE, GET, HEAD" {
		t.Fatalf("status %d Allow %q", rec.Code, rec.Header().Get("Allow"))
	}
}
