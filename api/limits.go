package api

import (
	"fmt"
	"io"
	"math"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/tandem-cc/tandem/acd"
	"github.com/tandem-cc/tandem/config"
	"github.com/tandem-cc/tandem/internal/clock"
)

// limitSettings are the API's limits (WithLimits); http nil is none.
type limitSettings struct {
	http  *config.HTTP
	clock clock.Clock
	// streams counts the open event streams; nil (no WithLimits) is no
	// cap.
	streams *streamLimiter
}

// WithLimits bounds what one client can take from the replica, from the
// http.* configuration (config/http.go):
//
//   - every request must be answered within timeouts.write, and its body
//     must arrive within timeouts.body, both counted from the end of its
//     headers; an event WebSocket is exempt once upgraded (its pings
//     detect a client that is gone);
//   - an answer sent before the body was read (401, 403, 429, a bad id)
//     closes the connection instead of reading the rest of the body
//     first, so a client without a valid token cannot hold a connection
//     by sending its body slowly;
//   - write requests (POST, PUT, DELETE, PATCH) are limited per token, as
//     rate_limit.agent or rate_limit.supervisor say: past it, 429 with
//     Retry-After in seconds. Each replica counts its own requests.
//   - the event WebSockets one token holds open at once are capped, as
//     max_streams.agent or max_streams.supervisor say: one more is
//     answered 429 with Retry-After before the upgrade (events.go).
//
// The header and idle timeouts and the connection cap are the server's
// (internal/httpserver).
func WithLimits(h config.HTTP) Option {
	return func(s *server) {
		s.limits.http = &h
		// Made here, once per server New builds: the counts are that
		// server's, never shared.
		s.limits.streams = &streamLimiter{agent: h.MaxStreams.Agent, supervisor: h.MaxStreams.Supervisor, open: map[string]int{}}
	}
}

// WithClock sets the clock the rate limits count with (default the real
// one), so that tests refill a token's allowance without sleeping.
func WithClock(c clock.Clock) Option {
	return func(s *server) { s.limits.clock = c }
}

// limit wraps the routes with the limits of WithLimits, if any.
func (s *server) limit(next http.Handler) http.Handler {
	h := s.limits.http
	if h == nil {
		return next
	}
	clk := s.limits.clock
	if clk == nil {
		clk = clock.Real()
	}
	rl := &rateLimiter{agent: h.RateLimit.Agent, supervisor: h.RateLimit.Supervisor, clock: clk, buckets: map[string]*bucket{}}
	return deadlines(h.Timeouts, s.rateLimited(rl, next))
}

// deadlines sets the request's read and write deadlines on its connection.
// They are the socket's, so they count in real time, not on the injectable
// clock. An event WebSocket keeps neither once upgraded: net/http lifts a
// connection's deadlines when it is hijacked, and the stream's pings bound
// it from then on (TestEventStreamOutlivesRequestDeadlines).
func deadlines(t config.HTTPTimeouts, next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		rc := http.NewResponseController(w)
		now := time.Now()
		// An error means the writer holds no connection (a test's
		// recorder): there is nothing to bound.
		_ = rc.SetWriteDeadline(now.Add(t.Write))
		// Only while a body is there to read: once it is read (or when
		// there is none), net/http lifts the read deadline and reads on in
		// the background to notice a client that leaves; a deadline
		// passing then would cancel the request's context.
		if r.Body != nil && r.Body != http.NoBody {
			_ = rc.SetReadDeadline(now.Add(t.Body))
			b := &trackedBody{ReadCloser: r.Body}
			r.Body = b
			w = &closeIfBodyUnread{ResponseWriter: w, body: b}
		}
		next.ServeHTTP(w, r)
	})
}

// trackedBody notes when the request body has been read to its end.
type trackedBody struct {
	io.ReadCloser
	eof atomic.Bool
}

func (b *trackedBody) Read(p []byte) (int, error) {
	n, err := b.ReadCloser.Read(p)
	if err == io.EOF {
		b.eof.Store(true)
	}
	return n, err
}

// closeIfBodyUnread closes the connection after an answer sent before
// the body was read to its end. Otherwise net/http reads what is left of
// the body (up to 256 KiB) before it sends the answer, to keep the
// connection: a client sending its body slowly would get even a 401 only
// at http.timeouts.body. With the close, the answer goes at once; net/http
// still drains the rest of the body for at most what is left of
// http.timeouts.body before closing, so that a client still sending gets
// the answer rather than a reset.
type closeIfBodyUnread struct {
	http.ResponseWriter
	body  *trackedBody
	wrote bool
}

func (w *closeIfBodyUnread) before() {
	if !w.wrote {
		w.wrote = true
		if !w.body.eof.Load() {
			w.Header().Set("Connection", "close")
		}
	}
}

