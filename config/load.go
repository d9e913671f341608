package config

import (
	"bytes"
	"encoding"
	"errors"
	"fmt"
	"os"
	"reflect"
	"sort"
	"strings"
	"time"

	"github.com/mitchellh/mapstructure"
	"github.com/spf13/pflag"
	"github.com/spf13/viper"
	"gopkg.in/yaml.v3"

	"github.com/tandem-cc/tandem/media"
)

// EnvPrefix starts every environment variable Tandem reads:
// redis.addr is TANDEM_REDIS_ADDR, ari.request_timeout is
// TANDEM_ARI_REQUEST_TIMEOUT.
const EnvPrefix = "TANDEM"

// EnvConfigFile names the YAML file when --config is not given.
const EnvConfigFile = EnvPrefix + "_CONFIG"

// defaults are the values of keys nobody set. Keys absent here default to
// their zero value.
var defaults = map[string]any{
	"redis.prefix":              "tandem",
	"ari.url":                   "http://127.0.0.1:8088/ari",
	"ari.app":                   "tandem",
	"ari.request_timeout":       5 * time.Second,
	"ari.formats":               "ulaw",
	"ari.ping_interval":         2 * time.Second,
	"ari.pong_timeout":          3 * time.Second,
	"ari.reconnect_backoff":     50 * time.Millisecond,
	"ari.reconnect_backoff_max": 2 * time.Second,
	"ari.idle_conns":            64,
	"pbx.app":                   "tandem",
	"http.listen":               "127.0.0.1:8080",
	"routing.ring_timeout":      15 * time.Second,
	"routing.sweep_interval":    time.Second,
	"routing.callback_lease":    15 * time.Second,
	// max_concurrent_calls defaults to 0: no cap.
	"routing.busy_message":             "sound:all-circuits-busy-now",
	"routing.blind_transfer_no_answer": "abandon",
	"agents.idle_reasons":              []string{"break", "lunch", "meeting", "training"},
	"agents.wrapup.timeout":            30 * time.Second,
	"agents.wrapup.codes":              []string{"resolved", "follow-up", "escalated", "no-resolution"},
	"agents.wrapup.default_code":       "resolved",
	"dial.endpoint":                    "PJSIP/{number}@trunk",
	"dial.default_region":              "US",
	"dial.ring_timeout":                30 * time.Second,
	"recording.privacy_shield":         10 * time.Second,
	"recording.format":                 "wav",
	"replicas.lease":                   5 * time.Second,
	"replicas.host_seats":              true,
	"replicas.drain_timeout":           30 * time.Second,
	"log.level":                        "info",
	"log.format":                       "json",
	"log.caller_number":                "masked",

	// config/retention.go; retention.secure_values defaults to 0 (dropped
	// as the interaction ends).
	"retention.logged_out_agents": DefaultLoggedOutAgentsRetention,

	// The API's limits (config/http.go).
	"http.timeouts.read_header":             5 * time.Second,
	"http.timeouts.body":                    10 * time.Second,
	"http.timeouts.write":                   30 * time.Second,
	"http.timeouts.idle":                    60 * time.Second,
	"http.max_connections":                  4096,
	"http.rate_limit.agent.per_second":      5.0,
	"http.rate_limit.agent.burst":           20,
	"http.rate_limit.supervisor.per_second": 50.0,
	"http.rate_limit.supervisor.burst":      100,
	"http.max_streams.agent":                4,
	"http.max_streams.supervisor":           16,

	// The pages and the wallboard's history (config/web.go).
	"web.enabled":               true,
	"wallboard.sample_interval": 30 * time.Second,
}

// flagKeys binds the command-line flags RegisterFlags defines to their keys.
var flagKeys = []struct{ flag, key, usage string }{
	{"redis-addr", "redis.addr", "Redis host:port"},
	{"http-listen", "http.listen", "API listen address host:port (default 127.0.0.1:8080)"},
	{"node-id", "node_id", "name of this replica (default: the hostname)"},
	{"ari-url", "ari.url", "Asterisk ARI base URL (default http://127.0.0.1:8088/ari)"},
	{"log-level", "log.level", "debug, info, warn or error (default info)"},
}

