// Package config turns a YAML file, TANDEM_* environment variables and
// command-line flags into one typed, validated Config. Viper is used only
// here, once at start: it is not safe for concurrent use, so the rest of
// Tandem receives the plain struct.
package config

import (
	"time"

	"github.com/tandem-cc/tandem/media"
)

// Config is everything a Tandem replica needs to run.
type Config struct {
	// NodeID names this replica; it owns the calls whose events reach it.
	NodeID string `mapstructure:"node_id"`
	Redis  Redis  `mapstructure:"redis"`
	ARI    ARI    `mapstructure:"ari"`
	// PBX lists the PBX nodes, Asterisk or FreeSWITCH, driven side by
	// side (pbx.go); without nodes, ARI is the only one.
	PBX  PBX  `mapstructure:"pbx"`
	HTTP HTTP `mapstructure:"http"`
	Auth Auth `mapstructure:"auth"`
	// Routing holds the defaults that apply to every queue.
	Routing Routing `mapstructure:"routing"`
	// Queues maps a queue name to its settings.
	Queues map[string]Queue `mapstructure:"queues"`
	// Agents holds the reason codes and the after-call work rules.
	Agents Agents `mapstructure:"agents"`
	// Dial says how Tandem reaches an outside number (consult, transfer).
	Dial      Dial      `mapstructure:"dial"`
	Recording Recording `mapstructure:"recording"`
	// IVR holds the menus, keyed by entry point.
	IVR IVR `mapstructure:"ivr"`
	// Replicas: how replicas hold their seats and take over each other's.
	Replicas Replicas `mapstructure:"replicas"`
	Log      Log      `mapstructure:"log"`

	// Retention: how long logged-out agents and secure values are kept.
	Retention Retention `mapstructure:"retention"`

	// Web: the agent desktop and the wallboard pages (web.go).
	Web Web `mapstructure:"web"`
	// Wallboard: the queue history the wallboard charts (web.go).
	Wallboard Wallboard `mapstructure:"wallboard"`
}

// Replicas say how a replica holds its seat (its node_id and Stasis
// application) and hosts the seats of replicas that are gone.
type Replicas struct {
	// Lease is how long a seat stays held after its holder's last renewal
	// (renewed every third of it): a replica that dies is taken over
	// after it.
	Lease time.Duration `mapstructure:"lease"`
	// HostSeats: this replica claims and runs the seats of replicas whose
	// lease ran out, until they come back.
	HostSeats bool `mapstructure:"host_seats"`
	// DrainTimeout bounds a drain in place on SIGTERM (when no other
	// replica is alive to take the seat over).
	DrainTimeout time.Duration `mapstructure:"drain_timeout"`
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
	// Policy is what every number Tandem dials must pass (dialling.go).
	Policy DialPolicy `mapstructure:"policy"`
	// AgentEndpoints are the endpoints agents may log in with (dialling.go).
	AgentEndpoints AgentEndpoints `mapstructure:"agent_endpoints"`
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
	Addr string `mapstructure:"addr"`
	// Addrs, instead of Addr, lists host:port addresses: the Sentinels to
	// ask for MasterName's primary. More than one without MasterName
	// would make go-redis's universal client a Cluster client, which
	// Tandem does not support, so Validate refuses it.
	Addrs []string `mapstructure:"addrs"`
	// MasterName, when set, connects through Redis Sentinel: the
	// addresses are Sentinels, asked for this master's primary and again
	// after a failover.
	MasterName string `mapstructure:"master_name"`
	// SentinelPassword authenticates to the Sentinels (Password is the
	// primary's).
	SentinelPassword string `mapstructure:"sentinel_password"`
	Password         string `mapstructure:"password"`
	DB               int    `mapstructure:"db"`
	// Prefix starts every key Tandem writes ("tandem" → "tandem:v1:...").
	Prefix string `mapstructure:"prefix"`
}

