package config

import (
	"errors"
	"fmt"

	"github.com/tandem-cc/tandem/acd"
	"github.com/tandem-cc/tandem/dialnum"
	"github.com/tandem-cc/tandem/pbxnode"
)

// DialPolicy is what every number Tandem dials must pass (dial.policy):
// callbacks, consults and transfers to a number, IVR dial branches. See
// dialnum.Policy for the order the rules apply in.
type DialPolicy struct {
	// AllowTypes are number types refused by default that may be dialled
	// (premium_rate, shared_cost, uan, personal_number, pager, voicemail).
	AllowTypes []string `mapstructure:"allow_types"`
	// RefuseTypes are more number types refused (e.g. mobile).
	RefuseTypes []string `mapstructure:"refuse_types"`
	// AllowNumbers may be dialled whatever their type, emergency numbers
	// included: E.164 (+19005550100) or short numbers as dialled (933).
	AllowNumbers []string `mapstructure:"allow_numbers"`
	// InternalNumbers are the short numbers (3-6 keys) that may be dialled:
	// exact ("*67", "1001#") or ranges of one length ("1000-1999"). Empty:
	// none, so a short number can never reach a trunk's short codes.
	InternalNumbers []string `mapstructure:"internal_numbers"`
}

// AgentEndpoints are the endpoints an agent may log in with
// (dial.agent_endpoints): every call offered to the agent is sent there.
type AgentEndpoints struct {
	// Patterns: literal text with at most one {ext} (digits within
	// Extensions) and one {agent} (the id of the agent logging in).
	// Empty = DefaultAgentEndpoint: each agent only its own PJSIP endpoint.
	Patterns []string `mapstructure:"patterns"`
	// Extensions are what {ext} may stand for: "1000-1999", "2001".
	Extensions []string `mapstructure:"extensions"`
}

// DefaultAgentEndpoint is the endpoint pattern used when none is
// configured: agent 1001 may log in as PJSIP/1001 and nothing else, which
// ties each agent token to its own phone.
const DefaultAgentEndpoint = "PJSIP/" + dialnum.PlaceholderAgent

// engine compiles the policy.
func (p DialPolicy) engine() (*dialnum.Policy, error) {
	return dialnum.NewPolicy(dialnum.PolicyConfig{
		AllowTypes: p.AllowTypes, RefuseTypes: p.RefuseTypes, AllowNumbers: p.AllowNumbers, Internal: p.InternalNumbers,
	})
}

// Engine compiles the endpoint patterns (DefaultAgentEndpoint when none is
// configured).
func (a AgentEndpoints) Engine() (*dialnum.EndpointPolicy, error) {
	patterns := a.Patterns
	if len(patterns) == 0 {
		patterns = []string{DefaultAgentEndpoint}
	}
	return dialnum.NewEndpointPolicy(patterns, a.Extensions)
}

// AgentEndpointPolicy compiles dial.agent_endpoints against the PBX
// nodes (Config.PBXNodes). Endpoints are compared in their canonical form
// (pbxnode.Canonical): with one node the dial string alone, so a single
// Asterisk keeps today's patterns and endpoints, and a pattern may still
// be written with the node ("ast1/PJSIP/{agent}"); with several nodes
// "<node>/<dial string>", so every pattern must start with a configured
// node. No patterns: each node's kind default (PJSIP/{agent},
// user/{agent}), prefixed by the node's name when there are several.
// The login path must canonicalize the agent's endpoint the same way
// before EndpointPolicy.Check.
func (c Config) AgentEndpointPolicy() (*dialnum.EndpointPolicy, error) {
	nodes, names := c.PBXNodes(), c.PBXNodeNames()
	patterns := c.Dial.AgentEndpoints.Patterns
	if len(patterns) == 0 {
		for _, n := range nodes {
			p := n.Kind.DefaultAgentPattern()
			if p == "" || (len(nodes) > 1 && !pbxnode.ValidName(n.Name)) {
				continue // reported as pbx.nodes[i].kind or .name
			}
			if len(nodes) > 1 {
				p = n.Name + pbxnode.Sep + p
			}
			patterns = append(patterns, p)
		}
		if len(patterns) == 0 {
			patterns = []string{DefaultAgentEndpoint}
		}
		return dialnum.NewEndpointPolicy(patterns, c.Dial.AgentEndpoints.Extensions)
	}
	canon := make([]string, len(patterns))
	for i, p := range patterns {
		cp, err := pbxnode.Canonical(names, p)
		if err != nil {
			return nil, &dialnum.ListError{List: "patterns", Index: i, Msg: err.Error()}
		}
		canon[i] = cp
	}
	return dialnum.NewEndpointPolicy(canon, c.Dial.AgentEndpoints.Extensions)
}

// Engine returns the dial settings in the engine's terms, the policy
// compiled. A Config that passed Validate compiles.
func (d Dial) Engine() (acd.DialSettings, error) {
	p, err := d.Policy.engine()
	if err != nil {
		return acd.DialSettings{}, fmt.Errorf("dial.policy: %w", err)
	}
	return acd.DialSettings{
		Endpoint: d.Endpoint, DefaultRegion: d.DefaultRegion, CallerID: d.CallerID, RingTimeout: d.RingTimeout, Policy: p,
	}, nil
}

// checkDialling checks dial.policy and dial.agent_endpoints, then every IVR
// dial branch against the policy: a branch is static configuration, so a
// number the policy refuses is refused at load, naming the branch, rather
// than at the first caller who presses the key.
func checkDialling(bad badFunc, c Config) {
	policy, err := c.Dial.Policy.engine()
	if err != nil {
		bad(listKey("dial.policy", err), "%s", listMsg(err))
		policy = nil // the IVR is still checked, against the default policy
	}
	if _, err := c.AgentEndpointPolicy(); err != nil {
		bad(listKey("dial.agent_endpoints", err), "%s", listMsg(err))
	}
	if !region.MatchString(c.Dial.DefaultRegion) {
		return // reported as dial.default_region; numbers cannot be read
	}
	for _, name := range sortedKeys(c.IVR.Nodes) {
		n := c.IVR.Nodes[name]
		key := "ivr.nodes." + name
		branches := map[string]Branch{key + ".next": n.Next, key + ".on_failure": n.OnFailure}
		for digits, b := range n.Branches {
			branches[key+".branches."+digits] = b
		}
		for _, k := range sortedKeys(branches) {
			b := branches[k]
			if b.Dial == "" || len(b.Dial) > MaxDialLength {
				continue // empty or too long: checkBranch says so
			}
			if _, err := policy.Dialable(b.Dial, c.Dial.DefaultRegion); err != nil {
				bad(k+".dial", "%s", ruleMsg(err))
			}
		}
	}
}

// listKey names the key of a bad list entry: "dial.policy.allow_types[1]".
func listKey(prefix string, err error) string {
	var le *dialnum.ListError
	if !errors.As(err, &le) {
		return prefix
	}
	if le.Index < 0 {
		return fmt.Sprintf("%s.%s", prefix, le.List)
	}
	return fmt.Sprintf("%s.%s[%d]", prefix, le.List, le.Index)
}

func listMsg(err error) string {
	var le *dialnum.ListError
	if errors.As(err, &le) {
		return le.Msg
	}
	return err.Error()
}

// ruleMsg is a refused number's message with its rule, as the API says it.
func ruleMsg(err error) string {
	var re *dialnum.RuleError
	if errors.As(err, &re) {
		return fmt.Sprintf("%s (rule %s)", re.Msg, re.Rule)
	}
	return err.Error()
}
