package config

import (
	"log/slog"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/spf13/pflag"

	"github.com/tandem-cc/tandem/media"
)

// writeFile writes a YAML file into the test's directory and returns its path.
func writeFile(t *testing.T, yaml string) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), "tandem.yaml")
	if err := os.WriteFile(p, []byte(yaml), 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

// flags returns a parsed flag set as cmd/tandem would build it.
func flags(t *testing.T, args ...string) *pflag.FlagSet {
	t.Helper()
	fs := pflag.NewFlagSet("tandem", pflag.ContinueOnError)
	RegisterFlags(fs)
	if err := fs.Parse(args); err != nil {
		t.Fatal(err)
	}
	return fs
}

// clearEnv unsets every TANDEM_* variable for the test, so the developer's
// environment cannot leak in.
func clearEnv(t *testing.T) {
	for _, kv := range os.Environ() {
		name, _, _ := strings.Cut(kv, "=")
		if strings.HasPrefix(name, EnvPrefix+"_") {
			t.Setenv(name, "") // restores it afterwards
			_ = os.Unsetenv(name)
		}
	}
}

const minimalYAML = `
node_id: n1
redis:
  addr: redis.example:6380
  prefix: acme
routing:
  ring_timeout: 12s
  default_queue: Sales
  dnis:
    "100": sales
queues:
  Sales:
    moh_class: jazz
  support:
    ring_timeout: 30s
`

func TestLoadDefaultsWithoutFile(t *testing.T) {
	clearEnv(t)
	c, err := Load(nil)
	if err != nil {
		t.Fatal(err)
	}
	host, _ := os.Hostname()
	want := Config{
		NodeID: host,
		Redis:  Redis{Prefix: "tandem"},
		ARI: ARI{URL: "http://127.0.0.1:8088/ari", App: "tandem", RequestTimeout: 5 * time.Second, Formats: "ulaw",
			PingInterval: 2 * time.Second, PongTimeout: 3 * time.Second, ReconnectBackoff: 50 * time.Millisecond, ReconnectBackoffMax: 2 * time.Second},
		HTTP:    defaultHTTP("127.0.0.1:8080"),
		Routing: Routing{RingTimeout: 15 * time.Second, SweepInterval: time.Second},
		Log:     Log{Level: "info", Format: "json", CallerNumber: "masked"},
	}
	if !equalConfig(c, want) {
		t.Fatalf("got %+v\nwant %+v", c, want)
	}
}

func TestDefaultsOfCallControlKeys(t *testing.T) {
	clearEnv(t)
	c, err := Load(nil)
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct{ key, got, want string }{
		{"agents.idle_reasons", strings.Join(c.Agents.IdleReasons, ","), "break,lunch,meeting,training"},
		{"agents.wrapup.timeout", c.Agents.WrapUp.Timeout.String(), "30s"},
		{"agents.wrapup.codes", strings.Join(c.Agents.WrapUp.Codes, ","), "resolved,follow-up,escalated,no-resolution"},
		{"agents.wrapup.default_code", c.Agents.WrapUp.DefaultCode, "resolved"},
		{"dial.endpoint", c.Dial.Endpoint, "PJSIP/{number}@trunk"},
		{"dial.default_region", c.Dial.DefaultRegion, "US"},
		{"dial.caller_id", c.Dial.CallerID, ""},
		{"dial.ring_timeout", c.Dial.RingTimeout.String(), "30s"},
		{"recording.privacy_shield", c.Recording.PrivacyShield.String(), "10s"},
		{"recording.format", c.Recording.Format, "wav"},
		{"routing.max_concurrent_calls", strconv.Itoa(c.Routing.MaxConcurrentCalls), "0"},
		{"routing.busy_message", c.Routing.BusyMessage.String(), "sound:all-circuits-busy-now"},
		{"routing.blind_transfer_no_answer", c.Routing.BlindTransferNoAnswer, "abandon"},
	} {
		if tc.got != tc.want {
			t.Errorf("%s = %q, want %q", tc.key, tc.got, tc.want)
		}
	}
}

// TestDefaultListsAreNotShared: a caller changing its Config's lists must
// not change the defaults the next Load starts from.
func TestDefaultListsAreNotShared(t *testing.T) {
	a := Default()
	a.Agents.WrapUp.Codes[0] = "changed"
	a.Agents.IdleReasons[0] = "changed"
	b := Default()
	if b.Agents.WrapUp.Codes[0] != "resolved" || b.Agents.IdleReasons[0] != "break" {
		t.Fatalf("defaults changed through a Config: %v %v", b.Agents.WrapUp.Codes, b.Agents.IdleReasons)
	}
}

func equalConfig(a, b Config) bool {
	// Good enough for the scalar-only configs compared here.
	return a.NodeID == b.NodeID && a.Redis.Addr == b.Redis.Addr && a.Redis.Password == b.Redis.Password &&
		a.Redis.DB == b.Redis.DB && a.Redis.Prefix == b.Redis.Prefix && a.Redis.MasterName == b.Redis.MasterName &&
		slices.Equal(a.Redis.Addrs, b.Redis.Addrs) && reflect.DeepEqual(a.HTTP, b.HTTP) &&
		a.ARI.URL == b.ARI.URL && a.ARI.App == b.ARI.App && a.ARI.RequestTimeout == b.ARI.RequestTimeout &&
		a.ARI.Formats == b.ARI.Formats && a.ARI.PingInterval == b.ARI.PingInterval && a.ARI.PongTimeout == b.ARI.PongTimeout &&
		a.ARI.ReconnectBackoff == b.ARI.ReconnectBackoff && a.ARI.ReconnectBackoffMax == b.ARI.ReconnectBackoffMax &&
		a.Routing.RingTimeout == b.Routing.RingTimeout && a.Routing.SweepInterval == b.Routing.SweepInterval &&
		a.Routing.DefaultQueue == b.Routing.DefaultQueue && a.Log == b.Log
}

func TestLoadReadsYAMLFile(t *testing.T) {
	clearEnv(t)
	c, err := Load(flags(t, "--config", writeFile(t, minimalYAML)))
	if err != nil {
		t.Fatal(err)
	}
	if c.NodeID != "n1" || c.Redis.Addr != "redis.example:6380" || c.Redis.Prefix != "acme" {
		t.Errorf("scalars not read: %+v", c)
	}
	if c.Routing.RingTimeout != 12*time.Second {
		t.Errorf("ring_timeout = %v", c.Routing.RingTimeout)
	}
	// Defaults still fill what the file leaves out.
	if c.ARI.RequestTimeout != 5*time.Second || c.Log.Level != "info" {
		t.Errorf("defaults lost: %+v", c)
	}
	// Viper lower-cases map keys; references follow.
	if _, ok := c.Queues["sales"]; !ok || c.Routing.DefaultQueue != "sales" {
		t.Errorf("queues %v default_queue %q", c.Queues, c.Routing.DefaultQueue)
	}
	if c.Routing.DNIS["100"] != "sales" {
		t.Errorf("dnis = %v", c.Routing.DNIS)
	}
}

func TestLoadReadsFileFromEnv(t *testing.T) {
	clearEnv(t)
	t.Setenv(EnvConfigFile, writeFile(t, minimalYAML))
	c, err := Load(nil)
	if err != nil {
		t.Fatal(err)
	}
	if c.NodeID != "n1" {
		t.Errorf("node_id = %q", c.NodeID)
	}
}

func TestEnvOverridesNestedKeys(t *testing.T) {
	clearEnv(t)
	t.Setenv("TANDEM_REDIS_ADDR", "10.0.0.9:6379")
	t.Setenv("TANDEM_ARI_REQUEST_TIMEOUT", "3s")
	t.Setenv("TANDEM_ROUTING_RING_TIMEOUT", "25s")
	t.Setenv("TANDEM_ROUTING_SWEEP_INTERVAL", "250ms")
	t.Setenv("TANDEM_LOG_FORMAT", "text")
	t.Setenv("TANDEM_ARI_ATTACHED_VARS", "A,B")
	t.Setenv("TANDEM_AUTH_SUPERVISORS", "s1,s2")
	t.Setenv("TANDEM_QUEUES_SUPPORT_RING_TIMEOUT", "45s")
	c, err := Load(flags(t, "--config", writeFile(t, minimalYAML)))
	if err != nil {
		t.Fatal(err)
	}
	if c.Redis.Addr != "10.0.0.9:6379" {
		t.Errorf("redis.addr = %q (env must beat file)", c.Redis.Addr)
	}
	if c.Redis.Prefix != "acme" {
		t.Errorf("redis.prefix = %q (file sibling of an env key lost)", c.Redis.Prefix)
	}
	if c.ARI.RequestTimeout != 3*time.Second {
		t.Errorf("ari.request_timeout = %v", c.ARI.RequestTimeout)
	}
	if c.Routing.RingTimeout != 25*time.Second || c.Routing.SweepInterval != 250*time.Millisecond {
		t.Errorf("routing = %+v", c.Routing)
	}
	if c.Log.Format != "text" {
		t.Errorf("log.format = %q", c.Log.Format)
	}
	if strings.Join(c.ARI.AttachedVars, "|") != "A|B" || !reflect.DeepEqual(c.Auth.Supervisors, []SupervisorToken{{Name: "supervisor-1", Token: "s1"}, {Name: "supervisor-2", Token: "s2"}}) {
		t.Errorf("lists: %v %v", c.ARI.AttachedVars, c.Auth.Supervisors)
	}
	if q := c.Queues["support"]; q.RingTimeout != 45*time.Second {
		t.Errorf("queues.support.ring_timeout = %v", q.RingTimeout)
	}
	if q := c.Queues["sales"]; q.MOHClass != "jazz" {
		t.Errorf("queues.sales lost: %+v", q)
	}
}

const variablesYAML = `
node_id: n1
queues:
  sales:
    record: false
    variables:
      - {name: CUSTOMER_ID, label: Customer, type: string, popup: true, order: 1}
      - {name: LANGUAGE, label: Language, type: string, popup: true, order: 2}
      - {name: BALANCE, label: Balance, type: number, editable: true, popup: true, order: 3}
      - {name: CARD, label: Card, type: string, secure: true, order: 4}
`

func TestEnvOverridesCallControlKeys(t *testing.T) {
	clearEnv(t)
	t.Setenv("TANDEM_AGENTS_WRAPUP_TIMEOUT", "45s")
	t.Setenv("TANDEM_ROUTING_MAX_CONCURRENT_CALLS", "120")
	t.Setenv("TANDEM_RECORDING_FORMAT", "ulaw")
	t.Setenv("TANDEM_AGENTS_WRAPUP_CODES", "done,callback")
	t.Setenv("TANDEM_AGENTS_WRAPUP_DEFAULT_CODE", "done")
	t.Setenv("TANDEM_QUEUES_SALES_RECORD", "true")
	c, err := Load(flags(t, "--config", writeFile(t, variablesYAML)))
	if err != nil {
		t.Fatal(err)
	}
	if c.Agents.WrapUp.Timeout != 45*time.Second {
		t.Errorf("agents.wrapup.timeout = %v", c.Agents.WrapUp.Timeout)
	}
	if c.Routing.MaxConcurrentCalls != 120 {
		t.Errorf("routing.max_concurrent_calls = %d", c.Routing.MaxConcurrentCalls)
	}
	if c.Recording.Format != "ulaw" {
		t.Errorf("recording.format = %q", c.Recording.Format)
	}
	if strings.Join(c.Agents.WrapUp.Codes, "|") != "done|callback" || c.Agents.WrapUp.DefaultCode != "done" {
		t.Errorf("wrapup = %+v", c.Agents.WrapUp)
	}
	q := c.Queues["sales"]
	if !q.Record {
		t.Error("queues.sales.record: env true did not beat file false")
	}
	// The queue's scalars come from the environment; its list of records
	// only from the file, which must survive next to them.
	if len(q.Variables) != 4 || q.Variables[2] != (Variable{Name: "BALANCE", Label: "Balance", Type: "number", Editable: true, Order: 3, PopUp: true}) {
		t.Errorf("queues.sales.variables = %+v", q.Variables)
	}
	if !q.Variables[3].Secure {
		t.Errorf("secure flag lost: %+v", q.Variables[3])
	}
}

func TestEnvOverridesWithoutFile(t *testing.T) {
	clearEnv(t)
	t.Setenv("TANDEM_ROUTING_RING_TIMEOUT", "7s")
	c, err := Load(nil)
	if err != nil {
		t.Fatal(err)
	}
	if c.Routing.RingTimeout != 7*time.Second {
		t.Errorf("routing.ring_timeout = %v", c.Routing.RingTimeout)
	}
}

func TestFlagsBeatEnvBeatFile(t *testing.T) {
	clearEnv(t)
	file := writeFile(t, minimalYAML+"http:\n  listen: 127.0.0.1:9000\nari:\n  url: http://file:8088/ari\n")
	t.Setenv("TANDEM_REDIS_ADDR", "env:6379")
	t.Setenv("TANDEM_HTTP_LISTEN", "127.0.0.1:9001")
	t.Setenv("TANDEM_NODE_ID", "from-env")
	c, err := Load(flags(t, "--config", file, "--redis-addr", "flag:6379", "--node-id", "from-flag", "--log-level", "debug"))
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct{ key, got, want string }{
		{"redis.addr (flag > env)", c.Redis.Addr, "flag:6379"},
		{"node_id (flag > env > file)", c.NodeID, "from-flag"},
		{"http.listen (env > file, flag not given)", c.HTTP.Listen, "127.0.0.1:9001"},
		{"ari.url (file > default)", c.ARI.URL, "http://file:8088/ari"},
		{"log.level (flag > default)", c.Log.Level, "debug"},
	} {
		if tc.got != tc.want {
			t.Errorf("%s = %q, want %q", tc.key, tc.got, tc.want)
		}
	}
}

func TestFlagConfigBeatsEnvConfig(t *testing.T) {
	clearEnv(t)
	t.Setenv(EnvConfigFile, filepath.Join(t.TempDir(), "missing.yaml"))
	if _, err := Load(flags(t, "--config", writeFile(t, minimalYAML))); err != nil {
		t.Fatal(err)
	}
}

func TestLoadErrorsNameTheKey(t *testing.T) {
	for _, tc := range []struct {
		name, yaml, env, want string
	}{
		{"bare number duration", "routing:\n  ring_timeout: 15\n", "", "ring_timeout"},
		{"unknown key", "routing:\n  ring_timout: 15s\n", "", "ring_timout"},
		{"bad env duration", "", "TANDEM_ARI_REQUEST_TIMEOUT=soon", "request_timeout"},
		{"validation", "routing:\n  ring_timeout: -1s\n", "", "routing.ring_timeout: must be positive"},
		{"unknown variable field", "queues:\n  sales:\n    variables:\n      - {name: A, lable: A, type: string}\n", "", "lable"},
		{"bare number wrap-up timeout", "agents:\n  wrapup:\n    timeout: 30\n", "", "timeout"},
		{"bad env max calls", "", "TANDEM_ROUTING_MAX_CONCURRENT_CALLS=lots", "max_concurrent_calls"},
		{"variable validation", "queues:\n  sales:\n    variables:\n      - {name: A, label: A, type: money}\n", "", "queues.sales.variables[0].type: must be one of"},
		// Media are parsed once, at load: a bad one names its key.
		{"media without a kind", "routing:\n  busy_message: all-circuits-busy-now\n", "", "routing.busy_message"},
		{"media of an unknown kind", "routing:\n  busy_message: http://x/busy.wav\n", "", "routing.busy_message"},
		{"media without a name", "routing:\n  busy_message: \"sound:\"\n", "", "routing.busy_message"},
		{"media leaving its folder", "routing:\n  busy_message: sound:../../etc/passwd\n", "", "routing.busy_message"},
		{"bad env media", "", "TANDEM_ROUTING_BUSY_MESSAGE=busy", "busy_message"},
		{"bad queue media", "queues:\n  sales:\n    announce:\n      you_are_next: next\n", "", "queues[sales].announce.you_are_next"},
		{"bad prompt", "ivr:\n  nodes:\n    main:\n      prompt: \"number:four\"\n", "", "ivr.nodes[main].prompt"},
		{"message action without kind", "queues:\n  sales:\n    when_full: {type: message, message: closed}\n", "", "queues[sales].when_full.message"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			clearEnv(t)
			if tc.env != "" {
				k, v, _ := strings.Cut(tc.env, "=")
				t.Setenv(k, v)
			}
			_, err := Load(flags(t, "--config", writeFile(t, "node_id: n\n"+tc.yaml)))
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("err = %v, want it to mention %q", err, tc.want)
			}
		})
	}
}

