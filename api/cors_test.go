package api

import (
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
)

const (
	listedOrigin   = "http://127.0.0.1:8081"
	unlistedOrigin = "http://evil.example"
)

// corsWorld is the API over a fake core allowing listedOrigin.
func corsWorld(t *testing.T) *world {
	t.Helper()
	w := newWorld(t)
	w.h = New(w.core, testAuth, nil, WithAllowedOrigins([]string{listedOrigin, "http://[::1]:8082"}))
	return w
}

// request sends one request with an Origin and extra headers.
func (w *world) request(method, path, origin, token string, header map[string]string) *httptest.ResponseRecorder {
	r := httptest.NewRequest(method, path, nil)
	if origin != "" {
		r.Header.Set("Origin", origin)
	}
	if token != "" {
		r.Header.Set("Authorization", "Bearer "+token)
	}
	for k, v := range header {
		r.Header.Set(k, v)
	}
	rec := httptest.NewRecorder()
	w.h.ServeHTTP(rec, r)
	return rec
}

// accessControl are the Access-Control-* headers of an answer.
func accessControl(h http.Header) map[string]string {
	out := map[string]string{}
	for k := range h {
		if strings.HasPrefix(k, "Access-Control-") {
			out[k] = h.Get(k)
		}
	}
	return out
}

var preflight = map[string]string{"Access-Control-Request-Method": "POST", "Access-Control-Request-Headers": "authorization,content-type"}

// TestPreflightOfAListedOriginIsAllowed: a browser's preflight on any
// /v1/ path is answered 204 without a token, the core never called.
func TestPreflightOfAListedOriginIsAllowed(t *testing.T) {
	for _, origin := range []string{listedOrigin, "http://[::1]:8082"} {
		for _, path := range []string{"/v1/agents/1001/call/hold", "/v1/supervisor/agents/1001/queues", "/v1/no-such-route"} {
			w := corsWorld(t)
			rec := w.request("OPTIONS", path, origin, "", preflight)
			want := map[string]string{
				"Access-Control-Allow-Origin":   origin,
				"Access-Control-Allow-Methods":  "GET, POST, PUT, DELETE",
				"Access-Control-Allow-Headers":  "Authorization, Content-Type",
				"Access-Control-Max-Age":        "600",
				"Access-Control-Expose-Headers": "Retry-After, Location, WWW-Authenticate",
			}
			got := accessControl(rec.Header())
			if rec.Code != http.StatusNoContent || len(got) != len(want) || rec.Header().Get("Vary") != "Origin" {
				t.Errorf("%s from %s: status %d, headers %v (Vary %q), want 204 with %v", path, origin, rec.Code, got, rec.Header().Get("Vary"), want)
			}
			for k, v := range want {
				if got[k] != v {
					t.Errorf("%s from %s: %s = %q, want %q", path, origin, k, got[k], v)
				}
			}
			if calls := w.core.Calls(); len(calls) != 0 {
				t.Errorf("a preflight reached the core: %v", calls)
			}
		}
	}
}

// TestOriginNotListedGetsNoCORSHeaders: the browser then keeps the
// answer from the page (and refuses to send after a preflight). The
// answer still says it varies by Origin: a cache must not hand it to a
// listed origin (which it would block), nor a listed origin's to this one.
func TestOriginNotListedGetsNoCORSHeaders(t *testing.T) {
	w := corsWorld(t)
	if rec := w.request("OPTIONS", "/v1/agents/1001/call/hold", unlistedOrigin, "", preflight); rec.Code != http.StatusNoContent ||
		len(accessControl(rec.Header())) != 0 || rec.Header().Get("Vary") != "Origin" {
		t.Errorf("preflight from an unlisted origin: %d %v", rec.Code, rec.Header())
	}
	rec := w.request("GET", "/v1/agents", unlistedOrigin, agentTok, nil)
	if rec.Code != http.StatusOK || len(accessControl(rec.Header())) != 0 || rec.Header().Get("Vary") != "Origin" {
		t.Errorf("GET from an unlisted origin: %d %v", rec.Code, rec.Header())
	}
	// Without an Origin (not a browser's cross-origin request) nothing
	// varies.
	if rec := w.request("GET", "/v1/agents", "", agentTok, nil); rec.Code != http.StatusOK || len(accessControl(rec.Header())) != 0 ||
		rec.Header().Get("Vary") != "" {
		t.Errorf("GET without an Origin: %d %v", rec.Code, rec.Header())
	}
	// Without any origin configured, the same.
	plain := newWorld(t)
	if rec := plain.request("OPTIONS", "/v1/agents", listedOrigin, "", preflight); rec.Code != http.StatusNoContent || len(accessControl(rec.Header())) != 0 ||
		rec.Header().Get("Vary") != "Origin" {
		t.Errorf("preflight with no origin configured: %d %v", rec.Code, accessControl(rec.Header()))
	}
}

// TestListedOriginReadsAnswersAndErrors: the answers to a listed origin
// carry its Access-Control-Allow-Origin, errors included, so the page
// shows the API's message; never a credentials header.
func TestListedOriginReadsAnswersAndErrors(t *testing.T) {
	w := corsWorld(t)
	for _, tc := range []struct {
		method, path, token string
		status              int
	}{
		{"GET", "/v1/agents", agentTok, http.StatusOK},
		{"POST", "/v1/agents/1001/call/hold", agentTok, http.StatusOK},
		{"GET", "/v1/agents", "", http.StatusUnauthorized},
		{"GET", "/v1/callbacks", agentTok, http.StatusForbidden},
		{"GET", "/healthz", "", http.StatusOK},
	} {
		rec := w.request(tc.method, tc.path, listedOrigin, tc.token, nil)
		h := rec.Header()
		if rec.Code != tc.status || h.Get("Access-Control-Allow-Origin") != listedOrigin || h.Get("Vary") != "Origin" ||
			h.Get("Access-Control-Allow-Credentials") != "" || h.Get("Access-Control-Allow-Methods") != "" {
			t.Errorf("%s %s: %d, headers %v", tc.method, tc.path, rec.Code, h)
		}
	}
}

// TestOptionsThatIsNoPreflightIsARoute: without the preflight's headers,
// or off /v1/, OPTIONS goes to the routes like any other method.
func TestOptionsThatIsNoPreflightIsARoute(t *testing.T) {
	w := corsWorld(t)
	for _, tc := range []struct {
		path, origin string
		header       map[string]string
	}{
		{"/v1/agents", listedOrigin, nil},
		{"/v1/agents", "", preflight},
		{"/healthz", listedOrigin, preflight},
	} {
		rec := w.request("OPTIONS", tc.path, tc.origin, agentTok, tc.header)
		if rec.Code != http.StatusMethodNotAllowed {
			t.Errorf("OPTIONS %s (origin %q, %v): %d, want 405", tc.path, tc.origin, tc.header, rec.Code)
		}
		decodeErr(t, rec)
	}
}
