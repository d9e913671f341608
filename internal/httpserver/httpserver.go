// Package httpserver builds the HTTP servers Tandem listens with: the API
// of `tandem serve`, and the lab's and the demo's servers, so that all of
// them bound headers, idle keep-alive connections and the number of
// connections the same way, from the http.* configuration.
//
// The server sets no read or write timeout of its own: those depend on the
// route (a JSON answer is bounded, an event WebSocket lives for hours), so
// the API sets them per request (api.WithLimits) and lifts them on an
// event socket once it is upgraded. A server-wide write timeout would cut
// every WebSocket of a handler that does not know to lift it (the lab's
// ARI simulator serves the ARI events socket).
package httpserver

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"sync"

	"github.com/tandem-cc/tandem/config"
)

// Options are what a server needs beside its address and handler.
type Options struct {
	// HTTP gives timeouts.read_header, timeouts.idle and max_connections;
	// its other keys are the API's (api.WithLimits).
	HTTP config.HTTP
	// BaseContext is every request's parent context; nil is Background.
	// Server.Shutdown neither waits for nor ends hijacked connections
	// (WebSockets): their handlers end with this context.
	BaseContext context.Context
	// Logger receives the server's own errors (a failed accept, a broken
	// request line), at warn; nil discards them.
	Logger *slog.Logger
}

// Listen listens on addr (host:port; port 0 picks one) and returns the
// server to serve h there with srv.Serve(ln). It listens before anything
// is served, so a busy port fails the caller's start, not a goroutine.
func Listen(addr string, h http.Handler, o Options) (*http.Server, net.Listener, error) {
	if o.HTTP.MaxConnections < 1 {
		// Validate refuses it; a caller that built the settings by hand
		// would otherwise block every Accept for ever.
		return nil, nil, errors.New("httpserver: max_connections must be at least 1")
	}
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, nil, fmt.Errorf("listen %s: %w", addr, err)
	}
	logger := o.Logger
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	base := o.BaseContext
	if base == nil {
		base = context.Background()
	}
	srv := &http.Server{
		Handler:           h,
		ReadHeaderTimeout: o.HTTP.Timeouts.ReadHeader,
		IdleTimeout:       o.HTTP.Timeouts.Idle,
		BaseContext:       func(net.Listener) context.Context { return base },
		ErrorLog:          slog.NewLogLogger(logger.Handler(), slog.LevelWarn),
	}
	return srv, limit(ln, o.HTTP.MaxConnections), nil
}

// limit returns a listener that has at most n connections open at once: the
// next one is left in the kernel's accept queue until one closes, so it is
// served late rather than refused (a client's connect succeeds; its request
// waits). golang.org/x/net/netutil.LimitListener does the same, but its
// connections hide the TCP connection's CloseWrite, which net/http uses to
// close gracefully after an error answer: without it the client can get a
// reset instead of the answer.
func limit(ln net.Listener, n int) net.Listener {
	return &limitedListener{Listener: ln, slots: make(chan struct{}, n), closed: make(chan struct{})}
}

type limitedListener struct {
	net.Listener
	slots     chan struct{} // one value per open connection
	closed    chan struct{} // closed by Close: stops waiting for a slot
	closeOnce sync.Once
	// full, when set (by tests, before serving), is called each time
	// Accept finds every slot taken and starts waiting for one.
	full func()
}

func (l *limitedListener) Accept() (net.Conn, error) {
	select {
	case l.slots <- struct{}{}:
	default:
		if l.full != nil {
			l.full()
		}
		select {
		case l.slots <- struct{}{}:
		case <-l.closed:
			return nil, &net.OpError{Op: "accept", Net: "tcp", Addr: l.Addr(), Err: net.ErrClosed}
		}
	}
	c, err := l.Listener.Accept()
	if err != nil {
		<-l.slots
		return nil, err
	}
	return &limitedConn{Conn: c, release: sync.OnceFunc(func() { <-l.slots })}, nil
}

func (l *limitedListener) Close() error {
	l.closeOnce.Do(func() { close(l.closed) })
	return l.Listener.Close()
}

// limitedConn gives its slot back when closed (once, however often Close
// is called: net/http and a hijacker may both close it).
type limitedConn struct {
	net.Conn
	release func()
}

func (c *limitedConn) Close() error {
	err := c.Conn.Close()
	c.release()
	return err
}

// CloseWrite half-closes the connection when the connection can (TCP).
func (c *limitedConn) CloseWrite() error {
	if cw, ok := c.Conn.(interface{ CloseWrite() error }); ok {
		return cw.CloseWrite()
	}
	return nil
}
