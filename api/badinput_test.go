package api_test

import (
	"cmp"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"maps"
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/tandem-cc/tandem/api"
)

// access is who a route lets in.
type access int

const (
	public            access = iota // no token
	anyToken                        // any valid token, agent or supervisor
	agentOrSupervisor               // the token of the path's agent, or a supervisor's
	supervisorOnly                  // a supervisor's token; an agent's is 403
)

// bodyMode is how a route reads its body.
type bodyMode int

const (
	noBody   bodyMode = iota // never read
	optional                 // empty, or one JSON object
	required                 // one JSON object
)

// tableRow is one route of the API: who may use it, a path to it with the
// ids of the table's world (see startTableWorld; $conn and $cb are a1's
// call and the pending callback), and its body. Every row's path names
// something a request that got through would change, so a refusal that
// is not one shows in Redis.
type tableRow struct {
	route  string // "METHOD pattern", as api.Routes lists it
	access access
	path   string
	body   bodyMode
	// valid is a body the route accepts: the token, method and id cases
	// send it, so that only what they test is wrong.
	valid string
	// wrongType is the valid body with one field of the wrong JSON type,
	// and wrongField that field ("" when the body has no fields).
	wrongType, wrongField string
	// unknown is the status of a well-formed id that names nothing, by
	// wildcard (absent: not checked; e.g. logging in an unknown id is
	// how an agent starts).
	unknown map[string]int
	// upgrade: a WebSocket route, where a plain GET is 426 and the token
	// may be in ?access_token=.
	upgrade bool
}

