package config

import (
	"errors"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/tandem-cc/tandem/dialnum"
	"github.com/tandem-cc/tandem/pbxnode"
)

// mixedYAML is one Asterisk and one FreeSWITCH, the FreeSWITCH password
// left to the environment.
const mixedYAML = minimalYAML + `
pbx:
  app: tandem-r1
  attached_vars: [CUSTOMER_ID]
  nodes:
    - name: ast1
      kind: asterisk
      url: http://pbx1.example:8088/ari
      username: tandem
      password: ast-secret
      formats: ulaw,alaw
    - name: fs1
      kind: freeswitch
      addr: fs1.example
      recordings_dir: /var/lib/freeswitch/recordings
      moh_class: moh
  trunks:
    - {from: ast1, to: fs1, dial: "PJSIP/{exten}@fs1"}
    - {from: fs1, to: ast1, dial: "sofia/gateway/ast1/{exten}"}
dial:
  endpoint: fs1/sofia/gateway/trunk/{number}
`

// validNodes returns valid() with an Asterisk and a FreeSWITCH node; each
// case of the table breaks one thing.
func validNodes() Config {
	c := valid()
	c.PBX.Nodes = []PBXNode{
		{
			Name: "ast1", Kind: pbxnode.Asterisk, Password: "p", RequestTimeout: 5 * time.Second,
			ReconnectBackoff: 50 * time.Millisecond, ReconnectBackoffMax: 2 * time.Second,
			URL: "http://pbx1:8088/ari", Username: "tandem", Formats: "ulaw",
			PingInterval: 2 * time.Second, PongTimeout: 3 * time.Second, IdleConns: 64,
		},
		{
			Name: "fs1", Kind: pbxnode.FreeSWITCH, Password: "ClueCon-not", RequestTimeout: 5 * time.Second,
			ReconnectBackoff: 50 * time.Millisecond, ReconnectBackoffMax: 2 * time.Second,
			Addr: "fs1:8021", Mode: ModeInbound,
		},
	}
	c.PBX.Trunks = []PBXTrunk{
		{From: "ast1", To: "fs1", Dial: "PJSIP/{exten}@fs1"},
		{From: "fs1", To: "ast1", Dial: "sofia/gateway/ast1/{exten}"},
	}
	c.Dial.Endpoint = "ast1/PJSIP/{number}@trunk"
	return c
}

func TestPBXNodesReadFromFileWithTheirKindsDefaults(t *testing.T) {
	clearEnv(t)
	t.Setenv("TANDEM_PBX_NODES_FS1_PASSWORD", "ClueCon-not")
	c, err := Load(flags(t, "--config", writeFile(t, mixedYAML)))
	if err != nil {
		t.Fatal(err)
	}
	nodes := c.PBXNodes()
	if len(nodes) != 2 {
		t.Fatalf("nodes = %+v", nodes)
	}
	ast, fs := nodes[0], nodes[1]
	wantAst := PBXNode{
		Name: "ast1", Kind: pbxnode.Asterisk, Password: "ast-secret", RequestTimeout: 5 * time.Second,
		ReconnectBackoff: 50 * time.Millisecond, ReconnectBackoffMax: 2 * time.Second,
		URL: "http://pbx1.example:8088/ari", Username: "tandem", Formats: "ulaw,alaw",
		PingInterval: 2 * time.Second, PongTimeout: 3 * time.Second, IdleConns: 64,
	}
	if ast != wantAst {
		t.Errorf("ast1 = %+v\nwant %+v", ast, wantAst)
	}
	wantFS := PBXNode{
		Name: "fs1", Kind: pbxnode.FreeSWITCH, Password: "ClueCon-not", RequestTimeout: 5 * time.Second,
		ReconnectBackoff: 50 * time.Millisecond, ReconnectBackoffMax: 2 * time.Second,
		Addr: "fs1.example:8021", Mode: ModeInbound, RecordingsDir: "/var/lib/freeswitch/recordings", MOHClass: "moh",
	}
	if fs != wantFS {
		t.Errorf("fs1 = %+v\nwant %+v", fs, wantFS)
	}
	if c.PBXApp() != "tandem-r1" || strings.Join(c.PBXAttachedVars(), ",") != "CUSTOMER_ID" {
		t.Errorf("app %q, attached vars %v", c.PBXApp(), c.PBXAttachedVars())
	}
	if got := strings.Join(c.PBXNodeNames(), ","); got != "ast1,fs1" {
		t.Errorf("names = %s", got)
	}
}

