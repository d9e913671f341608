package api

import (
	"encoding/json"
	"fmt"
	"log/slog"
	"net/http"
	"strings"
	"testing"

	"github.com/tandem-cc/tandem/errs"
)

// pagesWorld is the API over a fake core with the replicas the settings
// report.
func pagesWorld(t *testing.T) *world {
	t.Helper()
	w := newWorld(t)
	w.h = New(w.core, testAuth, slog.New(slog.NewJSONHandler(w.logs, nil)),
		WithReplicas([]string{"http://10.0.0.1:8080", "http://10.0.0.2:8080"}))
	return w
}

// TestPageReadsAnswerTheContractShapes: each read the pages make answers
// the JSON the contract gives, byte for byte, from what the core returns.
func TestPageReadsAnswerTheContractShapes(t *testing.T) {
	for _, tc := range []struct {
		name, path, token, call, want string
	}{
		{"agents as an agent: no endpoint, no call", "/v1/agents", agentTok, "Agents()",
			`{"agents":[{"id":"1001","state":"connected","since":"2025-01-02T03:04:05Z","queues":["sales"]},` +
				`{"id":"1002","state":"idle","since":"2025-01-02T03:04:05Z","reason":"lunch","queues":["support"]}]}`},
		{"agents as a supervisor", "/v1/agents", superTok, "Agents()",
			`{"agents":[{"id":"1001","state":"connected","since":"2025-01-02T03:04:05Z","queues":["sales"],"endpoint":"PJSIP/1001",` +
				`"call":{"connection_id":"c-1","queue":"sales","state":"held","since":"2025-01-02T03:03:05Z"}},` +
				`{"id":"1002","state":"idle","since":"2025-01-02T03:04:05Z","reason":"lunch","queues":["support"],"endpoint":"PJSIP/1002"}]}`},
		{"queues as an agent: no caller's number", "/v1/queues", agentTok, "Queues()",
			`{"queues":[` +
				`{"name":"sales","waiting":[{"connection_id":"c-2","ani":"","priority":0,"queued_at":"2025-01-02T03:04:05Z","wait_seconds":3}],"agents":{"available":["1001"]},"stats":{"answered":3,"answered_within_sl":0,"abandoned":0,"service_level_threshold_s":0,"service_level":0.75,"abandon_rate":0,"asa_s":0,"longest_wait_s":0},"pending_callbacks":2},` +
				`{"name":"support","waiting":[],"agents":{"available":["1001"]},"stats":{"answered":3,"answered_within_sl":0,"abandoned":0,"service_level_threshold_s":0,"service_level":0.75,"abandon_rate":0,"asa_s":0,"longest_wait_s":0},"pending_callbacks":2}]}`},
		{"queues as a supervisor", "/v1/queues", superTok, "Queues()",
			`{"queues":[` +
				`{"name":"sales","waiting":[{"connection_id":"c-2","ani":"+15550000002","priority":0,"queued_at":"2025-01-02T03:04:05Z","wait_seconds":3}],"agents":{"available":["1001"]},"stats":{"answered":3,"answered_within_sl":0,"abandoned":0,"service_level_threshold_s":0,"service_level":0.75,"abandon_rate":0,"asa_s":0,"longest_wait_s":0},"pending_callbacks":2},` +
				`{"name":"support","waiting":[],"agents":{"available":["1001"]},"stats":{"answered":3,"answered_within_sl":0,"abandoned":0,"service_level_threshold_s":0,"service_level":0.75,"abandon_rate":0,"asa_s":0,"longest_wait_s":0},"pending_callbacks":2}]}`},
		{"a queue as an agent: no caller's number", "/v1/queues/sales", agentTok, "Queue(sales)",
			`{"name":"sales","waiting":[{"connection_id":"c-2","ani":"","priority":0,"queued_at":"2025-01-02T03:04:05Z","wait_seconds":3}],"agents":{"available":["1001"]},"pending_callbacks":0}`},
		{"a queue as a supervisor", "/v1/queues/sales", superTok, "Queue(sales)",
			`{"name":"sales","waiting":[{"connection_id":"c-2","ani":"+15550000002","priority":0,"queued_at":"2025-01-02T03:04:05Z","wait_seconds":3}],"agents":{"available":["1001"]},"pending_callbacks":0}`},
		{"a queue's history", "/v1/queues/sales/history", agentTok, "QueueHistory(sales)",
			`{"queue":"sales","interval_s":30,"samples":[{"at":"2025-01-02T03:04:05Z","waiting":2,"service_level":0.5},` +
				`{"at":"2025-01-02T03:04:35Z","waiting":1,"service_level":0.75}]}`},
		{"settings", "/v1/settings", agentTok, "DesktopSettings()",
			`{"idle_reasons":["break","lunch"],"wrapup":{"codes":["resolved","follow-up"],"default_code":"resolved","timeout_s":30},` +
				`"queues":[{"name":"sales","variables":[{"name":"ACCOUNT","label":"Account","type":"string","editable":false,"secure":false,"order":1,"popup":true},` +
				`{"name":"CARD","label":"Card","type":"string","editable":false,"secure":true,"order":2,"popup":true}]}],` +
				`"replicas":["http://10.0.0.1:8080","http://10.0.0.2:8080"]}`},
		{"callbacks", "/v1/callbacks", superTok, "Callbacks()",
			`{"callbacks":[{"id":"cb-1","queue":"sales","kind":"web","number":"+12025550123","state":"pending","requested_at":"2025-01-02T03:04:05Z","attempts":0},` +
				`{"id":"cb-2","queue":"sales","kind":"scheduled","number":"+12025550123","state":"dialing","requested_at":"2025-01-02T03:05:05Z","due_at":"2025-01-02T04:04:05Z","attempts":1}]}`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			w := pagesWorld(t)
			rec := w.do("GET", tc.path, tc.token, "")
			if rec.Code != http.StatusOK {
				t.Fatalf("status %d: %s", rec.Code, rec.Body)
			}
			if got := strings.TrimSpace(rec.Body.String()); got != tc.want {
				t.Errorf("body\n%s\nwant\n%s", got, tc.want)
			}
			if calls := w.core.Calls(); len(calls) != 1 || calls[0] != tc.call {
				t.Errorf("core calls %q, want %q", calls, tc.call)
			}
		})
	}
}

