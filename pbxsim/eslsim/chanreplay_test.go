package eslsim

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"net"
	"net/url"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/tandem-cc/tandem/pbxsim"
)

// The channel traces (02 from its first originate, 03–08) are replayed
// against the whole simulator: the switch behind the protocol, over TCP.
// Each client frame of the trace is sent at the trace's moment of a manual
// clock the replay moves (so scripted delays fall between the same two
// commands however slow the machine is). What the rig did outside
// FreeSWITCH's control surface is mapped onto the simulator's own parties:
// the customer originate (`loopback/N/acd-inbound`) becomes Sim.Call, the
// customer's hangup (`uuid_kill A`) Sim.HangUp, the customer's DTMF
// (`uuid_send_dtmf A`, the esltrace-dtmf dialplan) Sim.InjectDTMF, and the
// fake phones (`loopback/agentN/sim-agent*`) SetPhone modes.
//
// Compared: every reply (Reply-Text, api body) exactly up to UUIDs and
// numbers; every BACKGROUND_JOB body of a replayed bgapi; per compared leg
// (the inbound B legs and the originated G legs) the sequence, in
// Event-Sequence order, of Event-Name and key headers; and per event type
// the layout (names in order) of the non-variable headers. Variables are
// reported, not compared. Every difference is a mismatch unless
// divergences_test.go names it.

// keyHeaders are the headers whose values make up a leg's event label.
var keyHeaders = []string{
	"Answer-State", "Channel-State", "Channel-Call-State", "Original-Channel-Call-State", "Hangup-Cause",
	"Application", "Application-Response", "Bridge-A-Unique-ID", "Bridge-B-Unique-ID",
	"DTMF-Digit", "DTMF-Duration", "DTMF-Source", "Record-File-Path", "Playback-File-Path",
	"Media-Bug-Function",
}

// crConn is one replayed connection: a reader goroutine collects every
// frame the simulator sends on it.
type crConn struct {
	name string
	nc   net.Conn
	mu   sync.Mutex
	got  []serverFrame
	done chan struct{}
}

func (c *crConn) frames() []serverFrame {
	c.mu.Lock()
	defer c.mu.Unlock()
	return slices.Clone(c.got)
}

func (c *crConn) read() {
	defer close(c.done)
	r := bufio.NewReader(c.nc)
	for {
		f, err := readServerFrame(r)
		if err != nil {
			return
		}
		c.mu.Lock()
		c.got = append(c.got, f)
		c.mu.Unlock()
	}
}

// waitFor waits until cond holds for the frames received so far.
func (c *crConn) waitFor(cond func([]serverFrame) bool) bool {
	deadline := time.Now().Add(15 * time.Second)
	for time.Now().Before(deadline) {
		if cond(c.frames()) {
			return true
		}
		time.Sleep(time.Millisecond)
	}
	return false
}

// crSend is one client frame of the trace and what the replay does with it.
type crSend struct {
	line    int // 1-based
	l       traceLine
	replies []serverFrame // the trace's non-event frames answering it
	action  string        // "" send as is; "call", "hangup", "dtmf": a party's action
	arg     string
	jobUUID string // trace Job-UUID of a bgapi
}

type chanReplay struct {
	t     *testing.T
	name  string
	lines []traceLine
	sim   *Sim
	clock *manualClock
	addr  string

	obsMu    sync.Mutex
	observed []Event

	conns    map[string]*crConn
	sends    []*crSend
	roleOf   map[string]string // trace uuid → role (B1, G1, A1, ...)
	simRole  map[string]string // simulator uuid → role
	customer map[string]int    // trace A uuid → customer index
	simB     map[int]string    // customer index → simulator B uuid
	traceJob map[string]string // trace Job-UUID → simulator Job-UUID
	found    map[string]string // mismatch key → message
	start    time.Time
	timed    []timedAction

	compared, comparedEvents int // replies and trace leg events compared
}