// TestPBXNodeSettingsFromEnvironmentByName: a node's keys come from
// TANDEM_PBX_NODES_<NAME>_<FIELD>, found by name ("-" as "_"), so the
// secret follows the node wherever it sits in the list; the environment
// wins over the file and is typed like it.
func TestPBXNodeSettingsFromEnvironmentByName(t *testing.T) {
	clearEnv(t)
	t.Setenv("TANDEM_PBX_NODES_FS_EAST_PASSWORD", "from-env")
	t.Setenv("TANDEM_PBX_NODES_AST1_PASSWORD", "env-beats-file")
	t.Setenv("TANDEM_PBX_NODES_FS_EAST_REQUEST_TIMEOUT", "9s")
	t.Setenv("TANDEM_PBX_NODES_FS_EAST_MODE", "outbound")
	t.Setenv("TANDEM_PBX_NODES_FS_EAST_LISTEN", "0.0.0.0:8084")
	c, err := Load(flags(t, "--config", writeFile(t, minimalYAML+`
pbx:
  nodes:
    - {name: fs-east, kind: freeswitch, addr: "10.0.0.5:8022"}
    - {name: ast1, kind: asterisk, url: "http://pbx1:8088/ari", username: u, password: from-file}
  trunks:
    - {from: ast1, to: fs-east, dial: "PJSIP/{exten}@fs-east"}
    - {from: fs-east, to: ast1, dial: "sofia/gateway/ast1/{exten}"}
dial:
  endpoint: ast1/PJSIP/{number}@trunk
`)))
	if err != nil {
		t.Fatal(err)
	}
	fs, ast := c.PBX.Nodes[0], c.PBX.Nodes[1]
	if fs.Password != "from-env" || fs.RequestTimeout != 9*time.Second || fs.Mode != ModeOutbound || fs.Listen != "0.0.0.0:8084" || fs.Addr != "10.0.0.5:8022" {
		t.Errorf("fs-east = %+v", fs)
	}
	if ast.Password != "env-beats-file" {
		t.Errorf("ast1 password = %q", ast.Password)
	}
	if got := NodeEnvVar("fs-east", "password"); got != "TANDEM_PBX_NODES_FS_EAST_PASSWORD" {
		t.Errorf("NodeEnvVar = %s", got)
	}

	// A bad value from the environment fails the load naming the node.
	t.Setenv("TANDEM_PBX_NODES_FS_EAST_REQUEST_TIMEOUT", "9")
	if _, err := Load(flags(t, "--config", writeFile(t, minimalYAML+"pbx:\n  nodes:\n    - {name: fs-east, kind: freeswitch, addr: fs}\n"))); err == nil ||
		!strings.Contains(err.Error(), "request_timeout") {
		t.Fatalf("err = %v, want the bare duration refused", err)
	}
}

func TestPBXNodeWithoutPasswordIsRefusedNamingIt(t *testing.T) {
	clearEnv(t)
	_, err := Load(flags(t, "--config", writeFile(t, mixedYAML)))
	wantKeyError(t, err, "pbx.nodes[1].password")
	if !strings.Contains(err.Error(), "TANDEM_PBX_NODES_FS1_PASSWORD") {
		t.Errorf("the message does not say where the secret may come from: %v", err)
	}
}

