package config

import (
	"maps"
	"strings"
	"testing"
)

// TestPBXTrunksReadFromFile: pbx.trunks as written in the file reach
// PBXTrunks in the shape pbxmux takes.
func TestPBXTrunksReadFromFile(t *testing.T) {
	clearEnv(t)
	t.Setenv("TANDEM_PBX_NODES_FS1_PASSWORD", "ClueCon-not")
	c, err := Load(flags(t, "--config", writeFile(t, mixedYAML)))
	if err != nil {
		t.Fatal(err)
	}
	got := c.PBXTrunks()
	want := map[string]map[string]string{
		"ast1": {"fs1": "PJSIP/{exten}@fs1"},
		"fs1":  {"ast1": "sofia/gateway/ast1/{exten}"},
	}
	if !maps.EqualFunc(got, want, maps.Equal) {
		t.Errorf("PBXTrunks = %v, want %v", got, want)
	}
	if n := len(valid().PBXTrunks()); n != 0 {
		t.Errorf("a single node has %d trunks", n)
	}
}

// TestValidateTrunksNamesTheBadKey: each broken trunk is refused naming
// its key, and a missing ordered pair names both nodes.
func TestValidateTrunksNamesTheBadKey(t *testing.T) {
	for _, tc := range []struct {
		name, key, msg string
		change         func(*Config)
	}{
		{"unknown from", "pbx.trunks[1].from", `"fs9" is not a node`, func(c *Config) { c.PBX.Trunks[1].From = "fs9" }},
		{"unknown to", "pbx.trunks[0].to", `"FS1" is not a node`, func(c *Config) { c.PBX.Trunks[0].To = "FS1" }},
		{"to itself", "pbx.trunks[1].to", "no trunk to itself", func(c *Config) { c.PBX.Trunks[1].To = "fs1" }},
		{"duplicate pair", "pbx.trunks[2]", "duplicates pbx.trunks[0]", func(c *Config) {
			c.PBX.Trunks = append(c.PBX.Trunks, PBXTrunk{From: "ast1", To: "fs1", Dial: "PJSIP/{dial}@fs1"})
		}},
		{"no placeholder", "pbx.trunks[1].dial", "must contain {exten}", func(c *Config) { c.PBX.Trunks[1].Dial = "sofia/gateway/ast1/1001" }},
		{"empty dial", "pbx.trunks[0].dial", "must not be empty", func(c *Config) { c.PBX.Trunks[0].Dial = "" }},
		{"missing pair", "pbx.trunks", "no trunk from fs1 to ast1", func(c *Config) { c.PBX.Trunks = c.PBX.Trunks[:1] }},
		{"none at all", "pbx.trunks", "no trunk from ast1 to fs1", func(c *Config) { c.PBX.Trunks = nil }},
		{"one node", "pbx.trunks", "two or more pbx.nodes", func(c *Config) { c.PBX.Nodes = c.PBX.Nodes[1:]; c.Dial.Endpoint = "sofia/gateway/t/{number}" }},
		{"no nodes", "pbx.trunks", "two or more pbx.nodes", func(c *Config) {
			c.PBX.Nodes, c.PBX.App, c.Dial.Endpoint = nil, defaults["pbx.app"].(string), "PJSIP/{number}@trunk"
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c := validNodes()
			tc.change(&c)
			err := c.Validate()
			wantKeyError(t, err, tc.key)
			if err == nil || !strings.Contains(err.Error(), tc.msg) {
				t.Errorf("err = %v, want %q", err, tc.msg)
			}
		})
	}
}

// TestEveryOrderedPairNeedsATrunk: with three nodes, four trunks leave two
// ordered pairs uncovered and both are named, with why.
func TestEveryOrderedPairNeedsATrunk(t *testing.T) {
	c := validNodes()
	fs2 := c.PBX.Nodes[1]
	fs2.Name, fs2.Addr = "fs2", "fs2:8021"
	c.PBX.Nodes = append(c.PBX.Nodes, fs2)
	c.PBX.Trunks = append(c.PBX.Trunks,
		PBXTrunk{From: "ast1", To: "fs2", Dial: "PJSIP/{exten}@fs2"},
		PBXTrunk{From: "fs2", To: "ast1", Dial: "sofia/gateway/ast1/{exten}"})
	err := c.Validate()
	wantKeyError(t, err, "pbx.trunks")
	for _, want := range []string{
		"pbx.trunks: no trunk from fs1 to fs2", "pbx.trunks: no trunk from fs2 to fs1",
		"an agent on any node may be offered a call that arrived on any node",
	} {
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("err = %v, want %q", err, want)
		}
	}
	if strings.Count(err.Error(), "config: ") != 2 {
		t.Errorf("want exactly the two missing pairs: %v", err)
	}
	c.PBX.Trunks = append(c.PBX.Trunks,
		PBXTrunk{From: "fs1", To: "fs2", Dial: "sofia/gateway/fs2/{dial}"},
		PBXTrunk{From: "fs2", To: "fs1", Dial: "sofia/gateway/fs1/{exten}"})
	if err := c.Validate(); err != nil {
		t.Fatal(err)
	}
}

// TestLoadRefusesUnknownTrunkKeys: a misspelt trunk field is named, not
// ignored.
func TestLoadRefusesUnknownTrunkKeys(t *testing.T) {
	clearEnv(t)
	t.Setenv("TANDEM_PBX_NODES_FS1_PASSWORD", "ClueCon-not")
	yaml := strings.Replace(mixedYAML, `{from: fs1, to: ast1, dial:`, `{from: fs1, to: ast1, dail:`, 1)
	_, err := Load(flags(t, "--config", writeFile(t, yaml)))
	if err == nil || !strings.Contains(err.Error(), "dail") {
		t.Fatalf("err = %v, want the unknown key named", err)
	}
}