// Default returns the configuration used when nothing is set, with NodeID
// left empty (Load fills it from the hostname). Tests start from it.
func Default() Config {
	var c Config
	v := newViper()
	if err := decode(v, &c); err != nil {
		// The defaults table is static; failing to decode it is a bug.
		panic(fmt.Sprintf("config: decoding defaults: %v", err))
	}
	return c
}

// RegisterFlags adds --config and the flags of the most common keys to fs.
// Their defaults are empty on purpose: a flag only counts when given, so
// an unset flag never hides the environment or the file.
func RegisterFlags(fs *pflag.FlagSet) {
	fs.String("config", "", "YAML configuration file (or $"+EnvConfigFile+")")
	for _, f := range flagKeys {
		fs.String(f.flag, "", f.usage)
	}
}

// Load builds the Config from, in decreasing precedence: flags given on
// the command line, TANDEM_* environment variables, the YAML file named by
// --config (or $TANDEM_CONFIG), and the defaults. fs may be nil; when not
// nil it must have been set up by RegisterFlags and parsed. The result is
// validated; an empty node_id is replaced by the hostname first.
func Load(fs *pflag.FlagSet) (Config, error) {
	v := newViper()

	file := os.Getenv(EnvConfigFile)
	if fs != nil {
		if f := fs.Lookup("config"); f != nil && f.Changed {
			file = f.Value.String()
		}
	}
	var raw []byte
	if file != "" {
		var err error
		if raw, err = os.ReadFile(file); err != nil {
			return Config{}, fmt.Errorf("config: read %s: %w", file, err)
		}
		// The type is fixed so a file named tandem.conf still reads as YAML.
		v.SetConfigType("yaml")
		if err := v.ReadConfig(bytes.NewReader(raw)); err != nil {
			return Config{}, fmt.Errorf("config: read %s: %w", file, err)
		}
		bindQueueEnv(v)
		setNamedDefaults(v)
		prepareNodes(v) // pbx_load.go
	}

	if fs != nil {
		for _, f := range flagKeys {
			if pf := fs.Lookup(f.flag); pf != nil {
				if err := v.BindPFlag(f.key, pf); err != nil {
					return Config{}, fmt.Errorf("config: bind --%s: %w", f.flag, err)
				}
			}
		}
	}

	var c Config
	if err := decode(v, &c); err != nil {
		return Config{}, fmt.Errorf("config: %w", err)
	}
	if c.NodeID == "" {
		host, err := os.Hostname()
		if err != nil {
			return Config{}, fmt.Errorf("config: node_id: empty and no hostname: %w", err)
		}
		c.NodeID = host
	}
	c.normalizeRefs()
	c.normalizeNodes()
	c.Auth.nameSupervisors()
	if err := restoreSetCase(raw, &c); err != nil {
		return Config{}, fmt.Errorf("config: read %s: %w", file, err)
	}
	if err := joinUnique(checkSections(v, fs, c), c.Validate()); err != nil {
		return Config{}, err
	}
	return c, nil
}

// newViper returns a private viper (never the global one) with the
// defaults set and every leaf key bound to its environment variable.
// AutomaticEnv alone is not enough: Unmarshal only asks viper for keys it
// already knows, so a nested key set only in the environment would be
// missed.
func newViper() *viper.Viper {
	v := viper.New()
	v.SetEnvPrefix(EnvPrefix)
	v.SetEnvKeyReplacer(strings.NewReplacer(".", "_"))
	v.AutomaticEnv()
	for _, l := range leaves(reflect.TypeOf(Config{}), "") {
		if d, ok := defaults[l.key]; ok {
			v.SetDefault(l.key, d)
		}
		if envSettable(l.typ) {
			// BindEnv with one argument derives the name from prefix, key
			// and replacer; it only fails without a key.
			_ = v.BindEnv(l.key)
		}
	}
	return v
}

