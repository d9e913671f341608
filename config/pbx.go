package config

import (
	"net"
	"time"

	"github.com/tandem-cc/tandem/pbxnode"
)

// PBX is the pbx section: the PBX nodes this replica drives side by side
// (Asterisks and FreeSWITCHes feeding the same queues and agents), and
// what is common to all of them. Without nodes, the legacy ari section is
// the one Asterisk node, named LegacyNodeName: read the nodes through
// Config.PBXNodes, the application through Config.PBXApp.
type PBX struct {
	// App is the replica's application name on every node: the Stasis
	// application on an Asterisk, the tandem_app channel variable on a
	// FreeSWITCH. Only with Nodes (ari.app otherwise).
	App string `mapstructure:"app"`
	// AttachedVars are channel variables read from an arriving call, on
	// any node, and kept as its attached data. Only with Nodes
	// (ari.attached_vars otherwise).
	AttachedVars []string `mapstructure:"attached_vars"`
	// Nodes are the PBXs, each with its own name and credentials. A list,
	// not a map, so a name keeps its case and its place; a node's values
	// still come from the environment by name
	// (TANDEM_PBX_NODES_<NAME>_<FIELD>, see pbx_load.go).
	Nodes []PBXNode `mapstructure:"nodes"`
	// Trunks are the SIP trunks between nodes, one per ordered pair of
	// nodes (see PBXTrunk): only with two or more Nodes.
	Trunks []PBXTrunk `mapstructure:"trunks"`
}

// PBXNode is one PBX. Fields are those of its kind; Validate refuses the
// fields of the other kind.
type PBXNode struct {
	// Name is what agent endpoints start with ("fs1/user/1001"): see
	// pbxnode.NameRule. Unique, ignoring case.
	Name string `mapstructure:"name"`
	// Kind is asterisk or freeswitch.
	Kind pbxnode.Kind `mapstructure:"kind"`

	// Password authenticates to the node: the ARI user's password, or the
	// event socket's (event_socket.conf.xml). Required.
	Password string `mapstructure:"password"`
	// RequestTimeout bounds every command: an ARI REST call, or the wait
	// for a bgapi job's reply.
	RequestTimeout time.Duration `mapstructure:"request_timeout"`
	// ReconnectBackoff and ReconnectBackoffMax bound the jittered,
	// doubling wait between two attempts to reconnect the events socket
	// (ARI) or the event socket (ESL).
	ReconnectBackoff    time.Duration `mapstructure:"reconnect_backoff"`
	ReconnectBackoffMax time.Duration `mapstructure:"reconnect_backoff_max"`

	// Asterisk: as the ari section (ARI).
	URL          string        `mapstructure:"url"`
	WSURL        string        `mapstructure:"ws_url"`
	Username     string        `mapstructure:"username"`
	Formats      string        `mapstructure:"formats"`
	PingInterval time.Duration `mapstructure:"ping_interval"`
	PongTimeout  time.Duration `mapstructure:"pong_timeout"`
	IdleConns    int           `mapstructure:"idle_conns"`

	// FreeSWITCH.
	// Addr is the event socket's host:port (port DefaultESLPort when
	// left out). Needed in both modes: commands not tied to one call
	// (originate, show channels) go through it.
	Addr string `mapstructure:"addr"`
	// Mode is inbound (Tandem connects to the event socket; the default)
	// or outbound (the dialplan's socket application connects each call
	// to Listen as well).
	Mode string `mapstructure:"mode"`
	// Listen is the host:port where Tandem accepts FreeSWITCH's outbound
	// socket connections; outbound mode only.
	Listen string `mapstructure:"listen"`
	// RecordingsDir is where uuid_record writes, an absolute path on the
	// FreeSWITCH host ("" = FreeSWITCH's $${recordings_dir}).
	RecordingsDir string `mapstructure:"recordings_dir"`
	// RecordingFormat is the file extension of recordings ("" =
	// recording.format).
	RecordingFormat string `mapstructure:"recording_format"`
	// SoundsDir is where sound: media are read, an absolute path on the
	// FreeSWITCH host ("" = FreeSWITCH's $${sounds_dir}).
	SoundsDir string `mapstructure:"sounds_dir"`
	// MOHClass is the local_stream class played when a queue names none
	// ("" = "default", local_stream://default).
	MOHClass string `mapstructure:"moh_class"`
}

