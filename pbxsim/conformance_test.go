package pbxsim

import (
	"bufio"
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"
)

// Trace conformance: every REST request of a recorded Asterisk 22 session is
// replayed against the simulator on the trace's own timeline (scaled), ids the
// server generated are translated both ways, and the test compares status
// codes, the field names of JSON bodies, and the sequence of event types per
// channel on every WebSocket. Divergences that remain are listed by name in
// divergences_test.go (and explained in DIVERGENCES.md); nothing else is
// ignored.

// replayScale compresses the trace's timeline; the simulator's second is
// scaled by the same factor so dialplan waits and timeouts keep their place.
const replayScale = 0.25

var conformanceTraces = []string{
	"01-inbound-call.jsonl",
	"02-agent-ring-delay.jsonl",
	"03-agent-noanswer.jsonl",
	"04-agent-busy.jsonl",
	"05-agent-reject.jsonl",
	"06-bridge-moh.jsonl",
	"08-playback.jsonl",
	"07-hold-mute-ring-silence.jsonl",
	"09-dtmf.jsonl",
	"10-recording.jsonl",
	"11-snoop.jsonl",
	"12-errors.jsonl",
	"13-continue-redirect-move.jsonl",
	"14-app-replaced-websocket-loss.jsonl",
	// 15-two-apps is not replayed: see DIVERGENCES.md ("not-replayed-15").
}

type traceLine struct {
	n              int             // line number, 1-based
	T              float64         `json:"t"`
	Dir            string          `json:"dir"`
	TReq           float64         `json:"t_req"`
	Method         string          `json:"method"`
	Path           string          `json:"path"`
	Query          string          `json:"query"`
	Auth           string          `json:"auth"`
	ReqContentType string          `json:"req_content_type"`
	ReqBody        json.RawMessage `json:"req_body"`
	ReqBodyRaw     *string         `json:"req_body_raw"`
	Status         int             `json:"status"`
	Body           json.RawMessage `json:"body"`
	BodyRaw        *string         `json:"body_raw"`
	Websocket      string          `json:"websocket"`
	WS             string          `json:"ws"`
	Type           string          `json:"type"`
	Msg            json.RawMessage `json:"msg"`
	Note           string          `json:"note"`
}

func loadTrace(t *testing.T, name string) []traceLine {
	t.Helper()
	f, err := os.Open(filepath.Join("testdata", name))
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = f.Close() }()
	var out []traceLine
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 4<<20), 4<<20)
	for n := 1; sc.Scan(); n++ {
		var l traceLine
		if err := json.Unmarshal(sc.Bytes(), &l); err != nil {
			t.Fatalf("%s:%d: %v", name, n, err)
		}
		l.n = n
		out = append(out, l)
	}
	return out
}

func TestTraceConformance(t *testing.T) {
	if testing.Short() {
		t.Skip("trace replays take a few seconds each")
	}
	for _, name := range conformanceTraces {
		t.Run(strings.TrimSuffix(name, ".jsonl"), func(t *testing.T) {
			t.Parallel()
			r := newReplay(t, name)
			r.run()
			r.compareEvents()
			r.compareEventShapes()
			r.checkAllowList()
		})
	}
}

// replay is one trace being replayed.
type replay struct {
	t     *testing.T
	file  string
	w     *world
	clock *manualClock
	lines []traceLine

	traceNames map[string]string // trace channel id → name
	idMap      map[string]string // trace id → simulator id
	suffix     map[string]string // trace "-00000354" → simulator "-00000001"
	sockets    map[string]*rawSocket
	expected   map[string][]traceEvent // per ws label
	used       map[string]bool         // allow-list entries that matched
	mu         sync.Mutex
}

type traceEvent struct {
	key, typ string
}