// badInputTable has one row per route api.Routes lists. A route added to
// the API without a row here fails TestEveryRouteRefusesBadInputAndLeavesRedisUnchanged.
var badInputTable = []tableRow{
	{route: "GET /healthz", access: public, path: "/healthz"},
	{route: "GET /readyz", access: public, path: "/readyz"},
	{route: "GET /metrics", access: public, path: "/metrics"},

	{route: "POST /v1/agents/{id}/login", access: agentOrSupervisor, path: "/v1/agents/a4/login", body: required,
		valid: `{"endpoint":"PJSIP/1004","queues":["support"]}`, wrongType: `{"endpoint":"PJSIP/1004","queues":"support"}`, wrongField: "queues"},
	{route: "POST /v1/agents/{id}/available", access: agentOrSupervisor, path: "/v1/agents/a2/available", body: optional, wrongType: `[]`, unknown: map[string]int{"id": 404}},
	{route: "POST /v1/agents/{id}/idle", access: agentOrSupervisor, path: "/v1/agents/a3/idle", body: optional,
		valid: `{"reason":"lunch"}`, wrongType: `{"reason":7}`, wrongField: "reason", unknown: map[string]int{"id": 404}},
	{route: "POST /v1/agents/{id}/logout", access: agentOrSupervisor, path: "/v1/agents/a2/logout", body: optional, wrongType: `[]`, unknown: map[string]int{"id": 404}},
	{route: "GET /v1/agents/{id}", access: agentOrSupervisor, path: "/v1/agents/a1", unknown: map[string]int{"id": 404}},
	{route: "GET /v1/agents/{id}/events", access: agentOrSupervisor, path: "/v1/agents/a1/events", upgrade: true},
	{route: "GET /v1/queues/{name}", access: anyToken, path: "/v1/queues/sales", unknown: map[string]int{"name": 404}},
	{route: "GET /v1/agents", access: anyToken, path: "/v1/agents"},
	{route: "GET /v1/queues", access: anyToken, path: "/v1/queues"},
	{route: "GET /v1/queues/{name}/history", access: anyToken, path: "/v1/queues/sales/history", unknown: map[string]int{"name": 404}},
	{route: "GET /v1/settings", access: anyToken, path: "/v1/settings"},

	{route: "GET /v1/agents/{id}/call", access: agentOrSupervisor, path: "/v1/agents/a1/call", unknown: map[string]int{"id": 404}},
	{route: "POST /v1/agents/{id}/call/hold", access: agentOrSupervisor, path: "/v1/agents/a1/call/hold", body: optional, wrongType: `[]`, unknown: map[string]int{"id": 404}},
	{route: "POST /v1/agents/{id}/call/resume", access: agentOrSupervisor, path: "/v1/agents/a1/call/resume", body: optional, wrongType: `[]`, unknown: map[string]int{"id": 404}},
	{route: "POST /v1/agents/{id}/call/consult", access: agentOrSupervisor, path: "/v1/agents/a1/call/consult", body: required,
		valid: `{"kind":"agent","value":"a3"}`, wrongType: `{"kind":"agent","value":3}`, wrongField: "value", unknown: map[string]int{"id": 404}},
	{route: "POST /v1/agents/{id}/call/consult/end", access: agentOrSupervisor, path: "/v1/agents/a1/call/consult/end", body: optional, wrongType: `[]`, unknown: map[string]int{"id": 404}},
	{route: "POST /v1/agents/{id}/call/transfer", access: agentOrSupervisor, path: "/v1/agents/a1/call/transfer", body: required,
		valid: `{"kind":"queue","value":"support"}`, wrongType: `{"kind":1,"value":"support"}`, wrongField: "kind", unknown: map[string]int{"id": 404}},
	{route: "POST /v1/agents/{id}/call/transfer/complete", access: agentOrSupervisor, path: "/v1/agents/a1/call/transfer/complete", body: optional, wrongType: `[]`, unknown: map[string]int{"id": 404}},
	{route: "POST /v1/agents/{id}/call/conference", access: agentOrSupervisor, path: "/v1/agents/a1/call/conference", body: optional, wrongType: `[]`, unknown: map[string]int{"id": 404}},
	{route: "POST /v1/agents/{id}/call/end", access: agentOrSupervisor, path: "/v1/agents/a1/call/end", body: optional, wrongType: `[]`, unknown: map[string]int{"id": 404}},
	{route: "POST /v1/agents/{id}/call/recording/pause", access: agentOrSupervisor, path: "/v1/agents/a1/call/recording/pause", body: optional,
		valid: `{"privacy":true}`, wrongType: `{"privacy":"yes"}`, wrongField: "privacy", unknown: map[string]int{"id": 404}},
	{route: "POST /v1/agents/{id}/call/recording/resume", access: agentOrSupervisor, path: "/v1/agents/a1/call/recording/resume", body: optional, wrongType: `[]`, unknown: map[string]int{"id": 404}},
	{route: "POST /v1/agents/{id}/wrapup", access: agentOrSupervisor, path: "/v1/agents/a1/wrapup", body: required,
		valid: `{"code":"resolved"}`, wrongType: `{"code":["resolved"]}`, wrongField: "code", unknown: map[string]int{"id": 404}},
	{route: "POST /v1/agents/{id}/call/callback-accept", access: agentOrSupervisor, path: "/v1/agents/a1/call/callback-accept", body: optional, wrongType: `[]`, unknown: map[string]int{"id": 404}},
	{route: "GET /v1/agents/{id}/call/variables", access: agentOrSupervisor, path: "/v1/agents/a1/call/variables", unknown: map[string]int{"id": 404}},
	{route: "PUT /v1/agents/{id}/call/variables/{name}", access: agentOrSupervisor, path: "/v1/agents/a1/call/variables/NOTE", body: required,
		valid: `{"value":"changed","version":1}`, wrongType: `{"value":"changed","version":"1"}`, wrongField: "version", unknown: map[string]int{"id": 404, "name": 404}},
	{route: "POST /v1/agents/{id}/call/variables/{name}/reveal", access: agentOrSupervisor, path: "/v1/agents/a1/call/variables/CARD/reveal", body: optional,
		wrongType: `[]`, unknown: map[string]int{"id": 404, "name": 404}},

	{route: "GET /v1/events", access: supervisorOnly, path: "/v1/events", upgrade: true},

	{route: "POST /v1/callbacks", access: supervisorOnly, path: "/v1/callbacks", body: required,
		valid: `{"queue":"sales","number":"+12025550124","name":"Bob"}`, wrongType: `{"queue":"sales","number":12025550124}`, wrongField: "number"},
	{route: "GET /v1/callbacks", access: supervisorOnly, path: "/v1/callbacks"},
	{route: "GET /v1/callbacks/{callback}", access: supervisorOnly, path: "/v1/callbacks/$cb", unknown: map[string]int{"callback": 404}},
	{route: "DELETE /v1/callbacks/{callback}", access: supervisorOnly, path: "/v1/callbacks/$cb", unknown: map[string]int{"callback": 404}},
	{route: "POST /v1/callbacks/{callback}/variables/{name}/reveal", access: supervisorOnly, path: "/v1/callbacks/$cb/variables/CARD/reveal", body: optional, wrongType: `[]`, unknown: map[string]int{"callback": 404, "name": 404}},
	{route: "POST /v1/calls/{conn}/callback/start", access: supervisorOnly, path: "/v1/calls/$conn/callback/start", body: optional,
		valid: `{"queue":"sales"}`, wrongType: `{"queue":5}`, wrongField: "queue", unknown: map[string]int{"conn": 404}},
	{route: "POST /v1/calls/{conn}/callback/register", access: supervisorOnly, path: "/v1/calls/$conn/callback/register", body: optional,
		valid: `{"number":"+12025550125"}`, wrongType: `{"number":"+12025550125","media":1}`, wrongField: "media", unknown: map[string]int{"conn": 404}},
	{route: "POST /v1/calls/{conn}/callback/cancel", access: supervisorOnly, path: "/v1/calls/$conn/callback/cancel", body: optional, wrongType: `[]`, unknown: map[string]int{"conn": 404}},

	{route: "POST /v1/supervisor/interactions/{conn}/end", access: supervisorOnly, path: "/v1/supervisor/interactions/$conn/end", body: required,
		valid: `{"reason":"table test"}`, wrongType: `{"reason":false}`, wrongField: "reason", unknown: map[string]int{"conn": 404}},
	{route: "POST /v1/supervisor/agents/{id}/state", access: supervisorOnly, path: "/v1/supervisor/agents/a2/state", body: required,
		valid: `{"state":"available","reason":"table test"}`, wrongType: `{"state":"available","reason":"table test","force_end":"yes"}`, wrongField: "force_end", unknown: map[string]int{"id": 404}},
	{route: "POST /v1/supervisor/agents/{id}/queues", access: supervisorOnly, path: "/v1/supervisor/agents/a2/queues", body: required,
		valid: `{"queues":["sales"],"reason":"table test"}`, wrongType: `{"queues":"sales","reason":"table test"}`, wrongField: "queues", unknown: map[string]int{"id": 404}},

	// The pages (api.WithWeb): public, GET and HEAD only.
	{route: "GET /{$}", access: public, path: "/"},
	{route: "GET /desktop/", access: public, path: "/desktop/"},
	{route: "GET /wallboard/", access: public, path: "/wallboard/"},
	{route: "GET /assets/{path...}", access: public, path: "/assets/tandem.js"},
}