func newChanReplay(t *testing.T, name string) *chanReplay {
	r := &chanReplay{
		t: t, name: name, lines: loadTrace(t, name), clock: newManualClock(),
		conns: map[string]*crConn{}, roleOf: map[string]string{}, simRole: map[string]string{},
		customer: map[string]int{}, simB: map[int]string{}, traceJob: map[string]string{}, found: map[string]string{},
	}
	r.start = r.clock.Now()
	r.sim = New(Options{
		Password: testPassword, Clock: r.clock, Reorder: -1, TableDelay: 1500 * time.Millisecond,
		// The rig's phones answer within a few ms (trace 02's sync
		// originate returned before the next command, 3 ms later).
		Timing:  pbxsim.Timing{AnswerSettle: time.Millisecond, Unreachable: time.Millisecond},
		observe: func(e Event) { r.obsMu.Lock(); r.observed = append(r.observed, e); r.obsMu.Unlock() },
	})
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	r.addr = ln.Addr().String()
	ctx, cancel := context.WithCancel(context.Background())
	served := make(chan struct{})
	go func() { defer close(served); _ = r.sim.Serve(ctx, ln) }()
	t.Cleanup(func() {
		for _, c := range r.conns {
			_ = c.nc.Close()
			<-c.done
		}
		cancel()
		r.sim.Close()
		<-served
	})
	r.plan()
	return r
}

var (
	origUUIDRE = regexp.MustCompile(`origination_uuid=([0-9a-f-]{36})`)
	customerRE = regexp.MustCompile(`\}loopback/(\d+)/acd-inbound`)
	agentRE    = regexp.MustCompile(`\}loopback/(agent\d+)/([a-z-]+) `)
	ringRE     = regexp.MustCompile(`ring_ms=(\d+)`)
)

// plan classifies the trace's sends and names the legs.
func (r *chanReplay) plan() {
	lastSend := map[string]*crSend{}
	var nCust, nAgent int
	for i, l := range r.lines {
		switch l.Dir {
		case "send":
			s := &crSend{line: i + 1, l: l}
			cmd := strings.TrimRight(l.Headers, "\r\n")
			if m := customerRE.FindStringSubmatch(cmd); m != nil {
				a := origUUIDRE.FindStringSubmatch(cmd)[1]
				nCust++
				r.customer[a] = nCust
				r.roleOf[a] = fmt.Sprintf("A%d", nCust)
				s.action, s.arg = "call", m[1]
			} else if m := agentRE.FindStringSubmatch(cmd); m != nil {
				if u := origUUIDRE.FindStringSubmatch(cmd); u != nil {
					nAgent++
					r.roleOf[u[1]] = fmt.Sprintf("G%d", nAgent)
					r.simRole[u[1]] = r.roleOf[u[1]]
				}
			}
			r.sends = append(r.sends, s)
			lastSend[l.Conn] = s
		case "recv":
			if isEventFrame(l) {
				continue
			}
			if s := lastSend[l.Conn]; s != nil {
				f := traceFrame(l)
				s.replies = append(s.replies, f)
				if j := f.get("Job-UUID"); j != "" {
					s.jobUUID = j
				}
			}
		}
	}
	// B legs: the loopback leg whose origination_uuid is a customer's A.
	for _, l := range r.lines {
		if l.Dir != "recv" || !isEventFrame(l) {
			continue
		}
		ev := parseTraceEvent(l)
		if ev == nil {
			continue
		}
		id := ev.Get("Unique-ID")
		if k, ok := r.customer[ev.Get("variable_origination_uuid")]; ok && ev.Get("variable_loopback_leg") == "B" && id != "" {
			r.roleOf[id] = fmt.Sprintf("B%d", k)
		}
	}
	// The customer's own actions on its A leg.
	for _, s := range r.sends {
		cmd := strings.TrimRight(s.l.Headers, "\r\n")
		f := strings.Fields(cmd)
		if len(f) < 3 || f[0] != "api" {
			continue
		}
		k, isA := r.customer[f[2]]
		if !isA {
			continue
		}
		switch f[1] {
		case "uuid_kill":
			s.action, s.arg = "hangup", strconv.Itoa(k)
		case "uuid_send_dtmf":
			s.action, s.arg = "dtmf", strconv.Itoa(k)+" "+f[3]
		}
	}
}

