package config

import (
	"math"
	"time"
)

// HTTPTimeouts bound how long the API waits on a client, so that a client
// that sends slowly, reads slowly or says nothing cannot hold a
// connection (and its goroutine) for ever. The event WebSockets are
// exempt from read and write: their pings (api.WithKeepalive) tell a
// client that is gone.
type HTTPTimeouts struct {
	// ReadHeader bounds reading a request's headers, from its first byte.
	ReadHeader time.Duration `mapstructure:"read_header"`
	// Body bounds reading a request's body, counted from the end of its
	// headers.
	Body time.Duration `mapstructure:"body"`
	// Write bounds answering a request, counted from the end of its
	// headers: the handler's work and the client reading the response.
	Write time.Duration `mapstructure:"write"`
	// Idle is how long a keep-alive connection may wait for its next
	// request before the server closes it.
	Idle time.Duration `mapstructure:"idle"`
}

// HTTPRateLimits are the per-token limits on the API's write requests
// (POST, PUT, DELETE), by kind of token. Each replica counts its own.
type HTTPRateLimits struct {
	Agent      RateLimit `mapstructure:"agent"`
	Supervisor RateLimit `mapstructure:"supervisor"`
}

// RateLimit is a token bucket: Burst requests at once, refilled at
// PerSecond. PerSecond 0 is no limit.
type RateLimit struct {
	PerSecond float64 `mapstructure:"per_second"`
	Burst     int     `mapstructure:"burst"`
}

// Unlimited reports whether the limit is off.
func (r RateLimit) Unlimited() bool { return r.PerSecond == 0 }

// HTTPMaxStreams caps the event WebSockets (GET /v1/agents/{id}/events,
// GET /v1/events) one token may hold open at once, by kind of token. GET
// is not rate limited and an open stream is kept alive by its pings, so
// without a cap one token (an agent's, taken from a browser) could fill
// http.max_connections with streams and leave every other client waiting.
// 0 is no cap. Each replica counts its own.
type HTTPMaxStreams struct {
	Agent      int `mapstructure:"agent"`
	Supervisor int `mapstructure:"supervisor"`
}

// Bounds of the http.* keys. A timeout below minHTTPTimeout would cut
// ordinary clients on a busy network; the tests go lower by building the
// settings themselves, not through Validate.
const (
	minHTTPTimeout = 100 * time.Millisecond
	// maxBurst keeps a bucket's size a plain count of requests.
	maxBurst = 1_000_000
	// maxStreamsCap is far above any connection cap a process can hold:
	// a larger value is a typo, not a plan.
	maxStreamsCap = 1_000_000
)

// checkHTTP checks the http.* keys other than http.listen.
func checkHTTP(bad func(string, string, ...any), h HTTP) {
	for _, t := range []struct {
		key string
		d   time.Duration
	}{
		{"http.timeouts.read_header", h.Timeouts.ReadHeader},
		{"http.timeouts.body", h.Timeouts.Body},
		{"http.timeouts.write", h.Timeouts.Write},
		{"http.timeouts.idle", h.Timeouts.Idle},
	} {
		if t.d < minHTTPTimeout {
			bad(t.key, "must be at least %s", minHTTPTimeout)
		}
	}
	if h.MaxConnections < 1 {
		bad("http.max_connections", "must be at least 1")
	}
	for _, l := range []struct {
		key string
		r   RateLimit
	}{
		{"http.rate_limit.agent", h.RateLimit.Agent},
		{"http.rate_limit.supervisor", h.RateLimit.Supervisor},
	} {
		switch {
		case l.r.PerSecond < 0 || math.IsNaN(l.r.PerSecond) || math.IsInf(l.r.PerSecond, 0):
			bad(l.key+".per_second", "must be a number ≥ 0 (0 is no limit)")
		case l.r.Unlimited():
			// Burst means nothing without a rate.
		case l.r.Burst < 1 || l.r.Burst > maxBurst:
			bad(l.key+".burst", "must be 1..%d when per_second is set", maxBurst)
		}
	}
	for _, m := range []struct {
		key string
		n   int
	}{
		{"http.max_streams.agent", h.MaxStreams.Agent},
		{"http.max_streams.supervisor", h.MaxStreams.Supervisor},
	} {
		if m.n < 0 || m.n > maxStreamsCap {
			bad(m.key, "must be 0..%d (0 is no cap)", maxStreamsCap)
		}
	}
}