func TestLoadMissingFileFails(t *testing.T) {
	clearEnv(t)
	_, err := Load(flags(t, "--config", filepath.Join(t.TempDir(), "nope.yaml")))
	if err == nil || !strings.Contains(err.Error(), "nope.yaml") {
		t.Fatalf("err = %v", err)
	}
}

func TestExampleFileLoadsAndValidates(t *testing.T) {
	clearEnv(t)
	c, err := Load(flags(t, "--config", "example.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	if len(c.Queues) != 2 || len(c.Auth.Agents) != 2 || c.Routing.DefaultQueue != "sales" {
		t.Errorf("example not fully read: %+v", c)
	}
	if q := c.Queues["sales"]; !q.Record || len(q.Variables) != 4 || q.Variables[3].Name != "CARD_NUMBER" || !q.Variables[3].Secure {
		t.Errorf("example queue not fully read: %+v", q)
	}
	// The example shows every key, so a key added to Config must be added
	// to it too.
	raw, _ := os.ReadFile("example.yaml")
	for _, key := range append(LeafKeys(), nestedKeys()...) {
		last := key[strings.LastIndex(key, ".")+1:]
		if !strings.Contains(string(raw), last+":") {
			t.Errorf("example.yaml does not show %s", key)
		}
	}
}

// nestedKeys lists the keys below a queue's or a node's name and inside
// lists, as REFERENCE.md writes them: "queues.<name>.skills[].relax[].after",
// "ivr.nodes.<name>.branches.<digits>.goto". A record type met a second
// time is one key (when_full, next, a branch's skills): the reference
// spells its fields out once and refers back to them.
func nestedKeys() []string {
	seen := map[reflect.Type]bool{}
	var keys []string
	var walk func(t reflect.Type, prefix string)
	walk = func(t reflect.Type, prefix string) {
		for i := range t.NumField() {
			f := t.Field(i)
			name := f.Tag.Get("mapstructure")
			key := prefix + "." + name
			keys = append(keys, key)
			elem, below := f.Type, key
			switch f.Type.Kind() {
			case reflect.Slice:
				elem, below = f.Type.Elem(), key+"[]"
			case reflect.Map:
				elem, below = f.Type.Elem(), key+".<name>"
				if name == "branches" {
					below = key + ".<digits>"
				}
			}
			if elem.Kind() != reflect.Struct || seen[elem] || elem == reflect.TypeOf(media.Media{}) {
				continue
			}
			seen[elem] = true
			if f.Type.Kind() == reflect.Struct {
				keys = keys[:len(keys)-1] // a plain record is its fields
			}
			walk(elem, below)
		}
	}
	walk(reflect.TypeOf(Queue{}), "queues.<name>")
	walk(reflect.TypeOf(Node{}), "ivr.nodes.<name>")
	walk(reflect.TypeOf(PBXNode{}), "pbx.nodes[]")
	walk(reflect.TypeOf(PBXTrunk{}), "pbx.trunks[]")
	return keys
}

func TestReferenceListsEveryKey(t *testing.T) {
	raw, err := os.ReadFile("REFERENCE.md")
	if err != nil {
		t.Fatal(err)
	}
	ref := string(raw)
	for _, key := range append(LeafKeys(), nestedKeys()...) {
		if !strings.Contains(ref, "| `"+key+"` |") {
			t.Errorf("REFERENCE.md has no row for %s", key)
		}
	}
	for _, key := range EnvKeys() {
		if !strings.Contains(ref, "`"+EnvVar(key)+"`") {
			t.Errorf("REFERENCE.md does not name %s", EnvVar(key))
		}
	}
}

// valid returns a Config that passes Validate; each case breaks one thing.
func valid() Config {
	c := Default()
	c.NodeID = "n1"
	c.Redis.Addr = "127.0.0.1:6379"
	sales := NewQueue()
	sales.Record = true
	sales.Variables = []Variable{
		{Name: "CUSTOMER_ID", Label: "Customer", Type: "string", PopUp: true, Order: 1},
		{Name: "LANGUAGE", Label: "Language", Type: "string", PopUp: true, Order: 2},
		{Name: "opened_at", Label: "Opened", Type: "datetime", PopUp: true, Order: 3},
		{Name: "VIP", Label: "VIP", Type: "boolean", Editable: true, Order: 4},
		{Name: "_BALANCE", Label: "Balance", Type: "number", Secure: true, Order: 5},
	}
	support := NewQueue()
	support.RingTimeout = 30 * time.Second
	c.Queues = map[string]Queue{"sales": sales, "support": support}
	c.Routing.DefaultQueue = "sales"
	c.Routing.DNIS = map[string]string{"100": "sales"}
	c.Auth = Auth{
		Agents:      []AgentToken{{Agent: "1001", Token: "a1"}, {Agent: "1002", Token: "a2"}},
		Supervisors: []SupervisorToken{{Name: "s", Token: "s1"}},
	}
	return c
}

// withVar returns the sales queue of c with a copy of its variables, the
// i-th changed by change (valid() shares nothing between calls, but the
// slice must not be changed in place through the map's value).
func withVar(c *Config, i int, change func(*Variable)) Queue {
	q := c.Queues["sales"]
	q.Variables = slices.Clone(q.Variables)
	change(&q.Variables[i])
	return q
}

func TestValidateAcceptsValid(t *testing.T) {
	if err := valid().Validate(); err != nil {
		t.Fatal(err)
	}
	c := valid()
	c.Redis.Addr = "" // allowed: tandem demo starts its own Redis
	c.HTTP.Listen = ""
	if err := c.Validate(); err != nil {
		t.Fatal(err)
	}
	// Edges of the call-control rules.
	c = valid()
	c.Routing.MaxConcurrentCalls = 500
	c.Routing.BusyMessage = media.ToneOf("busy")
	c.Routing.BlindTransferNoAnswer = "requeue"
	c.Agents.IdleReasons = []string{"a", strings.Repeat("z", 32), "x_y-1"}
	c.Agents.WrapUp.Codes = []string{"ok"}
	c.Agents.WrapUp.DefaultCode = "ok"
	c.Dial = Dial{Endpoint: "SIP/trunk/{number}", DefaultRegion: "GB", CallerID: "+442071234567", RingTimeout: time.Second}
	c.Recording = Recording{PrivacyShield: time.Second, Format: "sln"}
	q := c.Queues["sales"]
	for i := range 3 { // six pop-up variables
		q.Variables = append(q.Variables, Variable{Name: "P" + strconv.Itoa(i), Label: "P", Type: "string", PopUp: true})
	}
	c.Queues["sales"] = q
	support := NewQueue()
	support.Variables = []Variable{{Name: "A", Label: "A", Type: "string"}} // no pop-up at all
	c.Queues["support"] = support
	if err := c.Validate(); err != nil {
		t.Fatal(err)
	}
}

// TestRedisSentinelSettings: Sentinel addresses come as a list from the
// file or comma-separated from the environment, validate with a master
// name, and redis.addr alone still works (Addresses is then just it).
func TestRedisSentinelSettings(t *testing.T) {
	c := valid() // before the environment below: Default reads it
	if got := c.Redis.Addresses(); !slices.Equal(got, []string{"127.0.0.1:6379"}) {
		t.Fatalf("redis.addr alone: addresses %v", got)
	}
	c.Redis.Addr = ""
	if got := c.Redis.Addresses(); got != nil {
		t.Fatalf("no address: %v", got)
	}

	t.Setenv("TANDEM_REDIS_ADDRS", "s1:26379,s2:26379")
	t.Setenv("TANDEM_REDIS_MASTER_NAME", "mymaster")
	c, err := Load(flags(t, "--config", writeFile(t, "node_id: n1\nredis: {sentinel_password: spw}\n")))
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(c.Redis.Addresses(), []string{"s1:26379", "s2:26379"}) || c.Redis.MasterName != "mymaster" || c.Redis.SentinelPassword != "spw" {
		t.Fatalf("redis = %+v", c.Redis)
	}
	if err := c.Validate(); err != nil {
		t.Fatalf("a Sentinel configuration: %v", err)
	}
}

func TestValidateNamesTheBadKey(t *testing.T) {
	for _, tc := range []struct {
		key    string
		break_ func(*Config)
	}{
		{"node_id", func(c *Config) { c.NodeID = "" }},
		{"node_id", func(c *Config) { c.NodeID = "a b" }},
		{"redis.addr", func(c *Config) { c.Redis.Addr = "localhost" }},
		{"redis.addr", func(c *Config) { c.Redis.Addr = "localhost:http" }},
		{"redis.db", func(c *Config) { c.Redis.DB = -1 }},
		{"redis.addrs[1]", func(c *Config) {
			c.Redis.Addr, c.Redis.MasterName, c.Redis.Addrs = "", "mymaster", []string{"s1:26379", "s2"}
		}},
		{"redis.addrs", func(c *Config) { c.Redis.Addrs = []string{"s1:26379"} }}, // beside redis.addr
		{"redis.addrs", func(c *Config) { c.Redis.Addr, c.Redis.Addrs = "", []string{"r1:6379", "r2:6379"} }},
		{"redis.master_name", func(c *Config) { c.Redis.Addr, c.Redis.MasterName = "", "mymaster" }},
		{"redis.master_name", func(c *Config) {
			c.Redis.Addr, c.Redis.MasterName, c.Redis.Addrs = "", "my master", []string{"s1:26379"}
		}},
		{"redis.sentinel_password", func(c *Config) { c.Redis.SentinelPassword = "pw" }},
		{"redis.prefix", func(c *Config) { c.Redis.Prefix = "" }},
		{"redis.prefix", func(c *Config) { c.Redis.Prefix = "a b" }},
		{"redis.prefix", func(c *Config) { c.Redis.Prefix = "{t}" }},
		{"ari.url", func(c *Config) { c.ARI.URL = "" }},
		{"ari.url", func(c *Config) { c.ARI.URL = "ftp://pbx/ari" }},
		{"ari.url", func(c *Config) { c.ARI.URL = "http://%zz" }},
		{"ari.url", func(c *Config) { c.ARI.URL = "http:///ari" }},
		{"ari.ws_url", func(c *Config) { c.ARI.WSURL = "http://pbx/ari/events" }},
		{"ari.app", func(c *Config) { c.ARI.App = "" }},
		{"ari.request_timeout", func(c *Config) { c.ARI.RequestTimeout = 0 }},
		{"ari.formats", func(c *Config) { c.ARI.Formats = "" }},
		{"ari.formats", func(c *Config) { c.ARI.Formats = "ulaw," }},
		{"ari.formats", func(c *Config) { c.ARI.Formats = "ulaw alaw" }},
		{"ari.ping_interval", func(c *Config) { c.ARI.PingInterval = 0 }},
		{"ari.pong_timeout", func(c *Config) { c.ARI.PongTimeout = -time.Second }},
		{"ari.reconnect_backoff", func(c *Config) { c.ARI.ReconnectBackoff = 0 }},
		{"ari.reconnect_backoff_max", func(c *Config) { c.ARI.ReconnectBackoffMax = time.Millisecond }},
		{"ari.attached_vars[0]", func(c *Config) { c.ARI.AttachedVars = []string{" "} }},
		{"http.listen", func(c *Config) { c.HTTP.Listen = ":0" }},
		{"auth.agents[1].token", func(c *Config) { c.Auth.Agents[1].Token = "" }},
		{"auth.agents[1].token", func(c *Config) { c.Auth.Agents[1].Token = "a1" }},
		{"auth.agents[0].agent", func(c *Config) { c.Auth.Agents[0].Agent = "" }},
		{"auth.agents[0].agent", func(c *Config) { c.Auth.Agents[0].Agent = "has space" }},
		{"auth.supervisors[0].token", func(c *Config) { c.Auth.Supervisors[0].Token = "" }},
		{"auth.supervisors[0].token", func(c *Config) { c.Auth.Supervisors[0].Token = "a2" }},
		{"routing.ring_timeout", func(c *Config) { c.Routing.RingTimeout = 0 }},
		{"routing.sweep_interval", func(c *Config) { c.Routing.SweepInterval = -time.Second }},
		{"routing.callback_lease", func(c *Config) { c.Routing.CallbackLease = 500 * time.Millisecond }},
		{"replicas.lease", func(c *Config) { c.Replicas.Lease = 500 * time.Millisecond }},
		{"replicas.drain_timeout", func(c *Config) { c.Replicas.DrainTimeout = 0 }},
		{"routing.default_queue", func(c *Config) { c.Routing.DefaultQueue = "nope" }},
		{"routing.dnis.200", func(c *Config) { c.Routing.DNIS["200"] = "nope" }},
		{"routing.dnis.200", func(c *Config) { c.Routing.DNIS["200"] = "" }},
		{"queues.bad name", func(c *Config) { c.Queues["bad name"] = NewQueue() }},
		{"queues.{x}", func(c *Config) { c.Queues["{x}"] = NewQueue() }},
		{"queues.support.ring_timeout", func(c *Config) {
			q := NewQueue()
			q.RingTimeout = -1
			c.Queues["support"] = q
		}},
		{"routing.max_concurrent_calls", func(c *Config) { c.Routing.MaxConcurrentCalls = -1 }},
		{"routing.busy_message", func(c *Config) { c.Routing.BusyMessage = media.Media{} }},
		{"routing.busy_message", func(c *Config) { c.Routing.BusyMessage = media.TextOf("all circuits are busy") }},
		{"routing.blind_transfer_no_answer", func(c *Config) { c.Routing.BlindTransferNoAnswer = "" }},
		{"routing.blind_transfer_no_answer", func(c *Config) { c.Routing.BlindTransferNoAnswer = "voicemail" }},
		{"agents.idle_reasons", func(c *Config) { c.Agents.IdleReasons = nil }},
		{"agents.idle_reasons[1]", func(c *Config) { c.Agents.IdleReasons = []string{"break", "Lunch"} }},
		{"agents.idle_reasons[2]", func(c *Config) { c.Agents.IdleReasons = []string{"break", "lunch", "break"} }},
		{"agents.wrapup.timeout", func(c *Config) { c.Agents.WrapUp.Timeout = -time.Second }},
		{"agents.wrapup.timeout", func(c *Config) { c.Agents.WrapUp.Timeout = time.Nanosecond }},
		{"agents.wrapup.codes", func(c *Config) { c.Agents.WrapUp.Codes = []string{} }},
		{"agents.wrapup.codes[0]", func(c *Config) { c.Agents.WrapUp.Codes[0] = "" }},
		{"agents.wrapup.codes[1]", func(c *Config) { c.Agents.WrapUp.Codes[1] = "follow up" }},
		{"agents.wrapup.codes[1]", func(c *Config) { c.Agents.WrapUp.Codes[1] = strings.Repeat("a", 33) }},
		{"agents.wrapup.codes[3]", func(c *Config) { c.Agents.WrapUp.Codes[3] = "resolved" }},
		{"agents.wrapup.default_code", func(c *Config) { c.Agents.WrapUp.DefaultCode = "" }},
		{"agents.wrapup.default_code", func(c *Config) { c.Agents.WrapUp.DefaultCode = "closed" }},
		{"dial.endpoint", func(c *Config) { c.Dial.Endpoint = "" }},
		{"dial.endpoint", func(c *Config) { c.Dial.Endpoint = "PJSIP/{num}@trunk" }},
		{"dial.default_region", func(c *Config) { c.Dial.DefaultRegion = "" }},
		{"dial.default_region", func(c *Config) { c.Dial.DefaultRegion = "us" }},
		{"dial.default_region", func(c *Config) { c.Dial.DefaultRegion = "USA" }},
		{"dial.ring_timeout", func(c *Config) { c.Dial.RingTimeout = 0 }},
		{"recording.privacy_shield", func(c *Config) { c.Recording.PrivacyShield = -time.Second }},
		{"recording.format", func(c *Config) { c.Recording.Format = "" }},
		{"recording.format", func(c *Config) { c.Recording.Format = "mp3" }},
		{"queues.sales.variables[1].name", func(c *Config) { c.Queues["sales"] = withVar(c, 1, func(v *Variable) { v.Name = "" }) }},
		{"queues.sales.variables[1].name", func(c *Config) { c.Queues["sales"] = withVar(c, 1, func(v *Variable) { v.Name = "1ST" }) }},
		{"queues.sales.variables[1].name", func(c *Config) { c.Queues["sales"] = withVar(c, 1, func(v *Variable) { v.Name = "A-B" }) }},
		{"queues.sales.variables[1].name", func(c *Config) {
			c.Queues["sales"] = withVar(c, 1, func(v *Variable) { v.Name = "A" + strings.Repeat("b", 64) })
		}},
		{"queues.sales.variables[2].name", func(c *Config) { c.Queues["sales"] = withVar(c, 2, func(v *Variable) { v.Name = "CUSTOMER_ID" }) }},
		{"queues.sales.variables[2].type", func(c *Config) { c.Queues["sales"] = withVar(c, 2, func(v *Variable) { v.Type = "" }) }},
		{"queues.sales.variables[2].type", func(c *Config) { c.Queues["sales"] = withVar(c, 2, func(v *Variable) { v.Type = "integer" }) }},
		{"queues.sales.variables[0].label", func(c *Config) { c.Queues["sales"] = withVar(c, 0, func(v *Variable) { v.Label = " " }) }},
		{"queues.sales.variables", func(c *Config) { c.Queues["sales"] = withVar(c, 0, func(v *Variable) { v.PopUp = false }) }},
		{"queues.sales.variables", func(c *Config) {
			q := c.Queues["sales"]
			for i := range 4 {
				q.Variables = append(q.Variables, Variable{Name: "X" + strconv.Itoa(i), Label: "X", Type: "string", PopUp: true})
			}
			c.Queues["sales"] = q
		}},
		{"log.level", func(c *Config) { c.Log.Level = "verbose" }},
		{"log.format", func(c *Config) { c.Log.Format = "xml" }},
		{"log.caller_number", func(c *Config) { c.Log.CallerNumber = "clear" }},
	} {
		t.Run(tc.key, func(t *testing.T) {
			c := valid()
			tc.break_(&c)
			wantKeyError(t, c.Validate(), tc.key)
		})
	}
}

func TestValidateReportsEveryProblem(t *testing.T) {
	c := valid()
	c.Routing.RingTimeout = 0
	c.Log.Level = "loud"
	err := c.Validate()
	for _, key := range []string{"routing.ring_timeout", "log.level"} {
		if err == nil || !strings.Contains(err.Error(), "config: "+key+":") {
			t.Errorf("err %v does not name %s", err, key)
		}
	}
}

func TestValidateNeverPrintsTokens(t *testing.T) {
	c := valid()
	c.Auth.Supervisors = append(c.Auth.Supervisors, SupervisorToken{Token: "a1"})
	if err := c.Validate(); err == nil || strings.Contains(err.Error(), "a1\"") || strings.Contains(err.Error(), ": a1") {
		t.Fatalf("err = %v", err)
	}
}

func TestQueueSettingsFallsBackToRouting(t *testing.T) {
	c := valid()
	q, ok := c.QueueSettings("sales")
	if !ok || q.RingTimeout != c.Routing.RingTimeout {
		t.Errorf("sales = %+v %v, want ring timeout %v", q, ok, c.Routing.RingTimeout)
	}
	q, ok = c.QueueSettings("support")
	if !ok || q.RingTimeout != 30*time.Second {
		t.Errorf("support = %+v %v", q, ok)
	}
	if _, ok := c.QueueSettings("nope"); ok {
		t.Error("unknown queue reported as configured")
	}
}

func TestLogValueMasksSecrets(t *testing.T) {
	c := valid()
	c.Redis.SentinelPassword = "sentinel-pw"
	c.Redis.Password = "redis-pw"
	c.ARI.Password = "ari-pw"
	var b strings.Builder
	slog.New(slog.NewJSONHandler(&b, nil)).Info("start", "config", c)
	out := b.String()
	for _, secret := range []string{"sentinel-pw", "redis-pw", "ari-pw", `"a1"`, `"s1"`} {
		if strings.Contains(out, secret) {
			t.Errorf("log line leaks %s: %s", secret, out)
		}
	}
	if !strings.Contains(out, `"prefix":"tandem"`) {
		t.Errorf("log line lacks settings: %s", out)
	}
}

func TestLogCallerNumberIsMaskedByDefault(t *testing.T) {
	if got := Default().Log.CallerNumber; got != "masked" {
		t.Fatalf("log.caller_number defaults to %q, want masked", got)
	}
}