// Addresses lists where to connect: Addrs when set, else Addr alone, else
// nothing.
func (r Redis) Addresses() []string {
	if len(r.Addrs) > 0 {
		return r.Addrs
	}
	if r.Addr != "" {
		return []string{r.Addr}
	}
	return nil
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
	// Formats are the codecs offered on a leg Tandem rings for nobody (a
	// callback's first agent leg): without them a Local endpoint settles on
	// slin192 and Asterisk resamples every call. Legs rung for a caller
	// take the caller's formats instead.
	Formats string `mapstructure:"formats"`
	// PingInterval is how often the events WebSocket is pinged; a ping
	// not answered within PongTimeout means the connection is half-open:
	// it is closed and the driver reconnects (and re-reads the PBX).
	PingInterval time.Duration `mapstructure:"ping_interval"`
	PongTimeout  time.Duration `mapstructure:"pong_timeout"`
	// ReconnectBackoff and ReconnectBackoffMax bound the jittered,
	// doubling wait between two attempts to reopen the events socket.
	ReconnectBackoff    time.Duration `mapstructure:"reconnect_backoff"`
	ReconnectBackoffMax time.Duration `mapstructure:"reconnect_backoff_max"`
	// IdleConns is how many idle keep-alive connections to Asterisk the
	// process keeps for REST calls (Go's default is 2, so busier replicas
	// dialled a TCP connection per request).
	IdleConns int `mapstructure:"idle_conns"`
}

// HTTP is the agent and supervisor API.
type HTTP struct {
	Listen string `mapstructure:"listen"` // host:port; empty disables the API
	// Timeouts, MaxConnections, RateLimit and MaxStreams: see config/http.go.
	Timeouts       HTTPTimeouts   `mapstructure:"timeouts"`
	MaxConnections int            `mapstructure:"max_connections"`
	RateLimit      HTTPRateLimits `mapstructure:"rate_limit"`
	MaxStreams     HTTPMaxStreams `mapstructure:"max_streams"`
	// AllowedOrigins are the web origins (scheme://host[:port]) whose
	// pages may call the API from another origin: CORS answers and event
	// WebSockets for them (web.go checks them).
	AllowedOrigins []string `mapstructure:"allowed_origins"`
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
	BusyMessage media.Media `mapstructure:"busy_message"`
	// BlindTransferNoAnswer is what happens to a call blind-transferred to
	// an agent who does not answer: "abandon" (hang up; the behaviour of
	// the desktops Tandem replaces) or "requeue" (back to the head of the
	// call's queue).
	BlindTransferNoAnswer string `mapstructure:"blind_transfer_no_answer"`
	// CallbackLease is how long a replica holds a callback it serves
	// without renewing its lease (it renews every third of it); a replica
	// that dies gives its callbacks up to the others after it.
	CallbackLease time.Duration `mapstructure:"callback_lease"`
}

// Queue is one queue's settings; zero values fall back to Routing.
type Queue struct {
	MOHClass    string        `mapstructure:"moh_class"`
	RingTimeout time.Duration `mapstructure:"ring_timeout"`
	// Record starts recording every call of the queue when it connects.
	Record bool `mapstructure:"record"`
	// Variables are the call-associated data the queue's agents see.
	Variables []Variable `mapstructure:"variables"`

	// Priority is the priority of calls entering the queue (0..9, 9 first)
	// unless the IVR gives another.
	Priority int `mapstructure:"priority"`
	// Strategy picks the agent: longest_idle (default), round_robin,
	// fewest_calls (today), least_talk_time (today), best_skill (highest
	// level of the required skills, then longest idle), ring_all.
	Strategy string `mapstructure:"strategy"`
	// Weight ranks this queue's calls for agents in several queues: within
	// a priority, each weight point counts as one minute of extra waiting
	// (effective arrival = arrival − weight × 60 s), so a heavier queue's
	// call beats a lighter queue's call that waited less than the
	// difference in minutes.
	Weight int `mapstructure:"weight"`
	// Skills every agent offered this queue's calls must have.
	Skills []SkillRequirement `mapstructure:"skills"`
	// Announce: what a waiting caller hears between music.
	Announce Announce `mapstructure:"announce"`
	// Overflow moves calls that waited too long or have nobody to serve them.
	Overflow Overflow `mapstructure:"overflow"`
	// MaxSize caps the waiting calls (0 = no cap); WhenFull applies past it.
	MaxSize  int    `mapstructure:"max_size"`
	WhenFull Action `mapstructure:"when_full"`
	// Hours are the opening hours; outside them Hours.Closed applies.
	Hours Hours `mapstructure:"hours"`
	// ServiceLevel is the answer time the service level counts against
	// (e.g. 80% answered within 20s).
	ServiceLevel time.Duration `mapstructure:"service_level"`
	// Callback is how this queue offers and dials callbacks.
	Callback QueueCallback `mapstructure:"callback"`
}

