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
	// Agents holds the reason codes and the after-call work rules.
	Agents Agents `mapstructure:"agents"`
	// Dial says how Tandem reaches an outside number (consult, transfer).
	Dial      Dial      `mapstructure:"dial"`
	Recording Recording `mapstructure:"recording"`
	Log       Log       `mapstructure:"log"`
}

// Agents are the rules of an agent's working day.
type Agents struct {
	// IdleReasons are the reason codes an agent may give for going idle.
	IdleReasons []string `mapstructure:"idle_reasons"`
	WrapUp      WrapUp   `mapstructure:"wrapup"`
}

// WrapUp is after-call work: when a call ends the agent is in wrap-up
// until they submit a code, or Timeout passes and DefaultCode applies.
type WrapUp struct {
	Timeout     time.Duration `mapstructure:"timeout"`
	Codes       []string      `mapstructure:"codes"`
	DefaultCode string        `mapstructure:"default_code"`
}

// Dial turns a validated outside number into a PBX endpoint.
type Dial struct {
	// Endpoint is a pattern with {number}, e.g. "PJSIP/{number}@trunk".
	Endpoint string `mapstructure:"endpoint"`
	// DefaultRegion is the ISO 3166 region used to read national numbers
	// ("US": 2025550123 is +12025550123).
	DefaultRegion string `mapstructure:"default_region"`
	// CallerID is the number shown on outside calls Tandem places.
	CallerID string `mapstructure:"caller_id"`
	// RingTimeout bounds ringing an outside number.
	RingTimeout time.Duration `mapstructure:"ring_timeout"`
}

// Recording are the recording rules common to all queues.
type Recording struct {
	// PrivacyShield is how long a privacy-shield pause lasts before the
	// recording resumes by itself.
	PrivacyShield time.Duration `mapstructure:"privacy_shield"`
	// Format is the file format the PBX writes ("wav").
	Format string `mapstructure:"format"`
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
	// MaxConcurrentCalls caps the calls the whole contact center holds at
	// once (all replicas); past it new calls hear BusyMessage and are hung
	// up. 0 = no cap.
	MaxConcurrentCalls int `mapstructure:"max_concurrent_calls"`
	// BusyMessage is the media played to a call refused at the cap
	// (e.g. "sound:all-circuits-busy-now").
	BusyMessage string `mapstructure:"busy_message"`
	// BlindTransferNoAnswer is what happens to a call blind-transferred to
	// an agent who does not answer: "abandon" (hang up; the behaviour of
	// the desktops Tandem replaces) or "requeue" (back to the head of the
	// call's queue).
	BlindTransferNoAnswer string `mapstructure:"blind_transfer_no_answer"`
}

// Queue is one queue's settings; zero values fall back to Routing.
type Queue struct {
	MOHClass    string        `mapstructure:"moh_class"`
	RingTimeout time.Duration `mapstructure:"ring_timeout"`
	// Record starts recording every call of the queue when it connects.
	Record bool `mapstructure:"record"`
	// Variables are the call-associated data the queue's agents see.
	Variables []Variable `mapstructure:"variables"`
}

// Variable defines one piece of call-associated data (CAD).
type Variable struct {
	Name  string `mapstructure:"name"`  // the channel / IVR variable name
	Label string `mapstructure:"label"` // what the desktop shows
	// Type is string, number, boolean or datetime (ISO 8601).
	Type     string `mapstructure:"type"`
	Editable bool   `mapstructure:"editable"`
	// Secure values are masked in pop-ups, events and logs, and shown only
	// through an audited reveal.
	Secure bool `mapstructure:"secure"`
	Order  int  `mapstructure:"order"` // display order
	// PopUp shows the variable in the screen pop (3 to 6 per queue).
	PopUp bool `mapstructure:"popup"`
}

// Log selects the log format.
type Log struct {
	Level  string `mapstructure:"level"`  // debug, info, warn, error
	Format string `mapstructure:"format"` // json or text
}
