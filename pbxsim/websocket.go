package pbxsim

import (
	"bufio"
	"bytes"
	"errors"
	"io"
	"net"
	"net/http"
	"sync"
	"time"

	"golang.org/x/net/websocket"
)

// socket is one /ari/events WebSocket. Frames are queued under the world lock
// and written by the socket's own goroutine, so emitting never blocks the
// world and frames leave in the order they were emitted.
type socket struct {
	s    *Sim
	app  string
	ws   *websocket.Conn
	raw  *freezeConn // the hijacked TCP connection, closed to drop abruptly
	wake chan struct{}
	done chan struct{}

	mu     sync.Mutex
	q      [][]byte
	closed bool
	frozen bool // FreezeWebSockets: frames are discarded, never written
	// stopping: the client sent a close frame; what is queued is still
	// written, nothing new is queued, and flushed is closed once the
	// queue is empty.
	stopping bool
	flushed  chan struct{}
}

func (so *socket) send(frame []byte) {
	so.mu.Lock()
	if !so.closed && !so.frozen && !so.stopping {
		so.q = append(so.q, frame)
	}
	so.mu.Unlock()
	select {
	case so.wake <- struct{}{}:
	default:
	}
}

func (so *socket) isClosed() bool {
	so.mu.Lock()
	defer so.mu.Unlock()
	return so.closed
}

// drop closes the TCP connection without a close frame, like a crash.
func (so *socket) drop() {
	so.mu.Lock()
	if !so.closed {
		so.closed = true
		close(so.done)
	}
	so.mu.Unlock()
	if so.raw != nil {
		_ = so.raw.Close()
	}
}

func (so *socket) writeLoop() {
	defer so.s.wg.Done()
	for {
		select {
		case <-so.done:
			return
		case <-so.wake:
		}
		for {
			so.mu.Lock()
			q := so.q
			so.q = nil
			stopping := so.stopping
			so.mu.Unlock()
			if len(q) == 0 {
				if stopping {
					close(so.flushed)
					return
				}
				break
			}
			for _, f := range q {
				so.mu.Lock()
				frozen := so.frozen
				so.mu.Unlock()
				if frozen {
					break
				}
				_ = so.ws.SetWriteDeadline(time.Now().Add(5 * time.Second))
				if err := websocket.Message.Send(so.ws, string(f)); err != nil {
					so.drop()
					return
				}
			}
		}
	}
}

// hijackRecorder keeps the hijacked connection so that DropWebSockets can cut
// it without the close frame websocket.Conn.Close would send, and wraps it
// so that FreezeWebSockets can stop it answering.
type hijackRecorder struct {
	http.ResponseWriter
	conn *freezeConn
}

func (h *hijackRecorder) Hijack() (net.Conn, *bufio.ReadWriter, error) {
	c, rw, err := h.ResponseWriter.(http.Hijacker).Hijack()
	if err != nil {
		return c, rw, err
	}
	h.conn = &freezeConn{Conn: c}
	// The WebSocket reads through the returned reader: it must read the
	// wrapper, after whatever the HTTP server had already buffered.
	pre, _ := rw.Peek(rw.Reader.Buffered())
	r := io.MultiReader(bytes.NewReader(bytes.Clone(pre)), h.conn)
	return h.conn, bufio.NewReadWriter(bufio.NewReader(r), rw.Writer), nil
}

// freezeConn is an events socket's TCP connection that can be frozen: from
// then on whatever the client sends (a ping, a close frame) is read from
// the kernel but never handed to the WebSocket, so nothing is answered,
// and the connection stays open — a half-open connection as the client
// sees one. Closing it releases a frozen read.
type freezeConn struct {
	net.Conn
	mu     sync.Mutex
	frozen chan struct{} // non-nil once frozen; closed by Close
	closed bool
}

func (f *freezeConn) freeze() {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.frozen == nil && !f.closed {
		f.frozen = make(chan struct{})
	}
}

func (f *freezeConn) Read(p []byte) (int, error) {
	n, err := f.Conn.Read(p)
	f.mu.Lock()
	ch := f.frozen
	f.mu.Unlock()
	if ch != nil {
		<-ch // held until Close: what was read is never delivered
		return 0, net.ErrClosed
	}
	return n, err
}

func (f *freezeConn) Close() error {
	f.mu.Lock()
	if !f.closed {
		f.closed = true
		if f.frozen != nil {
			close(f.frozen)
		}
	}
	f.mu.Unlock()
	return f.Conn.Close()
}

