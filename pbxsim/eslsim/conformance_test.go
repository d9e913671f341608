package eslsim

import (
	"bufio"
	"context"
	"net"
	"net/url"
	"regexp"
	"strings"
	"testing"
	"time"
)

// replayOptions adapt the trace replay to a scenario. Every hook is
// optional. The other half of the simulator reuses replay for the channel
// scenarios with its own hooks.
type replayOptions struct {
	// Dial opens the connection the trace calls conn (default: TCP to the
	// address given to replay).
	Dial func(conn string) (net.Conn, error)
	// SkipConn leaves a whole connection out.
	SkipConn func(conn string) bool
	// SkipExchange leaves out a send and the frames that follow it on its
	// connection until the next send there (things the simulator under
	// test does not do).
	SkipExchange func(conn, send string) bool
	// SkipRecv leaves out one received frame that the simulator under test
	// does not produce (e.g. events of channels, log/data).
	SkipRecv func(l traceLine) bool
	// StopAt ends the replay at the first line it accepts.
	StopAt func(l traceLine) bool
	// BeforeRecv runs before an expected frame is read (to trigger what the
	// trace's FreeSWITCH did on its own: a hangup, time passing).
	BeforeRecv func(l traceLine)
	// LooseBody reports whether the body of the reply to send is compared
	// by its first line only (e.g. `show modules`: the simulator lists
	// fewer modules).
	LooseBody func(send string) bool
}

type replayConn struct {
	nc       net.Conn
	r        *bufio.Reader
	skipping bool
	lastSend string
	// early are frames that arrived ahead of their turn: an event and
	// this connection's command reply are not ordered by FreeSWITCH (an
	// event may be another connection's job result, or a channel's), only
	// events among themselves and replies among themselves are. So a frame
	// of one kind may come before a frame of the other kind the trace
	// shows first; it waits here, and must still be matched, in order, by
	// a later expected frame of its kind.
	early [2][]serverFrame // [0] replies and other frames, [1] events
}

// isEventOf says whether a server frame is an event (text/event-*).
func isEventOf(f serverFrame) bool {
	return strings.HasPrefix(f.get("Content-Type"), "text/event-")
}

// next is the frame to compare with want: the first early frame of want's
// kind, else the next frame read, setting aside those of the other kind.
func (c *replayConn) next(want serverFrame) (serverFrame, error) {
	kind := kindOf(want)
	if len(c.early[kind]) > 0 {
		f := c.early[kind][0]
		c.early[kind] = c.early[kind][1:]
		return f, nil
	}
	for {
		got, err := readServerFrame(c.r)
		if err != nil || kindOf(got) == kind || len(c.early[1-kind]) >= 64 {
			return got, err
		}
		c.early[1-kind] = append(c.early[1-kind], got)
	}
}

// kindOf is 1 for an event (text/event-*), 0 for any other frame.
func kindOf(f serverFrame) int {
	if isEventOf(f) {
		return 1
	}
	return 0
}

// replay sends the trace's client frames to the simulator at addr, in the
// trace's order across connections, and compares every frame it expects
// to receive with what the simulator sends (compareFrames). The password
// in `auth <password>` lines becomes testPassword.
func replay(t *testing.T, addr string, lines []traceLine, o replayOptions) {
	t.Helper()
	if o.Dial == nil {
		o.Dial = func(string) (net.Conn, error) { return net.Dial("tcp", addr) }
	}
	conns := map[string]*replayConn{}
	defer func() {
		for _, c := range conns {
			_ = c.nc.Close()
		}
	}()
	get := func(name string) *replayConn {
		if c, ok := conns[name]; ok {
			return c
		}
		nc, err := o.Dial(name)
		if err != nil {
			t.Fatalf("conn %s: %v", name, err)
		}
		c := &replayConn{nc: nc, r: bufio.NewReader(nc)}
		conns[name] = c
		return c
	}
	compared := 0
	for i, l := range lines {
		if l.Dir == "note" || l.Conn == "" {
			continue
		}
		if o.StopAt != nil && o.StopAt(l) {
			break
		}
		if o.SkipConn != nil && o.SkipConn(l.Conn) {
			continue
		}
		c := get(l.Conn)
		switch l.Dir {
		case "send":
			c.skipping = o.SkipExchange != nil && o.SkipExchange(l.Conn, l.Headers)
			c.lastSend = l.Headers
			if c.skipping {
				continue
			}
			data := strings.Replace(l.Headers, "auth <password>", "auth "+testPassword, 1) + l.Body
			if _, err := c.nc.Write([]byte(data)); err != nil {
				t.Fatalf("line %d (%s): write: %v", i+1, l.Conn, err)
			}
		case "recv":
			if c.skipping || (o.SkipRecv != nil && o.SkipRecv(l)) {
				continue
			}
			if o.BeforeRecv != nil {
				o.BeforeRecv(l)
			}
			_ = c.nc.SetReadDeadline(time.Now().Add(20 * time.Second))
			got, err := c.next(traceFrame(l))
			if err != nil {
				t.Fatalf("line %d (%s, after %q): expected %q, read: %v", i+1, l.Conn, c.lastSend, l.Headers, err)
			}
			loose := o.LooseBody != nil && o.LooseBody(c.lastSend)
			if msg := compareFrames(traceFrame(l), got, loose); msg != "" {
				t.Fatalf("line %d (%s, after %q): %s", i+1, l.Conn, trunc(c.lastSend), msg)
			}
			compared++
		}
	}
	if compared == 0 {
		t.Fatal("replay compared no frame")
	}
	for name, c := range conns {
		for _, left := range c.early {
			if len(left) > 0 {
				t.Errorf("conn %s: %d frames the trace never expected, first %q", name, len(left), left[0].raw)
			}
		}
	}
	t.Logf("%d frames compared", compared)
}