// badIDs are path ids no route may take, each as it is written in the
// URL (percent-encoded where a client has to).
var badIDs = []struct{ name, raw string }{
	{"colon", "a:b"},
	{"open brace", "a%7Bb"},
	{"close brace", "a%7Db"},
	{"dot dot", "%2E%2E"},
	{"NUL", "a%00b"},
	{"over-long", strings.Repeat("a", 65)},
}

// idField is the field a 400 for a bad id names, by wildcard.
var idField = map[string]string{"id": "id", "name": "name", "conn": "connection_id", "callback": "id"}

// unknownIDs are well-formed ids that name nothing, by wildcard.
var unknownIDs = map[string]string{"id": "nobody", "name": "NOPE", "conn": "no-such-call", "callback": "no-such-callback"}

// tableCase is one request of the table and what must answer it.
type tableCase struct {
	name   string
	method string
	path   string
	token  string // "" = no Authorization header
	scheme string // "" = Bearer
	body   string
	// chunked sends the body without a Content-Length.
	chunked bool
	// protocol, if set, is sent as Sec-WebSocket-Protocol.
	protocol string
	status   int
	// field, if set, is the field the error must name.
	field string
	// allow, for a 405, is a method the Allow header must list.
	allow string
}

// TestEveryRouteRefusesBadInputAndLeavesRedisUnchanged walks every route
// of the API, against the real core (one lab: real Redis, the simulator,
// one replica, in a state with a call, idle and available agents and a
// pending callback), with every kind of bad request: no token, a wrong
// one, another agent's, the wrong method, bad bodies and bad ids. Each is
// answered with the documented status and a JSON error (naming the field
// where one is at fault), and leaves every Redis key as it was: names,
// types, values and whether they expire.
func TestEveryRouteRefusesBadInputAndLeavesRedisUnchanged(t *testing.T) {
	checkTableCoversRoutes(t, api.Routes(), badInputTable)

	w := startTableWorld(t)
	client := &http.Client{
		Timeout: 30 * time.Second,
		// A redirect is an answer of its own, never followed.
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
	}
	before := takeSnapshot(t, w.lab.RDB)
	ran := 0
	for _, row := range badInputTable {
		for _, c := range row.cases(t, w) {
			ran++
			res := c.do(t, client, w.srv.URL)
			after := takeSnapshot(t, w.lab.RDB)
			var problems []string
			if diff := before.diff(after); len(diff) > 0 {
				problems = append(problems, "changed Redis:\n\t"+strings.Join(diff, "\n\t"))
			}
			before = after
			if msg := res.check(c); msg != "" {
				problems = append(problems, msg)
			}
			for _, p := range problems {
				t.Errorf("%s: %s: %s %s: %s", row.route, c.name, c.method, c.path, p)
			}
		}
	}
	t.Logf("%d bad requests on %d routes", ran, len(badInputTable))
}