func newReplay(t *testing.T, file string) *replay {
	// The simulator counts in the trace's own seconds, on a clock the
	// replay moves to each line's moment: its scripted delays fall
	// between the same requests as Asterisk's did, whether the machine is
	// idle or loaded (a replay that lags behind wall time once made a
	// 2 s recording end after the trace's DELETE of its file, 11-snoop).
	// The delays that are not in ARI seconds keep the share of the
	// timeline they had when the replay ran on a scaled wall clock.
	timing := Timing{
		Second:       time.Second,
		Playback:     time.Second,
		Unreachable:  scaled(20 * time.Millisecond),
		AnswerSettle: scaled(20 * time.Millisecond),
		StasisFail:   scaled(5 * time.Millisecond),
		DTMFGap:      scaled(50 * time.Millisecond),
	}
	clock := newManualClock()
	r := &replay{
		t: t, file: file, w: newWorldClock(t, timing, clock), clock: clock, lines: loadTrace(t, file),
		traceNames: map[string]string{}, idMap: map[string]string{}, suffix: map[string]string{},
		sockets: map[string]*rawSocket{}, expected: map[string][]traceEvent{}, used: map[string]bool{},
	}
	for _, l := range r.lines {
		for _, raw := range []json.RawMessage{l.Body, l.Msg} {
			collectChannelNames(raw, r.traceNames)
		}
	}
	return r
}

// collectChannelNames records id→name of every channel object in a JSON value.
func collectChannelNames(raw json.RawMessage, into map[string]string) {
	if len(raw) == 0 {
		return
	}
	var v any
	if json.Unmarshal(raw, &v) != nil {
		return
	}
	var walk func(any)
	walk = func(v any) {
		switch x := v.(type) {
		case map[string]any:
			id, _ := x["id"].(string)
			name, _ := x["name"].(string)
			if _, isChan := x["dialplan"]; isChan && id != "" {
				into[id] = name
			}
			for _, e := range x {
				walk(e)
			}
		case []any:
			for _, e := range x {
				walk(e)
			}
		}
	}
	walk(v)
}

var (
	idRe     = regexp.MustCompile(`\d{10}\.\d+|[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}`)
	suffixRe = regexp.MustCompile(`-([0-9a-f]{8});[12]$`)
)

// simID translates a trace id; channels the tracer never saw in a response
// (the ;2 halves) are found through their name.
func (r *replay) simID(traceID string) string {
	if id, ok := r.idMap[traceID]; ok {
		return id
	}
	name, ok := r.traceNames[traceID]
	if !ok {
		return traceID
	}
	m := suffixRe.FindStringSubmatch(name)
	if m == nil {
		return traceID
	}
	simSuffix, ok := r.suffix[m[1]]
	if !ok {
		return traceID
	}
	simName := strings.Replace(name, "-"+m[1]+";", "-"+simSuffix+";", 1)
	if id, ok := r.w.sim.idByName(simName); ok {
		r.idMap[traceID] = id
		return id
	}
	return traceID
}

func (r *replay) translate(s string) string {
	return idRe.ReplaceAllStringFunc(s, r.simID)
}

// learn maps the ids in a trace response body onto the simulator's.
func (r *replay) learn(traceBody, simBody []byte) {
	var tb, sb map[string]any
	if json.Unmarshal(traceBody, &tb) != nil || json.Unmarshal(simBody, &sb) != nil {
		return
	}
	tid, _ := tb["id"].(string)
	sid, _ := sb["id"].(string)
	if tid == "" || sid == "" {
		return
	}
	r.idMap[tid] = sid
	tn, _ := tb["name"].(string)
	sn, _ := sb["name"].(string)
	if a, b := suffixRe.FindStringSubmatch(tn), suffixRe.FindStringSubmatch(sn); a != nil && b != nil {
		r.suffix[a[1]] = b[1]
	}
}

// scaled turns a wall-clock delay of the scaled replay into trace time.
func scaled(d time.Duration) time.Duration { return time.Duration(float64(d) / replayScale) }

// traceTime is a trace timestamp (seconds) as a clock position.
func traceTime(sec float64) time.Duration { return time.Duration(sec * float64(time.Second)) }

func (r *replay) run() {
	// Wall time still paces the replay (scaled), which leaves the
	// simulator's own goroutines (socket writers, the end of a dropped
	// connection) time to work as they did in the trace; the simulated
	// time is the clock's.
	start := time.Now()
	at := func(sec float64) time.Time {
		return start.Add(time.Duration(sec * replayScale * float64(time.Second)))
	}
	var last float64
	for _, l := range r.lines {
		last = l.T
		switch l.Dir {
		case "rest":
			time.Sleep(time.Until(at(l.TReq)))
			r.clock.Advance(traceTime(l.TReq))
			if l.Websocket != "" {
				r.upgrade(l)
			} else {
				r.request(l)
			}
		case "event":
			r.expected[l.WS] = append(r.expected[l.WS], r.traceEventOf(l.Msg))
		case "note":
			if l.WS != "" {
				time.Sleep(time.Until(at(l.T)))
				r.clock.Advance(traceTime(l.T))
			}
			r.noteAction(l)
		}
	}
	time.Sleep(time.Until(at(last)))
	r.clock.Advance(traceTime(last))
	r.settle()
}

