package config

import (
	"fmt"
	"path"
	"reflect"
	"regexp"
	"slices"
	"strings"
	"unicode"

	"github.com/tandem-cc/tandem/pbxnode"
)

const (
	errARIWithNodes    = "the ari section describes the one Asterisk of a single-node setup; with pbx.nodes, write that Asterisk as a node of kind asterisk instead"
	msgPBXWithoutNodes = "is only used with pbx.nodes; without them it is %s"
)

// fsRecordingFormats are the file formats a stock FreeSWITCH records to
// (mod_sndfile; mp3 needs mod_shout).
var fsRecordingFormats = []string{"wav", "mp3", "flac", "ogg"}

// mohClass is what a local_stream class may be called: it ends up in
// local_stream://<class>, so no spaces, no quoting.
var mohClass = regexp.MustCompile(`^[A-Za-z0-9_.-][A-Za-z0-9_./-]{0,63}$`)

// checkPBX checks the pbx section, and that it is not mixed with the
// legacy ari section.
func checkPBX(bad badFunc, c Config) {
	defer checkTrunks(bad, c) // validate_trunks.go: after the node names it relies on
	if len(c.PBX.Nodes) == 0 {
		if c.PBX.App != defaults["pbx.app"] {
			bad("pbx.app", msgPBXWithoutNodes, "ari.app")
		}
		if len(c.PBX.AttachedVars) > 0 {
			bad("pbx.attached_vars", msgPBXWithoutNodes, "ari.attached_vars")
		}
		return
	}
	if k := changedARIKey(c.ARI); k != "" {
		bad(k, "%s", errARIWithNodes)
	}
	if c.PBX.App == "" {
		bad("pbx.app", "must not be empty")
	} else if strings.IndexFunc(c.PBX.App, unicode.IsSpace) >= 0 {
		bad("pbx.app", "must not contain spaces")
	}
	for i, v := range c.PBX.AttachedVars {
		if strings.TrimSpace(v) == "" {
			bad(fmt.Sprintf("pbx.attached_vars[%d]", i), "must not be empty")
		}
	}
	names := map[string]int{}   // env form of a name → first index
	listens := map[string]int{} // outbound listen address → first index
	for i, n := range c.PBX.Nodes {
		key := fmt.Sprintf("pbx.nodes[%d]", i)
		if !pbxnode.ValidName(n.Name) {
			bad(key+".name", "must be %s", pbxnode.NameRule)
		} else if j, dup := names[nodeEnvName(n.Name)]; dup {
			bad(key+".name", "duplicates pbx.nodes[%d].name (names are compared ignoring case, - and _ alike, as in %s)", j, NodeEnvVar(n.Name, "password"))
		} else {
			names[nodeEnvName(n.Name)] = i
		}
		checkPBXNode(bad, c, key, n)
		if n.Kind == pbxnode.FreeSWITCH && n.Mode == ModeOutbound && n.Listen != "" {
			if j, dup := listens[n.Listen]; dup {
				bad(key+".listen", "duplicates pbx.nodes[%d].listen: each node needs its own address", j)
			} else {
				listens[n.Listen] = i
			}
			if n.Listen == c.HTTP.Listen {
				bad(key+".listen", "is http.listen's address")
			}
		}
	}
	if len(c.PBX.Nodes) > 1 {
		if _, _, err := pbxnode.Split(c.PBXNodeNames(), c.Dial.Endpoint); err != nil {
			bad("dial.endpoint", "with several PBX nodes, must start with the node that dials outside numbers, e.g. %s/%s: %v",
				c.PBX.Nodes[0].Name, c.Dial.Endpoint, err)
		}
	}
}

// checkPBXNode checks one node; key is "pbx.nodes[i]".
func checkPBXNode(bad badFunc, c Config, key string, n PBXNode) {
	if n.Password == "" {
		bad(key+".password", "must not be empty (in the file, or in %s)", NodeEnvVar(n.Name, "password"))
	}
	positive(bad, key+".request_timeout", n.RequestTimeout)
	positive(bad, key+".reconnect_backoff", n.ReconnectBackoff)
	if n.ReconnectBackoffMax < n.ReconnectBackoff {
		bad(key+".reconnect_backoff_max", "must be at least %s.reconnect_backoff", key)
	}
	asterisk := map[string]bool{
		"url": n.URL != "", "ws_url": n.WSURL != "", "username": n.Username != "", "formats": n.Formats != "",
		"ping_interval": n.PingInterval != 0, "pong_timeout": n.PongTimeout != 0, "idle_conns": n.IdleConns != 0,
	}
	freeswitch := map[string]bool{
		"addr": n.Addr != "", "mode": n.Mode != "", "listen": n.Listen != "", "recordings_dir": n.RecordingsDir != "",
		"recording_format": n.RecordingFormat != "", "sounds_dir": n.SoundsDir != "", "moh_class": n.MOHClass != "",
	}
	switch n.Kind {
	case pbxnode.Asterisk:
		notOfKind(bad, key, freeswitch, pbxnode.Asterisk)
		checkAsteriskNode(bad, key, n)
	case pbxnode.FreeSWITCH:
		notOfKind(bad, key, asterisk, pbxnode.FreeSWITCH)
		checkFreeSWITCHNode(bad, c, key, n)
	default:
		bad(key+".kind", "must be %s or %s", pbxnode.Asterisk, pbxnode.FreeSWITCH)
	}
}

