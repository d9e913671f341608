// Package pbxnode names the PBX nodes Tandem drives side by side and reads
// the node out of an endpoint ("fs1/user/1001"). It is a leaf package, so
// config, the engine and a driver multiplexer can all use the same rules
// without importing each other.
package pbxnode

import (
	"errors"
	"fmt"
	"regexp"
	"slices"
	"strings"
)

// Kind is the sort of PBX a node is, and so the driver that talks to it.
type Kind string

// The kinds of node.
const (
	Asterisk   Kind = "asterisk"   // ARI (ari/)
	FreeSWITCH Kind = "freeswitch" // the event socket (esl/)
)

// Kinds lists every kind, for messages.
var Kinds = []Kind{Asterisk, FreeSWITCH}

// Valid reports whether k is a known kind.
func (k Kind) Valid() bool { return slices.Contains(Kinds, k) }

// DefaultAgentPattern is the agent endpoint pattern of a kind when
// dial.agent_endpoints.patterns is empty: each agent only its own phone.
func (k Kind) DefaultAgentPattern() string {
	switch k {
	case FreeSWITCH:
		return "user/{agent}"
	case Asterisk:
		return "PJSIP/{agent}"
	}
	return ""
}

// Sep separates the node from the dial string in an endpoint.
const Sep = "/"

var name = regexp.MustCompile(`^[A-Za-z0-9_-]{1,32}$`)

// NameRule says in words what ValidName accepts.
const NameRule = "1-32 characters of A-Z a-z 0-9 _ -, not the name of a channel technology (PJSIP, user, sofia, ...)"

// technologies are the first segments of dial strings on either PBX. A
// node may not be called like one: with a single node the prefix is
// optional, and "user/1001" must stay a FreeSWITCH dial string, not the
// dial string "1001" on a node called "user".
var technologies = []string{
	// Asterisk channel drivers.
	"pjsip", "sip", "iax2", "dahdi", "local", "motif", "unistim", "console", "multicast", "audiosocket", "websocket",
	// FreeSWITCH endpoints and dial-string prefixes.
	"user", "sofia", "loopback", "group", "freetdm", "verto", "rtc", "skinny", "error", "null", "portaudio", "pa",
	"gsmopen", "skypopen", "alsa", "opal", "h323", "dingaling", "woomera",
}

// ValidName reports whether s may name a node.
func ValidName(s string) bool {
	return name.MatchString(s) && !slices.Contains(technologies, strings.ToLower(s))
}

// Errors of Split; each is wrapped with the endpoint and the known nodes.
var (
	// ErrNoNodes: no node is configured at all.
	ErrNoNodes = errors.New("no PBX node is configured")
	// ErrMissingNode: several nodes are configured and the endpoint does
	// not start with one ("PJSIP/1001" instead of "ast1/PJSIP/1001").
	ErrMissingNode = errors.New("the endpoint must start with its node")
	// ErrUnknownNode: the endpoint starts with a name that is no node.
	ErrUnknownNode = errors.New("unknown PBX node")
	// ErrEmptyDial: nothing follows the node ("fs1/").
	ErrEmptyDial = errors.New("empty dial string")
)

// Split reads endpoint as "<node>/<dial string>" against the configured
// node names. With one node the prefix is optional: "PJSIP/1001" and
// "ast1/PJSIP/1001" both dial PJSIP/1001 on ast1. With several, the
// prefix is required. Node names match exactly (case and all), as dial
// strings do.
func Split(nodes []string, endpoint string) (node, dial string, err error) {
	if len(nodes) == 0 {
		return "", "", fmt.Errorf("endpoint %q: %w", endpoint, ErrNoNodes)
	}
	first, rest, hasSep := strings.Cut(endpoint, Sep)
	if hasSep && slices.Contains(nodes, first) {
		if rest == "" {
			return "", "", fmt.Errorf("endpoint %q: %w after node %s", endpoint, ErrEmptyDial, first)
		}
		return first, rest, nil
	}
	if len(nodes) == 1 {
		if strings.TrimSpace(endpoint) == "" {
			return "", "", fmt.Errorf("endpoint %q: %w", endpoint, ErrEmptyDial)
		}
		return nodes[0], endpoint, nil
	}
	known := strings.Join(nodes, ", ")
	// A first segment that looks like a node name and is not a channel
	// technology was most likely meant as a node: say which one is unknown.
	if hasSep && ValidName(first) {
		return "", "", fmt.Errorf("endpoint %q: %w %q (configured: %s)", endpoint, ErrUnknownNode, first, known)
	}
	return "", "", fmt.Errorf("endpoint %q: %w, e.g. %s/%s (configured: %s)", endpoint, ErrMissingNode, nodes[0], endpoint, known)
}

// Canonical is the form an endpoint is compared and stored in: the dial
// string alone with one node (today's single-Asterisk form, so existing
// patterns and agent endpoints keep matching), "<node>/<dial>" with
// several.
func Canonical(nodes []string, endpoint string) (string, error) {
	node, dial, err := Split(nodes, endpoint)
	if err != nil {
		return "", err
	}
	if len(nodes) == 1 {
		return dial, nil
	}
	return node + Sep + dial, nil
}