// settle waits until no socket has received a frame for 250 ms (at most
// 3 s), so a loaded machine does not cut the comparison short.
func (r *replay) settle() {
	count := func() int {
		n := 0
		for _, rs := range r.sockets {
			n += len(rs.frames())
		}
		return n
	}
	deadline := time.Now().Add(3 * time.Second)
	last, since := count(), time.Now()
	for time.Now().Before(deadline) && time.Since(since) < 250*time.Millisecond {
		time.Sleep(25 * time.Millisecond)
		if n := count(); n != last {
			last, since = n, time.Now()
		}
	}
}

// waitFrames waits until rs has received n frames, or 2 s (the simulator
// may send fewer: that is then reported by the comparison).
func (r *replay) waitFrames(rs *rawSocket, n int) {
	deadline := time.Now().Add(2 * time.Second)
	for len(rs.frames()) < n && time.Now().Before(deadline) {
		time.Sleep(2 * time.Millisecond)
	}
}

// noteAction replays what the tracer did to its sockets.
func (r *replay) noteAction(l traceLine) {
	rs := r.sockets[l.WS]
	if rs == nil {
		return
	}
	switch {
	case strings.HasPrefix(l.Note, "client closes the TCP connection abruptly"):
		// The tracer had received every event before this line; a
		// socket writer that lags under load must not lose them here.
		r.waitFrames(rs, len(r.expected[l.WS]))
		rs.drop()
	case strings.HasPrefix(l.Note, "client sends websocket close frame"):
		rs.close()
	}
}

func (r *replay) authHeader(l traceLine) string {
	switch l.Auth {
	case "none":
		return ""
	case "wrong password":
		return "Basic dGFuZGVtOndyb25n" // tandem:wrong
	}
	return "Basic dGFuZGVtOnNlY3JldA==" // tandem:secret
}

func (r *replay) upgrade(l traceLine) {
	q := r.translate(l.Query)
	q = strings.ReplaceAll(q, "api_key=acd:", "api_key=tandem:")
	if l.Status == 101 {
		rs, err := r.w.dialRawAuth(q, r.authHeader(l))
		if err != nil {
			r.mismatch(fmt.Sprintf("rest:%d", l.n), "websocket %s?%s: %v", l.Path, q, err)
			return
		}
		r.sockets[l.Websocket] = rs
		return
	}
	req, _ := http.NewRequest(http.MethodGet, r.w.srv.URL+l.Path+"?"+q, nil)
	req.Header.Set("Connection", "Upgrade")
	req.Header.Set("Upgrade", "websocket")
	req.Header.Set("Sec-WebSocket-Version", "13")
	req.Header.Set("Sec-WebSocket-Key", "dGhlIHNhbXBsZSBub25jZQ==")
	if a := r.authHeader(l); a != "" {
		req.Header.Set("Authorization", a)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		r.mismatch(fmt.Sprintf("rest:%d", l.n), "websocket %s: %v", l.Path, err)
		return
	}
	_ = resp.Body.Close()
	if resp.StatusCode != l.Status {
		r.mismatch(fmt.Sprintf("rest:%d", l.n), "%s %s?%s: status %d, trace %d", l.Method, l.Path, q, resp.StatusCode, l.Status)
	}
}

