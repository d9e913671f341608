package webtest

import (
	"context"
	"encoding/base64"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/coder/websocket"

	"github.com/tandem-cc/tandem/internal/browser"
	"github.com/tandem-cc/tandem/internal/replicaproc"
	"github.com/tandem-cc/tandem/web"
)

// These tests run tandem.js, the client both pages share, in Chromium,
// against small API servers written here: the client's behaviour on
// error answers, dead replicas and dropped streams is exercised without
// waiting for a whole Tandem to fail in that way. The page is served by
// web.Handler's assets under its Content-Security-Policy, naming the API
// servers as replicas, so the policy is exercised too.

// fakeReplica is an API server: answers chosen per path, CORS for the
// page's origin, an event WebSocket whose connections the test drives.
type fakeReplica struct {
	name string
	srv  *httptest.Server

	mu      sync.Mutex
	hits    map[string]int // "METHOD /path" → requests
	auth    []string       // Authorization headers seen
	offered [][]string     // subprotocols offered by each WebSocket
	conns   chan stream
}

// stream is one accepted event WebSocket: the test writes on c; ended
// gets the error that ended the server's reading (its close status).
type stream struct {
	c     *websocket.Conn
	ended chan error
}

func newFakeReplica(t *testing.T, name string, busy bool) *fakeReplica {
	f := &fakeReplica{name: name, hits: map[string]int{}, conns: make(chan stream, 4)}
	mux := http.NewServeMux()
	mux.HandleFunc("/v1/", func(w http.ResponseWriter, r *http.Request) {
		h := w.Header()
		h.Set("Access-Control-Allow-Origin", r.Header.Get("Origin"))
		h.Set("Vary", "Origin")
		if r.Method == http.MethodOptions {
			h.Set("Access-Control-Allow-Methods", "GET, POST, PUT, DELETE")
			h.Set("Access-Control-Allow-Headers", "Authorization, Content-Type")
			w.WriteHeader(http.StatusNoContent)
			return
		}
		f.mu.Lock()
		f.hits[r.Method+" "+r.URL.Path]++
		f.auth = append(f.auth, r.Header.Get("Authorization"))
		f.mu.Unlock()
		h.Set("Content-Type", "application/json")
		switch {
		case r.URL.Path == "/v1/events":
			f.events(t, w, r)
		case r.URL.Path == "/v1/who":
			_, _ = fmt.Fprintf(w, `{"who":%q}`, f.name)
		case r.URL.Path == "/v1/empty":
			w.WriteHeader(http.StatusNoContent)
		case r.URL.Path == "/v1/bad":
			w.WriteHeader(http.StatusBadRequest)
			_, _ = io.WriteString(w, `{"error":"must be 3-18 digits","field":"number","rule":"length"}`)
		case r.URL.Path == "/v1/conflict":
			w.WriteHeader(http.StatusConflict)
			_, _ = io.WriteString(w, `{"error":"changed by agent 1002","field":"NOTE","current":{"version":7}}`)
		case busy && r.URL.Path == "/v1/busy":
			w.WriteHeader(http.StatusServiceUnavailable)
			_, _ = io.WriteString(w, `{"error":"the replica that runs this call is not running; retry in a few seconds"}`)
		case busy && r.URL.Path == "/v1/slow":
			w.WriteHeader(http.StatusGatewayTimeout)
			_, _ = io.WriteString(w, `{"error":"the replica that runs this call did not answer in time"}`)
		case busy && r.URL.Path == "/v1/proxy-down":
			h.Set("Content-Type", "text/html")
			w.WriteHeader(http.StatusBadGateway)
			_, _ = io.WriteString(w, "<html>bad gateway</html>")
		case busy && r.URL.Path == "/v1/drop":
			// A replica that took the request and died before answering:
			// the connection ends with no answer.
			f.drop(t, w)
		case r.URL.Path == "/v1/busy" || r.URL.Path == "/v1/slow" || r.URL.Path == "/v1/proxy-down" || r.URL.Path == "/v1/drop":
			_, _ = fmt.Fprintf(w, `{"who":%q}`, f.name)
		default:
			w.WriteHeader(http.StatusNotFound)
			_, _ = io.WriteString(w, `{"error":"not found"}`)
		}
	})
	f.srv = httptest.NewServer(mux)
	t.Cleanup(f.srv.Close)
	return f
}

