package api

import (
	"fmt"
	"net/http"
	"slices"
	"strings"
	"testing"

	"github.com/tandem-cc/tandem/cad"
	"github.com/tandem-cc/tandem/callbacks"
)

// TestCallbackInputTandemMustNotAccept: input of issue 11 the API itself
// refuses, before the core: names Tandem sets, media of another scheme or
// outside its folder.
func TestCallbackInputTandemMustNotAccept(t *testing.T) {
	const register = "/v1/calls/c-7/callback/register"
	create := func(vars string) string {
		return `{"queue":"sales","number":"+12025550123","variables":` + vars + `}`
	}
	for _, tc := range []struct {
		name, path, body string
		field, rule      string
	}{
		{"callback_id", "/v1/callbacks", create(`{"callback_id":"evil"}`), "variables.callback_id", cad.RuleReserved},
		{"callback_number", "/v1/callbacks", create(`{"order":"1","callback_number":"+15550000"}`), "variables.callback_number", cad.RuleReserved},
		{"TANDEM_ prefix", "/v1/callbacks", create(`{"TANDEM_AGENT":"1002"}`), "variables.TANDEM_AGENT", cad.RuleReserved},
		{"_version", "/v1/callbacks", create(`{"_version":"9"}`), "variables._version", cad.RuleReserved},
		{"media over http", register, `{"media":"http://evil/x.wav"}`, "media", ""},
		{"media over file", register, `{"media":"file:///etc/passwd"}`, "media", ""},
		{"recording climbing out", register, `{"media":"recording:../../etc/passwd"}`, "media", ""},
		{"recording in a folder", register, `{"media":"recording:a/b"}`, "media", ""},
		{"sound from the root", register, `{"media":"sound:/etc/passwd"}`, "media", ""},
		{"media with an escape", register, `{"media":"tts:hi\u001b[2J"}`, "media", ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			w := newWorld(t)
			rec := w.do("POST", tc.path, superTok, tc.body)
			wantRefusedBeforeCore(t, w, rec, 400, tc.field)
			if tc.rule != "" {
				rec = w.do("POST", tc.path, superTok, tc.body)
				if eb := decodeErr(t, rec); eb.Rule != tc.rule {
					t.Errorf("rule %q, want %q", eb.Rule, tc.rule)
				}
			}
		})
	}
	// The media Tandem plays still pass.
	for _, m := range []string{"recording:callback-c-7", "sound:custom/thanks"} {
		w := newWorld(t)
		if rec := w.do("POST", register, superTok, `{"media":"`+m+`"}`); rec.Code != 200 {
			t.Errorf("media %s: %d %s", m, rec.Code, rec.Body)
		}
	}
}

// TestCallbackRefusalsOfTheCoreKeepFieldAndRule: what the core refuses
// (a time too far ahead, a control character in a value, which depend on
// the queue's configuration) reaches the client with its field and rule.
func TestCallbackRefusalsOfTheCoreKeepFieldAndRule(t *testing.T) {
	for _, fe := range []*callbacks.FieldError{
		{Field: "earliest_at", Rule: callbacks.RuleTooFarAhead, Msg: "must be at most 30 days ahead"},
		{Field: "window_end", Rule: callbacks.RuleTooFarAhead, Msg: "must be at most 30 days ahead"},
		{Field: "variables.NOTE", Rule: cad.RuleControl, Msg: "must not contain control characters (found U+001B)"},
	} {
		w := newWorld(t)
		w.core.err = fmt.Errorf("request callback: %w", fe)
		rec := w.do("POST", "/v1/callbacks", superTok, `{"queue":"sales","number":"+12025550123","earliest_at":"9999-12-31T23:59:59Z"}`)
		eb := wantCoreErrorMapped(t, w, rec, 400, fe.Field)
		if eb.Rule != fe.Rule || eb.Error != fe.Msg {
			t.Errorf("%s: rule %q error %q", fe.Field, eb.Rule, eb.Error)
		}
	}
}

