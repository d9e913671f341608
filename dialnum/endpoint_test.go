package dialnum

import (
	"errors"
	"testing"
)

// TestEndpointPolicyKeepsAgentsToTheirPatterns: an endpoint outside the
// patterns (a Local channel into the inbound dialplan, a trunk) is refused
// naming the rule; {ext} only within the ranges; {agent} ties the endpoint
// to the agent logging in.
func TestEndpointPolicyKeepsAgentsToTheirPatterns(t *testing.T) {
	p, err := NewEndpointPolicy([]string{"PJSIP/{ext}", "PJSIP/{agent}-softphone", "PJSIP/reception"}, []string{"1000-1999", "2500"})
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		agent, endpoint, rule string
	}{
		{"1002", "PJSIP/1002", ""},
		{"ann", "PJSIP/1999", ""},
		{"ann", "PJSIP/2500", ""},
		{"ann", "PJSIP/ann-softphone", ""},
		{"bob", "PJSIP/reception", ""},
		{"1002", "Local/1002@from-pstn", RuleEndpointPattern},
		{"1002", "PJSIP/1002@trunk", RuleEndpointPattern},
		{"1002", "PJSIP/0900123456@trunk", RuleEndpointPattern},
		{"1002", "pjsip/1002", RuleEndpointPattern},
		{"1002", "PJSIP/", RuleEndpointPattern},
		{"1002", "PJSIP/10a2", RuleEndpointPattern},
		{"bob", "PJSIP/ann-softphone", RuleEndpointPattern},
		{"1002", "PJSIP/2000", RuleExtensionRange},
		{"1002", "PJSIP/999", RuleExtensionRange},
		{"1002", "PJSIP/01000", RuleExtensionRange},
	} {
		err := p.Check(tc.agent, tc.endpoint)
		if tc.rule == "" {
			if err != nil {
				t.Errorf("%s as %s: %v", tc.agent, tc.endpoint, err)
			}
			continue
		}
		var re *RuleError
		if !errors.As(err, &re) || re.Rule != tc.rule {
			t.Errorf("%s as %s: %v, want rule %s", tc.agent, tc.endpoint, err, tc.rule)
		}
	}
}

// TestEndpointPolicyAgentPlaceholderIsLiteral: an agent id cannot widen
// its own pattern (an id is matched as text, never as a placeholder).
func TestEndpointPolicyAgentPlaceholderIsLiteral(t *testing.T) {
	p, err := NewEndpointPolicy([]string{"PJSIP/{agent}"}, nil)
	if err != nil {
		t.Fatal(err)
	}
	if err := p.Check("{ext}", "PJSIP/1001"); err == nil {
		t.Fatal("an agent id {ext} matched PJSIP/1001")
	}
	if err := p.Check("", "PJSIP/"); err == nil {
		t.Fatal("an empty agent id matched PJSIP/")
	}
	if err := p.Check("a.b", "PJSIP/a.b"); err != nil {
		t.Fatal(err)
	}
}

func TestNewEndpointPolicyRefusesBadPatterns(t *testing.T) {
	for _, tc := range []struct {
		name                 string
		patterns, extensions []string
		list                 string
		idx                  int
	}{
		{"none", nil, nil, "patterns", -1},
		{"ext without ranges", []string{"PJSIP/{ext}"}, nil, "patterns", 0},
		{"two ext", []string{"PJSIP/{agent}", "PJSIP/{ext}{ext}"}, []string{"1000-1999"}, "patterns", 1},
		{"unknown placeholder", []string{"PJSIP/{number}"}, nil, "patterns", 0},
		{"adjacent placeholders", []string{"PJSIP/{ext}{agent}"}, []string{"1000-1999"}, "patterns", 0},
		{"space", []string{"PJSIP/ {agent}"}, nil, "patterns", 0},
		{"bad range", []string{"PJSIP/{ext}"}, []string{"1000-199"}, "extensions", 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := NewEndpointPolicy(tc.patterns, tc.extensions)
			var le *ListError
			if !errors.As(err, &le) || le.List != tc.list || le.Index != tc.idx {
				t.Fatalf("got %v, want %s[%d]", err, tc.list, tc.idx)
			}
		})
	}
}
