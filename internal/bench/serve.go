package bench

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/http/pprof"
	"time"

	"github.com/tandem-cc/tandem/config"
	"github.com/tandem-cc/tandem/internal/httpserver"
)

// Server is a small HTTP server a process runs beside its main one (the
// simulator's control API, a profiling endpoint). Close stops it and
// waits for its goroutine.
type Server struct {
	Addr string // host:port it listens on
	srv  *http.Server
	done chan error
}

// Listen serves h on addr ("127.0.0.1:0" picks a port).
func Listen(addr string, h http.Handler) (*Server, error) {
	srv, ln, err := httpserver.Listen(addr, h, httpserver.Options{HTTP: config.Default().HTTP})
	if err != nil {
		return nil, err
	}
	s := &Server{Addr: ln.Addr().String(), srv: srv, done: make(chan error, 1)}
	go func() { s.done <- s.srv.Serve(ln) }()
	return s, nil
}

// Close shuts the server down (in-flight requests get a few seconds).
func (s *Server) Close() error {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	err := s.srv.Shutdown(ctx)
	if serr := <-s.done; !errors.Is(serr, http.ErrServerClosed) && err == nil {
		err = serr
	}
	if err != nil {
		return fmt.Errorf("close %s: %w", s.Addr, err)
	}
	return nil
}

// PprofHandler serves Go's profiles under /debug/pprof/ on a mux of its
// own (net/http/pprof's init registers on the default mux, which Tandem
// never serves).
func PprofHandler() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("/debug/pprof/", pprof.Index)
	mux.HandleFunc("/debug/pprof/cmdline", pprof.Cmdline)
	mux.HandleFunc("/debug/pprof/profile", pprof.Profile)
	mux.HandleFunc("/debug/pprof/symbol", pprof.Symbol)
	mux.HandleFunc("/debug/pprof/trace", pprof.Trace)
	return mux
}