// TestDefaultConfigIsOneAsteriskNode: without a pbx section, today's
// configuration is the one node ast1, from the ari section.
func TestDefaultConfigIsOneAsteriskNode(t *testing.T) {
	clearEnv(t)
	c, err := Load(nil)
	if err != nil {
		t.Fatal(err)
	}
	want := []PBXNode{{
		Name: LegacyNodeName, Kind: pbxnode.Asterisk, RequestTimeout: 5 * time.Second,
		ReconnectBackoff: 50 * time.Millisecond, ReconnectBackoffMax: 2 * time.Second,
		URL: "http://127.0.0.1:8088/ari", Formats: "ulaw", PingInterval: 2 * time.Second, PongTimeout: 3 * time.Second, IdleConns: 64,
	}}
	if got := c.PBXNodes(); len(got) != 1 || got[0] != want[0] {
		t.Errorf("nodes = %+v\nwant %+v", got, want)
	}
	if c.PBXApp() != "tandem" || c.PBXAttachedVars() != nil || len(c.PBX.Nodes) != 0 {
		t.Errorf("app %q, vars %v, pbx %+v", c.PBXApp(), c.PBXAttachedVars(), c.PBX)
	}
	// Agents log in with their PJSIP endpoint, and nothing else, as before.
	p, err := c.AgentEndpointPolicy()
	if err != nil {
		t.Fatal(err)
	}
	if err := p.Check("1001", "PJSIP/1001"); err != nil {
		t.Error(err)
	}
	if err := p.Check("1001", "user/1001"); err == nil {
		t.Error("user/1001 accepted on a single Asterisk")
	}
}

func TestARISectionAloneIsTheAsteriskNode(t *testing.T) {
	clearEnv(t)
	t.Setenv("TANDEM_ARI_PASSWORD", "s3cret")
	c, err := Load(flags(t, "--config", writeFile(t, minimalYAML+`
ari:
  url: http://pbx9:8088/ari
  username: tandem
  app: tandem-r2
  attached_vars: [A]
`)))
	if err != nil {
		t.Fatal(err)
	}
	n := c.PBXNodes()
	if len(n) != 1 || n[0].Name != "ast1" || n[0].URL != "http://pbx9:8088/ari" || n[0].Username != "tandem" || n[0].Password != "s3cret" {
		t.Errorf("nodes = %+v", n)
	}
	if c.PBXApp() != "tandem-r2" || strings.Join(c.PBXAttachedVars(), ",") != "A" {
		t.Errorf("app %q, vars %v", c.PBXApp(), c.PBXAttachedVars())
	}
}

// TestARIWithPBXNodesIsRefused: the legacy section beside pbx.nodes is an
// error naming the key, wherever it was set, even to its default value.
func TestARIWithPBXNodesIsRefused(t *testing.T) {
	nodes := "pbx:\n  nodes:\n    - {name: fs1, kind: freeswitch, addr: fs1, password: x}\n"
	for _, tc := range []struct {
		name, yaml, env string
		args            []string
		key             string
	}{
		{"file", "ari:\n  url: http://pbx1:8088/ari\n" + nodes, "", nil, "ari.url"},
		{"file, default value", "ari:\n  formats: ulaw\n" + nodes, "", nil, "ari.formats"},
		{"file, empty section", "ari: {}\n" + nodes, "", nil, "ari"},
		{"environment", nodes, "TANDEM_ARI_PASSWORD", nil, "ari.password"},
		{"flag", nodes, "", []string{"--ari-url", "http://x:8088/ari"}, "ari.url"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			clearEnv(t)
			if tc.env != "" {
				t.Setenv(tc.env, "x")
			}
			_, err := Load(flags(t, append([]string{"--config", writeFile(t, minimalYAML+tc.yaml)}, tc.args...)...))
			wantKeyError(t, err, tc.key)
			if n := strings.Count(err.Error(), "config: "); n != 1 {
				t.Errorf("%d errors, want the one: %v", n, err)
			}
		})
	}
}

func TestPBXAppWithoutNodesIsRefused(t *testing.T) {
	clearEnv(t)
	_, err := Load(flags(t, "--config", writeFile(t, minimalYAML+"pbx:\n  app: tandem-r1\n")))
	wantKeyError(t, err, "pbx.app")
	// Also when set to its default value, which says nothing either way.
	_, err = Load(flags(t, "--config", writeFile(t, minimalYAML+"pbx:\n  app: tandem\n")))
	wantKeyError(t, err, "pbx.app")
	clearEnv(t)
	t.Setenv("TANDEM_PBX_ATTACHED_VARS", "A,B")
	_, err = Load(flags(t, "--config", writeFile(t, minimalYAML)))
	wantKeyError(t, err, "pbx.attached_vars")
}

