package config

import (
	"encoding/xml"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"

	"gopkg.in/yaml.v3"

	"github.com/tandem-cc/tandem/pbxnode"
)

// The lab (docker-compose.yml and docs/lab/) is never run by the tests:
// it needs Docker and real PBXs. These tests keep its configuration from
// rotting instead: each replica's tandem.yaml is loaded through Load with
// the environment docker-compose.yml gives that replica, and what Tandem
// is told (passwords, addresses, applications, trunks, agents) is checked
// against what the PBXs' files configure.

// labRoot is the repository root, seen from this package's directory.
const labRoot = ".."

// composeFile is the part of docker-compose.yml the checks read. yaml.v3
// applies the merge keys (<<: *tandem, <<: *tandem-env) while decoding.
type composeFile struct {
	Services map[string]struct {
		Image       string            `yaml:"image"`
		Environment map[string]string `yaml:"environment"`
		Volumes     []string          `yaml:"volumes"`
		Ports       []string          `yaml:"ports"`
		Healthcheck struct {
			Test []string `yaml:"test"`
		} `yaml:"healthcheck"`
	} `yaml:"services"`
}

func readLabFile(t *testing.T, rel string) string {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(labRoot, rel))
	if err != nil {
		t.Fatalf("lab file: %v", err)
	}
	return string(b)
}

func readCompose(t *testing.T) composeFile {
	t.Helper()
	var c composeFile
	if err := yaml.Unmarshal([]byte(readLabFile(t, "docker-compose.yml")), &c); err != nil {
		t.Fatalf("docker-compose.yml: %v", err)
	}
	return c
}

// replicas are the compose services that run Tandem: those given a
// TANDEM_PBX_APP, by service name.
func replicas(t *testing.T, c composeFile) map[string]map[string]string {
	t.Helper()
	out := map[string]map[string]string{}
	for name, s := range c.Services {
		if _, ok := s.Environment["TANDEM_PBX_APP"]; ok {
			out[name] = s.Environment
		}
		for k := range s.Environment {
			if k == "TANDEM_ARI_APP" {
				t.Errorf("service %s sets TANDEM_ARI_APP: the lab's replicas use pbx.nodes, which refuses the ari section", name)
			}
		}
	}
	if len(out) != 2 {
		t.Fatalf("docker-compose.yml: %d services set TANDEM_PBX_APP, want the two replicas", len(out))
	}
	return out
}

// loadLab loads docs/lab/tandem.yaml through Load with exactly env as the
// TANDEM_* environment (every other TANDEM_* variable of the test process
// emptied, which Load reads as unset).
func loadLab(t *testing.T, env map[string]string) Config {
	t.Helper()
	for _, kv := range os.Environ() {
		if k, _, _ := strings.Cut(kv, "="); strings.HasPrefix(k, EnvPrefix+"_") {
			t.Setenv(k, "")
		}
	}
	for k, v := range env {
		t.Setenv(k, v)
	}
	t.Setenv(EnvConfigFile, filepath.Join(labRoot, "docs/lab/tandem.yaml"))
	c, err := Load(nil)
	if err != nil {
		t.Fatalf("docs/lab/tandem.yaml with the environment of docker-compose.yml: %v", err)
	}
	return c
}

func TestLabConfigLoadsForEveryReplica(t *testing.T) {
	compose := readCompose(t)
	apps := map[string]bool{}
	for service, env := range replicas(t, compose) {
		t.Run(service, func(t *testing.T) {
			c := loadLab(t, env)
			if c.NodeID != env["TANDEM_NODE_ID"] || c.NodeID == "" {
				t.Errorf("node_id = %q, want TANDEM_NODE_ID %q", c.NodeID, env["TANDEM_NODE_ID"])
			}
			if c.PBXApp() != env["TANDEM_PBX_APP"] {
				t.Errorf("pbx.app = %q, want TANDEM_PBX_APP %q", c.PBXApp(), env["TANDEM_PBX_APP"])
			}
			apps[c.PBXApp()] = true

			nodes := map[string]PBXNode{}
			for _, n := range c.PBXNodes() {
				nodes[n.Name] = n
			}
			ast, fs := nodes["ast1"], nodes["fs1"]
			if len(nodes) != 2 || ast.Kind != pbxnode.Asterisk || fs.Kind != pbxnode.FreeSWITCH {
				t.Fatalf("pbx.nodes = %+v, want ast1 (asterisk) and fs1 (freeswitch)", c.PBXNodes())
			}
			if fs.ESLAddr() != "freeswitch:8021" {
				t.Errorf("fs1 addr = %q, want the compose service freeswitch on 8021", fs.ESLAddr())
			}
			if _, ok := compose.Services["freeswitch"]; !ok {
				t.Error("docker-compose.yml has no freeswitch service for fs1's addr")
			}
			if !strings.HasPrefix(ast.URL, "http://asterisk:8088/") {
				t.Errorf("ast1 url = %q, want the compose service asterisk on 8088", ast.URL)
			}
			checkLabPasswords(t, compose, ast, fs)
			checkLabTrunks(t, c)
			checkLabAgents(t, c)
		})
	}
	if len(apps) != 2 {
		t.Errorf("the replicas run applications %v: each needs its own", apps)
	}
}