// parseTraceEvent decodes a plain or json event frame of a trace into an
// Event (values decoded), nil if it is neither.
func parseTraceEvent(l traceLine) *Event {
	return parseEventFrame(traceFrame(l))
}

func parseEventFrame(f serverFrame) *Event {
	switch f.get("Content-Type") {
	case "text/event-plain":
		head, body, _ := strings.Cut(f.body, "\n\n")
		ev := &Event{Body: body}
		for _, line := range strings.Split(head, "\n") {
			k, v, _ := strings.Cut(line, ": ")
			if dv, err := url.PathUnescape(v); err == nil {
				v = dv
			}
			ev.Headers = append(ev.Headers, Header{Name: k, Value: v})
		}
		return ev
	case "text/event-json":
		dec := json.NewDecoder(strings.NewReader(f.body))
		if _, err := dec.Token(); err != nil {
			return nil
		}
		ev := &Event{}
		for dec.More() {
			k, err := dec.Token()
			if err != nil {
				return nil
			}
			var raw json.RawMessage
			if err := dec.Decode(&raw); err != nil {
				return nil
			}
			// Values are strings, except an array for a variable set
			// more than once (variable_DP_MATCH).
			v := string(raw)
			_ = json.Unmarshal(raw, &v)
			ks, _ := k.(string)
			if ks == "_body" {
				ev.Body = v
				continue
			}
			ev.Headers = append(ev.Headers, Header{Name: ks, Value: v})
		}
		return ev
	}
	return nil
}

// advance moves the clock to the trace moment sec.
func (r *chanReplay) advance(sec float64) {
	at := r.start.Add(time.Duration(sec * float64(time.Second)))
	if d := at.Sub(r.clock.Now()); d > 0 {
		r.clock.Advance(d)
	}
}

func (r *chanReplay) conn(name string) *crConn {
	if c, ok := r.conns[name]; ok {
		return c
	}
	nc, err := net.Dial("tcp", r.addr)
	if err != nil {
		r.t.Fatalf("dial %s: %v", name, err)
	}
	c := &crConn{name: name, nc: nc, done: make(chan struct{})}
	r.conns[name] = c
	go c.read()
	return c
}

func (r *chanReplay) observedCount(pred func(Event) bool) int {
	r.obsMu.Lock()
	defer r.obsMu.Unlock()
	n := 0
	for i := range r.observed {
		if pred(r.observed[i]) {
			n++
		}
	}
	return n
}

func (r *chanReplay) waitObserved(pred func(Event) bool, n int) {
	deadline := time.Now().Add(15 * time.Second)
	for r.observedCount(pred) < n && time.Now().Before(deadline) {
		time.Sleep(time.Millisecond)
	}
}

// nonEvents counts the frames on c that are not events.
func nonEvents(fs []serverFrame) int {
	n := 0
	for _, f := range fs {
		if !strings.HasPrefix(f.get("Content-Type"), "text/event-") {
			n++
		}
	}
	return n
}