func TestValidatePBXNamesTheBadKey(t *testing.T) {
	if err := validNodes().Validate(); err != nil {
		t.Fatalf("base config invalid: %v", err)
	}
	fs := func(change func(*PBXNode)) func(*Config) { return func(c *Config) { change(&c.PBX.Nodes[1]) } }
	ast := func(change func(*PBXNode)) func(*Config) { return func(c *Config) { change(&c.PBX.Nodes[0]) } }
	for _, tc := range []struct {
		key    string
		change func(*Config)
	}{
		{"ari.username", func(c *Config) { c.ARI.Username = "u" }},
		{"ari.attached_vars", func(c *Config) { c.ARI.AttachedVars = []string{"A"} }},
		{"pbx.app", func(c *Config) { c.PBX.App = "" }},
		{"pbx.app", func(c *Config) { c.PBX.App = "tandem r1" }},
		{"pbx.attached_vars[0]", func(c *Config) { c.PBX.AttachedVars = []string{" "} }},
		{"pbx.nodes[1].name", fs(func(n *PBXNode) { n.Name = "" })},
		{"pbx.nodes[1].name", fs(func(n *PBXNode) { n.Name = "fs 1" })},
		{"pbx.nodes[1].name", fs(func(n *PBXNode) { n.Name = "user" })},
		{"pbx.nodes[1].name", fs(func(n *PBXNode) { n.Name = strings.Repeat("f", 33) })},
		{"pbx.nodes[1].name", fs(func(n *PBXNode) { n.Name = "ast1" })},
		{"pbx.nodes[1].name", fs(func(n *PBXNode) { n.Name = "AST1" })},
		{"pbx.nodes[1].kind", fs(func(n *PBXNode) { n.Kind = "" })},
		{"pbx.nodes[1].kind", fs(func(n *PBXNode) { n.Kind = "yate" })},
		{"pbx.nodes[1].password", fs(func(n *PBXNode) { n.Password = "" })},
		{"pbx.nodes[0].password", ast(func(n *PBXNode) { n.Password = "" })},
		{"pbx.nodes[1].request_timeout", fs(func(n *PBXNode) { n.RequestTimeout = 0 })},
		{"pbx.nodes[1].reconnect_backoff", fs(func(n *PBXNode) { n.ReconnectBackoff, n.ReconnectBackoffMax = 0, 0 })},
		{"pbx.nodes[1].reconnect_backoff_max", fs(func(n *PBXNode) { n.ReconnectBackoffMax = time.Millisecond })},
		{"pbx.nodes[1].addr", fs(func(n *PBXNode) { n.Addr = "" })},
		{"pbx.nodes[1].addr", fs(func(n *PBXNode) { n.Addr = "fs1:0" })},
		{"pbx.nodes[1].addr", fs(func(n *PBXNode) { n.Addr = "fs1:esl" })},
		{"pbx.nodes[1].mode", fs(func(n *PBXNode) { n.Mode = "" })},
		{"pbx.nodes[1].mode", fs(func(n *PBXNode) { n.Mode = "both" })},
		{"pbx.nodes[1].listen", fs(func(n *PBXNode) { n.Listen = "0.0.0.0:8084" })}, // inbound mode
		{"pbx.nodes[1].listen", fs(func(n *PBXNode) { n.Mode = ModeOutbound })},
		{"pbx.nodes[1].listen", fs(func(n *PBXNode) { n.Mode, n.Listen = ModeOutbound, "8084" })},
		{"pbx.nodes[1].listen", fs(func(n *PBXNode) { n.Mode, n.Listen = ModeOutbound, "127.0.0.1:8080" })}, // http.listen
		{"pbx.nodes[1].recordings_dir", fs(func(n *PBXNode) { n.RecordingsDir = "recordings" })},
		{"pbx.nodes[1].sounds_dir", fs(func(n *PBXNode) { n.SoundsDir = "/usr/share/my sounds" })},
		{"pbx.nodes[1].recording_format", fs(func(n *PBXNode) { n.RecordingFormat = "gsm" })},
		{"pbx.nodes[1].recording_format", func(c *Config) { c.Recording.Format = "sln" }},
		{"pbx.nodes[1].moh_class", fs(func(n *PBXNode) { n.MOHClass = "my class" })},
		{"pbx.nodes[1].url", fs(func(n *PBXNode) { n.URL = "http://fs1:8088/ari" })},
		{"pbx.nodes[1].idle_conns", fs(func(n *PBXNode) { n.IdleConns = 4 })},
		{"pbx.nodes[0].addr", ast(func(n *PBXNode) { n.Addr = "pbx1:8021" })},
		{"pbx.nodes[0].moh_class", ast(func(n *PBXNode) { n.MOHClass = "default" })},
		{"pbx.nodes[0].url", ast(func(n *PBXNode) { n.URL = "" })},
		{"pbx.nodes[0].url", ast(func(n *PBXNode) { n.URL = "ws://pbx1:8088/ari" })},
		{"pbx.nodes[0].ws_url", ast(func(n *PBXNode) { n.WSURL = "http://pbx1:8088/ari/events" })},
		{"pbx.nodes[0].username", ast(func(n *PBXNode) { n.Username = "" })},
		{"pbx.nodes[0].formats", ast(func(n *PBXNode) { n.Formats = "ulaw alaw" })},
		{"pbx.nodes[0].ping_interval", ast(func(n *PBXNode) { n.PingInterval = 0 })},
		{"pbx.nodes[0].pong_timeout", ast(func(n *PBXNode) { n.PongTimeout = 0 })},
		{"pbx.nodes[0].idle_conns", ast(func(n *PBXNode) { n.IdleConns = 0 })},
		{"dial.endpoint", func(c *Config) { c.Dial.Endpoint = "PJSIP/{number}@trunk" }},
		{"dial.endpoint", func(c *Config) { c.Dial.Endpoint = "ast9/PJSIP/{number}@trunk" }},
		{"dial.agent_endpoints.patterns[1]", func(c *Config) { c.Dial.AgentEndpoints.Patterns = []string{"fs1/user/{agent}", "PJSIP/{agent}"} }},
		{"dial.agent_endpoints.patterns[0]", func(c *Config) { c.Dial.AgentEndpoints.Patterns = []string{"fs2/user/{agent}"} }},
		{"dial.agent_endpoints.patterns[0]", func(c *Config) { c.Dial.AgentEndpoints.Patterns = []string{"fs1/"} }},
	} {
		c := validNodes()
		c.PBX.Nodes = append([]PBXNode(nil), c.PBX.Nodes...)
		tc.change(&c)
		err := c.Validate()
		wantKeyError(t, err, tc.key)
		if err != nil && strings.Count(err.Error(), "config: ") != 1 {
			t.Errorf("%s: more than the one error: %v", tc.key, err)
		}
	}
}