// TestSettingsWithoutReplicasIsAnEmptyList: no web.replicas is [] (the
// page's own origin), not null.
func TestSettingsWithoutReplicasIsAnEmptyList(t *testing.T) {
	w := newWorld(t)
	rec := w.do("GET", "/v1/settings", superTok, "")
	var body struct {
		Replicas []string `json:"replicas"`
	}
	if err := json.Unmarshal(rec.Body.Bytes(), &body); err != nil || rec.Code != 200 || body.Replicas == nil || len(body.Replicas) != 0 {
		t.Fatalf("status %d body %s (%v)", rec.Code, rec.Body, err)
	}
}

func TestSetAgentQueuesReachesTheCoreAsTheSupervisor(t *testing.T) {
	w := newWorld(t)
	rec := w.do("POST", "/v1/supervisor/agents/1001/queues", superTok, `{"queues":["sales","support"],"reason":"cover support"}`)
	if rec.Code != http.StatusOK {
		t.Fatalf("status %d: %s", rec.Code, rec.Body)
	}
	want := `{"id":"1001","queues":["sales","support"],"state":"available","since":"2025-01-02T03:04:05Z"}`
	if got := strings.TrimSpace(rec.Body.String()); got != want {
		t.Errorf("body %s, want %s", got, want)
	}
	if calls := w.core.Calls(); len(calls) != 1 || calls[0] != "SetAgentQueues(1001,sales|support,cover support,supervisor:supervisor-1)" {
		t.Errorf("core calls %q", calls)
	}
}