// notOfKind names the settings of the other kind a node sets: a
// freeswitch node's url is a mistake, not something to ignore.
func notOfKind(bad badFunc, key string, set map[string]bool, kind pbxnode.Kind) {
	for _, f := range sortedKeys(set) {
		if set[f] {
			bad(key+"."+f, "is not a setting of a %s node", kind)
		}
	}
}

func checkAsteriskNode(bad badFunc, key string, n PBXNode) {
	if msg := checkURL(n.URL, "http", "https"); msg != "" {
		bad(key+".url", "%s", msg)
	}
	if n.WSURL != "" {
		if msg := checkURL(n.WSURL, "ws", "wss"); msg != "" {
			bad(key+".ws_url", "%s", msg)
		}
	}
	if n.Username == "" {
		bad(key+".username", "must not be empty (the ari.conf user)")
	}
	if !formatList.MatchString(n.Formats) {
		bad(key+".formats", "must be a comma-separated list of Asterisk format names, e.g. ulaw or ulaw,alaw")
	}
	positive(bad, key+".ping_interval", n.PingInterval)
	positive(bad, key+".pong_timeout", n.PongTimeout)
	if n.IdleConns < 1 {
		bad(key+".idle_conns", "must be at least 1")
	}
}

func checkFreeSWITCHNode(bad badFunc, c Config, key string, n PBXNode) {
	if n.Addr == "" {
		bad(key+".addr", "must be the event socket's host:port (port %s when left out)", DefaultESLPort)
	} else if msg := checkHostPort(withDefaultPort(n.Addr)); msg != "" {
		bad(key+".addr", "%s", msg)
	}
	switch n.Mode {
	case ModeInbound:
		if n.Listen != "" {
			bad(key+".listen", "is only used with mode: %s", ModeOutbound)
		}
	case ModeOutbound:
		if n.Listen == "" {
			bad(key+".listen", "must be the host:port FreeSWITCH's socket application connects to (mode: %s)", ModeOutbound)
		} else if msg := checkHostPort(n.Listen); msg != "" {
			bad(key+".listen", "%s", msg)
		}
	default:
		bad(key+".mode", "must be %s or %s", ModeInbound, ModeOutbound)
	}
	dirs := map[string]string{"recordings_dir": n.RecordingsDir, "sounds_dir": n.SoundsDir}
	for _, f := range sortedKeys(dirs) {
		if dir := dirs[f]; dir != "" && (!path.IsAbs(dir) || strings.IndexFunc(dir, unicode.IsSpace) >= 0 || strings.ContainsAny(dir, "!'\"")) {
			bad(key+"."+f, "must be an absolute path on the FreeSWITCH host, without spaces, quotes or !")
		}
	}
	switch {
	case n.RecordingFormat != "" && !slices.Contains(fsRecordingFormats, n.RecordingFormat):
		bad(key+".recording_format", "must be one of %s", strings.Join(fsRecordingFormats, ", "))
	case n.RecordingFormat == "" && !slices.Contains(fsRecordingFormats, c.Recording.Format):
		bad(key+".recording_format", "recording.format %q is not a FreeSWITCH format: set one of %s",
			c.Recording.Format, strings.Join(fsRecordingFormats, ", "))
	}
	if n.MOHClass != "" && !mohClass.MatchString(n.MOHClass) {
		bad(key+".moh_class", "must be a local_stream class: 1-64 characters of A-Z a-z 0-9 _ . - /")
	}
}

// changedARIKey names the first key of the ari section that differs from
// its default, or "".
func changedARIKey(a ARI) string {
	def := defaultARI()
	av, dv := reflect.ValueOf(a), reflect.ValueOf(def)
	for i := range av.NumField() {
		f, d := av.Field(i), dv.Field(i)
		if f.Kind() == reflect.Slice && f.Len() == 0 && d.Len() == 0 {
			continue // nil and empty lists both say none
		}
		if !reflect.DeepEqual(f.Interface(), d.Interface()) {
			return "ari." + av.Type().Field(i).Tag.Get("mapstructure")
		}
	}
	return ""
}