// TestOutboundNodesNeedTheirOwnListenAddress: two FreeSWITCH nodes in
// outbound mode cannot share the address Tandem listens on.
func TestOutboundNodesNeedTheirOwnListenAddress(t *testing.T) {
	c := validNodes()
	fs2 := c.PBX.Nodes[1]
	fs2.Name, fs2.Addr = "fs2", "fs2:8021"
	c.PBX.Nodes = append(c.PBX.Nodes, fs2)
	c.PBX.Trunks = append(c.PBX.Trunks,
		PBXTrunk{From: "ast1", To: "fs2", Dial: "PJSIP/{exten}@fs2"}, PBXTrunk{From: "fs2", To: "ast1", Dial: "sofia/gateway/ast1/{exten}"},
		PBXTrunk{From: "fs1", To: "fs2", Dial: "sofia/gateway/fs2/{exten}"}, PBXTrunk{From: "fs2", To: "fs1", Dial: "sofia/gateway/fs1/{exten}"})
	for i := 1; i <= 2; i++ {
		c.PBX.Nodes[i].Mode, c.PBX.Nodes[i].Listen = ModeOutbound, "0.0.0.0:8084"
	}
	wantKeyError(t, c.Validate(), "pbx.nodes[2].listen")
	c.PBX.Nodes[2].Listen = "0.0.0.0:8085"
	if err := c.Validate(); err != nil {
		t.Fatal(err)
	}
}