// serveEvents upgrades GET /ari/events. Authentication and the app parameter
// were checked by the caller. The app is registered inside the handshake,
// before the 101 goes out, so a client that sends a request right after the
// upgrade always finds its app registered.
func (s *Sim) serveEvents(w http.ResponseWriter, r *http.Request, appName string) {
	rec := &hijackRecorder{ResponseWriter: w}
	var so *socket
	srv := websocket.Server{
		// No Origin check: Asterisk accepts any origin (ari/v5 sends
		// http://localhost/).
		Handshake: func(*websocket.Config, *http.Request) error {
			so = &socket{s: s, app: appName, raw: rec.conn, wake: make(chan struct{}, 1), done: make(chan struct{}), flushed: make(chan struct{})}
			if !s.attachSocket(so) {
				so = nil
				return errors.New("simulator closed")
			}
			return nil
		},
		Handler: func(ws *websocket.Conn) {
			ws.PayloadType = websocket.TextFrame
			so.ws = ws
			s.wg.Add(1)
			go so.writeLoop()
			// Read until the client goes away; clients send nothing ARI
			// cares about, but reading services pings and close frames.
			for {
				var msg []byte
				if err := websocket.Message.Receive(ws, &msg); err != nil {
					break
				}
			}
			// A close frame (or the client's end of the stream): Asterisk
			// has written every event it emitted before, so the client
			// that waits for the server's close gets them all (trace 07
			// ends with a BridgeDestroyed 0.2 ms before the client's
			// close frame). Write what is queued, then close.
			so.mu.Lock()
			so.stopping = true
			so.mu.Unlock()
			select {
			case so.wake <- struct{}{}:
			default:
			}
			t := time.NewTimer(5 * time.Second) // the write deadline
			defer t.Stop()
			select {
			case <-so.flushed:
				_ = ws.Close() // sends the close frame back
			case <-so.done:
			case <-t.C:
			}
		},
	}
	srv.ServeHTTP(rec, r)
	if so != nil {
		so.drop()
		s.detachSocket(so)
		s.wg.Done() // taken by attachSocket
	}
}

// attachSocket registers a new socket for its app. A newer socket replaces
// the current one: the old socket gets exactly one ApplicationReplaced and
// then nothing, but it stays open (trace 14a).
func (s *Sim) attachSocket(so *socket) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return false
	}
	s.sockets[so] = struct{}{}
	// Held until the upgrade handler ends; Close waits for it.
	s.wg.Add(1)
	a := s.apps[so.app]
	if a == nil {
		a = &app{name: so.app}
		s.apps[so.app] = a
		s.log.Info("creating stasis app", "app", so.app)
	}
	if old := a.sock; old != nil {
		old.send(marshal(obj{
			{"type", "ApplicationReplaced"},
			{"timestamp", ts(time.Now())},
			{"application", so.app},
			{"asterisk_id", s.opts.EntityID},
		}))
		s.log.Info("replacing stasis app", "app", so.app)
	} else {
		s.log.Info("activating stasis app", "app", so.app)
	}
	a.sock = so
	return true
}

// detachSocket forgets a socket that ended. If it was the app's active socket
// the app becomes inactive, and it is destroyed if it holds no channels.
func (s *Sim) detachSocket(so *socket) {
	s.mu.Lock()
	defer s.mu.Unlock()
	delete(s.sockets, so)
	a := s.apps[so.app]
	if a == nil || a.sock != so {
		return
	}
	a.sock = nil
	if len(s.appChannelIDs(a.name)) == 0 {
		delete(s.apps, a.name)
		s.log.Info("destroying stasis app", "app", a.name)
		return
	}
	s.log.Info("deactivating stasis app", "app", a.name)
}

// FreezeWebSockets makes every open WebSocket of app stop answering without
// closing it: no event is written any more (they are lost, as on a dead
// network path), and nothing the client sends — pings included — is
// answered. The app keeps the frozen socket as its own until a new socket
// replaces it, as Asterisk does until a write times out. A test hook for
// half-open connections.
func (s *Sim) FreezeWebSockets(app string) {
	for _, so := range s.socketsOf(app) {
		so.mu.Lock()
		so.frozen = true
		so.q = nil
		so.mu.Unlock()
		if so.raw != nil {
			so.raw.freeze()
		}
	}
}

// DropWebSockets closes every WebSocket of app abruptly (no close frame), as
// if the client had crashed or the network had failed. Replaced sockets that
// are still open are dropped too.
func (s *Sim) DropWebSockets(app string) {
	for _, so := range s.socketsOf(app) {
		so.drop()
		s.detachSocket(so) // at once, not when the handler notices
	}
}

// socketsOf lists app's open WebSockets, replaced ones included.
func (s *Sim) socketsOf(app string) []*socket {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []*socket
	for so := range s.sockets {
		if so.app == app {
			out = append(out, so)
		}
	}
	return out
}