func (r *replay) request(l traceLine) {
	path := r.translate(l.Path)
	q := r.translate(l.Query)
	u := r.w.srv.URL + path
	if q != "" {
		u += "?" + q
	}
	var body io.Reader
	switch {
	case l.ReqBodyRaw != nil:
		body = strings.NewReader(r.translate(*l.ReqBodyRaw))
	case len(l.ReqBody) > 0:
		body = strings.NewReader(r.translate(string(l.ReqBody)))
	}
	req, _ := http.NewRequest(l.Method, u, body)
	if l.ReqContentType != "" {
		req.Header.Set("Content-Type", l.ReqContentType)
	}
	if a := r.authHeader(l); a != "" {
		req.Header.Set("Authorization", a)
	}
	resp, err := http.DefaultClient.Do(req)
	key := fmt.Sprintf("rest:%d", l.n)
	if err != nil {
		r.mismatch(key, "%s %s: %v", l.Method, u, err)
		return
	}
	got, _ := io.ReadAll(resp.Body)
	_ = resp.Body.Close()
	if resp.StatusCode != l.Status {
		r.mismatch(key, "%s %s?%s: status %d (%s), trace %d (%s)", l.Method, path, q, resp.StatusCode, got, l.Status, l.Body)
		return
	}
	if len(l.Body) > 0 {
		if d := shapeDiff(l.Body, got); d != "" {
			r.mismatch(key, "%s %s?%s: body fields differ: %s\n  sim:   %s\n  trace: %s", l.Method, path, q, d, got, l.Body)
		}
		if l.Method == http.MethodPost && resp.StatusCode/100 == 2 {
			r.learn(l.Body, got)
		}
	}
}

// shapeDiff compares the field names (in order) of two JSON values.
func shapeDiff(want, got []byte) string {
	var w, g any
	if err := json.Unmarshal(got, &g); err != nil {
		return "simulator body is not JSON"
	}
	_ = json.Unmarshal(want, &w)
	wk, gk := keyPaths(want, ""), keyPaths(got, "")
	_ = w
	if !slices.Equal(wk, gk) {
		return fmt.Sprintf("want %v, got %v", wk, gk)
	}
	return ""
}

// keyPaths lists the object keys of a JSON document in order, with their
// paths; arrays contribute their first element.
func keyPaths(raw []byte, prefix string) []string {
	dec := json.NewDecoder(bytes.NewReader(raw))
	var out []string
	var walk func(prefix string) error
	walk = func(prefix string) error {
		tok, err := dec.Token()
		if err != nil {
			return err
		}
		switch tok {
		case json.Delim('{'):
			for dec.More() {
				k, _ := dec.Token()
				p := prefix + "." + k.(string)
				out = append(out, p)
				if err := walk(p); err != nil {
					return err
				}
			}
			_, err = dec.Token()
		case json.Delim('['):
			for i := 0; dec.More(); i++ {
				before := len(out)
				if err := walk(prefix + "[]"); err != nil {
					return err
				}
				if i > 0 {
					out = out[:before]
				}
			}
			_, err = dec.Token()
		}
		return err
	}
	_ = walk(prefix)
	return out
}

// eventKey says which object an event is about: its channel (Dial: its
// peer), else its bridge or playback.
func eventKey(m map[string]any) string {
	obj := func(k string) string {
		if o, ok := m[k].(map[string]any); ok {
			id, _ := o["id"].(string)
			return id
		}
		return ""
	}
	if id := obj("channel"); id != "" {
		return "channel:" + id
	}
	if id := obj("peer"); id != "" {
		return "channel:" + id
	}
	if id := obj("bridge"); id != "" {
		return "bridge:" + id
	}
	if id := obj("playback"); id != "" {
		return "playback:" + id
	}
	if rec, ok := m["recording"].(map[string]any); ok {
		return "recording:" + fmt.Sprint(rec["name"])
	}
	return "app"
}

func eventLabel(m map[string]any) string {
	typ, _ := m["type"].(string)
	switch typ {
	case "Dial":
		return typ + ":" + fmt.Sprint(m["dialstatus"])
	case "ChannelVarset":
		return typ + ":" + fmt.Sprint(m["variable"])
	case "ChannelStateChange":
		ch, _ := m["channel"].(map[string]any)
		return typ + ":" + fmt.Sprint(ch["state"])
	case "PlaybackStarted", "PlaybackFinished", "PlaybackContinuing":
		pb, _ := m["playback"].(map[string]any)
		return typ + ":" + fmt.Sprint(pb["state"])
	case "ChannelHangupRequest", "ChannelDestroyed":
		return fmt.Sprintf("%s:%v", typ, m["cause"])
	}
	return typ
}

func (r *replay) traceEventOf(raw json.RawMessage) traceEvent {
	var m map[string]any
	_ = json.Unmarshal(raw, &m)
	return traceEvent{key: eventKey(m), typ: eventLabel(m)}
}