// TestPBXNodeNamesAreUniqueAsEnvironmentNames: names that would read the
// same environment variables are duplicates.
func TestPBXNodeNamesAreUniqueAsEnvironmentNames(t *testing.T) {
	c := validNodes()
	c.PBX.Nodes[0].Name, c.PBX.Nodes[1].Name = "fs-1", "FS_1"
	c.Dial.Endpoint = "fs-1/PJSIP/{number}@trunk"
	wantKeyError(t, c.Validate(), "pbx.nodes[1].name")
}

func TestLoadRefusesUnknownNodeKeys(t *testing.T) {
	clearEnv(t)
	_, err := Load(flags(t, "--config", writeFile(t, minimalYAML+"pbx:\n  nodes:\n    - {name: fs1, kind: freeswitch, addr: fs1, password: x, pasword: y}\n")))
	if err == nil || !strings.Contains(err.Error(), "pasword") {
		t.Fatalf("err = %v, want the unknown key named", err)
	}
}

// TestAgentEndpointPatternsCarryTheirNode: with several nodes every
// endpoint names its node and each kind has its default pattern; with
// one the prefix is optional in patterns and endpoints alike.
func TestAgentEndpointPatternsCarryTheirNode(t *testing.T) {
	check := func(t *testing.T, c Config, agent, endpoint string, ok bool) {
		t.Helper()
		p, err := c.AgentEndpointPolicy()
		if err != nil {
			t.Fatal(err)
		}
		canon, err := pbxnode.Canonical(c.PBXNodeNames(), endpoint)
		if err == nil {
			err = p.Check(agent, canon)
		}
		if (err == nil) != ok {
			t.Errorf("%s as %s: err = %v, want ok=%v", agent, endpoint, err, ok)
		}
	}
	t.Run("defaults per kind, several nodes", func(t *testing.T) {
		c := validNodes()
		check(t, c, "1001", "ast1/PJSIP/1001", true)
		check(t, c, "1001", "fs1/user/1001", true)
		check(t, c, "1001", "fs1/PJSIP/1001", false)
		check(t, c, "1001", "ast1/user/1001", false)
		check(t, c, "1001", "PJSIP/1001", false)
		check(t, c, "1001", "fs1/user/1002", false)
	})
	t.Run("prefixed patterns, several nodes", func(t *testing.T) {
		c := validNodes()
		c.Dial.AgentEndpoints = AgentEndpoints{Patterns: []string{"fs1/user/{ext}", "ast1/PJSIP/{agent}"}, Extensions: []string{"2000-2999"}}
		if err := c.Validate(); err != nil {
			t.Fatal(err)
		}
		check(t, c, "ann", "fs1/user/2001", true)
		check(t, c, "ann", "ast1/PJSIP/ann", true)
		check(t, c, "ann", "ast1/PJSIP/2001", false)
		check(t, c, "ann", "fs1/user/3001", false)
	})
	t.Run("one freeswitch node", func(t *testing.T) {
		c := validNodes()
		c.PBX.Nodes, c.PBX.Trunks = c.PBX.Nodes[1:], nil
		c.Dial.Endpoint = "sofia/gateway/trunk/{number}"
		if err := c.Validate(); err != nil {
			t.Fatal(err)
		}
		check(t, c, "1001", "user/1001", true)
		check(t, c, "1001", "fs1/user/1001", true)
		check(t, c, "1001", "PJSIP/1001", false)
		c.Dial.AgentEndpoints.Patterns = []string{"fs1/user/{agent}"} // prefix optional in patterns too
		check(t, c, "1001", "user/1001", true)
	})
	t.Run("single legacy asterisk, pattern with its node", func(t *testing.T) {
		c := valid()
		c.Dial.AgentEndpoints.Patterns = []string{"ast1/PJSIP/{agent}"}
		if err := c.Validate(); err != nil {
			t.Fatal(err)
		}
		check(t, c, "1001", "PJSIP/1001", true)
		check(t, c, "1001", "ast1/PJSIP/1001", true)
	})
}