// checkTableCoversRoutes fails for every route the API serves that has no
// row, and every row that names no route.
func checkTableCoversRoutes(t *testing.T, routes []api.Route, table []tableRow) {
	t.Helper()
	served := map[string]bool{}
	for _, r := range routes {
		served[r.Method+" "+r.Pattern] = true
	}
	rows := map[string]bool{}
	for _, row := range table {
		if rows[row.route] {
			t.Errorf("two rows for %s", row.route)
		}
		rows[row.route] = true
		if !served[row.route] {
			t.Errorf("row %q names no route of api.Routes(): remove it or fix its method and pattern", row.route)
		}
	}
	for _, r := range routes {
		if !rows[r.Method+" "+r.Pattern] {
			t.Errorf("route %s %s has no row in badInputTable: add one (who may use it, a path, its body)", r.Method, r.Pattern)
		}
	}
}

// cases are the bad requests of one row.
func (row tableRow) cases(t *testing.T, w *tableWorld) []tableCase {
	t.Helper()
	method, pattern, _ := strings.Cut(row.route, " ")
	path := strings.NewReplacer("$conn", w.conn, "$cb", w.callback).Replace(row.path)
	wildcards := pathWildcards(t, pattern, path)
	var cs []tableCase
	add := func(c tableCase) {
		if c.method == "" {
			c.method = method
		}
		if c.path == "" {
			c.path = path
		}
		cs = append(cs, c)
	}

	// Tokens.
	if row.access != public {
		add(tableCase{name: "no token", body: row.valid, status: http.StatusUnauthorized})
		add(tableCase{name: "wrong token", token: tokWrong, body: row.valid, status: http.StatusUnauthorized})
		add(tableCase{name: "not a bearer token", token: row.ownToken(wildcards), scheme: "Basic", body: row.valid, status: http.StatusUnauthorized})
		if row.upgrade {
			add(tableCase{name: "wrong token in the query", path: path + "?access_token=" + tokWrong, status: http.StatusUnauthorized})
			add(tableCase{name: "wrong token as a subprotocol", protocol: "tandem, bearer." + base64.RawURLEncoding.EncodeToString([]byte(tokWrong)), status: http.StatusUnauthorized})
		} else {
			// Only the WebSocket routes read a token from the URL.
			add(tableCase{name: "token in the query", path: path + "?access_token=" + row.ownToken(wildcards), body: row.valid, status: http.StatusUnauthorized})
		}
	}
	switch row.access {
	case agentOrSupervisor:
		add(tableCase{name: "another agent's token", token: otherAgentToken(wildcards["id"]), body: row.valid, status: http.StatusForbidden})
	case supervisorOnly:
		add(tableCase{name: "an agent's token", token: agentTokenFor(wildcards["id"]), body: row.valid, status: http.StatusForbidden})
	}
	if row.upgrade {
		add(tableCase{name: "plain GET, no upgrade", token: row.ownToken(wildcards), status: http.StatusUpgradeRequired})
	}

	// Method.
	add(tableCase{name: "wrong method", method: wrongMethod(t, pattern), token: row.ownToken(wildcards), body: row.valid, status: http.StatusMethodNotAllowed, allow: method})

	// Bodies, with the right token.
	if row.body != noBody {
		tok := row.ownToken(wildcards)
		if row.body == required {
			add(tableCase{name: "empty body", token: tok, status: http.StatusBadRequest})
		}
		add(tableCase{name: "invalid JSON", token: tok, body: `{"`, status: http.StatusBadRequest})
		add(tableCase{name: "not JSON", token: tok, body: `reason=lunch`, status: http.StatusBadRequest})
		add(tableCase{name: "not an object", token: tok, body: `["x"]`, status: http.StatusBadRequest})
		if row.wrongType != "" {
			add(tableCase{name: "wrong-typed field", token: tok, body: row.wrongType, status: http.StatusBadRequest, field: row.wrongField})
		}
		add(tableCase{name: "unknown field", token: tok, body: withField(row.valid, `"zz_unknown":1`), status: http.StatusBadRequest, field: "zz_unknown"})
		add(tableCase{name: "two objects", token: tok, body: cmp.Or(row.valid, "{}") + cmp.Or(row.valid, "{}"), status: http.StatusBadRequest})
		big := withField(row.valid, `"zz_pad":"`+strings.Repeat("a", 64<<10)+`"`)
		add(tableCase{name: "oversized body", token: tok, body: big, status: http.StatusRequestEntityTooLarge})
		add(tableCase{name: "oversized body, chunked", token: tok, body: big, chunked: true, status: http.StatusRequestEntityTooLarge})
	}

	// Ids, with a supervisor's token so that only the id is at fault.
	for _, wc := range slices.Sorted(maps.Keys(wildcards)) {
		for _, id := range badIDs {
			add(tableCase{name: fmt.Sprintf("{%s} %s", wc, id.name), path: replaceSegment(pattern, path, wc, id.raw),
				token: tokSup, body: row.valid, status: http.StatusBadRequest, field: idField[wc]})
		}
		if st, ok := row.unknown[wc]; ok {
			add(tableCase{name: fmt.Sprintf("{%s} unknown", wc), path: replaceSegment(pattern, path, wc, unknownIDs[wc]),
				token: tokSup, body: row.valid, status: st})
		}
	}
	for wc := range row.unknown {
		if _, ok := wildcards[wc]; !ok {
			t.Fatalf("row %s: unknown status for {%s}, which its pattern does not have", row.route, wc)
		}
	}
	return cs
}

