package api

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/coder/websocket"

	"github.com/tandem-cc/tandem/acd"
)

// serveOrigins runs the API on a real listener, allowing listedOrigin.
func serveOrigins(t *testing.T, core *fakeCore) *httptest.Server {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	srv := httptest.NewUnstartedServer(New(core, testAuth, slog.New(slog.DiscardHandler),
		WithAllowedOrigins([]string{listedOrigin})))
	srv.Config.BaseContext = func(net.Listener) context.Context { return ctx }
	srv.Start()
	t.Cleanup(func() {
		cancel()
		srv.Close()
	})
	return srv
}

// browserDial opens path as a browser does: no Authorization header, the
// token offered as the subprotocols "tandem" and "bearer.<base64url>",
// and an Origin ("" for none).
func browserDial(srv *httptest.Server, path string, protocols []string, origin string) (*websocket.Conn, *http.Response, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	h := http.Header{}
	if origin != "" {
		h.Set("Origin", origin)
	}
	return websocket.Dial(ctx, "ws"+strings.TrimPrefix(srv.URL, "http")+path,
		&websocket.DialOptions{Subprotocols: protocols, HTTPHeader: h})
}

func bearerProtocol(token string) string {
	return "bearer." + base64.RawURLEncoding.EncodeToString([]byte(token))
}

// TestWebSocketTokenAsSubprotocol: a browser's socket authenticates with
// the token in the offered subprotocols; the server answers "tandem" and
// never the one holding the token, and the events flow.
func TestWebSocketTokenAsSubprotocol(t *testing.T) {
	for _, tc := range []struct {
		name, path, token, call string
	}{
		{"agent's own events", "/v1/agents/1001/events", agentTok, "SubscribeAgent(1001)"},
		{"an agent's events, supervisor token", "/v1/agents/1001/events", superTok, "SubscribeAgent(1001)"},
		{"every agent's events", "/v1/events", superTok, "SubscribeSupervisor()"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			core := newFakeCore()
			core.events = someEvents(3)
			srv := serveOrigins(t, core)
			conn, resp, err := browserDial(srv, tc.path, []string{"tandem", bearerProtocol(tc.token)}, "")
			if err != nil {
				t.Fatalf("dial: %v", err)
			}
			defer func() { _ = conn.CloseNow() }()
			if conn.Subprotocol() != "tandem" || resp.Header.Values("Sec-WebSocket-Protocol")[0] != "tandem" || len(resp.Header.Values("Sec-WebSocket-Protocol")) != 1 {
				t.Errorf("subprotocol %q, header %q: want tandem only", conn.Subprotocol(), resp.Header.Values("Sec-WebSocket-Protocol"))
			}
			for i, want := range core.events {
				var got acd.AgentEvent
				if err := recv(conn, &got); err != nil || got.ConnectionID != want.ConnectionID {
					t.Fatalf("event %d: %+v %v", i, got, err)
				}
			}
			if calls := core.Calls(); len(calls) != 1 || calls[0] != tc.call {
				t.Errorf("core calls %q, want %q", calls, tc.call)
			}
		})
	}
}

