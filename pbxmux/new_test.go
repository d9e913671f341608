package pbxmux_test

import (
	"errors"
	"log/slog"
	"strings"
	"testing"

	"github.com/tandem-cc/tandem/ari"
	"github.com/tandem-cc/tandem/pbxmux"
)

// New refuses options it cannot route with, naming the configuration key.
// The drivers are real (never run: New only asks their Owner).
func TestNewNamesTheBadKey(t *testing.T) {
	drv := func(app string) *ari.Driver {
		return ari.New(ari.Options{URL: "http://127.0.0.1:1/ari", App: app, Logger: slog.New(slog.DiscardHandler)})
	}
	a, b, other := drv("tandem"), drv("tandem"), drv("someone-else")
	two := []pbxmux.Node{{Name: "ast1", PBX: a}, {Name: "fs1", PBX: b}}
	cases := []struct {
		name string
		opts pbxmux.Options
		key  string
	}{
		{"no node", pbxmux.Options{}, "pbx.nodes"},
		{"slash in name", pbxmux.Options{Nodes: []pbxmux.Node{{Name: "a/b", PBX: a}}}, "pbx.nodes.a/b"},
		{"twice", pbxmux.Options{Nodes: []pbxmux.Node{{Name: "ast1", PBX: a}, {Name: "ast1", PBX: b}}}, "pbx.nodes.ast1"},
		{"owners differ", pbxmux.Options{Nodes: []pbxmux.Node{{Name: "ast1", PBX: a}, {Name: "fs1", PBX: other}}}, "pbx.nodes.fs1"},
		{"trunk from unknown node", pbxmux.Options{Nodes: two, Trunks: map[string]map[string]string{"ast9": {"fs1": "x/{exten}"}}}, "pbx.trunks (from ast9 to fs1)"},
		{"trunk to itself", pbxmux.Options{Nodes: two, Trunks: map[string]map[string]string{"fs1": {"fs1": "x/{exten}"}}}, "pbx.trunks (from fs1 to fs1)"},
		{"template without placeholder", pbxmux.Options{Nodes: two, Trunks: map[string]map[string]string{"fs1": {"ast1": "sofia/gateway/ast1/1001"}}}, "pbx.trunks (from fs1 to ast1)"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			_, err := pbxmux.New(c.opts)
			if !errors.Is(err, pbxmux.ErrConfig) || !strings.Contains(err.Error(), c.key+":") {
				t.Fatalf("New: %v, want ErrConfig naming %s", err, c.key)
			}
		})
	}
	m, err := pbxmux.New(pbxmux.Options{Nodes: two, Trunks: map[string]map[string]string{"fs1": {"ast1": "sofia/gateway/ast1/{exten}"}}})
	if err != nil {
		t.Fatal(err)
	}
	if m.Owner() != "tandem" || strings.Join(m.Nodes(), ",") != "ast1,fs1" {
		t.Errorf("owner %q nodes %v", m.Owner(), m.Nodes())
	}
}
