package api

import (
	"context"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"golang.org/x/net/websocket"

	"github.com/tandem-cc/tandem/acd"
	"github.com/tandem-cc/tandem/agents"
)

// serve runs the API on a real listener; cancelling the returned context
// plays the replica shutting down (it is the server's BaseContext).
func serve(t *testing.T, core *fakeCore, logs *syncBuffer) (*httptest.Server, context.CancelFunc) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	srv := httptest.NewUnstartedServer(New(core, testAuth, slog.New(slog.NewJSONHandler(logs, nil))))
	srv.Config.BaseContext = func(net.Listener) context.Context { return ctx }
	srv.Start()
	t.Cleanup(func() {
		cancel()
		srv.Close()
	})
	return srv, cancel
}

// dial opens the agent's event socket with the token in a header, or in
// the query when query is true.
func dial(t *testing.T, srv *httptest.Server, id, token string, query bool) (*websocket.Conn, error) {
	t.Helper()
	u := "ws" + strings.TrimPrefix(srv.URL, "http") + "/v1/agents/" + id + "/events"
	if query {
		u += "?access_token=" + token
	}
	cfg, err := websocket.NewConfig(u, "http://desktop.example/")
	if err != nil {
		t.Fatal(err)
	}
	if !query {
		cfg.Header.Set("Authorization", "Bearer "+token)
	}
	conn, err := websocket.DialConfig(cfg)
	if err == nil {
		t.Cleanup(func() { _ = conn.Close() })
		_ = conn.SetReadDeadline(time.Now().Add(5 * time.Second))
	}
	return conn, err
}

func someEvents(n int) []acd.AgentEvent {
	evs := make([]acd.AgentEvent, n)
	for i := range evs {
		evs[i] = acd.AgentEvent{
			Type: "offered", Agent: agentID, State: agents.Ringing,
			At:           since.Add(time.Duration(i) * time.Millisecond),
			ConnectionID: fmt.Sprintf("c%03d", i), Queue: "sales",
			Attached: map[string]string{"CUSTOMER_ID": fmt.Sprint(i)},
		}
	}
	return evs
}

func TestEventsDeliveredInOrderThenClosed(t *testing.T) {
	for _, tc := range []struct {
		name  string
		token string
		query bool
	}{
		{"agent token in header", agentTok, false},
		{"agent token in query", agentTok, true},
		{"supervisor token in query", superTok, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			core := newFakeCore()
			core.events = someEvents(200)
			logs := &syncBuffer{}
			srv, _ := serve(t, core, logs)
			conn, err := dial(t, srv, agentID, tc.token, tc.query)
			if err != nil {
				t.Fatal(err)
			}
			for i, want := range core.events {
				var got acd.AgentEvent
				if err := websocket.JSON.Receive(conn, &got); err != nil {
					t.Fatalf("event %d: %v", i, err)
				}
				if got.ConnectionID != want.ConnectionID || !got.At.Equal(want.At) || got.Attached["CUSTOMER_ID"] != want.Attached["CUSTOMER_ID"] {
					t.Fatalf("event %d = %+v, want %+v", i, got, want)
				}
			}
			// The subscription ended: the server closes the socket.
			var extra acd.AgentEvent
			if err := websocket.JSON.Receive(conn, &extra); err == nil {
				t.Fatalf("socket still open, got %+v", extra)
			}
			if calls := core.Calls(); len(calls) != 1 || calls[0] != "SubscribeAgent(1001)" {
				t.Errorf("core calls %v", calls)
			}
			waitForLog(t, logs, `"msg":"event stream closed","agent_id":"1001"`)
			if strings.Contains(logs.String(), tc.token) {
				t.Error("log leaks the token")
			}
		})
	}
}

// waitForLog waits for a line the stream handler logs as it ends. The
// handler runs on a hijacked connection, which httptest.Server.Close does
// not wait for, so its last line may come after the client saw the close.
func waitForLog(t *testing.T, logs *syncBuffer, fragment string) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for !strings.Contains(logs.String(), fragment) {
		if time.Now().After(deadline) {
			t.Fatalf("log lacks %s: %s", fragment, logs)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

func TestEventsEndWhenClientLeaves(t *testing.T) {
	core := newFakeCore()
	core.events = someEvents(1)
	core.keepOpen = true
	srv, _ := serve(t, core, &syncBuffer{})
	conn, err := dial(t, srv, agentID, agentTok, false)
	if err != nil {
		t.Fatal(err)
	}
	var ev acd.AgentEvent
	if err := websocket.JSON.Receive(conn, &ev); err != nil {
		t.Fatal(err)
	}
	_ = conn.Close()
	select {
	case <-core.subEnded:
	case <-time.After(5 * time.Second):
		t.Fatal("subscription still running after the client left")
	}
}

func TestEventsEndWhenServerContextEnds(t *testing.T) {
	core := newFakeCore()
	core.keepOpen = true
	srv, stop := serve(t, core, &syncBuffer{})
	conn, err := dial(t, srv, agentID, agentTok, false)
	if err != nil {
		t.Fatal(err)
	}
	stop()
	var ev acd.AgentEvent
	if err := websocket.JSON.Receive(conn, &ev); err == nil {
		t.Fatalf("socket still open after shutdown, got %+v", ev)
	}
	select {
	case <-core.subEnded:
	case <-time.After(5 * time.Second):
		t.Fatal("subscription still running after shutdown")
	}
}

func TestEventsRefusedBeforeUpgrade(t *testing.T) {
	for _, tc := range []struct {
		name, token string
		query       bool
		coreErr     error
		want        int
	}{
		{"other agent's token", otherTok, true, nil, http.StatusForbidden},
		{"bad token", "nope", true, nil, http.StatusUnauthorized},
		{"unknown agent", agentTok, false, fmt.Errorf("subscribe: %w", agents.ErrNotFound), http.StatusNotFound},
	} {
		t.Run(tc.name, func(t *testing.T) {
			w := newWorld(t)
			w.core.err = tc.coreErr
			path := "/v1/agents/1001/events"
			if tc.query {
				path += "?access_token=" + tc.token
			}
			r := httptest.NewRequest("GET", path, nil)
			if !tc.query {
				r.Header.Set("Authorization", "Bearer "+tc.token)
			}
			r.Header.Set("Upgrade", "websocket")
			r.Header.Set("Connection", "keep-alive, Upgrade")
			rec := httptest.NewRecorder()
			w.h.ServeHTTP(rec, r)
			if rec.Code != tc.want {
				t.Fatalf("status %d, want %d: %s", rec.Code, tc.want, rec.Body)
			}
			decodeErr(t, rec)
			if strings.Contains(w.logs.String(), tc.token) {
				t.Error("log leaks the token")
			}
		})
	}
}