// TestWebSocketBadSubprotocolTokenIsRefused: a token offered as a
// subprotocol is judged as one in the header: the same 401 (or 403) JSON,
// before any upgrade or subscription.
func TestWebSocketBadSubprotocolTokenIsRefused(t *testing.T) {
	for _, tc := range []struct {
		name, path string
		protocols  []string
		status     int
	}{
		{"wrong token", "/v1/agents/1001/events", []string{"tandem", bearerProtocol(wrongTok)}, 401},
		{"not base64url", "/v1/agents/1001/events", []string{"tandem", "bearer.tok+en/="}, 401},
		// A good token, but padded: "=" is no token character of a
		// subprotocol, and the contract says no padding.
		{"padded base64", "/v1/agents/1001/events", []string{"tandem", "bearer." + base64.URLEncoding.EncodeToString([]byte(agentTok))}, 401},
		{"no token at all", "/v1/agents/1001/events", []string{"tandem"}, 401},
		{"another agent's token", "/v1/agents/1002/events", []string{"tandem", bearerProtocol(agentTok)}, 403},
		{"agent token on every agent's events", "/v1/events", []string{"tandem", bearerProtocol(agentTok)}, 403},
	} {
		t.Run(tc.name, func(t *testing.T) {
			core := newFakeCore()
			srv := serveOrigins(t, core)
			conn, resp, err := browserDial(srv, tc.path, tc.protocols, "")
			if err == nil {
				_ = conn.CloseNow()
				t.Fatal("dial succeeded")
			}
			if resp == nil || resp.StatusCode != tc.status {
				t.Fatalf("dial: %v (response %+v), want %d", err, resp, tc.status)
			}
			body, _ := io.ReadAll(resp.Body)
			var eb errorBody
			if err := json.Unmarshal(body, &eb); err != nil || eb.Error == "" || !strings.HasPrefix(resp.Header.Get("Content-Type"), "application/json") {
				t.Errorf("not a JSON error: %q (%v)", body, err)
			}
			if tc.status == 401 && resp.Header.Get("WWW-Authenticate") == "" {
				t.Error("401 without WWW-Authenticate")
			}
			if calls := core.Calls(); len(calls) != 0 {
				t.Errorf("core called: %v", calls)
			}
		})
	}
}

// TestWebSocketSubprotocolTokenOnlyOnWebSocketRoutes: elsewhere a token
// in Sec-WebSocket-Protocol is not a token.
func TestWebSocketSubprotocolTokenOnlyOnWebSocketRoutes(t *testing.T) {
	w := newWorld(t)
	r := httptest.NewRequest("GET", "/v1/agents/1001", nil)
	r.Header.Set("Sec-WebSocket-Protocol", "tandem, "+bearerProtocol(agentTok))
	rec := httptest.NewRecorder()
	w.h.ServeHTTP(rec, r)
	wantRefusedBeforeCore(t, w, rec, http.StatusUnauthorized, "")
}

// TestWebSocketOrigins: a page of this replica's origin or of a listed
// one may open the socket; a page of another site may not, even with a
// good token. A client that sends no Origin (not a browser) is not asked.
func TestWebSocketOrigins(t *testing.T) {
	for _, tc := range []struct {
		name, origin string
		ok           bool
	}{
		{"listed origin", listedOrigin, true},
		{"same origin", "", true}, // filled in below with the server's
		{"no origin", "-", true},
		{"other site", unlistedOrigin, false},
		{"listed host, other scheme", "https://127.0.0.1:8081", false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			core := newFakeCore()
			core.keepOpen = true
			srv := serveOrigins(t, core)
			origin := tc.origin
			switch origin {
			case "":
				origin = srv.URL
			case "-":
				origin = ""
			}
			conn, resp, err := browserDial(srv, "/v1/agents/1001/events", []string{"tandem", bearerProtocol(agentTok)}, origin)
			if tc.ok {
				if err != nil {
					t.Fatalf("dial from %q: %v", origin, err)
				}
				_ = conn.Close(websocket.StatusNormalClosure, "")
				return
			}
			if err == nil {
				_ = conn.CloseNow()
				t.Fatalf("dial from %q succeeded", origin)
			}
			if resp == nil || resp.StatusCode != http.StatusForbidden {
				t.Fatalf("dial from %q: %v (%+v), want 403", origin, err, resp)
			}
			body, _ := io.ReadAll(resp.Body)
			var eb errorBody
			if err := json.Unmarshal(body, &eb); err != nil || !strings.Contains(eb.Error, "http.allowed_origins") {
				t.Errorf("not a JSON error naming the setting: %q (%v)", body, err)
			}
			if calls := core.Calls(); len(calls) != 0 {
				t.Errorf("refused page subscribed: %v", calls)
			}
		})
	}
}