// envSettable reports whether a key of type t can come from one
// environment variable. Maps and lists of records cannot; binding them
// anyway would make viper treat every key below them as shadowed by the
// (unset) variable and ignore the file.
func envSettable(t reflect.Type) bool {
	switch t.Kind() {
	case reflect.Map:
		return false
	case reflect.Slice:
		// A list of records cannot, unless a record also reads from a
		// plain string (auth.supervisors: "t1,t2").
		return t.Elem().Kind() != reflect.Struct || reflect.PointerTo(t.Elem()).Implements(textUnmarshaler)
	}
	return true
}

// bindQueueEnv binds the environment variables of the queues the file
// declares (TANDEM_QUEUES_SALES_RING_TIMEOUT). Queues themselves can only be
// declared in the file: their names are map keys, unknown in advance.
// Only single values are bound: a queue's lists (variables, skills,
// hours.weekly, hours.holidays) come from the file whole, so one queue
// reads the same from top to bottom.
func bindQueueEnv(v *viper.Viper) {
	queueType := reflect.TypeOf(Queue{})
	for name := range v.GetStringMap("queues") {
		for _, l := range leaves(queueType, "queues."+name) {
			if k := l.typ.Kind(); k != reflect.Map && k != reflect.Slice {
				_ = v.BindEnv(l.key)
			}
		}
	}
}

// setNamedDefaults sets the defaults of keys below a name only the file
// knows: those of each declared queue, and those of each IVR node that
// collects digits. Set as viper defaults rather than filled in after
// decoding, so a value written in the file, even zero ("weight: 0",
// "retries: 0"), is kept and judged by Validate.
func setNamedDefaults(v *viper.Viper) {
	for name := range v.GetStringMap("queues") {
		k := "queues." + name
		v.SetDefault(k+".strategy", DefaultStrategy)
		v.SetDefault(k+".weight", DefaultWeight)
		v.SetDefault(k+".service_level", DefaultServiceLevel)
		v.SetDefault(k+".hours.time_zone", DefaultTimeZone)
	}
	for name := range v.GetStringMap("ivr.nodes") {
		k := "ivr.nodes." + name + ".collect"
		if v.GetInt(k+".max_digits") > 0 {
			v.SetDefault(k+".timeout", DefaultCollectTimeout)
			v.SetDefault(k+".retries", DefaultCollectRetries)
		}
	}
}

// normalizeRefs lower-cases the places that name a queue or an IVR node.
// Viper lower-cases map keys, so a queue declared as "Sales" is stored as
// "sales"; references must follow or they would never match.
func (c *Config) normalizeRefs() {
	c.Routing.DefaultQueue = strings.ToLower(c.Routing.DefaultQueue)
	for k, q := range c.Routing.DNIS {
		c.Routing.DNIS[k] = strings.ToLower(q)
	}
	for name, q := range c.Queues {
		for _, a := range []*Action{&q.Overflow.Action, &q.WhenFull, &q.Hours.Closed} {
			a.Queue = strings.ToLower(a.Queue)
		}
		c.Queues[name] = q
	}
	for k, n := range c.IVR.EntryPoints {
		c.IVR.EntryPoints[k] = strings.ToLower(n)
	}
	for name, n := range c.IVR.Nodes {
		for k, b := range n.Branches {
			n.Branches[k] = b.normalized()
		}
		n.Next, n.OnFailure = n.Next.normalized(), n.OnFailure.normalized()
		c.IVR.Nodes[name] = n
	}
}

func (b Branch) normalized() Branch {
	b.Goto, b.Queue = strings.ToLower(b.Goto), strings.ToLower(b.Queue)
	return b
}