// run replays the trace's sends on its timeline.
func (r *chanReplay) run(setPhones func(s *crSend)) {
	expected := map[string]int{} // non-event frames expected so far per conn
	pending := map[string]bool{} // a blocking api whose reply may wait for the clock
	for i, l := range r.lines {
		if l.Dir == "recv" && l.Headers == "Content-Type: auth/request\n\n" {
			c := r.conn(l.Conn)
			expected[l.Conn]++
			if !c.waitFor(func(fs []serverFrame) bool { return nonEvents(fs) >= expected[l.Conn] }) {
				r.t.Fatalf("line %d: no greeting on %s", i+1, l.Conn)
			}
		}
	}
	for _, s := range r.sends {
		r.runTimed(s.l.T)
		r.advance(s.l.T)
		c := r.conn(s.l.Conn)
		if pending[s.l.Conn] {
			want := expected[s.l.Conn]
			c.waitFor(func(fs []serverFrame) bool { return nonEvents(fs) >= want })
			pending[s.l.Conn] = false
		}
		if s.action != "" {
			r.partyAction(s)
			continue
		}
		if setPhones != nil {
			setPhones(s)
		}
		cmd := strings.TrimRight(s.l.Headers, "\r\n")
		if cmd == "exit" || cmd == "..." {
			// The tracer had every event before it left.
			r.flush()
		}
		uuidsBefore := r.observedCount(isEvent("CHANNEL_UUID"))
		data := r.translate(strings.Replace(s.l.Headers, "auth <password>", "auth "+testPassword, 1) + s.l.Body)
		if _, err := c.nc.Write([]byte(data)); err != nil {
			r.t.Fatalf("line %d: write: %v", s.line, err)
		}
		expected[s.l.Conn] += len(s.replies)
		isOriginate := strings.Contains(cmd, "originate ")
		switch {
		case isOriginate && strings.HasPrefix(cmd, "api "):
			// Blocks until the far end answers or fails: wait until the
			// leg exists (its timers run on the clock), the reply later.
			r.waitObserved(isEvent("CHANNEL_UUID"), uuidsBefore+1)
			pending[s.l.Conn] = true
		default:
			want := expected[s.l.Conn]
			if !c.waitFor(func(fs []serverFrame) bool { return nonEvents(fs) >= want }) {
				r.mismatch(fmt.Sprintf("reply:%d", s.line), "no reply to %q", trunc(cmd))
			}
			if isOriginate && strings.HasPrefix(cmd, "bgapi ") {
				r.waitObserved(isEvent("CHANNEL_UUID"), uuidsBefore+1)
			}
		}
	}
	end := r.lines[len(r.lines)-1].T + 1
	r.runTimed(end)
	r.advance(end)
	r.flush()
}

func isEvent(name string) func(Event) bool {
	return func(e Event) bool { return e.Get("Event-Name") == name }
}

// flush waits until every event the switch queued so far has been
// published and has reached the connections that want all events.
func (r *chanReplay) flush() {
	done := make(chan struct{})
	r.sim.mu.Lock()
	r.sim.queueFunc(func() { close(done) })
	r.sim.mu.Unlock()
	<-done
	r.obsMu.Lock()
	last := ""
	if n := len(r.observed); n > 0 {
		last = r.observed[n-1].Get("Event-Sequence")
	}
	r.obsMu.Unlock()
	for _, c := range r.conns {
		c.waitFor(func(fs []serverFrame) bool {
			for _, f := range fs {
				if ev := parseEventFrame(f); ev != nil && ev.Get("Event-Sequence") == last {
					return true
				}
			}
			return !r.subscribedAll(c.name) || slices.ContainsFunc(fs, func(f serverFrame) bool {
				return f.get("Content-Type") == "text/disconnect-notice"
			})
		})
	}
}

// subscribedAll says whether the trace's connection subscribed to ALL.
func (r *chanReplay) subscribedAll(conn string) bool {
	for _, s := range r.sends {
		h := strings.ToLower(s.l.Headers)
		if s.l.Conn == conn && strings.HasPrefix(h, "event ") && strings.Contains(h, " all") {
			return true
		}
	}
	return false
}