func trunc(s string) string {
	if len(s) > 80 {
		return s[:80] + "..."
	}
	return s
}

var (
	uuidRE  = regexp.MustCompile(`[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}`)
	digitRE = regexp.MustCompile(`[0-9]+`)
	// Dates are compared by shape: weekday and month names differ.
	dateRE = regexp.MustCompile(`(Event-Date-(?:Local|GMT)(?:": "|":"|: |>))([^"\n<]*)`)
	wordRE = regexp.MustCompile(`[A-Za-z]+`)
)

// shape keeps what must match exactly and blurs what differs run to run:
// UUIDs, numbers (times, sequences, lengths, counters) and dates.
func shape(s string) string {
	s = dateRE.ReplaceAllStringFunc(s, func(m string) string {
		sub := dateRE.FindStringSubmatch(m)
		return sub[1] + wordRE.ReplaceAllString(sub[2], "w")
	})
	s = uuidRE.ReplaceAllString(s, "<uuid>")
	return digitRE.ReplaceAllString(s, "N")
}

// compareFrames compares an expected (trace) frame with one the simulator
// sent: header names in the same order, values equal by shape (Reply-Text
// and Content-Type exactly up to UUIDs and numbers), the body by shape (for
// events, that covers the header order and encoding inside the body).
// It returns "" when they match.
func compareFrames(want, got serverFrame, looseBody bool) string {
	if len(want.headers) != len(got.headers) {
		return "header block\n want " + strings.ReplaceAll(shape(want.raw), "\n", "|") + "\n got  " + strings.ReplaceAll(shape(got.raw), "\n", "|")
	}
	for i := range want.headers {
		w, g := want.headers[i], got.headers[i]
		if w.Name != g.Name || shape(w.Value) != shape(g.Value) {
			return "header " + w.Name + ": want " + trunc(w.Name+": "+w.Value) + ", got " + trunc(g.Name+": "+g.Value)
		}
	}
	wb, gb := shape(want.body), shape(got.body)
	if looseBody {
		wb, _, _ = strings.Cut(strings.TrimLeft(wb, "\n"), "\n")
		gb, _, _ = strings.Cut(strings.TrimLeft(gb, "\n"), "\n")
	}
	if wb != gb {
		return "body\n want " + trunc(wb) + "\n got  " + trunc(gb) + "\n first difference at " + firstDiff(wb, gb)
	}
	return ""
}

func firstDiff(a, b string) string {
	i := 0
	for i < len(a) && i < len(b) && a[i] == b[i] {
		i++
	}
	lo := max(0, i-40)
	return "…" + a[lo:min(len(a), i+40)] + " vs …" + b[lo:min(len(b), i+40)]
}

func isEventFrame(l traceLine) bool { return strings.Contains(l.Headers, "Content-Type: text/event-") }

func TestTraceConnectAuth(t *testing.T) {
	lines := loadTrace(t, "01-connect-auth")
	_, addr := startProto(t, newTestSwitch(), protocolOptions{Reorder: -1})
	replay(t, addr, lines, replayOptions{})
}