// TestPageRoutesRefuseBadInputBeforeTheCore: tokens, ids, bodies and
// methods the new routes refuse, each naming its field, the core never
// called.
func TestPageRoutesRefuseBadInputBeforeTheCore(t *testing.T) {
	const queuesPath = "/v1/supervisor/agents/1001/queues"
	many := make([]string, maxQueues+1)
	for i := range many {
		many[i] = fmt.Sprintf("%q", fmt.Sprintf("q%d", i))
	}
	for _, tc := range []struct {
		name, method, path, token, body string
		status                          int
		field                           string
	}{
		{"agents without a token", "GET", "/v1/agents", "", "", 401, ""},
		{"agents with a wrong token", "GET", "/v1/agents", wrongTok, "", 401, ""},
		{"agents with the token in the query", "GET", "/v1/agents?access_token=" + agentTok, "", "", 401, ""},
		{"queues without a token", "GET", "/v1/queues", "", "", 401, ""},
		{"history without a token", "GET", "/v1/queues/sales/history", "", "", 401, ""},
		{"history of a bad name", "GET", "/v1/queues/sa%20les/history", agentTok, "", 400, "name"},
		{"history of a name too long", "GET", "/v1/queues/" + strings.Repeat("q", 65) + "/history", agentTok, "", 400, "name"},
		{"settings without a token", "GET", "/v1/settings", "", "", 401, ""},
		{"callbacks with an agent token", "GET", "/v1/callbacks", agentTok, "", 403, ""},
		{"callbacks without a token", "GET", "/v1/callbacks", "", "", 401, ""},
		{"queues with an agent token, its own", "POST", queuesPath, agentTok, `{"queues":["sales"],"reason":"x"}`, 403, ""},
		{"queues without a token", "POST", queuesPath, "", `{"queues":["sales"],"reason":"x"}`, 401, ""},
		{"queues of a bad agent id", "POST", "/v1/supervisor/agents/a:b/queues", superTok, `{"queues":["sales"],"reason":"x"}`, 400, "id"},
		{"queues without a body", "POST", queuesPath, superTok, "", 400, ""},
		{"queues missing", "POST", queuesPath, superTok, `{"reason":"x"}`, 400, "queues"},
		{"queues empty", "POST", queuesPath, superTok, `{"queues":[],"reason":"x"}`, 400, "queues"},
		{"queues not a list", "POST", queuesPath, superTok, `{"queues":"sales","reason":"x"}`, 400, "queues"},
		{"queue not a string", "POST", queuesPath, superTok, `{"queues":[7],"reason":"x"}`, 400, "queues"},
		{"queue with a bad name", "POST", queuesPath, superTok, `{"queues":["sales","sup port"],"reason":"x"}`, 400, "queues"},
		{"queue empty", "POST", queuesPath, superTok, `{"queues":[""],"reason":"x"}`, 400, "queues"},
		{"queue twice", "POST", queuesPath, superTok, `{"queues":["sales","sales"],"reason":"x"}`, 400, "queues"},
		{"too many queues", "POST", queuesPath, superTok, `{"queues":[` + strings.Join(many, ",") + `],"reason":"x"}`, 400, "queues"},
		{"queues without a reason", "POST", queuesPath, superTok, `{"queues":["sales"]}`, 400, "reason"},
		{"queues with a control character in the reason", "POST", queuesPath, superTok, `{"queues":["sales"],"reason":"a\u0007"}`, 400, "reason"},
		{"queues with an unknown field", "POST", queuesPath, superTok, `{"queues":["sales"],"reason":"x","state":"idle"}`, 400, "state"},
		{"agents posted", "POST", "/v1/agents", superTok, "", 405, ""},
		{"queues deleted", "DELETE", "/v1/queues", superTok, "", 405, ""},
		{"history posted", "POST", "/v1/queues/sales/history", superTok, "", 405, ""},
		{"settings put", "PUT", "/v1/settings", superTok, "", 405, ""},
		{"callbacks put", "PUT", "/v1/callbacks", superTok, "", 405, ""},
		{"agent queues read", "GET", queuesPath, superTok, "", 405, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			w := newWorld(t)
			wantRefusedBeforeCore(t, w, w.do(tc.method, tc.path, tc.token, tc.body), tc.status, tc.field)
		})
	}
}

// TestPageRoutesMapCoreErrors: what the core refuses is answered as
// every route answers it.
func TestPageRoutesMapCoreErrors(t *testing.T) {
	for _, tc := range []struct {
		name, method, path, body string
		err                      error
		status                   int
		field                    string
	}{
		{"history of a queue not configured", "GET", "/v1/queues/nope/history", "", fmt.Errorf("queue nope: %w", errs.ErrNotFound), 404, ""},
		{"agents, redis down", "GET", "/v1/agents", "", fmt.Errorf("dial 10.1.2.3:6379: refused"), 500, ""},
		{"queues, redis down", "GET", "/v1/queues", "", fmt.Errorf("dial 10.1.2.3:6379: refused"), 500, ""},
		{"callbacks, redis down", "GET", "/v1/callbacks", "", fmt.Errorf("dial 10.1.2.3:6379: refused"), 500, ""},
		{"a queue not configured", "POST", "/v1/supervisor/agents/1001/queues", `{"queues":["nope"],"reason":"x"}`,
			&errs.FieldError{Field: "queues", Msg: `unknown queue "nope"`}, 400, "queues"},
		{"an unknown agent", "POST", "/v1/supervisor/agents/1001/queues", `{"queues":["sales"],"reason":"x"}`,
			fmt.Errorf("agent 1001: %w", errs.ErrNotFound), 404, ""},
		{"a logged-out agent", "POST", "/v1/supervisor/agents/1001/queues", `{"queues":["sales"],"reason":"x"}`,
			fmt.Errorf("agent 1001 is not logged in: %w", errs.ErrIllegalTransition), 409, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			w := newWorld(t)
			w.core.err = tc.err
			wantCoreErrorMapped(t, w, w.do(tc.method, tc.path, superTok, tc.body), tc.status, tc.field)
		})
	}
}
