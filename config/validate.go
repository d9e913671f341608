package config

import (
	"errors"
	"fmt"
	"net"
	"net/url"
	"regexp"
	"slices"
	"sort"
	"strconv"
	"strings"
	"time"
	"unicode"

	"github.com/tandem-cc/tandem/agents"
	"github.com/tandem-cc/tandem/internal/pii"
	"github.com/tandem-cc/tandem/media"
)

// KeyError is one invalid setting; Key is the dotted key as written in the
// file ("routing.ring_timeout", "auth.agents[2].token").
type KeyError struct {
	Key string
	Msg string
}

func (e *KeyError) Error() string { return fmt.Sprintf("config: %s: %s", e.Key, e.Msg) }

// queueName is what a queue may be called. It ends up in Redis keys and in
// hash tags ({q:sales}), so it is kept to characters that need no quoting.
var queueName = regexp.MustCompile(`^[A-Za-z0-9_-]{1,64}$`)

// ValidQueueName reports whether s may name a queue. The API checks
// queue names with it too, so both accept the same names.
func ValidQueueName(s string) bool { return queueName.MatchString(s) }

// ValidAgentID reports whether s may be an agent id: the core's own rule
// (agents.ValidID), so configuration, API and core accept the same ids.
func ValidAgentID(s string) bool { return agents.ValidID(s) }

// AgentIDRule says in words what ValidAgentID accepts.
const AgentIDRule = agents.IDRule

// code is what a wrap-up code or an idle reason may be: it is stored in
// Redis and reported as is, so it is kept short and plain.
var code = regexp.MustCompile(`^[a-z0-9_-]{1,32}$`)

// variableName is what a call variable may be called: an Asterisk channel
// variable or an IVR field name.
// formatList is what Asterisk's originate accepts in formats=: format
// names ("core show codecs") separated by commas, none empty.
var formatList = regexp.MustCompile(`^[a-z0-9_]+(,[a-z0-9_]+)*$`)