// ownToken is a token that may use the row's route on its path: the
// path agent's own token on an agent route (so that agent tokens are
// exercised too), a supervisor's elsewhere.
func (row tableRow) ownToken(wildcards map[string]string) string {
	if row.access == agentOrSupervisor {
		return agentTokenFor(wildcards["id"])
	}
	if row.access == public {
		return ""
	}
	return tokSup
}

var agentTokens = map[string]string{"a1": tokA1, "a2": tokA2, "a3": tokA3, "a4": tokA4}

// agentTokenFor is the token of agent id (a1's when id names no agent of
// the table's world).
func agentTokenFor(id string) string {
	if tok, ok := agentTokens[id]; ok {
		return tok
	}
	return tokA1
}

// otherAgentToken is a valid agent token that is not id's.
func otherAgentToken(id string) string {
	if id == "a3" {
		return tokA1
	}
	return tokA3
}

// wrongMethod is a method the pattern is not served under.
func wrongMethod(t *testing.T, pattern string) string {
	t.Helper()
	served := map[string]bool{}
	for _, r := range api.Routes() {
		if r.Pattern == pattern {
			served[r.Method] = true
		}
	}
	for _, m := range []string{http.MethodPost, http.MethodGet, http.MethodPut, http.MethodDelete, http.MethodPatch} {
		if !served[m] {
			return m
		}
	}
	t.Fatalf("%s is served under every method", pattern)
	return ""
}