func (w *closeIfBodyUnread) WriteHeader(code int) {
	w.before()
	w.ResponseWriter.WriteHeader(code)
}

func (w *closeIfBodyUnread) Write(p []byte) (int, error) {
	w.before()
	return w.ResponseWriter.Write(p)
}

// Unwrap lets http.ResponseController reach the connection.
func (w *closeIfBodyUnread) Unwrap() http.ResponseWriter { return w.ResponseWriter }

// isWrite reports whether a request changes something: the methods the
// rate limits apply to.
func isWrite(method string) bool {
	switch method {
	case http.MethodPost, http.MethodPut, http.MethodDelete, http.MethodPatch:
		return true
	}
	return false
}

// rateLimited answers 429 to a write request whose token has used its
// allowance. A request without a valid token is passed on, to be refused
// by its route (401); reads are never limited. The token is checked here
// and again by the route: the limit is keyed by who the caller is, which
// only the token tells, before the route is known.
func (s *server) rateLimited(rl *rateLimiter, next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if !isWrite(r.Method) {
			next.ServeHTTP(w, r)
			return
		}
		who, ok := s.auth.identify(bearer(r))
		if !ok {
			next.ServeHTTP(w, r)
			return
		}
		if wait, ok := rl.take(who); !ok {
			secs := retryAfter(wait)
			w.Header().Set("Retry-After", strconv.Itoa(secs))
			writeError(w, http.StatusTooManyRequests,
				fmt.Sprintf("too many requests with this token; retry in %d s", secs), "")
			return
		}
		next.ServeHTTP(w, r)
	})
}

// retryAfter is a wait in whole seconds, rounded up, at least 1: what
// Retry-After can say.
func retryAfter(d time.Duration) int {
	return max(1, int(math.Ceil(d.Seconds())))
}

// rateLimiter holds a token bucket per principal. The buckets are keyed
// by principals, which come from the configuration, so the map is
// bounded by the number of tokens configured: nothing needs evicting.
type rateLimiter struct {
	agent, supervisor config.RateLimit
	clock             clock.Clock

	mu      sync.Mutex
	buckets map[string]*bucket // by principal.name
}

// bucket is one principal's allowance: tokens left at time at.
type bucket struct {
	tokens float64
	at     time.Time
}

// take spends one request of who's allowance; when none is left it
// returns false and how long until one is.
func (l *rateLimiter) take(who principal) (time.Duration, bool) {
	lim := l.agent
	if who.supervisor {
		lim = l.supervisor
	}
	if lim.Unlimited() {
		return 0, true
	}
	now := l.clock.Now()
	l.mu.Lock()
	defer l.mu.Unlock()
	b, ok := l.buckets[who.name]
	if !ok {
		b = &bucket{tokens: float64(lim.Burst), at: now}
		l.buckets[who.name] = b
	}
	if elapsed := now.Sub(b.at); elapsed > 0 {
		b.tokens = min(float64(lim.Burst), b.tokens+elapsed.Seconds()*lim.PerSecond)
		b.at = now
	}
	if b.tokens >= 1 {
		b.tokens--
		return 0, true
	}
	return time.Duration((1 - b.tokens) / lim.PerSecond * float64(time.Second)), false
}

// streamLimiter counts the event streams each principal holds open, so
// that one token cannot take every connection the replica serves: GET is
// not rate limited, and a stream lives as long as its pings are answered.
// The counts are keyed by principal, from the configuration, and a count
// back to zero is deleted, so the map is bounded by the tokens configured.
type streamLimiter struct {
	agent, supervisor int // caps by kind of token; 0 is no cap

	mu   sync.Mutex
	open map[string]int // by principal.name
}

// acquire counts one more stream for who, unless who holds its cap
// already: then ok is false and limit is the cap. release gives the
// stream back; it must be called exactly when the stream ends (calling it
// again does nothing). A nil limiter has no cap.
func (l *streamLimiter) acquire(who principal) (release func(), limit int, ok bool) {
	if l == nil {
		return func() {}, 0, true
	}
	limit = l.agent
	if who.supervisor {
		limit = l.supervisor
	}
	if limit == 0 {
		return func() {}, 0, true
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.open[who.name] >= limit {
		return nil, limit, false
	}
	l.open[who.name]++
	var once sync.Once
	return func() {
		once.Do(func() {
			l.mu.Lock()
			defer l.mu.Unlock()
			if l.open[who.name]--; l.open[who.name] <= 0 {
				delete(l.open, who.name)
			}
		})
	}, limit, true
}

// principalOf is who guard authenticated, as far as the stream cap needs
// it: the actor guard put in the request's context (acd.WithActor), and
// whether it is a supervisor's.
func principalOf(r *http.Request) principal {
	name := actorOf(r.Context())
	return principal{name: name, supervisor: strings.HasPrefix(name, acd.SupervisorActorPrefix)}
}
