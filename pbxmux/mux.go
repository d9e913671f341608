// Package pbxmux puts several PBX nodes (Asterisk over ARI, FreeSWITCH over
// ESL, in any mix) behind the one acd.PBX a seat's engine drives.
//
// Each node has its own driver, acting for the same owner (Stasis
// application, ESL owner name) on its PBX. The mux sends every command to
// the node that has the object it names: a leg, a bridge, a playback, a
// recording. It learns where each one lives from the events the drivers
// deliver, from the commands that create them (Ring, Bridge, StartMedia,
// StartRecording), and from Resynced and Takeover results, so a leg the mux
// never saw arrive (after a restart) is found again too.
//
// Endpoints name their node: "ast1/PJSIP/1001", "fs1/user/1001". An agent
// leg rung for a caller is rung on the caller's node, so the call's media
// stays on one PBX; when the agent lives on another node, the dial string
// goes through the SIP trunk configured from the caller's node to the
// agent's (Options.Trunks). A bridge can never span two nodes: the PBXs
// share no media path but a trunk, and the trunk is crossed by ringing, not
// by bridging (ErrCrossNode).
package pbxmux

import (
	"errors"
	"fmt"
	"log/slog"
	"sort"
	"strings"
	"sync"

	"github.com/tandem-cc/tandem/acd"
)

// ErrNoTrunk: a ring must cross from one node to another (an agent on one
// PBX rung for a caller on the other) and no trunk is configured for that
// pair. The error names both nodes and the configuration key to set.
var ErrNoTrunk = errors.New("no trunk between PBX nodes")

// ErrNoNode: an endpoint names no node and nothing else says which node
// should ring it (several nodes, no known originator).
var ErrNoNode = errors.New("endpoint names no PBX node")

// ErrCrossNode: a bridge would join legs that live on different nodes.
// Nothing is sent to either PBX.
var ErrCrossNode = errors.New("bridge across PBX nodes")

// ErrNodeStopped: a node's driver returned from Run without an error while
// the mux was still running (a driver only does that when its context
// ends). The seat cannot go on without one of its PBXs.
var ErrNodeStopped = errors.New("pbx node driver stopped")

// ErrConfig: Options are not usable; the message names the key.
var ErrConfig = errors.New("pbxmux configuration")

// Node is one PBX and the driver that drives it.
type Node struct {
	// Name is the node's name in endpoints ("ast1" in "ast1/PJSIP/1001")
	// and in the configuration (pbx.nodes.<name>). It must not contain
	// "/" and must not be a channel technology's name (PJSIP, SIP, Local,
	// sofia, user...), or endpoints without a node prefix would be read as
	// naming it.
	Name string
	PBX  acd.PBX
}

// Options configure a Mux.
type Options struct {
	// Nodes are the PBX nodes, at least one. Every driver must act for the
	// same owner (acd.PBX Owner()).
	Nodes []Node
	// Trunks[from][to] is the dial-string template with which node from
	// rings an endpoint living on node to, through the SIP trunk between
	// them: "{exten}" is replaced by the last "/"-separated part of the
	// endpoint's dial string, "{dial}" by the whole dial string (both
	// without the node prefix). E.g. Trunks["fs1"]["ast1"] =
	// "sofia/gateway/ast1/{exten}", Trunks["ast1"]["fs1"] =
	// "PJSIP/{exten}@fs1". A pair without a template is refused
	// (ErrNoTrunk). Configuration: pbx.trunks, {from, to, dial}.
	Trunks map[string]map[string]string
	Logger *slog.Logger
}

// Mux implements acd.PBX over several nodes.
type Mux struct {
	nodes  []Node
	byName map[string]acd.PBX
	owner  string
	trunks map[string]map[string]string
	log    *slog.Logger

	mu    sync.Mutex
	where *places // under mu
	run   *runState
}

var _ acd.PBX = (*Mux)(nil)

// New checks opts and returns a mux; Run starts its drivers.
func New(opts Options) (*Mux, error) {
	if len(opts.Nodes) == 0 {
		return nil, fmt.Errorf("%w: pbx.nodes: no PBX node configured", ErrConfig)
	}
	if opts.Logger == nil {
		opts.Logger = slog.Default()
	}
	m := &Mux{byName: map[string]acd.PBX{}, trunks: map[string]map[string]string{}, log: opts.Logger.With("driver", "pbxmux"), where: newPlaces()}
	for _, n := range opts.Nodes {
		key := "pbx.nodes." + n.Name
		switch {
		case n.Name == "" || strings.Contains(n.Name, "/"):
			return nil, fmt.Errorf("%w: %s: a node name must be non-empty and without '/'", ErrConfig, key)
		case m.byName[n.Name] != nil:
			return nil, fmt.Errorf("%w: %s: node named twice", ErrConfig, key)
		case n.PBX == nil:
			return nil, fmt.Errorf("%w: %s: no driver", ErrConfig, key)
		}
		if m.owner == "" {
			m.owner = n.PBX.Owner()
		} else if o := n.PBX.Owner(); o != m.owner {
			// The engine hands Owner() to other replicas for takeover: it
			// must name this seat on every PBX.
			return nil, fmt.Errorf("%w: %s: driver acts for %q, node %s for %q: every node's driver must act for the same owner", ErrConfig, key, o, opts.Nodes[0].Name, m.owner)
		}
		m.byName[n.Name] = n.PBX
		m.nodes = append(m.nodes, n)
	}
	for _, from := range sortedKeys(opts.Trunks) {
		for _, to := range sortedKeys(opts.Trunks[from]) {
			key := "pbx.trunks (from " + from + " to " + to + ")"
			tpl := opts.Trunks[from][to]
			switch {
			case m.byName[from] == nil:
				return nil, fmt.Errorf("%w: %s: no node %q", ErrConfig, key, from)
			case m.byName[to] == nil:
				return nil, fmt.Errorf("%w: %s: no node %q", ErrConfig, key, to)
			case from == to:
				return nil, fmt.Errorf("%w: %s: a node needs no trunk to itself", ErrConfig, key)
			case !strings.Contains(tpl, "{exten}") && !strings.Contains(tpl, "{dial}"):
				return nil, fmt.Errorf("%w: %s: template %q has neither {exten} nor {dial}", ErrConfig, key, tpl)
			}
			if m.trunks[from] == nil {
				m.trunks[from] = map[string]string{}
			}
			m.trunks[from][to] = tpl
		}
	}
	return m, nil
}

// Owner is the owner every node's driver acts for (New checked they agree).
func (m *Mux) Owner() string { return m.owner }

// Connected reports whether every node's driver is connected (a driver
// that cannot tell counts as connected): a seat missing one of its PBXs is
// not ready.
func (m *Mux) Connected() bool {
	for _, n := range m.nodes {
		if c, ok := n.PBX.(interface{ Connected() bool }); ok && !c.Connected() {
			return false
		}
	}
	return true
}

// Nodes names the nodes, in configuration order.
func (m *Mux) Nodes() []string {
	out := make([]string, len(m.nodes))
	for i, n := range m.nodes {
		out[i] = n.Name
	}
	return out
}

// sole is the only node's name when there is one node, else "": with one
// node every object is there, known or not, and the mux is transparent.
func (m *Mux) sole() string {
	if len(m.nodes) == 1 {
		return m.nodes[0].Name
	}
	return ""
}

func sortedKeys[V any](mp map[string]V) []string {
	out := make([]string, 0, len(mp))
	for k := range mp {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}