// checkLabPasswords: what the replicas authenticate with is what the PBXs
// expect, and the FreeSWITCH healthcheck's fs_cli uses it too.
func checkLabPasswords(t *testing.T, compose composeFile, ast, fs PBXNode) {
	t.Helper()
	esl := xmlParams(t, "docs/lab/freeswitch/autoload_configs/event_socket.conf.xml")
	if fs.Password == "" || esl["password"] != fs.Password {
		t.Errorf("fs1 password %q (TANDEM_PBX_NODES_FS1_PASSWORD) is not event_socket.conf.xml's %q", fs.Password, esl["password"])
	}
	if _, port, _ := strings.Cut(fs.ESLAddr(), ":"); esl["listen-port"] != port {
		t.Errorf("event socket listens on port %q, fs1 addr says %q", esl["listen-port"], port)
	}
	hc := strings.Join(compose.Services["freeswitch"].Healthcheck.Test, " ")
	if !strings.Contains(hc, "fs_cli -p "+esl["password"]+" ") {
		t.Errorf("freeswitch healthcheck %q does not give fs_cli the event socket password", hc)
	}
	ari := iniSection(readLabFile(t, "docs/lab/asterisk/ari.conf"), ast.Username)
	if ast.Password == "" || ari["password"] != ast.Password || ari["type"] != "user" {
		t.Errorf("ast1 user %q password %q (TANDEM_PBX_NODES_AST1_PASSWORD): ari.conf has %v", ast.Username, ast.Password, ari)
	}
}

// checkLabTrunks: each pbx.trunks dial string names a gateway or endpoint
// the ringing PBX has, and the PBX at the other end routes the agents'
// extensions from it.
func checkLabTrunks(t *testing.T, c Config) {
	t.Helper()
	trunks := c.PBXTrunks()
	gw := regexp.MustCompile(`^sofia/gateway/([^/]+)/\{exten\}$`).FindStringSubmatch(trunks["fs1"]["ast1"])
	if gw == nil {
		t.Fatalf("trunk fs1 -> ast1 = %q, want sofia/gateway/<gateway>/{exten}", trunks["fs1"]["ast1"])
	}
	sofia := readLabFile(t, "docs/lab/freeswitch/autoload_configs/sofia.conf.xml")
	if !strings.Contains(sofia, `<gateway name="`+gw[1]+`">`) {
		t.Errorf("sofia.conf.xml has no gateway %q for the trunk fs1 -> ast1", gw[1])
	}
	ep := regexp.MustCompile(`^PJSIP/\{exten\}@([^/]+)$`).FindStringSubmatch(trunks["ast1"]["fs1"])
	if ep == nil {
		t.Fatalf("trunk ast1 -> fs1 = %q, want PJSIP/{exten}@<endpoint>", trunks["ast1"]["fs1"])
	}
	pjsip := readLabFile(t, "docs/lab/asterisk/pjsip.conf")
	if types := iniSection(pjsip, ep[1])["type"]; !slices.Contains(strings.Split(types, ","), "endpoint") {
		t.Errorf("pjsip.conf has no endpoint %q for the trunk ast1 -> fs1", ep[1])
	}
	// The contexts the trunks arrive in route the agents' extensions.
	if !strings.Contains(readLabFile(t, "docs/lab/asterisk/extensions.conf"), "[from-fs1]\nexten => _10XX,") {
		t.Error("extensions.conf's [from-fs1] does not route the Asterisk agents (10XX)")
	}
	if !strings.Contains(readLabFile(t, "docs/lab/freeswitch/dialplan/from-ast1.xml"), `expression="^(11\d\d)$"`) {
		t.Error("from-ast1.xml does not route the FreeSWITCH agents (11xx)")
	}
}