// partyAction does what the rig's customer did on its own A leg.
func (r *chanReplay) partyAction(s *crSend) {
	switch s.action {
	case "call":
		b, err := r.sim.Call(pbxsim.Caller{ANI: s.arg, DNIS: "8000"})
		if err != nil {
			r.t.Fatalf("line %d: call: %v", s.line, err)
		}
		k := len(r.simB) + 1
		r.simB[k] = b
		r.simRole[b] = fmt.Sprintf("B%d", k)
		// The rig's acd-inbound context has no park_after_bridge (trace
		// 04 shows B hung up with its bridge peer): undo Tandem's.
		r.sim.api(context.Background(), "uuid_setvar", b+" park_after_bridge")
		for tb, role := range r.roleOf {
			if role == fmt.Sprintf("B%d", k) {
				r.roleOf[tb] = role
			}
		}
		if strings.Contains(s.l.Headers, "esltrace-dtmf") {
			r.scheduleDialplanDTMF(k)
		}
	case "hangup":
		k, _ := strconv.Atoi(s.arg)
		if v, ok := r.sim.Channel(r.simB[k]); !ok || v.HungUp {
			return // B went first (its bridge peer hung up); the rig's A outlived it
		}
		if err := r.sim.HangUp(r.simB[k]); err != nil {
			r.mismatch(fmt.Sprintf("party:%d", s.line), "hang up: %v", err)
		}
	case "dtmf":
		k, digits, _ := strings.Cut(s.arg, " ")
		n, _ := strconv.Atoi(k)
		if err := r.sim.InjectDTMF(r.simB[n], digits); err != nil {
			r.mismatch(fmt.Sprintf("party:%d", s.line), "inject dtmf: %v", err)
		}
	}
}

// scheduleDialplanDTMF plays the esltrace-dtmf context on the customer's
// side (after answer, 1 s, `send_dtmf 1234#`, 1.5 s, `send_dtmf *9@400`):
// the replay injects each group at the moment the trace's first DTMF of
// that group arrived.
func (r *chanReplay) scheduleDialplanDTMF(k int) {
	var times []float64
	prevDur := ""
	for _, l := range r.lines {
		if l.Dir != "recv" || !isEventFrame(l) {
			continue
		}
		ev := parseTraceEvent(l)
		if ev == nil || ev.Get("Event-Name") != "DTMF" || ev.Get("DTMF-Source") != "UNKNOWN" {
			continue
		}
		if d := ev.Get("DTMF-Duration"); d != prevDur || len(times) == 0 {
			times = append(times, l.T)
			prevDur = d
		}
		if len(times) == 2 {
			break
		}
	}
	if len(times) < 2 {
		r.t.Fatalf("no dialplan DTMF in %s", r.name)
	}
	for i, digits := range []string{"1234#", "*9@400"} {
		r.timed = append(r.timed, timedAction{at: times[i] - 0.001, fn: func() {
			if err := r.sim.InjectDTMF(r.simB[k], digits); err != nil {
				r.mismatch("party:dtmf", "dialplan dtmf: %v", err)
			}
		}})
	}
}

// timedAction is something a party does at a trace moment, not in answer
// to a client frame.
type timedAction struct {
	at float64
	fn func()
}

// runTimed runs the timed actions due before trace moment sec.
func (r *chanReplay) runTimed(sec float64) {
	for len(r.timed) > 0 {
		slices.SortFunc(r.timed, func(a, b timedAction) int { return cmpFloat(a.at, b.at) })
		if r.timed[0].at >= sec {
			return
		}
		a := r.timed[0]
		r.timed = r.timed[1:]
		r.advance(a.at)
		a.fn()
	}
}

func cmpFloat(a, b float64) int {
	switch {
	case a < b:
		return -1
	case a > b:
		return 1
	}
	return 0
}

// translate maps the trace's B uuids onto the simulator's.
func (r *chanReplay) translate(s string) string {
	return uuidRE.ReplaceAllStringFunc(s, func(u string) string {
		role := r.roleOf[u]
		if !strings.HasPrefix(role, "B") {
			return u
		}
		k, _ := strconv.Atoi(role[1:])
		if b, ok := r.simB[k]; ok {
			return b
		}
		return u
	})
}

func (r *chanReplay) mismatch(key, format string, args ...any) {
	if _, dup := r.found[key]; dup {
		return
	}
	r.found[key] = fmt.Sprintf(format, args...)
}
