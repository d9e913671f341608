package httpserver

import (
	"bufio"
	"errors"
	"io"
	"net"
	"net/http"
	"sync"
	"testing"
	"time"

	"github.com/tandem-cc/tandem/internal/conntest"

	"github.com/tandem-cc/tandem/config"
)

// testHTTP is the http section with timeouts small enough for a test.
// No assertion reads a clock: each test waits, within a generous bound,
// for the server to act.
func testHTTP() config.HTTP {
	h := config.Default().HTTP
	h.Timeouts.ReadHeader = 200 * time.Millisecond
	h.Timeouts.Idle = 200 * time.Millisecond
	return h
}

// start serves h as Listen builds it; Close ends it with the test. hook,
// if set, sees the server's connections; full, if set, is called when
// the server waits for a connection to close before taking another.
func start(t *testing.T, h http.Handler, cfg config.HTTP, hook func(net.Conn, http.ConnState), full func()) string {
	t.Helper()
	srv, ln, err := Listen("127.0.0.1:0", h, Options{HTTP: cfg})
	if err != nil {
		t.Fatal(err)
	}
	srv.ConnState = hook
	ln.(*limitedListener).full = full
	done := make(chan error, 1)
	go func() { done <- srv.Serve(ln) }()
	t.Cleanup(func() {
		_ = srv.Close()
		if err := <-done; !errors.Is(err, http.ErrServerClosed) {
			t.Errorf("serve: %v", err)
		}
	})
	return ln.Addr().String()
}

var ok = http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) { _, _ = io.WriteString(w, "ok") })

// get sends one keep-alive GET on conn and reads the answer.
func get(t *testing.T, conn net.Conn, br *bufio.Reader) *http.Response {
	t.Helper()
	_ = conn.SetDeadline(time.Now().Add(10 * time.Second))
	if _, err := io.WriteString(conn, "GET / HTTP/1.1\r\nHost: tandem\r\n\r\n"); err != nil {
		t.Fatal(err)
	}
	resp, err := http.ReadResponse(br, nil)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := io.ReadAll(resp.Body); err != nil {
		t.Fatal(err)
	}
	_ = resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("status %d", resp.StatusCode)
	}
	return resp
}

func TestIdleKeepAliveConnectionIsClosed(t *testing.T) {
	addr := start(t, ok, testHTTP(), nil, nil)
	conn := conntest.Dial(t, addr)
	br := bufio.NewReader(conn)
	if resp := get(t, conn, br); resp.Close {
		t.Fatal("the answer closes the connection: nothing left to test")
	}
	// The connection is kept alive after the answer; saying nothing more,
	// the client is disconnected after http.timeouts.idle.
	conntest.WaitClosedByServer(t, conn, br)
}

func TestSlowHeadersAreCut(t *testing.T) {
	addr := start(t, ok, testHTTP(), nil, nil)
	conn := conntest.Dial(t, addr)
	// Headers that never end, a few bytes at a time, until the server
	// closes the connection (the write fails) or the test bound passes.
	go func() {
		if _, err := io.WriteString(conn, "GET / HTTP/1.1\r\nHost: tandem\r\n"); err != nil {
			return
		}
		for i := 0; i < 200; i++ {
			if _, err := io.WriteString(conn, "X-Slow: 1\r\n"); err != nil {
				return
			}
			time.Sleep(50 * time.Millisecond) // the client's pace, not a wait on the server
		}
	}()
	conntest.WaitClosedByServer(t, conn, conn)
}

// accepts follows the server's new connections through its ConnState
// hook: for the one past the limit, whether the client had closed one of
// the others before the server took it.
type accepts struct {
	limit    int
	mu       sync.Mutex
	n        int
	released bool // the test has closed one of the held connections
	early    bool // the connection past the limit was taken before that
}

func (a *accepts) hook(_ net.Conn, s http.ConnState) {
	if s != http.StateNew {
		return
	}
	a.mu.Lock()
	defer a.mu.Unlock()
	a.n++
	if a.n == a.limit+1 && !a.released {
		a.early = true
	}
}

func (a *accepts) release() {
	a.mu.Lock()
	defer a.mu.Unlock()
	a.released = true
}

func (a *accepts) takenEarly() bool {
	a.mu.Lock()
	defer a.mu.Unlock()
	return a.early
}

func TestConnectionLimitHoldsExtraConnections(t *testing.T) {
	const limit = 2
	cfg := testHTTP()
	cfg.Timeouts.Idle = time.Hour // only the client closes connections here
	cfg.MaxConnections = limit
	seen := &accepts{limit: limit}
	full := make(chan struct{}, 1)
	addr := start(t, ok, cfg, seen.hook, func() {
		select {
		case full <- struct{}{}:
		default:
		}
	})

	// Two keep-alive connections, served: the limit is reached.
	held := make([]net.Conn, limit)
	for i := range held {
		held[i] = conntest.Dial(t, addr)
		get(t, held[i], bufio.NewReader(held[i]))
	}
	// The server now waits for one to close before taking another.
	select {
	case <-full:
	case <-time.After(10 * time.Second):
		t.Fatalf("the server does not wait with %d connections open", limit)
	}
	// A third connects (the kernel completes the handshake) and sends its
	// request; the server must not take it while the two are open.
	extra := conntest.Dial(t, addr)
	if _, err := io.WriteString(extra, "GET / HTTP/1.1\r\nHost: tandem\r\n\r\n"); err != nil {
		t.Fatal(err)
	}
	// The server takes a connection after the slot's is closed on its
	// side, which follows the client's close: marked first, so a
	// connection taken before the mark was taken past the limit.
	seen.release()
	_ = held[0].Close()
	// One closed: the third is served.
	_ = extra.SetDeadline(time.Now().Add(10 * time.Second))
	resp, err := http.ReadResponse(bufio.NewReader(extra), nil)
	if err != nil {
		t.Fatalf("the extra connection was not served after one closed: %v", err)
	}
	_ = resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("status %d", resp.StatusCode)
	}
	if seen.takenEarly() {
		t.Fatalf("the server took connection %d while %d were open", limit+1, limit)
	}
}

func TestListenRefusesNoConnections(t *testing.T) {
	cfg := testHTTP()
	cfg.MaxConnections = 0
	if _, _, err := Listen("127.0.0.1:0", ok, Options{HTTP: cfg}); err == nil {
		t.Fatal("max_connections 0 accepted: every Accept would block")
	}
}
