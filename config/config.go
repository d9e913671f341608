// Package config turns a YAML file, TANDEM_* environment variables and
// command-line flags into one typed, validated Config. Viper is used only
// here, once at start: it is not safe for concurrent use, so the rest of
// Tandem receives the plain struct.
package config

import "time"

// Config is everything a Tandem replica needs to run.
type Config struct {
	// NodeID names this replica; it owns the calls whose events reach it.
	NodeID string `mapstructure:"node_id"`
	Redis  Redis  `mapstructure:"redis"`
	ARI    ARI    `mapstructure:"ari"`
	HTTP   HTTP   `mapstructure:"http"`
	Auth   Auth   `mapstructure:"auth"`
	// Routing holds the defaults that apply to every queue.
	Routing Routing `mapstructure:"routing"`
	// Queues maps a queue name to its settings.
	Queues map[string]Queue `mapstructure:"queues"`
	Log    Log              `mapstructure:"log"`
}

// Redis locates the shared state.
type Redis struct {
	// Addr is host:port. Empty is allowed only by `tandem demo`, which then
	// starts its own redis-server.
	Addr     string `mapstructure:"addr"`
	Password string `mapstructure:"password"`
	DB       int    `mapstructure:"db"`
	// Prefix starts every key Tandem writes ("tandem" → "tandem:v1:...").
	Prefix string `mapstructure:"prefix"`
}

// ARI locates an Asterisk and the Stasis application this replica runs.
type ARI struct {
	URL      string `mapstructure:"url"`      // http://host:8088/ari
	WSURL    string `mapstructure:"ws_url"`   // ws://host:8088/ari/events (derived from URL when empty)
	Username string `mapstructure:"username"` //
	Password string `mapstructure:"password"` //
	App      string `mapstructure:"app"`      // Stasis application name
	// RequestTimeout bounds every REST call (the ari/v5 client has none).
	RequestTimeout time.Duration `mapstructure:"request_timeout"`
	// AttachedVars are channel variables read from an arriving call and kept
	// as its attached data, in addition to those the PBX reports itself.
	AttachedVars []string `mapstructure:"attached_vars"`
}

// HTTP is the agent and supervisor API.
type HTTP struct {
	Listen string `mapstructure:"listen"` // host:port; empty disables the API
}

// Auth lists the bearer tokens the API accepts. Tokens are kept in a list,
// not a map, because viper lower-cases map keys and tokens are
// case-sensitive.
type Auth struct {
	Agents      []AgentToken `mapstructure:"agents"`
	Supervisors []string     `mapstructure:"supervisors"`
}

// AgentToken lets one agent act for itself.
type AgentToken struct {
	Agent string `mapstructure:"agent"`
	Token string `mapstructure:"token"`
}

// Routing holds the routing defaults.
type Routing struct {
	// DefaultQueue takes calls whose queue is named neither by the dialplan
	// nor by the DNIS map. Empty: such calls are refused.
	DefaultQueue string `mapstructure:"default_queue"`
	// DNIS maps a dialled number to a queue.
	DNIS map[string]string `mapstructure:"dnis"`
	// RingTimeout is how long an agent's phone rings before RONA.
	RingTimeout time.Duration `mapstructure:"ring_timeout"`
	// SweepInterval is the safety-net period of the routing sweep; routing
	// is event-driven, the sweep only catches what an event missed.
	SweepInterval time.Duration `mapstructure:"sweep_interval"`
}

// Queue is one queue's settings; zero values fall back to Routing.
type Queue struct {
	MOHClass    string        `mapstructure:"moh_class"`
	RingTimeout time.Duration `mapstructure:"ring_timeout"`
}

// Log selects the log format.
type Log struct {
	Level  string `mapstructure:"level"`  // debug, info, warn, error
	Format string `mapstructure:"format"` // json or text
}