// drop ends the request's connection without an answer.
func (f *fakeReplica) drop(t *testing.T, w http.ResponseWriter) {
	conn, _, err := http.NewResponseController(w).Hijack()
	if err != nil {
		t.Errorf("%s: hijack: %v", f.name, err)
		return
	}
	_ = conn.Close()
}

// events accepts the WebSocket, choosing "tandem" as the API does, hands
// the connection to the test and reads until it ends.
func (f *fakeReplica) events(t *testing.T, w http.ResponseWriter, r *http.Request) {
	var offered []string
	for _, v := range r.Header.Values("Sec-WebSocket-Protocol") {
		for _, p := range strings.Split(v, ",") {
			offered = append(offered, strings.TrimSpace(p))
		}
	}
	f.mu.Lock()
	f.offered = append(f.offered, offered)
	f.mu.Unlock()
	c, err := websocket.Accept(w, r, &websocket.AcceptOptions{
		Subprotocols:   []string{"tandem"},
		OriginPatterns: []string{"127.0.0.1:*"},
	})
	if err != nil {
		t.Errorf("%s: accept: %v", f.name, err)
		return
	}
	st := stream{c: c, ended: make(chan error, 1)}
	f.conns <- st
	for {
		if _, _, err := c.Read(context.Background()); err != nil {
			st.ended <- err
			return
		}
	}
}

func (f *fakeReplica) count(key string) int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.hits[key]
}

func (f *fakeReplica) conn(t *testing.T) stream {
	t.Helper()
	select {
	case c := <-f.conns:
		return c
	case <-time.After(waitBound):
		t.Fatalf("%s: no event stream within %v", f.name, waitBound)
		return stream{}
	}
}

// jsPage starts the page server (web.Handler's assets and a blank page
// under the same policy, naming the replicas) and a browser on it, with
// tandem.js imported as window.T. dead is a replica the policy allows
// that does not run (a closed port on loopback).
func jsPage(t *testing.T, replicas ...*fakeReplica) (b *browser.Browser, dead string) {
	t.Helper()
	b, deads := jsPageDead(t, 1, replicas...)
	return b, deads[0]
}

// jsPageDead is jsPage with n dead replicas.
func jsPageDead(t *testing.T, n int, replicas ...*fakeReplica) (b *browser.Browser, dead []string) {
	t.Helper()
	var bases []string
	for _, r := range replicas {
		bases = append(bases, r.srv.URL)
	}
	for range n {
		dead = append(dead, "http://"+replicaproc.FreeAddr(t))
	}
	bases = append(bases, dead...)
	site := web.Handler(web.Options{Replicas: bases})
	rec := httptest.NewRecorder()
	site.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/desktop/", nil))
	csp := rec.Header().Get("Content-Security-Policy")
	mux := http.NewServeMux()
	mux.Handle("/assets/", site)
	mux.HandleFunc("/blank/", func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Security-Policy", csp)
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		_, _ = io.WriteString(w, `<!doctype html><html lang="en"><head><title>tandem.js</title></head><body><main id="m"></main></body></html>`)
	})
	page := httptest.NewServer(mux)
	t.Cleanup(page.Close)

	b = browser.Start(t)
	b.Navigate(page.URL + "/blank/")
	b.Eval(`import("/assets/tandem.js").then(m => { window.T = m; return "" })`)
	return b, dead
}

// js runs an async function body in the page and returns its string.
func js(b *browser.Browser, body string) string {
	return b.Eval("(async () => {" + body + "})()")
}