// restoreSetCase gives back their case to the variable names of the IVR
// branches' set maps. Viper lower-cases every map key, but variable names
// are case-sensitive (CUSTOMER_ID is not customer_id), so the names are
// read again from the YAML itself. raw is the file; nil for no file.
func restoreSetCase(raw []byte, c *Config) error {
	if raw == nil || len(c.IVR.Nodes) == 0 {
		return nil
	}
	type rawBranch struct {
		Set map[string]any `yaml:"set"`
	}
	var file struct {
		IVR struct {
			Nodes map[string]struct {
				Branches  map[string]rawBranch `yaml:"branches"`
				Next      rawBranch            `yaml:"next"`
				OnFailure rawBranch            `yaml:"on_failure"`
			} `yaml:"nodes"`
		} `yaml:"ivr"`
	}
	if err := yaml.Unmarshal(raw, &file); err != nil {
		return err
	}
	restore := func(set map[string]string, names map[string]any) {
		for name := range names {
			lower := strings.ToLower(name)
			if v, ok := set[lower]; ok && lower != name {
				delete(set, lower)
				set[name] = v
			}
		}
	}
	for name, rn := range file.IVR.Nodes {
		n, ok := c.IVR.Nodes[strings.ToLower(name)]
		if !ok {
			continue
		}
		for digits, rb := range rn.Branches {
			restore(n.Branches[strings.ToLower(digits)].Set, rb.Set)
		}
		restore(n.Next.Set, rn.Next.Set)
		restore(n.OnFailure.Set, rn.OnFailure.Set)
	}
	return nil
}

// decode unmarshals v into c, refusing keys Config does not have (a typo
// in the file is an error, not a silently ignored setting) and bare
// numbers for durations.
func decode(v *viper.Viper, c *Config) error {
	return v.UnmarshalExact(c, viper.DecodeHook(mapstructure.ComposeDecodeHookFunc(
		rejectBareDurations,
		mapstructure.StringToTimeDurationHookFunc(),
		mapstructure.StringToSliceHookFunc(","),
		// Media ("sound:welcome") are parsed here, once; a bad one fails
		// the load with its key in the message.
		mapstructure.TextUnmarshallerHookFunc(),
	)))
}

var errBareDuration = errors.New("a duration needs a unit, e.g. \"15s\" or \"500ms\"")

// rejectBareDurations refuses numbers where a time.Duration is expected:
// with weak typing, "ring_timeout: 15" would otherwise mean 15 nanoseconds.
func rejectBareDurations(from, to reflect.Type, data any) (any, error) {
	if to != reflect.TypeOf(time.Duration(0)) {
		return data, nil
	}
	switch from.Kind() {
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64,
		reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64,
		reflect.Float32, reflect.Float64:
		if from == to { // already a Duration (the defaults)
			return data, nil
		}
		return nil, errBareDuration
	}
	return data, nil
}

// LeafKeys lists every settable key of Config whose name is known in
// advance ("redis.addr", "routing.ring_timeout", ...), sorted. Maps and
// lists are leaves: queues, routing.dnis and auth.agents are one key each.
func LeafKeys() []string {
	var keys []string
	for _, l := range leaves(reflect.TypeOf(Config{}), "") {
		keys = append(keys, l.key)
	}
	sort.Strings(keys)
	return keys
}

// EnvKeys lists the keys that can be set through an environment variable
// (all leaves but maps and lists of records), sorted. Besides these, each
// queue declared in the file takes TANDEM_QUEUES_<NAME>_<FIELD>.
func EnvKeys() []string {
	var keys []string
	for _, l := range leaves(reflect.TypeOf(Config{}), "") {
		if envSettable(l.typ) {
			keys = append(keys, l.key)
		}
	}
	sort.Strings(keys)
	return keys
}

var textUnmarshaler = reflect.TypeOf((*encoding.TextUnmarshaler)(nil)).Elem()

type leaf struct {
	key string
	typ reflect.Type
}

// leaves walks t's mapstructure tags down to the keys that hold values.
func leaves(t reflect.Type, prefix string) []leaf {
	var out []leaf
	for i := range t.NumField() {
		f := t.Field(i)
		name := f.Tag.Get("mapstructure")
		if name == "" || name == "-" {
			continue
		}
		key := name
		if prefix != "" {
			key = prefix + "." + name
		}
		if f.Type.Kind() == reflect.Struct && f.Type != reflect.TypeOf(time.Time{}) && f.Type != reflect.TypeOf(media.Media{}) {
			out = append(out, leaves(f.Type, key)...)
			continue
		}
		out = append(out, leaf{key, f.Type})
	}
	return out
}

// EnvVar is the environment variable of a key.
func EnvVar(key string) string {
	return EnvPrefix + "_" + strings.ToUpper(strings.ReplaceAll(key, ".", "_"))
}
