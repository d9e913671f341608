package config

import (
	"errors"
	"fmt"
	"maps"
	"os"
	"reflect"
	"strings"

	"github.com/spf13/pflag"
	"github.com/spf13/viper"

	"github.com/tandem-cc/tandem/pbxnode"
)

// NodeEnvVar is the environment variable that sets field of the node
// called name: TANDEM_PBX_NODES_FS1_PASSWORD. Names are upper-cased and
// "-" becomes "_" (a shell cannot set a name with "-"), so Validate
// refuses two nodes whose names meet there (fs-1 and FS_1).
func NodeEnvVar(name, field string) string {
	return EnvPrefix + "_PBX_NODES_" + nodeEnvName(name) + "_" + strings.ToUpper(field)
}

func nodeEnvName(name string) string { return strings.ToUpper(strings.ReplaceAll(name, "-", "_")) }

// prepareNodes completes the pbx.nodes the file declares before they are
// decoded: each node's defaults for its kind, then its environment
// variables, looked up by the node's name rather than its place so that
// reordering the list never hands a secret to another node. viper cannot
// bind the environment below a list, so the list is rewritten and set
// back whole. Nodes can only be declared in the file (as queues are).
func prepareNodes(v *viper.Viper) {
	raw := v.Get("pbx.nodes")
	list, ok := raw.([]any)
	if !ok {
		return // none, or not a list: decoding says so, naming pbx.nodes
	}
	fields := nodeFields()
	out := make([]any, len(list))
	for i, item := range list {
		m, ok := item.(map[string]any)
		if !ok {
			out[i] = item // decoding reports it
			continue
		}
		m = maps.Clone(m) // viper's own copy of the file stays as read
		kind, _ := m["kind"].(string)
		if env, ok := lookupEnv(nodeEnvVarOf(m, "kind")); ok {
			kind = env
		}
		for k, d := range nodeDefaults[pbxnode.Kind(kind)] {
			if _, set := m[k]; !set {
				m[k] = d
			}
		}
		for _, f := range fields {
			if val, ok := lookupEnv(nodeEnvVarOf(m, f)); ok {
				m[f] = val
			}
		}
		out[i] = m
	}
	v.Set("pbx.nodes", out)
}

// nodeEnvVarOf is NodeEnvVar for a node read from the file ("" when it
// has no name: no variable can address it).
func nodeEnvVarOf(node map[string]any, field string) string {
	name, _ := node["name"].(string)
	if name == "" {
		return ""
	}
	return NodeEnvVar(name, field)
}

// lookupEnv is os.LookupEnv with an empty value counting as unset, as
// viper counts it for every other key.
func lookupEnv(name string) (string, bool) {
	if name == "" {
		return "", false
	}
	val, ok := os.LookupEnv(name)
	return val, ok && val != ""
}

// nodeFields are the keys of a node record.
func nodeFields() []string {
	var out []string
	for _, l := range leaves(reflect.TypeOf(PBXNode{}), "") {
		out = append(out, l.key)
	}
	return out
}

// givenKey returns the first key below section that the file, the
// environment or a flag sets explicitly, or "". A default does not
// count: viper's IsSet is true for defaults too, so it cannot tell.
func givenKey(v *viper.Viper, fs *pflag.FlagSet, section string) string {
	for _, l := range leaves(reflect.TypeOf(Config{}), "") {
		if !strings.HasPrefix(l.key, section+".") {
			continue
		}
		if v.InConfig(l.key) {
			return l.key
		}
		if _, ok := lookupEnv(EnvVar(l.key)); ok {
			return l.key
		}
	}
	if fs != nil {
		for _, f := range flagKeys {
			if pf := fs.Lookup(f.flag); pf != nil && pf.Changed && strings.HasPrefix(f.key, section+".") {
				return f.key
			}
		}
	}
	// A section written empty ("ari: {}") or holding only unknown keys.
	if v.InConfig(section) {
		return section
	}
	return ""
}

// checkSections refuses the legacy ari section next to pbx.nodes, and
// pbx.app or pbx.attached_vars without them, when the file, the
// environment or a flag set them (Validate catches the same mix in a
// Config built in code by comparing with the defaults).
func checkSections(v *viper.Viper, fs *pflag.FlagSet, c Config) []error {
	var errs []error
	if len(c.PBX.Nodes) > 0 {
		if k := givenKey(v, fs, "ari"); k != "" {
			errs = append(errs, &KeyError{Key: k, Msg: errARIWithNodes})
		}
		return errs
	}
	for _, k := range []string{"pbx.app", "pbx.attached_vars"} {
		if v.InConfig(k) || envGiven(k) {
			errs = append(errs, &KeyError{Key: k, Msg: fmt.Sprintf(msgPBXWithoutNodes, strings.Replace(k, "pbx.", "ari.", 1))})
		}
	}
	return errs
}

func envGiven(key string) bool {
	_, ok := lookupEnv(EnvVar(key))
	return ok
}

// defaultARI is the ari section nobody set: the defaults alone, no
// environment (Default reads the environment too).
func defaultARI() ARI {
	v := viper.New()
	for k, d := range defaults {
		if strings.HasPrefix(k, "ari.") {
			v.SetDefault(k, d)
		}
	}
	var c Config
	if err := decode(v, &c); err != nil {
		// The defaults table is static; failing to decode it is a bug.
		panic(fmt.Sprintf("config: decoding the ari defaults: %v", err))
	}
	return c.ARI
}

// normalizeNodes gives every FreeSWITCH address its port.
func (c *Config) normalizeNodes() {
	for i, n := range c.PBX.Nodes {
		if n.Kind == pbxnode.FreeSWITCH {
			c.PBX.Nodes[i].Addr = n.ESLAddr()
		}
	}
}

// joinUnique joins first and the errors of rest (a Validate result),
// dropping those of rest that repeat one of first: the same mix of ari and
// pbx.nodes is found both by Load and by Validate.
func joinUnique(first []error, rest error) error {
	seen := map[string]bool{}
	for _, e := range first {
		seen[e.Error()] = true
	}
	all := first
	var list []error
	if j, ok := rest.(interface{ Unwrap() []error }); ok {
		list = j.Unwrap()
	} else if rest != nil {
		list = []error{rest}
	}
	for _, e := range list {
		if !seen[e.Error()] {
			all = append(all, e)
		}
	}
	return errors.Join(all...)
}
