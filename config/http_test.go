package config

import (
	"math"
	"reflect"
	"testing"
	"time"
)

// defaultHTTP is the http section as Load leaves it when nothing is set
// but listen.
func defaultHTTP(listen string) HTTP {
	return HTTP{
		Listen:         listen,
		Timeouts:       HTTPTimeouts{ReadHeader: 5 * time.Second, Body: 10 * time.Second, Write: 30 * time.Second, Idle: 60 * time.Second},
		MaxConnections: 4096,
		RateLimit: HTTPRateLimits{
			Agent:      RateLimit{PerSecond: 5, Burst: 20},
			Supervisor: RateLimit{PerSecond: 50, Burst: 100},
		},
		MaxStreams: HTTPMaxStreams{Agent: 4, Supervisor: 16},
	}
}

func TestHTTPLimitsFromFileAndEnvironment(t *testing.T) {
	clearEnv(t)
	t.Setenv("TANDEM_HTTP_RATE_LIMIT_AGENT_PER_SECOND", "0.5")
	t.Setenv("TANDEM_HTTP_TIMEOUTS_IDLE", "2m")
	t.Setenv("TANDEM_HTTP_MAX_STREAMS_SUPERVISOR", "0")
	c, err := Load(flags(t, "--config", writeFile(t, minimalYAML+`
http:
  timeouts: {body: 3s, write: 7s}
  max_connections: 10
  rate_limit:
    agent: {burst: 4}
    supervisor: {per_second: 0}
  max_streams: {agent: 2, supervisor: 40}
`)))
	if err != nil {
		t.Fatal(err)
	}
	want := defaultHTTP("127.0.0.1:8080")
	want.Timeouts.Body, want.Timeouts.Write, want.Timeouts.Idle = 3*time.Second, 7*time.Second, 2*time.Minute
	want.MaxConnections = 10
	want.RateLimit.Agent = RateLimit{PerSecond: 0.5, Burst: 4}
	want.RateLimit.Supervisor.PerSecond = 0                   // no limit; its burst is then ignored
	want.MaxStreams = HTTPMaxStreams{Agent: 2, Supervisor: 0} // the environment wins over the file
	if !reflect.DeepEqual(c.HTTP, want) {
		t.Fatalf("http = %+v\nwant %+v", c.HTTP, want)
	}
	if !c.HTTP.RateLimit.Supervisor.Unlimited() || c.HTTP.RateLimit.Agent.Unlimited() {
		t.Errorf("Unlimited: supervisor %v agent %v", c.HTTP.RateLimit.Supervisor.Unlimited(), c.HTTP.RateLimit.Agent.Unlimited())
	}
}

func TestHTTPLimitsNameTheBadKey(t *testing.T) {
	for _, tc := range []struct {
		key    string
		break_ func(*HTTP)
	}{
		{"http.timeouts.read_header", func(h *HTTP) { h.Timeouts.ReadHeader = 0 }},
		{"http.timeouts.body", func(h *HTTP) { h.Timeouts.Body = time.Millisecond }},
		{"http.timeouts.write", func(h *HTTP) { h.Timeouts.Write = -time.Second }},
		{"http.timeouts.idle", func(h *HTTP) { h.Timeouts.Idle = 99 * time.Millisecond }},
		{"http.max_connections", func(h *HTTP) { h.MaxConnections = 0 }},
		{"http.rate_limit.agent.per_second", func(h *HTTP) { h.RateLimit.Agent.PerSecond = -1 }},
		{"http.rate_limit.agent.per_second", func(h *HTTP) { h.RateLimit.Agent.PerSecond = math.NaN() }},
		{"http.rate_limit.supervisor.per_second", func(h *HTTP) { h.RateLimit.Supervisor.PerSecond = math.Inf(1) }},
		{"http.rate_limit.agent.burst", func(h *HTTP) { h.RateLimit.Agent.Burst = 0 }},
		{"http.rate_limit.supervisor.burst", func(h *HTTP) { h.RateLimit.Supervisor.Burst = maxBurst + 1 }},
		{"http.max_streams.agent", func(h *HTTP) { h.MaxStreams.Agent = -1 }},
		{"http.max_streams.supervisor", func(h *HTTP) { h.MaxStreams.Supervisor = maxStreamsCap + 1 }},
	} {
		t.Run(tc.key, func(t *testing.T) {
			c := valid()
			tc.break_(&c.HTTP)
			wantKeyError(t, c.Validate(), tc.key)
		})
	}
	// No rate: the burst is not looked at.
	c := valid()
	c.HTTP.RateLimit.Agent = RateLimit{PerSecond: 0, Burst: 0}
	if err := c.Validate(); err != nil {
		t.Errorf("agent limit off: %v", err)
	}
	// 0 streams is no cap, and the bound itself is allowed.
	c = valid()
	c.HTTP.MaxStreams = HTTPMaxStreams{Agent: 0, Supervisor: maxStreamsCap}
	if err := c.Validate(); err != nil {
		t.Errorf("stream caps 0 and %d: %v", maxStreamsCap, err)
	}
}