// TestCoreRefusalOfALocalWindowNamesTheWindow: a window in local time
// refused as too far ahead names window.from, the field the client wrote.
func TestCoreRefusalOfALocalWindowNamesTheWindow(t *testing.T) {
	w := newWorld(t)
	w.core.err = &callbacks.FieldError{Field: "earliest_at", Rule: callbacks.RuleTooFarAhead, Msg: "must be at most 30 days ahead"}
	rec := w.do("POST", "/v1/callbacks", superTok, `{"queue":"sales","number":"+12025550123","window":{"from":"9999-12-31T10:00","time_zone":"Europe/Paris"}}`)
	if eb := wantCoreErrorMapped(t, w, rec, 400, "window.from"); eb.Rule != callbacks.RuleTooFarAhead {
		t.Errorf("rule %q", eb.Rule)
	}
}

func TestRevealCallbackVariableIsForSupervisorsAndNamesThem(t *testing.T) {
	const path = "/v1/callbacks/cb-9/variables/CARD_NUMBER/reveal"
	w := newWorld(t)
	rec := w.do("POST", path, superTok, "")
	if rec.Code != 200 || !strings.Contains(rec.Body.String(), `"value":"4111111111111111"`) || !strings.Contains(rec.Body.String(), `"name":"CARD_NUMBER"`) {
		t.Fatalf("reveal: %d %s", rec.Code, rec.Body)
	}
	if cc := rec.Header().Get("Cache-Control"); cc != "no-store" {
		t.Errorf("Cache-Control = %q", cc)
	}
	// who is the token's principal, passed through as the API names it.
	if calls := w.core.Calls(); !slices.Equal(calls, []string{"RevealCallbackVariable(cb-9,CARD_NUMBER,supervisor:supervisor-1)"}) {
		t.Errorf("core calls %v", calls)
	}
	if strings.Contains(w.logs.String(), "4111111111111111") {
		t.Error("the revealed value reached the log")
	}
	for _, tc := range []struct {
		name, method, path, token, body string
		status                          int
		field                           string
	}{
		{"agent token", "POST", path, agentTok, "", 403, ""},
		{"no token", "POST", path, "", "", 401, ""},
		{"wrong method", "GET", path, superTok, "", 405, ""},
		{"bad callback id", "POST", "/v1/callbacks/cb:9/variables/CARD_NUMBER/reveal", superTok, "", 400, "id"},
		{"bad variable name", "POST", "/v1/callbacks/cb-9/variables/CARD-NUMBER/reveal", superTok, "", 400, "name"},
		{"a body", "POST", path, superTok, `{"why":"x"}`, 400, "why"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			w := newWorld(t)
			rec := w.do(tc.method, tc.path, tc.token, tc.body)
			if rec.Code != tc.status {
				t.Fatalf("status %d, want %d: %s", rec.Code, tc.status, rec.Body)
			}
			if tc.status == 400 {
				wantRefusedBeforeCore(t, w, rec, tc.status, tc.field)
			}
			if calls := w.core.Calls(); len(calls) != 0 {
				t.Errorf("core called: %v", calls)
			}
		})
	}
	// An undefined variable is the core's 404, as for a call's variables.
	w = newWorld(t)
	w.core.err = fmt.Errorf("reveal: %w", cad.ErrUnknownVariable)
	if rec := w.do("POST", path, superTok, ""); rec.Code != http.StatusNotFound || decodeErr(t, rec).Field != "name" {
		t.Errorf("unknown variable: %d %s", rec.Code, rec.Body)
	}
}

// TestEditOfANameTandemSetsNamesTheVariable: the core's refusal of an edit
// of callback_id is about the name, not the value.
func TestEditOfANameTandemSetsNamesTheVariable(t *testing.T) {
	w := newWorld(t)
	w.core.err = fmt.Errorf("edit: %w", &cad.ValueError{Name: "callback_id", Rule: cad.RuleReserved, Msg: "is set by Tandem itself"})
	rec := w.do("PUT", "/v1/agents/1001/call/variables/callback_id", agentTok, `{"value":"evil","version":1}`)
	eb := wantCoreErrorMapped(t, w, rec, 400, "name")
	if eb.Rule != cad.RuleReserved {
		t.Errorf("rule %q", eb.Rule)
	}
}
