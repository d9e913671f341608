package eslsim

import (
	"bufio"
	"context"
	"io"
	"log/slog"
	"net"
	"sort"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/tandem-cc/tandem/pbxsim"
)

const testPassword = "ClueCon-not"

// testSwitch is a switchboard test double used only to unit-test the
// protocol half (framing, delivery): it knows a few channels by their
// channel-data headers and answers uuid_exists and unknown commands. The
// real switch is the other half of the package.
type testSwitch struct {
	mu       sync.Mutex
	channels map[string][]Header
	msgs     []string
	apiGate  chan struct{} // if set, api "block" waits on it
}

func newTestSwitch() *testSwitch { return &testSwitch{channels: map[string][]Header{}} }

func (s *testSwitch) api(ctx context.Context, cmd, arg string) string {
	switch cmd {
	case "uuid_exists":
		s.mu.Lock()
		_, ok := s.channels[arg]
		s.mu.Unlock()
		return strconv.FormatBool(ok)
	case "block":
		select {
		case <-s.apiGate:
		case <-ctx.Done():
		}
		return "+OK unblocked\n"
	}
	return apiNotFound(cmd)
}

func (s *testSwitch) sendmsg(uuid string, headers []Header, body string) string {
	s.mu.Lock()
	defer s.mu.Unlock()
	hs, ok := s.channels[uuid]
	if !ok {
		return "-ERR invalid session id [" + uuid + "]"
	}
	c := command{headers: headers, body: body}
	app, _ := c.header("Execute-App-Name")
	if app == "set" {
		arg, ok := c.header("Execute-App-Arg")
		if !ok {
			arg = strings.TrimRight(body, "\r\n")
		}
		if k, v, ok := strings.Cut(arg, "="); ok {
			s.channels[uuid] = append(hs, Header{Name: "variable_" + k, Value: v})
		}
	}
	s.msgs = append(s.msgs, uuid)
	return "+OK"
}

// socketClosed: the test switch has no dialplan to go on with.
func (s *testSwitch) socketClosed(string) {}

func (s *testSwitch) channelData(uuid string) ([]Header, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	hs, ok := s.channels[uuid]
	return append([]Header(nil), hs...), ok
}

// manualClock is a pbxsim.Clock that moves only when advanced.
type manualClock struct {
	mu     sync.Mutex
	now    time.Time
	timers []*manualTimer
}

type manualTimer struct {
	c    *manualClock
	when time.Time
	f    func()
	done bool
}

func newManualClock() *manualClock {
	return &manualClock{now: time.Date(2026, 11, 21, 22, 43, 38, 0, time.UTC)}
}

func (c *manualClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *manualClock) AfterFunc(d time.Duration, f func()) pbxsim.Timer {
	c.mu.Lock()
	defer c.mu.Unlock()
	t := &manualTimer{c: c, when: c.now.Add(d), f: f}
	c.timers = append(c.timers, t)
	return t
}

func (t *manualTimer) Stop() bool {
	t.c.mu.Lock()
	defer t.c.mu.Unlock()
	was := !t.done
	t.done = true
	return was
}

// Advance moves the clock by d, running due timers in time order (each in
// the caller's goroutine, as pbxsim's manual clock does).
func (c *manualClock) Advance(d time.Duration) {
	c.mu.Lock()
	end := c.now.Add(d)
	c.mu.Unlock()
	for {
		c.mu.Lock()
		sort.SliceStable(c.timers, func(i, j int) bool { return c.timers[i].when.Before(c.timers[j].when) })
		var next *manualTimer
		for _, t := range c.timers {
			if !t.done && !t.when.After(end) {
				next = t
				break
			}
		}
		if next == nil {
			c.now = end
			c.mu.Unlock()
			return
		}
		next.done = true
		c.now = next.when
		c.mu.Unlock()
		next.f()
	}
}

// startProto runs a protocol on a loopback listener and returns it and its
// address; everything stops at the end of the test.
func startProto(t *testing.T, sb switchboard, o protocolOptions) (*protocol, string) {
	t.Helper()
	if o.Password == "" {
		o.Password = testPassword
	}
	if o.Logger == nil {
		o.Logger = slog.New(slog.NewTextHandler(io.Discard, nil))
	}
	p := newProtocol(sb, o)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- p.serve(ctx, ln) }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("serve: %v", err)
		}
		p.close()
	})
	return p, ln.Addr().String()
}

// rawClient is a byte-level client for tests that need exact frames.
type rawClient struct {
	t  *testing.T
	nc net.Conn
	r  *bufio.Reader
}

func dialRaw(t *testing.T, addr string) *rawClient {
	t.Helper()
	nc, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = nc.Close() })
	return &rawClient{t: t, nc: nc, r: bufio.NewReader(nc)}
}

func (c *rawClient) send(s string) {
	c.t.Helper()
	if _, err := c.nc.Write([]byte(s)); err != nil {
		c.t.Fatal(err)
	}
}

// frame reads one server frame within a generous deadline.
func (c *rawClient) frame() serverFrame {
	c.t.Helper()
	_ = c.nc.SetReadDeadline(time.Now().Add(20 * time.Second))
	f, err := readServerFrame(c.r)
	if err != nil {
		c.t.Fatalf("reading a frame: %v", err)
	}
	return f
}

// login reads the greeting and authenticates.
func (c *rawClient) login() {
	c.t.Helper()
	if f := c.frame(); f.get("Content-Type") != "auth/request" {
		c.t.Fatalf("greeting %q", f.raw)
	}
	c.send("auth " + testPassword + "\r\n\r\n")
	if f := c.frame(); f.get("Reply-Text") != "+OK accepted" {
		c.t.Fatalf("auth reply %q", f.raw)
	}
}

// cmd sends a command and returns its Reply-Text.
func (c *rawClient) cmd(s string) string {
	c.t.Helper()
	c.send(s + "\r\n\r\n")
	f := c.frame()
	if f.get("Content-Type") != "command/reply" {
		c.t.Fatalf("%q: got %q", s, f.raw)
	}
	return f.get("Reply-Text")
}

func mustEqual(t *testing.T, what, got, want string) {
	t.Helper()
	if got != want {
		t.Fatalf("%s: got %q, want %q", what, got, want)
	}
}