// QueueCallback configures the callbacks of a queue: how a waiting caller
// asks for one (the dialog of start, register and cancel) and how it is
// dialled.
type QueueCallback struct {
	// Digit a waiting caller presses to ask for a courtesy callback ("" =
	// not offered in queue; an IVR branch or a treatment may still offer
	// one).
	Digit string `mapstructure:"digit"`
	// Offer is played to a waiting caller to tell them about Digit, once
	// they have waited OfferAfter, and only if the estimated wait is at
	// least OfferEWT (0 = whatever it is; a queue nobody serves counts as
	// a long wait). Until the condition holds it is checked again every
	// 15s. "" = never announced (the digit still works).
	Offer      media.Media   `mapstructure:"offer"`
	OfferAfter time.Duration `mapstructure:"offer_after"`
	OfferEWT   time.Duration `mapstructure:"offer_ewt"`
	// Prompt asks for the number: the caller keys it and #, or only # for
	// the number they call from; * cancels (back to the queue in place).
	Prompt media.Media `mapstructure:"prompt"`
	// Invalid is played when a number is refused; the caller tries again.
	Invalid media.Media `mapstructure:"invalid"`
	// Confirm is played once the callback is registered, before hang-up.
	Confirm media.Media `mapstructure:"confirm"`
	// RecordMessage lets the caller leave a message of at most this long
	// (after the Beep prompt), played to the agent before the customer is
	// dialled; 0 = no message.
	RecordMessage time.Duration `mapstructure:"record_message"`
	Beep          media.Media   `mapstructure:"beep"`
	// CallerID is the outbound number the customer sees ("" = dial.caller_id).
	CallerID string `mapstructure:"caller_id"`
	// Accept is "auto" (the customer is dialled as soon as the agent
	// answers) or "agent" (the agent accepts first, through the API).
	Accept string `mapstructure:"accept"`
	// MaxAttempts and RetryDelay: how often and how far apart a callback
	// nobody answers is tried.
	MaxAttempts int           `mapstructure:"max_attempts"`
	RetryDelay  time.Duration `mapstructure:"retry_delay"`
	// AllowedCountryCodes limits the numbers dialled (1 = NANP); empty
	// allows all.
	AllowedCountryCodes []int `mapstructure:"allowed_country_codes"`
	// MaxAhead bounds how far ahead a callback may be scheduled (see callbacks_limits.go).
	MaxAhead time.Duration `mapstructure:"max_ahead"`
}

// SkillRequirement is a skill a call needs, with the minimum level (1..10)
// and relaxations: after waiting After, accept MinLevel instead.
type SkillRequirement struct {
	Skill    string  `mapstructure:"skill"`
	MinLevel int     `mapstructure:"min_level"`
	Relax    []Relax `mapstructure:"relax"`
}

// Relax lowers a skill requirement after a wait.
type Relax struct {
	After    time.Duration `mapstructure:"after"`
	MinLevel int           `mapstructure:"min_level"`
}

// Announce configures position and estimated-wait announcements.
type Announce struct {
	// Interval between announcements (0 = none).
	Interval time.Duration `mapstructure:"interval"`
	Position bool          `mapstructure:"position"`
	EWT      bool          `mapstructure:"ewt"`
	// YouAreNext is said to the first caller in line instead of their
	// position ("there are 1 calls waiting"); empty = sound:queue-youarenext.
	YouAreNext media.Media `mapstructure:"you_are_next"`
}

// Overflow moves a waiting call after After (0 = never by time) or, with
// NoAgents, at once when no agent of the queue is logged in.
type Overflow struct {
	After    time.Duration `mapstructure:"after"`
	NoAgents bool          `mapstructure:"no_agents"`
	Action   Action        `mapstructure:"action"`
}