// TestTandemJSRequestsAndErrors: answers are parsed, error answers become
// ApiErrors with "field: error", the token goes as a bearer header, and a
// replica that is down or busy makes a read move on to the next. A write
// moves on only on 503 (not run); one whose answer is lost (the replica
// unreachable or gone mid-request, a proxy's 502, the API's 504) is not
// sent again: it throws an ApiError with unknownOutcome, and the client
// moves on for the next request unless the replica answered (504).
func TestTandemJSRequestsAndErrors(t *testing.T) {
	a := newFakeReplica(t, "A", true)
	bb := newFakeReplica(t, "B", false)
	b, dead := jsPage(t, a, bb)
	cl := func(bases ...string) string {
		return fmt.Sprintf(`const c = new T.Client({bases: %s, token: "tok-1"});`, jsList(bases))
	}

	// An answer, and the bearer token.
	if got := js(b, cl(a.srv.URL)+`return (await c.request("GET", "/v1/who")).who + " " + c.base`); got != "A "+a.srv.URL {
		t.Errorf("GET /v1/who: %q", got)
	}
	if got := js(b, cl(a.srv.URL)+`return String(await c.request("POST", "/v1/empty", {x: 1}))`); got != "null" {
		t.Errorf("204: %q, want null", got)
	}
	a.mu.Lock()
	lastAuth := a.auth[len(a.auth)-1]
	a.mu.Unlock()
	if lastAuth != "Bearer tok-1" {
		t.Errorf("Authorization %q", lastAuth)
	}

	// Error answers.
	got := js(b, cl(a.srv.URL)+`
		try { await c.request("PUT", "/v1/bad", {number: "12"}); return "no error" }
		catch (e) { return [e instanceof T.ApiError, e.name, e.status, e.field, e.rule, e.error, e.message].join("|") }`)
	if want := "true|ApiError|400|number|length|must be 3-18 digits|number: must be 3-18 digits"; got != want {
		t.Errorf("400:\n got %q\nwant %q", got, want)
	}
	got = js(b, cl(a.srv.URL)+`
		try { await c.request("PUT", "/v1/conflict", {}); return "no error" }
		catch (e) { return [e.status, e.message, e.body.current.version].join("|") }`)
	if want := "409|NOTE: changed by agent 1002|7"; got != want {
		t.Errorf("409: got %q want %q", got, want)
	}
	got = js(b, cl(a.srv.URL)+`
		try { await c.request("GET", "/v1/nope"); return "no error" }
		catch (e) { return [e.status, e.field, e.message].join("|") }`)
	if want := "404||not found"; got != want {
		t.Errorf("404: got %q want %q", got, want)
	}

	// A replica that is down: the next one answers and becomes current.
	if got := js(b, cl(dead, bb.srv.URL)+`return (await c.request("GET", "/v1/who")).who + " " + c.base`); got != "B "+bb.srv.URL {
		t.Errorf("dead then B: %q", got)
	}
	// 503 moves on, for writes too (the API says the request was not run).
	if got := js(b, cl(a.srv.URL, bb.srv.URL)+`return (await c.request("POST", "/v1/busy", {})).who`); got != "B" {
		t.Errorf("503 then B: %q", got)
	}
	// A proxy's 502 page moves a read on.
	if got := js(b, cl(dead, a.srv.URL)+`return (await c.request("GET", "/v1/proxy-down").catch(e => e)).status + ""`); got != "502" {
		t.Errorf("502 from the only live replica: %q, want the 502 error", got)
	}
	if got := js(b, cl(a.srv.URL, bb.srv.URL)+`return (await c.request("GET", "/v1/proxy-down")).who`); got != "B" {
		t.Errorf("GET 502 then B: %q", got)
	}
	// 504 moves on for a read, not for a write (its outcome is unknown).
	if got := js(b, cl(a.srv.URL, bb.srv.URL)+`return (await c.request("GET", "/v1/slow")).who`); got != "B" {
		t.Errorf("GET 504 then B: %q", got)
	}
	before := bb.count("POST /v1/slow")
	got = js(b, cl(a.srv.URL, bb.srv.URL)+`
		try { await c.request("POST", "/v1/slow", {}); return "no error" }
		catch (e) { return [e.status, e.unknownOutcome, c.base].join(" ") }`)
	if got != "504 true "+a.srv.URL || bb.count("POST /v1/slow") != before {
		t.Errorf("POST 504: %q, B asked %d times; want the error with an unknown outcome, B not asked", got, bb.count("POST /v1/slow")-before)
	}
	// A read whose replica drops the connection moves on.
	if got := js(b, cl(a.srv.URL, bb.srv.URL)+`return (await c.request("GET", "/v1/drop")).who + " " + c.base`); got != "B "+bb.srv.URL {
		t.Errorf("GET dropped then B: %q", got)
	}
	// A write whose answer is lost is not sent again: it may have been
	// carried out. The error says so, and the next request goes to the
	// next replica.
	lost := func(what, path string, bases ...string) {
		t.Helper()
		beforeA, beforeB := a.count("POST "+path), bb.count("POST "+path)
		got := js(b, cl(bases...)+fmt.Sprintf(`
			let out;
			try { await c.request("POST", %q, {}); out = ["no error"] }
			catch (e) { out = [e instanceof T.ApiError, e.status, e.unknownOutcome, e.message] }
			out.push(c.base, (await c.request("GET", "/v1/who")).who);
			return out.join("|")`, path))
		parts := strings.Split(got, "|")
		if len(parts) != 6 || parts[0] != "true" || parts[1] != "0" || parts[2] != "true" ||
			!strings.Contains(parts[3], "whether the request was carried out is unknown") ||
			!strings.Contains(parts[3], "read again") || parts[4] != bb.srv.URL || parts[5] != "B" {
			t.Errorf("%s: %q, want an ApiError with status 0, an unknown outcome and the next replica current", what, got)
		}
		if n := bb.count("POST " + path); n != beforeB {
			t.Errorf("%s: the write was sent again to B (%d times)", what, n-beforeB)
		}
		if path != "/v1/who" && a.count("POST "+path) == beforeA {
			t.Errorf("%s: A never got the write", what)
		}
	}
	lost("POST to a dead replica", "/v1/who", dead, bb.srv.URL)
	lost("POST dropped mid-request", "/v1/drop", a.srv.URL, bb.srv.URL)
	lost("POST answered 502 by a proxy", "/v1/proxy-down", a.srv.URL, bb.srv.URL)
	// Each replica once per call, then the last error.
	got = js(b, cl(dead, a.srv.URL)+`
		try { await c.request("GET", "/v1/busy"); return "no error" }
		catch (e) { return e.status + " " + e.message }`)
	if !strings.HasPrefix(got, "503 the replica that runs this call is not running") {
		t.Errorf("all down or busy: %q", got)
	}
	got = js(b, cl(dead)+`
		try { await c.request("GET", "/v1/who"); return "no error" }
		catch (e) { return e.status + " " + e.message }`)
	if got != "0 "+dead+" unreachable" {
		t.Errorf("unreachable: %q", got)
	}
	// No replica given: the page's own origin.
	if got := js(b, `return new T.Client({}).base === location.origin ? "ok" : "no"`); got != "ok" {
		t.Errorf("default base: %q", got)
	}
	if got := js(b, `const c = new T.Client({bases: ["http://a:1/", "http://a:1", "http://b:2"]});
		c.setBases(["http://b:2", "http://c:3"]); return c.bases.join(" ") + " " + c.base`); got != "http://b:2 http://c:3 http://b:2" {
		t.Errorf("bases: %q", got)
	}
	if got := js(b, `return T.pageBases("?replicas=http://127.0.0.1:1/,https://h:2,javascript:x,,http://h/p").join(" ")`); got != "http://127.0.0.1:1 https://h:2" {
		t.Errorf("pageBases: %q", got)
	}
	if p := b.Problems(); len(p) > 0 {
		// Failed requests log to the console by themselves; nothing else may.
		for _, m := range p {
			if !strings.Contains(m, "Failed to load resource") {
				t.Errorf("page problem: %s", m)
			}
		}
	}
}