// The FreeSWITCH event socket modes.
const (
	ModeInbound  = "inbound"
	ModeOutbound = "outbound"
)

// DefaultESLPort is the event socket's port when addr gives none.
const DefaultESLPort = "8021"

// LegacyNodeName names the Asterisk node the ari section describes when
// pbx.nodes is empty.
const LegacyNodeName = "ast1"

// nodeDefaults are the values of a node's keys nobody set, by kind.
// Applied as values of the node's record before decoding (pbx_load.go),
// so a value written in the file, even zero, is kept and judged.
var nodeDefaults = map[pbxnode.Kind]map[string]any{
	pbxnode.Asterisk: {
		"request_timeout":       defaults["ari.request_timeout"],
		"formats":               defaults["ari.formats"],
		"ping_interval":         defaults["ari.ping_interval"],
		"pong_timeout":          defaults["ari.pong_timeout"],
		"reconnect_backoff":     defaults["ari.reconnect_backoff"],
		"reconnect_backoff_max": defaults["ari.reconnect_backoff_max"],
		"idle_conns":            defaults["ari.idle_conns"],
	},
	pbxnode.FreeSWITCH: {
		"request_timeout":       defaults["ari.request_timeout"],
		"reconnect_backoff":     defaults["ari.reconnect_backoff"],
		"reconnect_backoff_max": defaults["ari.reconnect_backoff_max"],
		"mode":                  ModeInbound,
	},
}

// PBXNodes are the nodes to drive: pbx.nodes, or, without them, the ari
// section as one Asterisk node named LegacyNodeName (today's single
// Asterisk, unchanged).
func (c Config) PBXNodes() []PBXNode {
	if len(c.PBX.Nodes) > 0 {
		return c.PBX.Nodes
	}
	a := c.ARI
	return []PBXNode{{
		Name: LegacyNodeName, Kind: pbxnode.Asterisk,
		Password: a.Password, RequestTimeout: a.RequestTimeout,
		ReconnectBackoff: a.ReconnectBackoff, ReconnectBackoffMax: a.ReconnectBackoffMax,
		URL: a.URL, WSURL: a.WSURL, Username: a.Username, Formats: a.Formats,
		PingInterval: a.PingInterval, PongTimeout: a.PongTimeout, IdleConns: a.IdleConns,
	}}
}

// PBXNodeNames are the names of PBXNodes, in order.
func (c Config) PBXNodeNames() []string {
	nodes := c.PBXNodes()
	names := make([]string, len(nodes))
	for i, n := range nodes {
		names[i] = n.Name
	}
	return names
}

// PBXApp is the replica's application name on every node: pbx.app with
// pbx.nodes, ari.app without.
func (c Config) PBXApp() string {
	if len(c.PBX.Nodes) > 0 {
		return c.PBX.App
	}
	return c.ARI.App
}

// PBXAttachedVars are the channel variables kept as attached data:
// pbx.attached_vars with pbx.nodes, ari.attached_vars without.
func (c Config) PBXAttachedVars() []string {
	if len(c.PBX.Nodes) > 0 {
		return c.PBX.AttachedVars
	}
	return c.ARI.AttachedVars
}

// SplitEndpoint reads an endpoint as "<node>/<dial string>" against the
// nodes (see pbxnode.Split: the prefix is optional with one node and
// required with several). The errors wrap pbxnode.ErrUnknownNode,
// ErrMissingNode, ErrEmptyDial or ErrNoNodes.
func SplitEndpoint(nodes []PBXNode, endpoint string) (node, dial string, err error) {
	names := make([]string, len(nodes))
	for i, n := range nodes {
		names[i] = n.Name
	}
	return pbxnode.Split(names, endpoint)
}

// ESLAddr is Addr with DefaultESLPort added when it names no port.
func (n PBXNode) ESLAddr() string { return withDefaultPort(n.Addr) }

func withDefaultPort(addr string) string {
	if addr == "" {
		return ""
	}
	if _, _, err := net.SplitHostPort(addr); err == nil {
		return addr
	}
	return net.JoinHostPort(addr, DefaultESLPort)
}
