package e2e

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/coder/websocket"
	"github.com/coder/websocket/wsjson"

	"github.com/tandem-cc/tandem/acd"
	"github.com/tandem-cc/tandem/agents"
	"github.com/tandem-cc/tandem/api"
	"github.com/tandem-cc/tandem/config"
	"github.com/tandem-cc/tandem/internal/lab"
	"github.com/tandem-cc/tandem/pbxsim"
)

func call(t *testing.T, srv *httptest.Server, method, path, token, body string) (int, map[string]any) {
	t.Helper()
	req, _ := http.NewRequest(method, srv.URL+path, strings.NewReader(body))
	req.Header.Set("Authorization", "Bearer "+token)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = resp.Body.Close() }()
	data, _ := io.ReadAll(resp.Body)
	var out map[string]any
	_ = json.Unmarshal(data, &out)
	return resp.StatusCode, out
}

// TestAgentDesktopThroughAPI drives an agent through the HTTP API of a real
// engine: login, available, screen pop on the WebSocket, queue view, and
// the refusals (another agent's actions, bad input) that change nothing.
func TestAgentDesktopThroughAPI(t *testing.T) {
	forEachPBX(t, func(t *testing.T, pbx lab.PBXKind) {
		l := startLabOn(t, pbx, 1, 5*time.Second, nil)
		auth := config.Auth{
			Agents:      []config.AgentToken{{Agent: "a1", Token: "tok-a1"}, {Agent: "a2", Token: "tok-a2"}},
			Supervisors: []config.SupervisorToken{{Token: "tok-sup"}},
		}
		srv := httptest.NewServer(api.New(l.Replicas[0].Engine, auth, nil))
		defer srv.Close()
		ep := l.Endpoint("1001")
		l.PBX.SetPhone(ep, pbxsim.Phone{Mode: pbxsim.Answer, RingFor: 300 * time.Millisecond})
		loginBody := func(queue string) string { return fmt.Sprintf(`{"endpoint":%q,"queues":[%q]}`, ep, queue) }

		// Bad input: 400 naming the field, and no agent is created.
		st, body := call(t, srv, "POST", "/v1/agents/a1/login", "tok-a1", loginBody("nope"))
		if st != 400 || body["field"] != "queues" {
			t.Fatalf("unknown queue: %d %v", st, body)
		}
		if st, _ := call(t, srv, "GET", "/v1/agents/a1", "tok-sup", ""); st != 404 {
			t.Fatalf("a refused login left an agent behind: %d", st)
		}
		// An agent cannot act for another.
		if st, _ := call(t, srv, "POST", "/v1/agents/a1/login", "tok-a2", loginBody("sales")); st != 403 {
			t.Fatalf("a2 logging a1 in: %d", st)
		}
		if st, body := call(t, srv, "POST", "/v1/agents/a1/login", "tok-a1", loginBody("sales")); st != 200 || body["state"] != string(agents.Idle) {
			t.Fatalf("login: %d %v", st, body)
		}

		dctx, cancelDial := context.WithTimeout(context.Background(), 5*time.Second)
		ws, _, err := websocket.Dial(dctx, strings.Replace(srv.URL, "http", "ws", 1)+"/v1/agents/a1/events?access_token=tok-a1", nil)
		cancelDial()
		if err != nil {
			t.Fatal(err)
		}
		defer func() { _ = ws.CloseNow() }()
		if st, body := call(t, srv, "POST", "/v1/agents/a1/available", "tok-a1", ""); st != 200 || body["state"] != string(agents.Available) {
			t.Fatalf("available: %d %v", st, body)
		}
		if _, err := l.PBX.Call(pbxsim.Caller{ANI: "5557777", DNIS: "800", Vars: map[string]string{"ORDER": "A-17"}}); err != nil {
			t.Fatal(err)
		}
		rctx, cancelRead := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancelRead()
		var pop acd.AgentEvent
		for pop.Type != "offered" {
			if err := wsjson.Read(rctx, ws, &pop); err != nil {
				t.Fatalf("desktop: %v", err)
			}
		}
		if pop.ANI != "5557777" || pop.DNIS != "800" || pop.Queue != "sales" || pop.Attached["ORDER"] != "A-17" || pop.ConnectionID == "" {
			t.Fatalf("screen pop %+v", pop)
		}
		// While ringing, logout is refused and changes nothing.
		if st, body := call(t, srv, "POST", "/v1/agents/a1/logout", "tok-a1", ""); st != 409 {
			t.Fatalf("logout while ringing: %d %v", st, body)
		}
		st, body = call(t, srv, "GET", "/v1/agents/a1", "tok-a1", "")
		if st != 200 || (body["state"] != string(agents.Ringing) && body["state"] != string(agents.Connected)) {
			t.Fatalf("agent after refused logout: %d %v", st, body)
		}
		waitState(t, l, pop.ConnectionID, "connected")
		st, body = call(t, srv, "GET", "/v1/queues/sales", "tok-sup", "")
		if st != 200 {
			t.Fatalf("queue: %d %v", st, body)
		}
		byState, _ := body["agents"].(map[string]any)
		if list, _ := byState["connected"].([]any); len(list) != 1 || list[0] != "a1" {
			t.Fatalf("queue agents %v", body)
		}
	})
}
