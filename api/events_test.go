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

	"github.com/coder/websocket"
	"github.com/coder/websocket/wsjson"

	"github.com/tandem-cc/tandem/acd"
	"github.com/tandem-cc/tandem/agents"
	"github.com/tandem-cc/tandem/errs"
)

// serve runs the API on a real listener; cancelling the returned context
// plays the replica shutting down (it is the server's BaseContext).
func serve(t *testing.T, core *fakeCore, logs *syncBuffer) (*httptest.Server, context.CancelFunc) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	// Pings every 20 ms: the clients of these tests answer them while they
	// read, so a stream that works is also one that survives many pings.
	srv := httptest.NewUnstartedServer(New(core, testAuth, slog.New(slog.NewJSONHandler(logs, nil)),
		WithKeepalive(20*time.Millisecond, 5*time.Second)))
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
	return dialPath(t, srv, "/v1/agents/"+id+"/events", token, query)
}

func dialPath(t *testing.T, srv *httptest.Server, path, token string, query bool) (*websocket.Conn, error) {
	t.Helper()
	u := "ws" + strings.TrimPrefix(srv.URL, "http") + path
	if query {
		u += "?access_token=" + token
	}
	h := http.Header{}
	if !query {
		h.Set("Authorization", "Bearer "+token)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	conn, _, err := websocket.Dial(ctx, u, &websocket.DialOptions{HTTPHeader: h})
	if err == nil {
		t.Cleanup(func() { _ = conn.CloseNow() })
	}
	return conn, err
}

// recv reads one JSON event (answering pings meanwhile), for at most 5 s.
func recv(conn *websocket.Conn, v any) error {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	return wsjson.Read(ctx, conn, v)
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
				if err := recv(conn, &got); err != nil {
					t.Fatalf("event %d: %v", i, err)
				}
				if got.ConnectionID != want.ConnectionID || !got.At.Equal(want.At) || got.Attached["CUSTOMER_ID"] != want.Attached["CUSTOMER_ID"] {
					t.Fatalf("event %d = %+v, want %+v", i, got, want)
				}
			}
			// The subscription ended: the server closes the socket with a
			// close handshake, normal closure.
			var extra acd.AgentEvent
			if err := recv(conn, &extra); websocket.CloseStatus(err) != websocket.StatusNormalClosure {
				t.Fatalf("after the last event: %v (event %+v), want a normal close", err, extra)
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
	if err := recv(conn, &ev); err != nil {
		t.Fatal(err)
	}
	// Close returns nil only once the server has answered the client's
	// close frame with its own: a close handshake, not a dropped socket.
	if err := conn.Close(websocket.StatusNormalClosure, "bye"); err != nil {
		t.Fatalf("close handshake: %v", err)
	}
	select {
	case <-core.subEnded:
	case <-time.After(5 * time.Second):
		t.Fatal("subscription still running after the client left")
	}
}

// A client that stops reading answers no ping (pongs are sent by the
// client's reader): the server drops it and ends the subscription.
func TestEventsDropAClientThatStopsAnsweringPings(t *testing.T) {
	core := newFakeCore()
	core.keepOpen = true
	logs := &syncBuffer{}
	ctx, cancel := context.WithCancel(context.Background())
	srv := httptest.NewUnstartedServer(New(core, testAuth, slog.New(slog.NewJSONHandler(logs, nil)),
		WithKeepalive(20*time.Millisecond, 50*time.Millisecond)))
	srv.Config.BaseContext = func(net.Listener) context.Context { return ctx }
	srv.Start()
	t.Cleanup(func() { cancel(); srv.Close() })

	if _, err := dial(t, srv, agentID, agentTok, false); err != nil {
		t.Fatal(err)
	}
	// The client never reads again.
	select {
	case <-core.subEnded:
	case <-time.After(10 * time.Second):
		t.Fatal("subscription still running though the client answers no ping")
	}
	waitForLog(t, logs, `"msg":"event stream client stopped answering pings"`)
	waitForLog(t, logs, `"msg":"event stream closed","agent_id":"1001","reason":"no pong"`)
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
	if err := recv(conn, &ev); websocket.CloseStatus(err) != websocket.StatusGoingAway {
		t.Fatalf("after shutdown: %v (event %+v), want a going-away close", err, ev)
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
		{"unknown agent", agentTok, false, fmt.Errorf("subscribe: %w", errs.ErrNotFound), http.StatusNotFound},
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