// compareEvents compares, per socket and per object, the sequence of event
// types the simulator sent with the trace's.
func (r *replay) compareEvents() {
	back := map[string]string{}
	for tid := range r.traceNames {
		r.simID(tid)
	}
	for tid, sid := range r.idMap {
		back[sid] = tid
	}
	labels := map[string]bool{}
	for l := range r.expected {
		labels[l] = true
	}
	for l := range r.sockets {
		labels[l] = true
	}
	for _, label := range slices.Sorted(mapKeys(labels)) {
		want := group(r.expected[label])
		var got []traceEvent
		if rs := r.sockets[label]; rs != nil {
			for _, m := range rs.messages() {
				ev := traceEvent{key: eventKey(m), typ: eventLabel(m)}
				kind, id, _ := strings.Cut(ev.key, ":")
				if tid, ok := back[id]; ok {
					ev.key = kind + ":" + tid
				} else if id != "" && (kind == "channel" || kind == "playback") {
					// A server-chosen id the replay never learned.
					ev.key = kind + ":sim:" + id
				}
				got = append(got, ev)
			}
		}
		have := group(got)
		keys := map[string]bool{}
		for k := range want {
			keys[k] = true
		}
		for k := range have {
			keys[k] = true
		}
		for _, k := range slices.Sorted(mapKeys(keys)) {
			if !slices.Equal(want[k], have[k]) {
				r.mismatch("events:"+label+":"+k, "socket %s %s (%s):\n  sim:   %v\n  trace: %v", label, k, r.traceNames[strings.TrimPrefix(k, "channel:")], have[k], want[k])
			}
		}
	}
}

func group(evs []traceEvent) map[string][]string {
	out := map[string][]string{}
	for _, e := range evs {
		out[e.key] = append(out[e.key], e.typ)
	}
	return out
}

// traceShapes holds, per event type, every field layout (nested key paths
// in order) the traces recorded, across all trace files in testdata.
var traceShapes = sync.OnceValue(func() map[string]map[string]bool {
	out := map[string]map[string]bool{}
	files, _ := filepath.Glob(filepath.Join("testdata", "*.jsonl"))
	for _, f := range files {
		data, err := os.ReadFile(f)
		if err != nil {
			continue
		}
		for line := range bytes.SplitSeq(data, []byte("\n")) {
			var l traceLine
			if json.Unmarshal(line, &l) != nil || l.Dir != "event" {
				continue
			}
			if out[l.Type] == nil {
				out[l.Type] = map[string]bool{}
			}
			out[l.Type][strings.Join(keyPaths(l.Msg, ""), " ")] = true
		}
	}
	return out
})

// compareEventShapes checks that every frame the simulator sent has a field
// layout Asterisk produced for that event type.
func (r *replay) compareEventShapes() {
	shapes := traceShapes()
	for label, rs := range r.sockets {
		for _, f := range rs.frames() {
			var m map[string]any
			_ = json.Unmarshal([]byte(f), &m)
			typ, _ := m["type"].(string)
			known := shapes[typ]
			if known == nil {
				continue // a type no trace recorded
			}
			if got := strings.Join(keyPaths([]byte(f), ""), " "); !known[got] {
				r.mismatch("shape:"+typ, "socket %s: %s frame has fields %s, traces have %v", label, typ, got, slices.Sorted(mapKeys(known)))
			}
		}
	}
}

// mismatch reports a divergence unless the allow-list names it.
func (r *replay) mismatch(key, format string, args ...any) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if d, ok := allowed(r.file, key); ok {
		r.used[key] = true
		r.t.Logf("allowed divergence %q (%s): %s", d.name, key, fmt.Sprintf(format, args...))
		return
	}
	r.t.Errorf("%s %s: "+format, append([]any{r.file, key}, args...)...)
}

// checkAllowList fails on allow-list entries that no longer match anything,
// so the list stays exact.
func (r *replay) checkAllowList() {
	for _, d := range divergences {
		if d.trace == r.file && !d.timing && !r.used[d.key] {
			r.t.Errorf("allow-list entry %q (%s %s) matched nothing: remove it from divergences_test.go and DIVERGENCES.md", d.name, d.trace, d.key)
		}
	}
}