// TestTandemJSStreamReconnectsToTheNextReplica: the event stream offers
// the bearer subprotocol, delivers events, and when its replica drops it
// reconnects to the next one, calling onClose then onOpen again; close()
// ends it for good: no connection is attempted after it, for longer than
// a reconnect's backoff.
func TestTandemJSStreamReconnectsToTheNextReplica(t *testing.T) {
	a := newFakeReplica(t, "A", false)
	bb := newFakeReplica(t, "B", false)
	marker := newFakeReplica(t, "M", false)
	b, dead := jsPageDead(t, 3, a, bb, marker)
	const token = "tök+/=?"
	js(b, fmt.Sprintf(`
		// Every WebSocket the page opens, in order: tandem.js opens its
		// connections with the global WebSocket.
		window.sockets = [];
		const Native = window.WebSocket;
		window.WebSocket = class extends Native {
			constructor(url, protocols) { super(url, protocols); sockets.push(url); }
		};
		window.log = [];
		const c = new T.Client({bases: %s, token: %q});
		window.s = c.stream("/v1/events", {
			onOpen: () => log.push("open " + c.base),
			onEvent: (ev) => log.push("event " + ev.n),
			onClose: (e) => log.push("close " + e.code),
		});
		return ""`, jsList([]string{a.srv.URL, bb.srv.URL}), token))

	sa := a.conn(t)
	ca := sa.c
	logHas := func(want string) {
		t.Helper()
		b.WaitUntil("the page logged "+want, func() bool {
			return strings.Contains(b.Eval(`log.join("\n")`), want)
		})
	}
	logHas("open " + a.srv.URL)
	if ca.Subprotocol() != "tandem" {
		t.Fatalf("subprotocol %q", ca.Subprotocol())
	}
	a.mu.Lock()
	offered := a.offered[0]
	a.mu.Unlock()
	wantBearer := "bearer." + base64.RawURLEncoding.EncodeToString([]byte(token))
	if len(offered) != 2 || offered[0] != "tandem" || offered[1] != wantBearer {
		t.Fatalf("offered %q, want [tandem %s]", offered, wantBearer)
	}
	ctx, cancel := context.WithTimeout(context.Background(), waitBound)
	defer cancel()
	if err := ca.Write(ctx, websocket.MessageText, []byte(`{"n":1}`)); err != nil {
		t.Fatal(err)
	}
	if err := ca.Write(ctx, websocket.MessageText, []byte(`not json`)); err != nil {
		t.Fatal(err)
	}
	if err := ca.Write(ctx, websocket.MessageText, []byte(`{"n":2}`)); err != nil {
		t.Fatal(err)
	}
	logHas("event 2")

	// A goes away: the page moves to B and says so.
	_ = ca.Close(websocket.StatusGoingAway, "replica stopping")
	sb := bb.conn(t)
	cb := sb.c
	logHas("open " + bb.srv.URL)
	if got, want := b.Eval(`log.join(",")`), fmt.Sprintf("open %s,event 1,event 2,close 1001,open %s", a.srv.URL, bb.srv.URL); got != want {
		t.Fatalf("log\n got %s\nwant %s", got, want)
	}
	if err := cb.Write(ctx, websocket.MessageText, []byte(`{"n":3}`)); err != nil {
		t.Fatal(err)
	}
	logHas("event 3")

	// close() ends the stream with a normal closure and no reconnect.
	b.Eval(`(() => { window.socketsAtClose = sockets.length; s.close(); return "" })()`)
	select {
	case err := <-sb.ended:
		if websocket.CloseStatus(err) != websocket.StatusNormalClosure {
			t.Fatalf("B's stream ended with %v, want a normal closure", err)
		}
	case <-ctx.Done():
		t.Fatal("B's stream did not end after close()")
	}
	// A reconnect would come within one backoff step of the close: at
	// most BACKOFF_MIN_MS doubled once (the stream reconnected once), so
	// 500 ms. A second stream, opened after the close on three dead
	// replicas and then the marker M, reaches M only after three backoff
	// steps, at least 125 + 250 + 500 ms later: once it is open, a
	// reconnect of the closed stream would have been attempted already.
	js(b, fmt.Sprintf(`
		const m = new T.Client({bases: %s, token: "marker"});
		window.ms = m.stream("/v1/events", { onOpen: () => log.push("marker open " + m.base) });
		return ""`, jsList(append(slices.Clone(dead), marker.srv.URL))))
	marker.conn(t)
	logHas("marker open " + marker.srv.URL)
	var after []string
	b.EvalInto(`sockets.slice(socketsAtClose)`, &after)
	var want []string
	for _, base := range append(slices.Clone(dead), marker.srv.URL) {
		want = append(want, "ws://"+strings.TrimPrefix(base, "http://")+"/v1/events")
	}
	if !slices.Equal(after, want) {
		t.Fatalf("after close() the page opened the sockets\n%v\nwant only the marker's\n%v", after, want)
	}
	select {
	case <-a.conns:
		t.Fatal("the page reconnected to A after close")
	case <-bb.conns:
		t.Fatal("the page reconnected to B after close")
	default:
	}
	if got := b.Eval(`log.filter(l => !l.startsWith("marker")).at(-1)`); got != "event 3" {
		t.Fatalf("after close the log ends with %q", got)
	}
	b.Eval(`(() => { ms.close(); return "" })()`)
}