// checkLabAgents: every agent of auth.agents has a phone on a node (a
// PJSIP endpoint on ast1, a directory user on fs1) and may log in with it.
func checkLabAgents(t *testing.T, c Config) {
	t.Helper()
	policy, err := c.AgentEndpointPolicy()
	if err != nil {
		t.Fatalf("dial.agent_endpoints: %v", err)
	}
	pjsip := readLabFile(t, "docs/lab/asterisk/pjsip.conf")
	directory := readLabFile(t, "docs/lab/freeswitch/directory/lab.xml")
	if len(c.Auth.Agents) == 0 {
		t.Fatal("no agents in auth.agents")
	}
	perNode := map[string]int{}
	for _, a := range c.Auth.Agents {
		var endpoint string
		switch {
		case strings.Contains(pjsip, "\n["+a.Agent+"](agent-template)"):
			endpoint = "ast1/PJSIP/" + a.Agent
		case strings.Contains(directory, `<user id="`+a.Agent+`">`):
			endpoint = "fs1/user/" + a.Agent
		default:
			t.Errorf("agent %s has no phone: neither an agent endpoint in pjsip.conf nor a user in directory/lab.xml", a.Agent)
			continue
		}
		canon, err := pbxnode.Canonical(c.PBXNodeNames(), endpoint)
		if err != nil {
			t.Errorf("agent %s endpoint %s: %v", a.Agent, endpoint, err)
			continue
		}
		if err := policy.Check(a.Agent, canon); err != nil {
			t.Errorf("agent %s may not log in with its phone %s: %v", a.Agent, endpoint, err)
		}
		perNode[strings.SplitN(endpoint, "/", 2)[0]]++
	}
	if perNode["ast1"] == 0 || perNode["fs1"] == 0 {
		t.Errorf("agents per node %v: the lab needs agents on both PBXs", perNode)
	}
}

// TestLabDialplansNameTheReplicas: both PBXs hand calls to exactly the
// applications the replicas run, so no call waits for an application
// nobody runs.
func TestLabDialplansNameTheReplicas(t *testing.T) {
	var apps []string
	for _, env := range replicas(t, readCompose(t)) {
		apps = append(apps, env["TANDEM_PBX_APP"])
	}
	slices.Sort(apps)

	fsApps := uniqueMatches(readLabFile(t, "docs/lab/freeswitch/dialplan/lab-phones.xml"), `data="tandem_app=([^"]+)"`)
	if !slices.Equal(fsApps, apps) {
		t.Errorf("FreeSWITCH dialplan parks calls for %v, the replicas run %v", fsApps, apps)
	}
	astApps := uniqueMatches(readLabFile(t, "docs/lab/asterisk/extensions.conf"), `Stasis\(([^,)]+)`)
	if !slices.Equal(astApps, apps) {
		t.Errorf("Asterisk dialplan sends calls to %v, the replicas run %v", astApps, apps)
	}
}

// TestLabComposeMountsExist: every file or directory docker-compose.yml
// mounts from the repository exists (Docker would create a missing one as
// an empty directory and the PBX would start without its configuration).
func TestLabComposeMountsExist(t *testing.T) {
	mounts := 0
	for name, s := range readCompose(t).Services {
		for _, v := range s.Volumes {
			src, _, _ := strings.Cut(v, ":")
			if !strings.HasPrefix(src, "./") {
				continue // a named volume
			}
			mounts++
			if _, err := os.Stat(filepath.Join(labRoot, src)); err != nil {
				t.Errorf("service %s mounts %s: %v", name, src, err)
			}
		}
	}
	if mounts == 0 {
		t.Fatal("docker-compose.yml mounts nothing from the repository")
	}
}

func uniqueMatches(text, expr string) []string {
	var out []string
	for _, m := range regexp.MustCompile(expr).FindAllStringSubmatch(text, -1) {
		if !slices.Contains(out, m[1]) {
			out = append(out, m[1])
		}
	}
	slices.Sort(out)
	return out
}

// xmlParams returns the <param name value> pairs of a FreeSWITCH
// configuration file.
func xmlParams(t *testing.T, rel string) map[string]string {
	t.Helper()
	var doc struct {
		Params []struct {
			Name  string `xml:"name,attr"`
			Value string `xml:"value,attr"`
		} `xml:"settings>param"`
	}
	if err := xml.Unmarshal([]byte(readLabFile(t, rel)), &doc); err != nil {
		t.Fatalf("%s: %v", rel, err)
	}
	out := map[string]string{}
	for _, p := range doc.Params {
		out[p.Name] = p.Value
	}
	return out
}

// iniSection returns the "key = value" lines of every section named name
// in an Asterisk configuration file; a key given in several of them (type
// in pjsip.conf's endpoint, auth and aor of one name) has its values
// joined with commas.
func iniSection(text, name string) map[string]string {
	out := map[string]string{}
	in := false
	for _, line := range strings.Split(text, "\n") {
		line = strings.TrimSpace(line)
		if strings.HasPrefix(line, "[") {
			head, _, _ := strings.Cut(line[1:], "]")
			in = head == name
			continue
		}
		if !in || line == "" || strings.HasPrefix(line, ";") {
			continue
		}
		if k, v, ok := strings.Cut(line, "="); ok {
			k = strings.TrimSpace(k)
			if prev, seen := out[k]; seen {
				out[k] = prev + "," + strings.TrimSpace(v)
			} else {
				out[k] = strings.TrimSpace(v)
			}
		}
	}
	return out
}