func TestSplitEndpoint(t *testing.T) {
	two := validNodes().PBX.Nodes
	one := two[1:]
	for _, tc := range []struct {
		nodes      []PBXNode
		endpoint   string
		node, dial string
		err        error
	}{
		{two, "fs1/user/1001", "fs1", "user/1001", nil},
		{two, "ast1/PJSIP/1001", "ast1", "PJSIP/1001", nil},
		{two, "ast1/PJSIP/1001@host/x", "ast1", "PJSIP/1001@host/x", nil},
		{two, "PJSIP/1001", "", "", pbxnode.ErrMissingNode},
		{two, "1001", "", "", pbxnode.ErrMissingNode},
		{two, "fs2/user/1001", "", "", pbxnode.ErrUnknownNode},
		{two, "FS1/user/1001", "", "", pbxnode.ErrUnknownNode}, // names match exactly
		{two, "fs1/", "", "", pbxnode.ErrEmptyDial},
		{two, "", "", "", pbxnode.ErrMissingNode},
		{one, "user/1001", "fs1", "user/1001", nil},
		{one, "fs1/user/1001", "fs1", "user/1001", nil},
		{one, "fs1/", "", "", pbxnode.ErrEmptyDial},
		{one, "", "", "", pbxnode.ErrEmptyDial},
		{nil, "user/1001", "", "", pbxnode.ErrNoNodes},
	} {
		node, dial, err := SplitEndpoint(tc.nodes, tc.endpoint)
		if !errors.Is(err, tc.err) || node != tc.node || dial != tc.dial {
			t.Errorf("%d nodes, %q: (%q, %q, %v), want (%q, %q, %v)", len(tc.nodes), tc.endpoint, node, dial, err, tc.node, tc.dial, tc.err)
		}
		if err != nil && tc.endpoint != "" && !strings.Contains(err.Error(), tc.endpoint) {
			t.Errorf("%q: the error does not quote the endpoint: %v", tc.endpoint, err)
		}
	}
}

// TestAgentEndpointPolicyErrorsAreListErrors: checkDialling names the bad
// pattern through dialnum's list errors.
func TestAgentEndpointPolicyErrorsAreListErrors(t *testing.T) {
	c := validNodes()
	c.Dial.AgentEndpoints.Patterns = []string{"ast1/PJSIP/{agent}", "nowhere/x"}
	_, err := c.AgentEndpointPolicy()
	var le *dialnum.ListError
	if !errors.As(err, &le) || le.List != "patterns" || le.Index != 1 || !strings.Contains(le.Msg, "nowhere") {
		t.Fatalf("err = %#v", err)
	}
}

// TestExamplePBXBlockLoads: the commented pbx block of example.yaml,
// uncommented, is a configuration that loads (so the example cannot rot).
func TestExamplePBXBlockLoads(t *testing.T) {
	clearEnv(t)
	raw, err := os.ReadFile("example.yaml")
	if err != nil {
		t.Fatal(err)
	}
	var block []string
	in := false
	for _, line := range strings.Split(string(raw), "\n") {
		if line == "# pbx:" {
			in = true
		}
		if !in {
			continue
		}
		if !strings.HasPrefix(line, "# ") {
			break
		}
		if strings.HasPrefix(line, "# and then") {
			continue
		}
		block = append(block, strings.TrimPrefix(line, "# "))
	}
	if len(block) < 10 {
		t.Fatalf("pbx block not found in example.yaml (%d lines)", len(block))
	}
	c, err := Load(flags(t, "--config", writeFile(t, minimalYAML+strings.Join(block, "\n")+"\n")))
	if err != nil {
		t.Fatal(err)
	}
	if names := strings.Join(c.PBXNodeNames(), ","); names != "ast1,fs1" || c.PBX.Nodes[1].RecordingsDir == "" {
		t.Errorf("nodes %s: %+v", names, c.PBX.Nodes)
	}
}
