package dialnum

import (
	"fmt"
	"strings"
)

// An agent's endpoint is where Tandem sends every call it offers the agent:
// a string given at login, dialled as is. Left free, an agent token could
// log in as "Local/1002@from-pstn" or "PJSIP/0900123456@trunk" and have
// customers (and callbacks) dialled wherever that points: an outside trunk,
// or back into the inbound dialplan. EndpointPolicy keeps it to the
// configured patterns.
//
// A pattern is literal text with at most one of each placeholder:
//
//	{ext}    an extension: digits, within the configured extension ranges
//	{agent}  the id of the agent logging in, so the pattern ties each
//	         agent's token to its own endpoint ("PJSIP/{agent}": agent 1002
//	         may log in only as PJSIP/1002)
//
// A pattern without a placeholder allows exactly that endpoint.

// Endpoint placeholders.
const (
	PlaceholderExt   = "{ext}"
	PlaceholderAgent = "{agent}"
)

// Rules of the endpoint policy; RuleError.Rule is one of these.
const (
	RuleEndpointPattern = "endpoint-pattern" // the endpoint matches no allowed pattern
	RuleExtensionRange  = "extension-range"  // {ext} matched, but not an allowed extension
)

// EndpointPolicy is the compiled list of endpoint patterns with the
// extension ranges {ext} stands for.
type EndpointPolicy struct {
	patterns   []string
	extensions *Set
}

// NewEndpointPolicy compiles patterns and extensions (entries as in Set:
// "1000-1999", "2001"). Errors are *ListError ("patterns", "extensions").
func NewEndpointPolicy(patterns, extensions []string) (*EndpointPolicy, error) {
	ext, lerr := NewSet(extensions)
	if lerr != nil {
		lerr.List = "extensions"
		return nil, lerr
	}
	if len(patterns) == 0 {
		return nil, &ListError{List: "patterns", Index: -1, Msg: "at least one pattern is needed, e.g. PJSIP/{ext}"}
	}
	for i, p := range patterns {
		if msg := checkPattern(p); msg != "" {
			return nil, &ListError{List: "patterns", Index: i, Msg: fmt.Sprintf("%q: %s", p, msg)}
		}
		if strings.Contains(p, PlaceholderExt) && ext.Empty() {
			return nil, &ListError{List: "patterns", Index: i, Msg: fmt.Sprintf("%q uses %s: list the extensions it may stand for in extensions", p, PlaceholderExt)}
		}
	}
	return &EndpointPolicy{patterns: patterns, extensions: ext}, nil
}

func checkPattern(p string) string {
	switch {
	case strings.TrimSpace(p) == "":
		return "must not be empty"
	case strings.Count(p, PlaceholderExt) > 1, strings.Count(p, PlaceholderAgent) > 1:
		return "each placeholder may appear once"
	case strings.Contains(p, PlaceholderExt+PlaceholderAgent), strings.Contains(p, PlaceholderAgent+PlaceholderExt):
		// Where one would end and the other begin is ambiguous.
		return "{ext} and {agent} must be separated by literal text"
	}
	rest := strings.NewReplacer(PlaceholderExt, "", PlaceholderAgent, "").Replace(p)
	if strings.ContainsAny(rest, "{}") {
		return "the only placeholders are {ext} and {agent}"
	}
	for _, r := range rest {
		if r <= ' ' || r == 0x7f {
			return "must not contain spaces or control characters"
		}
	}
	return ""
}

// Check reports whether agent may log in with endpoint: nil, or a
// *RuleError naming the rule.
func (p *EndpointPolicy) Check(agent, endpoint string) error {
	extMatched := ""
	for _, pat := range p.patterns {
		ext, ok := matchPattern(pat, agent, endpoint)
		if !ok {
			continue
		}
		if ext == "" || p.extensions.Contains(ext) {
			return nil
		}
		extMatched = ext
	}
	if extMatched != "" {
		return ruleErr(RuleExtensionRange, "extension %s of %s is not one of the agent extensions (dial.agent_endpoints.extensions)", extMatched, endpoint)
	}
	return ruleErr(RuleEndpointPattern, "%q is not an allowed endpoint for agent %s: allowed are %s (dial.agent_endpoints.patterns)",
		endpoint, agent, strings.Join(p.patterns, ", "))
}

// matchPattern matches endpoint against pat with {agent} standing for
// agent; ext is what {ext} matched ("" when pat has none). Matching is
// exact, case and all: PBX endpoint names are case-sensitive.
func matchPattern(pat, agent, endpoint string) (ext string, ok bool) {
	if agent == "" && strings.Contains(pat, PlaceholderAgent) {
		return "", false
	}
	// Cut at {ext} before {agent} is replaced, so an agent id can never
	// add a placeholder.
	before, after, hasExt := strings.Cut(pat, PlaceholderExt)
	before = strings.ReplaceAll(before, PlaceholderAgent, agent)
	after = strings.ReplaceAll(after, PlaceholderAgent, agent)
	if !hasExt {
		return "", endpoint == before
	}
	if len(endpoint) < len(before)+len(after) || !strings.HasPrefix(endpoint, before) || !strings.HasSuffix(endpoint, after) {
		return "", false
	}
	ext = endpoint[len(before) : len(endpoint)-len(after)]
	if !allDigits(ext) {
		return "", false
	}
	return ext, true
}