// pathWildcards matches path against pattern segment by segment and
// returns the value of each wildcard; it fails the test for a row whose
// path does not fit its pattern. {$} (the end of the path) and a rest
// wildcard ({path...}: a file of the pages, not an id; the pages' handler
// answers for it) are matched but not returned: no id case applies.
func pathWildcards(t *testing.T, pattern, path string) map[string]string {
	t.Helper()
	ps, xs := strings.Split(pattern, "/"), strings.Split(path, "/")
	if len(ps) != len(xs) {
		t.Fatalf("path %s does not fit pattern %s", path, pattern)
	}
	out := map[string]string{}
	for i, p := range ps {
		switch name, ok := strings.CutPrefix(p, "{"); {
		case p == "{$}":
			if xs[i] != "" {
				t.Fatalf("path %s does not fit pattern %s", path, pattern)
			}
		case ok && strings.HasSuffix(name, "...}"):
		case ok:
			out[strings.TrimSuffix(name, "}")] = xs[i]
		case p != xs[i]:
			t.Fatalf("path %s does not fit pattern %s", path, pattern)
		}
	}
	return out
}

// replaceSegment is path with the segment of wildcard wc set to raw.
func replaceSegment(pattern, path, wc, raw string) string {
	ps, xs := strings.Split(pattern, "/"), strings.Split(path, "/")
	for i, p := range ps {
		if p == "{"+wc+"}" {
			xs[i] = raw
		}
	}
	return strings.Join(xs, "/")
}

// withField adds a member to a JSON object ("" is the empty object).
func withField(obj, member string) string {
	obj = strings.TrimSpace(obj)
	if obj == "" || obj == "{}" {
		return "{" + member + "}"
	}
	return strings.TrimSuffix(obj, "}") + "," + member + "}"
}

// tableResult is what came back.
type tableResult struct {
	status int
	header http.Header
	body   []byte
	err    error
}

func (c tableCase) do(t *testing.T, client *http.Client, base string) tableResult {
	t.Helper()
	var body io.Reader = strings.NewReader(c.body)
	if c.chunked {
		// Hide the length: the client sends the body chunked.
		body = io.MultiReader(strings.NewReader(c.body))
	}
	req, err := http.NewRequest(c.method, base+c.path, body)
	if err != nil {
		t.Fatalf("%s: %v", c.name, err)
	}
	if c.body != "" {
		req.Header.Set("Content-Type", "application/json")
	}
	if c.token != "" {
		req.Header.Set("Authorization", cmp.Or(c.scheme, "Bearer")+" "+c.token)
	}
	if c.protocol != "" {
		req.Header.Set("Sec-WebSocket-Protocol", c.protocol)
	}
	resp, err := client.Do(req)
	if err != nil {
		return tableResult{err: err}
	}
	defer func() { _ = resp.Body.Close() }()
	data, err := io.ReadAll(resp.Body)
	return tableResult{status: resp.StatusCode, header: resp.Header, body: data, err: err}
}

// check returns what is wrong with the answer to c, or "".
func (r tableResult) check(c tableCase) string {
	if r.err != nil {
		return "no answer: " + r.err.Error()
	}
	var e struct {
		Error string `json:"error"`
		Field string `json:"field"`
	}
	jerr := json.Unmarshal(r.body, &e)
	switch {
	case r.status != c.status:
		return fmt.Sprintf("status %d, want %d (body %.200s)", r.status, c.status, r.body)
	case !strings.HasPrefix(r.header.Get("Content-Type"), "application/json") || jerr != nil || e.Error == "":
		return fmt.Sprintf("not a JSON error: %s %.200s", r.header.Get("Content-Type"), r.body)
	case c.field != "" && e.Field != c.field:
		return fmt.Sprintf("field %q, want %q (%s)", e.Field, c.field, e.Error)
	case c.allow != "" && !slices.Contains(strings.Split(r.header.Get("Allow"), ", "), c.allow):
		return fmt.Sprintf("Allow %q does not list %s", r.header.Get("Allow"), c.allow)
	case c.status == http.StatusUnauthorized && r.header.Get("WWW-Authenticate") == "":
		return "401 without WWW-Authenticate"
	}
	return ""
}