var variableName = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_]{0,63}$`)

// region is an ISO 3166-1 alpha-2 code as phone-number parsers take it.
var region = regexp.MustCompile(`^[A-Z]{2}$`)

// ValidCode reports whether s may be a wrap-up code or an idle reason.
// The API checks codes with it too.
func ValidCode(s string) bool { return code.MatchString(s) }

// ValidVariableName reports whether s may name a call variable. The API
// checks names with it too.
func ValidVariableName(s string) bool { return variableName.MatchString(s) }

// NumberPlaceholder is replaced by the dialled number in dial.endpoint.
const NumberPlaceholder = "{number}"

// Pop-up limits: a screen pop shows between MinPopUp and MaxPopUp
// variables of a queue that has any.
const (
	MinPopUp = 3
	MaxPopUp = 6
)

var (
	logLevels  = []string{"debug", "info", "warn", "error"}
	logFormats = []string{"json", "text"}
	// recordingFormats are the formats Asterisk records in. Never empty:
	// Asterisk 22 crashes on a bridge record without a format.
	recordingFormats = []string{"wav", "gsm", "ulaw", "alaw", "sln"}
	noAnswerActions  = []string{"abandon", "requeue"}
	variableTypes    = []string{"string", "text", "number", "boolean", "datetime"}
)

// Validate checks every setting and returns all problems found, joined,
// each a *KeyError naming its key; nil when the Config is usable.
func (c Config) Validate() error {
	var errs []error
	bad := func(key, format string, args ...any) {
		errs = append(errs, &KeyError{Key: key, Msg: fmt.Sprintf(format, args...)})
	}

	if c.NodeID == "" {
		bad("node_id", "must not be empty")
	} else if strings.IndexFunc(c.NodeID, unicode.IsSpace) >= 0 {
		bad("node_id", "must not contain spaces")
	}

	// Redis.
	if c.Redis.Addr != "" {
		if msg := checkHostPort(c.Redis.Addr); msg != "" {
			bad("redis.addr", "%s", msg)
		}
	}
	for i, a := range c.Redis.Addrs {
		if msg := checkHostPort(a); msg != "" {
			bad(fmt.Sprintf("redis.addrs[%d]", i), "%s", msg)
		}
	}
	switch {
	case c.Redis.Addr != "" && len(c.Redis.Addrs) > 0:
		bad("redis.addrs", "set redis.addr or redis.addrs, not both")
	case c.Redis.MasterName == "" && len(c.Redis.Addrs) > 1:
		// go-redis would open a Cluster client, and one routing script
		// touches keys in many hash slots.
		bad("redis.addrs", "more than one address needs redis.master_name (Sentinel); Redis Cluster is not supported")
	case c.Redis.MasterName != "" && len(c.Redis.Addresses()) == 0:
		bad("redis.master_name", "needs the Sentinels' addresses in redis.addrs")
	case c.Redis.MasterName != "" && strings.IndexFunc(c.Redis.MasterName, unicode.IsSpace) >= 0:
		bad("redis.master_name", "must not contain spaces")
	case c.Redis.MasterName == "" && c.Redis.SentinelPassword != "":
		bad("redis.sentinel_password", "is only used with redis.master_name")
	}
	if c.Redis.DB < 0 {
		bad("redis.db", "must not be negative")
	}
	switch {
	case c.Redis.Prefix == "":
		bad("redis.prefix", "must not be empty")
	case strings.ContainsAny(c.Redis.Prefix, "{}"):
		// Braces would start a Redis Cluster hash tag and put every key in
		// one slot.
		bad("redis.prefix", "must not contain { or }")
	case strings.IndexFunc(c.Redis.Prefix, unicode.IsSpace) >= 0:
		bad("redis.prefix", "must not contain spaces")
	}

	// ARI.
	if msg := checkURL(c.ARI.URL, "http", "https"); msg != "" {
		bad("ari.url", "%s", msg)
	}
	if c.ARI.WSURL != "" {
		if msg := checkURL(c.ARI.WSURL, "ws", "wss"); msg != "" {
			bad("ari.ws_url", "%s", msg)
		}
	}
	if c.ARI.App == "" {
		bad("ari.app", "must not be empty")
	} else if strings.IndexFunc(c.ARI.App, unicode.IsSpace) >= 0 {
		bad("ari.app", "must not contain spaces")
	}
	positive(bad, "ari.request_timeout", c.ARI.RequestTimeout)
	if !formatList.MatchString(c.ARI.Formats) {
		bad("ari.formats", "must be a comma-separated list of Asterisk format names, e.g. ulaw or ulaw,alaw")
	}
	positive(bad, "ari.ping_interval", c.ARI.PingInterval)
	positive(bad, "ari.pong_timeout", c.ARI.PongTimeout)
	positive(bad, "ari.reconnect_backoff", c.ARI.ReconnectBackoff)
	if c.ARI.IdleConns < 1 {
		bad("ari.idle_conns", "must be at least 1")
	}
	if c.ARI.ReconnectBackoffMax < c.ARI.ReconnectBackoff {
		bad("ari.reconnect_backoff_max", "must be at least ari.reconnect_backoff")
	}
	for i, v := range c.ARI.AttachedVars {
		if strings.TrimSpace(v) == "" {
			bad(fmt.Sprintf("ari.attached_vars[%d]", i), "must not be empty")
		}
	}

	checkPBX(bad, c) // validate_pbx.go

	// HTTP.
	if c.HTTP.Listen != "" {
		if msg := checkHostPort(c.HTTP.Listen); msg != "" {
			bad("http.listen", "%s", msg)
		}
	}
	checkHTTP(bad, c.HTTP)
	checkWeb(bad, c) // web.go: http.allowed_origins, web.*, wallboard.*

	c.Auth.validate(bad) // auth.go

	// Routing and queues.
	positive(bad, "routing.ring_timeout", c.Routing.RingTimeout)
	positive(bad, "routing.sweep_interval", c.Routing.SweepInterval)
	if c.Routing.CallbackLease < time.Second {
		bad("routing.callback_lease", "must be at least 1s (it is renewed every third of it)")
	}
	if c.Replicas.Lease < time.Second {
		bad("replicas.lease", "must be at least 1s (it is renewed every third of it)")
	}
	positive(bad, "replicas.drain_timeout", c.Replicas.DrainTimeout)
	if c.Routing.MaxConcurrentCalls < 0 {
		bad("routing.max_concurrent_calls", "must not be negative (0 is no cap)")
	}
	if msg := checkMessage(c.Routing.BusyMessage); msg != "" {
		bad("routing.busy_message", "%s", msg)
	}
	if !slices.Contains(noAnswerActions, c.Routing.BlindTransferNoAnswer) {
		bad("routing.blind_transfer_no_answer", "must be one of %s", strings.Join(noAnswerActions, ", "))
	}
	for _, name := range sortedKeys(c.Queues) {
		q := c.Queues[name]
		key := "queues." + name
		if !queueName.MatchString(name) {
			bad(key, "queue name must be 1-64 characters of A-Z a-z 0-9 _ -")
		}
		if q.RingTimeout < 0 {
			bad(key+".ring_timeout", "must be positive, or zero for routing.ring_timeout")
		}
		checkVariables(bad, key+".variables", q.Variables)
		checkQueue(bad, c, name, key, q)
	}
	if c.Routing.DefaultQueue != "" {
		if _, ok := c.Queues[c.Routing.DefaultQueue]; !ok {
			bad("routing.default_queue", "queue %q is not configured under queues", c.Routing.DefaultQueue)
		}
	}
	for _, dnis := range sortedKeys(c.Routing.DNIS) {
		key := "routing.dnis." + dnis
		if strings.TrimSpace(dnis) == "" {
			bad(key, "dialled number must not be empty")
		}
		if q := c.Routing.DNIS[dnis]; q == "" {
			bad(key, "must name a queue")
		} else if _, ok := c.Queues[q]; !ok {
			bad(key, "queue %q is not configured under queues", q)
		}
	}

	// Menus.
	checkIVR(bad, c)

	// Agents.
	codeList(bad, "agents.idle_reasons", c.Agents.IdleReasons)
	// 0 = no after-call work: an agent is free (and handed the next call)
	// the moment its call ends. The scripts count in milliseconds, so a
	// positive value below 1ms would silently mean 0 too: refused.
	if t := c.Agents.WrapUp.Timeout; t < 0 || (t > 0 && t < time.Millisecond) {
		bad("agents.wrapup.timeout", "must be 0 (no after-call work) or at least 1ms")
	}
	codeList(bad, "agents.wrapup.codes", c.Agents.WrapUp.Codes)
	if !slices.Contains(c.Agents.WrapUp.Codes, c.Agents.WrapUp.DefaultCode) {
		bad("agents.wrapup.default_code", "must be one of agents.wrapup.codes")
	}

	// Dial.
	if !strings.Contains(c.Dial.Endpoint, NumberPlaceholder) {
		bad("dial.endpoint", "must contain %s, e.g. PJSIP/%s@trunk", NumberPlaceholder, NumberPlaceholder)
	}
	if !region.MatchString(c.Dial.DefaultRegion) {
		bad("dial.default_region", "must be a 2-letter upper-case region code, e.g. US")
	}
	positive(bad, "dial.ring_timeout", c.Dial.RingTimeout)
	checkDialling(bad, c) // dial.policy, dial.agent_endpoints, IVR dial branches

	// Recording.
	positive(bad, "recording.privacy_shield", c.Recording.PrivacyShield)
	if !slices.Contains(recordingFormats, c.Recording.Format) {
		bad("recording.format", "must be one of %s", strings.Join(recordingFormats, ", "))
	}

	// Log.
	if !slices.Contains(logLevels, c.Log.Level) {
		bad("log.level", "must be one of %s", strings.Join(logLevels, ", "))
	}
	if !slices.Contains(logFormats, c.Log.Format) {
		bad("log.format", "must be one of %s", strings.Join(logFormats, ", "))
	}
	if !slices.Contains(pii.NumberModes, c.Log.CallerNumber) {
		bad("log.caller_number", "must be one of %s", strings.Join(pii.NumberModes, ", "))
	}

	c.Retention.validate(bad)

	return errors.Join(errs...)
}

func positive(bad func(string, string, ...any), key string, d time.Duration) {
	if d <= 0 {
		bad(key, "must be positive")
	}
}

// codeList checks a list of codes: not empty, each well formed, no
// duplicates.
func codeList(bad func(string, string, ...any), key string, codes []string) {
	if len(codes) == 0 {
		bad(key, "must not be empty")
		return
	}
	first := map[string]int{}
	for i, c := range codes {
		k := fmt.Sprintf("%s[%d]", key, i)
		if !code.MatchString(c) {
			bad(k, "must be 1-32 characters of a-z 0-9 _ -")
			continue
		}
		if j, dup := first[c]; dup {
			bad(k, "duplicates %s[%d]", key, j)
			continue
		}
		first[c] = i
	}
}

// checkVariables checks a queue's call variables; key is
// "queues.<name>.variables".
func checkVariables(bad func(string, string, ...any), key string, vars []Variable) {
	first := map[string]int{}
	popups := 0
	for i, v := range vars {
		k := fmt.Sprintf("%s[%d]", key, i)
		switch j, dup := first[v.Name]; {
		case !variableName.MatchString(v.Name):
			bad(k+".name", "must be 1-64 characters of A-Z a-z 0-9 _, not starting with a digit")
		case dup:
			bad(k+".name", "duplicates %s[%d].name", key, j)
		default:
			first[v.Name] = i
		}
		if strings.TrimSpace(v.Label) == "" {
			bad(k+".label", "must not be empty")
		}
		if !slices.Contains(variableTypes, v.Type) {
			bad(k+".type", "must be one of %s", strings.Join(variableTypes, ", "))
		}
		if v.PopUp {
			popups++
		}
	}
	if popups > 0 && (popups < MinPopUp || popups > MaxPopUp) {
		bad(key, "%d variables have popup; a queue with a screen pop needs %d to %d", popups, MinPopUp, MaxPopUp)
	}
}

// checkMessage returns what is wrong with a message played before a call
// ends (parsed by Load, see media.Parse), or "". Text to speech is for
// IVR prompts only: Asterisk has none of its own.
func checkMessage(m media.Media) string {
	switch m.Kind {
	case media.None:
		return "must not be empty"
	case media.Text:
		return "must be a recorded media (sound:, recording:, ...), not tts:"
	}
	return ""
}

// checkHostPort returns what is wrong with a host:port, or "".
func checkHostPort(addr string) string {
	_, port, err := net.SplitHostPort(addr)
	if err != nil {
		return "must be host:port"
	}
	if n, err := strconv.Atoi(port); err != nil || n < 1 || n > 65535 {
		return "port must be a number from 1 to 65535"
	}
	return ""
}

// checkURL returns what is wrong with an absolute URL of one of schemes, or "".
func checkURL(raw string, schemes ...string) string {
	if raw == "" {
		return "must not be empty"
	}
	u, err := url.Parse(raw)
	if err != nil {
		return "not a valid URL"
	}
	if !slices.Contains(schemes, u.Scheme) {
		return fmt.Sprintf("scheme must be %s", strings.Join(schemes, " or "))
	}
	if u.Host == "" {
		return "must include a host"
	}
	return ""
}

func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}