func TestTraceAPIBgapi(t *testing.T) {
	lines := loadTrace(t, "02-api-bgapi")
	_, addr := startProto(t, newTestSwitch(), protocolOptions{Reorder: -1})
	replay(t, addr, lines, replayOptions{
		// Everything from the first originate on is about channels.
		StopAt: func(l traceLine) bool { return l.Dir == "send" && strings.Contains(l.Headers, "originate") },
		// show channels/calls are the switch's.
		SkipExchange: func(_, send string) bool { return strings.HasPrefix(send, "api show ") },
	})
}

func TestTraceErrorsFraming(t *testing.T) {
	lines := loadTrace(t, "10-errors-framing")
	clock := newManualClock()
	_, addr := startProto(t, newTestSwitch(), protocolOptions{Reorder: -1, Clock: clock})
	replay(t, addr, lines, replayOptions{
		// hb waits for real HEARTBEATs (TestHeartbeatEvery20s covers it);
		// longjob240's partial frame only shows when the client closes.
		SkipConn: func(c string) bool { return c == "hb" || c == "longjob240" },
		SkipExchange: func(_, send string) bool {
			for _, s := range []string{"uuid_", "originate", "api show calls", "api show channels", "api eval", "api expand"} {
				if strings.Contains(send, s) {
					return true
				}
			}
			return false
		},
		SkipRecv: func(l traceLine) bool { return strings.Contains(l.Headers, "Content-Type: log/data") },
		BeforeRecv: func(l traceLine) {
			if l.Conn == "idle-unauth" && strings.Contains(l.Headers, "disconnect-notice") {
				clock.Advance(25 * time.Second)
			}
		},
		LooseBody: func(send string) bool {
			return strings.HasPrefix(send, "api show modules") || strings.HasPrefix(send, "api help")
		},
	})
}

// TestTraceOutboundSocket replays the three outbound-mode calls: the test
// listens like the tracer did, the protocol dials it (after a refused
// address, to exercise the dialplan's fallback), and the test switchboard
// supplies the channel data recorded in the trace's connect reply.
func TestTraceOutboundSocket(t *testing.T) {
	lines := loadTrace(t, "09-outbound-socket")
	clock := newManualClock()
	sw := newTestSwitch()
	p, _ := startProto(t, sw, protocolOptions{Reorder: -1, Clock: clock})
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = ln.Close() }()
	dead, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	deadAddr := dead.Addr().String()
	_ = dead.Close()

	uuidOf := map[string]string{}
	for _, l := range lines {
		if l.Dir != "recv" || !strings.HasPrefix(l.Conn, "out") || uuidOf[l.Conn] != "" {
			continue
		}
		hs := parseHeaderBlock(l.Headers)
		if len(hs) < 5 || hs[0].Value != "CHANNEL_DATA" {
			continue
		}
		var data []Header
		for _, h := range hs[:len(hs)-4] {
			v, err := url.PathUnescape(h.Value)
			if err != nil {
				t.Fatalf("channel data %s: %v", h.Name, err)
			}
			data = append(data, Header{Name: h.Name, Value: v})
			if h.Name == "Unique-ID" {
				uuidOf[l.Conn] = h.Value
			}
		}
		sw.channels[uuidOf[l.Conn]] = data
	}
	if len(uuidOf) != 3 {
		t.Fatalf("found %d outbound connections in the trace, want 3", len(uuidOf))
	}
	replay(t, "", lines, replayOptions{
		SkipConn: func(c string) bool { return !strings.HasPrefix(c, "out") },
		Dial: func(name string) (net.Conn, error) {
			if err := p.dialOutbound(context.Background(), []string{deadAddr, ln.Addr().String()}, uuidOf[name]); err != nil {
				return nil, err
			}
			return ln.Accept()
		},
		// The channel's events are the switch's; uuid_getvar too.
		SkipRecv:     isEventFrame,
		SkipExchange: func(_, send string) bool { return strings.HasPrefix(send, "api ") },
		BeforeRecv: func(l traceLine) {
			switch {
			case strings.Contains(l.Headers, "Content-Disposition: linger"):
				p.channelHungUp(uuidOf[l.Conn])
			case strings.Contains(l.Headers, "Content-Disposition: disconnect"):
				p.channelHungUp(uuidOf[l.Conn])
				clock.Advance(3 * time.Second) // past `linger 2`
			}
		},
	})
}
