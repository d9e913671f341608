package config

import (
	"slices"
	"testing"
	"time"
)

func TestWebDefaults(t *testing.T) {
	clearEnv(t)
	c := Default()
	if !c.Web.Enabled || len(c.Web.Replicas) != 0 || len(c.HTTP.AllowedOrigins) != 0 || c.Wallboard.SampleInterval != 30*time.Second {
		t.Errorf("defaults: web %+v, allowed origins %v, wallboard %+v", c.Web, c.HTTP.AllowedOrigins, c.Wallboard)
	}
}

func TestWebFromFileAndEnvironment(t *testing.T) {
	clearEnv(t)
	t.Setenv("TANDEM_HTTP_ALLOWED_ORIGINS", "http://127.0.0.1:8081,https://desk.example.com")
	t.Setenv("TANDEM_WALLBOARD_SAMPLE_INTERVAL", "1s")
	c, err := Load(flags(t, "--config", writeFile(t, minimalYAML+`
http:
  allowed_origins: [http://ignored.example]
web:
  enabled: false
  replicas: [http://127.0.0.1:8081/, http://127.0.0.1:8082]
wallboard:
  sample_interval: 5s
`)))
	if err != nil {
		t.Fatal(err)
	}
	if want := []string{"http://127.0.0.1:8081", "https://desk.example.com"}; !slices.Equal(c.HTTP.AllowedOrigins, want) {
		t.Errorf("allowed origins %q, want the environment's %q", c.HTTP.AllowedOrigins, want)
	}
	if c.Web.Enabled || !slices.Equal(c.Web.ReplicaBases(), []string{"http://127.0.0.1:8081", "http://127.0.0.1:8082"}) {
		t.Errorf("web %+v (bases %q)", c.Web, c.Web.ReplicaBases())
	}
	if c.Wallboard.SampleInterval != time.Second {
		t.Errorf("sample interval %v, want the environment's 1s", c.Wallboard.SampleInterval)
	}

	t.Setenv("TANDEM_WEB_REPLICAS", "https://a.example:8443,https://b.example:8443")
	t.Setenv("TANDEM_WEB_ENABLED", "true")
	c, err = Load(flags(t, "--config", writeFile(t, minimalYAML)))
	if err != nil {
		t.Fatal(err)
	}
	if !c.Web.Enabled || !slices.Equal(c.Web.Replicas, []string{"https://a.example:8443", "https://b.example:8443"}) {
		t.Errorf("web from the environment: %+v", c.Web)
	}
}

func TestWebSettingsNameTheBadKey(t *testing.T) {
	for _, tc := range []struct {
		name, key string
		break_    func(*Config)
	}{
		{"origin with a path", "http.allowed_origins[1]", func(c *Config) {
			c.HTTP.AllowedOrigins = []string{"http://a.example", "http://b.example/desk"}
		}},
		{"origin with a trailing slash", "http.allowed_origins[0]", func(c *Config) { c.HTTP.AllowedOrigins = []string{"http://a.example/"} }},
		{"origin without scheme", "http.allowed_origins[0]", func(c *Config) { c.HTTP.AllowedOrigins = []string{"a.example:8080"} }},
		{"origin of another scheme", "http.allowed_origins[0]", func(c *Config) { c.HTTP.AllowedOrigins = []string{"ftp://a.example"} }},
		{"origin in upper case", "http.allowed_origins[0]", func(c *Config) { c.HTTP.AllowedOrigins = []string{"http://A.example"} }},
		{"origin with the default port", "http.allowed_origins[0]", func(c *Config) { c.HTTP.AllowedOrigins = []string{"https://a.example:443"} }},
		{"origin with a query", "http.allowed_origins[0]", func(c *Config) { c.HTTP.AllowedOrigins = []string{"http://a.example?x=1"} }},
		{"origin with a user", "http.allowed_origins[0]", func(c *Config) { c.HTTP.AllowedOrigins = []string{"http://u@a.example"} }},
		{"origin empty", "http.allowed_origins[0]", func(c *Config) { c.HTTP.AllowedOrigins = []string{""} }},
		{"origin wildcard", "http.allowed_origins[0]", func(c *Config) { c.HTTP.AllowedOrigins = []string{"*"} }},
		{"replica not a URL", "web.replicas[0]", func(c *Config) { c.Web.Replicas = []string{"10.0.0.1:8080"} }},
		{"replica websocket", "web.replicas[1]", func(c *Config) { c.Web.Replicas = []string{"http://a.example", "ws://b.example"} }},
		{"replica with a query", "web.replicas[0]", func(c *Config) { c.Web.Replicas = []string{"http://a.example/?x"} }},
		// The pages' rule (web.CheckReplica): a replica is an origin.
		{"replica with a path", "web.replicas[1]", func(c *Config) { c.Web.Replicas = []string{"http://a.example", "http://lb/tandem"} }},
		{"replica with a user", "web.replicas[0]", func(c *Config) { c.Web.Replicas = []string{"http://u@a.example"} }},
		{"replica with a fragment", "web.replicas[0]", func(c *Config) { c.Web.Replicas = []string{"http://a.example#x"} }},
		{"replica empty", "web.replicas[0]", func(c *Config) { c.Web.Replicas = []string{""} }},
		{"replica host breaking the policy", "web.replicas[0]", func(c *Config) { c.Web.Replicas = []string{"http://a;b"} }},
		{"sample interval too short", "wallboard.sample_interval", func(c *Config) { c.Wallboard.SampleInterval = 999 * time.Millisecond }},
		{"sample interval zero", "wallboard.sample_interval", func(c *Config) { c.Wallboard.SampleInterval = 0 }},
		{"sample interval too long", "wallboard.sample_interval", func(c *Config) { c.Wallboard.SampleInterval = time.Hour }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c := valid()
			tc.break_(&c)
			wantKeyError(t, c.Validate(), tc.key)
		})
	}
	c := valid()
	c.HTTP.AllowedOrigins = []string{"http://127.0.0.1:8081", "https://desk.example.com", "http://[::1]:8080"}
	c.Web.Replicas = []string{"http://127.0.0.1:8081/", "https://lb.example", "http://[::1]:8080"}
	c.Wallboard.SampleInterval = time.Second
	if err := c.Validate(); err != nil {
		t.Errorf("good web settings refused: %v", err)
	}
}