// Action is a treatment: to another queue (keeping the call's original
// arrival time), a callback offer, or a message then hang-up.
type Action struct {
	// Type is queue, callback or message ("" = none).
	Type    string      `mapstructure:"type"`
	Queue   string      `mapstructure:"queue"`
	Message media.Media `mapstructure:"message"` // e.g. "sound:closed"
}

// Hours are weekly opening windows and holidays in a time zone.
type Hours struct {
	TimeZone string   `mapstructure:"time_zone"` // IANA, e.g. "Europe/Paris"
	Weekly   []Window `mapstructure:"weekly"`    // empty = always open
	Holidays []string `mapstructure:"holidays"`  // "2026-12-25"
	Closed   Action   `mapstructure:"closed"`
}

// Window is one opening window on some days ("mon".."sun"), "09:00"-"17:30".
type Window struct {
	Days []string `mapstructure:"days"`
	From string   `mapstructure:"from"`
	To   string   `mapstructure:"to"`
}

// IVR is the menus callers go through before a queue.
type IVR struct {
	// EntryPoints map a DNIS to the first node of its menu.
	EntryPoints map[string]string `mapstructure:"entry_points"`
	Nodes       map[string]Node   `mapstructure:"nodes"`
}

// Node plays a prompt, optionally collects digits, and branches.
type Node struct {
	// Prompt is media ("sound:welcome") or text for the PBX's TTS ("tts:...").
	Prompt media.Media `mapstructure:"prompt"`
	// Collect: 0 max digits = no collection (the node branches to Next).
	Collect Collect `mapstructure:"collect"`
	// BargeIn: the first digit pressed during the prompt stops it and is
	// collected at once (nil = true). With false the prompt plays to its
	// end and digits pressed meanwhile count once it has (type-ahead).
	BargeIn *bool `mapstructure:"barge_in"`
	// Variable keeps the collected digits as attached data under this name.
	Variable string `mapstructure:"variable"`
	// Secure marks that variable as secure (masked everywhere).
	Secure bool `mapstructure:"secure"`
	// Branches by the digits collected; "default" matches any input.
	Branches map[string]Branch `mapstructure:"branches"`
	// Next is taken when the node collects nothing.
	Next Branch `mapstructure:"next"`
	// OnFailure is taken after the retries are used up.
	OnFailure Branch `mapstructure:"on_failure"`
}

// Collect is DTMF collection.
type Collect struct {
	MaxDigits     int           `mapstructure:"max_digits"`
	Terminator    string        `mapstructure:"terminator"` // e.g. "#"
	Timeout       time.Duration `mapstructure:"timeout"`
	Retries       int           `mapstructure:"retries"`
	InvalidPrompt media.Media   `mapstructure:"invalid_prompt"`
	TimeoutPrompt media.Media   `mapstructure:"timeout_prompt"`
}

// Branch is where a node leads: exactly one of Goto, Queue, Callback,
// Dial or Hangup, plus Set (variables to attach) applied first.
type Branch struct {
	Goto     string             `mapstructure:"goto"`
	Queue    string             `mapstructure:"queue"`
	Priority *int               `mapstructure:"priority"`
	Skills   []SkillRequirement `mapstructure:"skills"`
	Set      map[string]string  `mapstructure:"set"`
	Callback bool               `mapstructure:"callback"`
	Dial     string             `mapstructure:"dial"`
	// Hangup is a message played before hanging up ("sound:goodbye").
	Hangup media.Media `mapstructure:"hangup"`
}

// BargesIn reports whether a digit stops the node's prompt (barge_in,
// true unless set to false).
func (n Node) BargesIn() bool { return n.BargeIn == nil || *n.BargeIn }

// Variable defines one piece of call-associated data (CAD).
type Variable struct {
	Name  string `mapstructure:"name"`  // the channel / IVR variable name
	Label string `mapstructure:"label"` // what the desktop shows
	// Type is string, text (a free-text note: tab and newline allowed),
	// number, boolean or datetime (ISO 8601).
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
	// CallerNumber: how the caller's number (personal data) is logged:
	// masked (last 4 digits kept), debug (masked, and in full on one
	// debug line) or full.
	CallerNumber string `mapstructure:"caller_number"`
}
