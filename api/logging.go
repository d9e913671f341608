package api

import (
	"bufio"
	"log/slog"
	"net"
	"net/http"
	"time"
)

// logRequests logs one line per request: method, route pattern, status,
// duration and the ids in the path (agent_id, connection_id,
// callback_id). It logs the pattern, not the URL, so a token in
// ?access_token= never reaches the log.
func (s *server) logRequests(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		start := time.Now()
		rec := &statusRecorder{ResponseWriter: w}
		next.ServeHTTP(rec, r)
		// The mux fills r.Pattern and the path values in place.
		level := slog.LevelInfo
		switch {
		case r.Pattern == "GET /healthz" || r.Pattern == "GET /metrics":
			level = slog.LevelDebug
		case rec.status >= 500:
			level = slog.LevelWarn
		}
		attrs := []any{"method", r.Method, "route", r.Pattern, "status", rec.status,
			"duration_ms", float64(time.Since(start).Microseconds()) / 1000}
		s.log.Log(r.Context(), level, "http request", append(attrs, pathIDs(r)...)...)
	})
}

// statusRecorder remembers the status code. It implements http.Hijacker
// itself so that an upgraded request is logged with status 101 (the
// WebSocket library hijacks the connection through it).
type statusRecorder struct {
	http.ResponseWriter
	status int
}

func (r *statusRecorder) WriteHeader(code int) {
	if r.status == 0 {
		r.status = code
	}
	r.ResponseWriter.WriteHeader(code)
}

func (r *statusRecorder) Write(b []byte) (int, error) {
	if r.status == 0 {
		r.status = http.StatusOK
	}
	return r.ResponseWriter.Write(b)
}

func (r *statusRecorder) Hijack() (net.Conn, *bufio.ReadWriter, error) {
	conn, rw, err := http.NewResponseController(r.ResponseWriter).Hijack()
	if err == nil {
		r.status = http.StatusSwitchingProtocols
	}
	return conn, rw, err
}

func (r *statusRecorder) Unwrap() http.ResponseWriter { return r.ResponseWriter }