// TestTandemJSHelpers: fmtDuration and el.
func TestTandemJSHelpers(t *testing.T) {
	b, _ := jsPage(t)
	for in, want := range map[string]string{
		"0": "0:00", "5": "0:05", "59.9": "0:59", "60": "1:00", "754": "12:34",
		"3599": "59:59", "3600": "1:00:00", "3661": "1:01:01", "86399": "23:59:59",
		"-3": "0:00", "NaN": "0:00", "undefined": "0:00", "null": "0:00",
	} {
		if got := b.Eval(`T.fmtDuration(` + in + `)`); got != want {
			t.Errorf("fmtDuration(%s) = %q, want %q", in, got, want)
		}
	}
	got := js(b, `
		let clicks = 0;
		const n = T.el("button", {type: "button", "data-testid": "hold", class: ["a", null, "b"],
			disabled: false, hidden: null, "aria-pressed": true, dataset: {agent: "1001"},
			style: {color: "red"}, onclick: () => clicks++},
			"<b>Hold</b> ", 3, null, false, ["x", T.el("span", {}, "y")]);
		document.getElementById("m").append(n);
		n.click();
		const sel = T.el("select", {}, T.el("option", {value: "a"}, "A"), T.el("option", {value: "b", selected: true}, "B"));
		const svg = T.svgEl("svg", {viewBox: "0 0 10 10"}, T.svgEl("polyline", {points: "0,0 10,10"}));
		return [n.outerHTML, clicks, sel.value, svg.namespaceURI, svg.firstChild.tagName].join("|")`)
	want := `<button type="button" data-testid="hold" class="a b" aria-pressed="" data-agent="1001" style="color: red;">&lt;b&gt;Hold&lt;/b&gt; 3x<span>y</span></button>|1|b|http://www.w3.org/2000/svg|polyline`
	if got != want {
		t.Errorf("el:\n got %s\nwant %s", got, want)
	}
	if got := b.Eval(`T.b64url("tök+/=?")`); got != base64.RawURLEncoding.EncodeToString([]byte("tök+/=?")) {
		t.Errorf("b64url = %q", got)
	}
	if p := b.Problems(); len(p) > 0 {
		t.Errorf("page problems: %v", p)
	}
}

// jsList is a JavaScript array literal of strings.
func jsList(ss []string) string {
	q := make([]string, len(ss))
	for i, s := range ss {
		q[i] = fmt.Sprintf("%q", s)
	}
	return "[" + strings.Join(q, ", ") + "]"
}
