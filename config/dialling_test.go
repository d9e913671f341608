package config

import (
	"errors"
	"strings"
	"testing"

	"github.com/tandem-cc/tandem/dialnum"
)

// TestIVRDialBranchRefusedByTheDiallingPolicy: an IVR dial branch is
// static configuration, so a number the dialling policy refuses is refused
// at load, naming the branch's key and the rule, before any caller can
// press the key.
func TestIVRDialBranchRefusedByTheDiallingPolicy(t *testing.T) {
	for _, tc := range []struct{ number, rule string }{
		{"911", dialnum.RuleEmergency},
		{"112", dialnum.RuleEmergency},
		{"999", dialnum.RuleEmergency},
		{"+19005550100", dialnum.RuleNumberType},
		{"1001", dialnum.RuleInternalNotAllowed},
	} {
		t.Run(tc.number, func(t *testing.T) {
			c := validRouting()
			c.Queues["sales"] = withCountries(c.Queues["sales"], 33)
			branch(&c, "*0", func(b *Branch) { b.Dial = tc.number })
			err := c.Validate()
			wantKeyError(t, err, "ivr.nodes.main.branches.*0.dial")
			if !strings.Contains(err.Error(), "rule "+tc.rule) {
				t.Fatalf("err %v does not name rule %s", err, tc.rule)
			}
		})
	}
	// next and on_failure are branches too.
	c := validRouting()
	node(&c, "account", func(n *Node) { n.OnFailure = Branch{Dial: "112"} })
	wantKeyError(t, c.Validate(), "ivr.nodes.account.on_failure.dial")
	// What the policy allows by name passes.
	c = validRouting()
	c.Dial.Policy.InternalNumbers = []string{"1000-1999"}
	c.Dial.Policy.AllowNumbers = []string{"+19005550100"}
	branch(&c, "*0", func(b *Branch) { b.Dial = "1001" })
	node(&c, "account", func(n *Node) { n.OnFailure = Branch{Dial: "+19005550100"} })
	if err := c.Validate(); err != nil {
		t.Fatal(err)
	}
}

func withCountries(q Queue, codes ...int) Queue {
	q.Callback.AllowedCountryCodes = codes
	return q
}

func TestValidateDiallingNamesTheBadKey(t *testing.T) {
	for _, tc := range []struct {
		name, key string
		break_    func(*Config)
	}{
		{"allow a type refused by nobody", "dial.policy.allow_types[0]", func(c *Config) { c.Dial.Policy.AllowTypes = []string{"mobile"} }},
		{"refuse an unknown type", "dial.policy.refuse_types[1]", func(c *Config) { c.Dial.Policy.RefuseTypes = []string{"mobile", "landline"} }},
		{"national allowed number", "dial.policy.allow_numbers[0]", func(c *Config) { c.Dial.Policy.AllowNumbers = []string{"2025550123"} }},
		{"bad internal range", "dial.policy.internal_numbers[0]", func(c *Config) { c.Dial.Policy.InternalNumbers = []string{"100-1999"} }},
		{"unknown placeholder", "dial.agent_endpoints.patterns[0]", func(c *Config) { c.Dial.AgentEndpoints.Patterns = []string{"PJSIP/{id}"} }},
		{"ext without extensions", "dial.agent_endpoints.patterns[0]", func(c *Config) { c.Dial.AgentEndpoints.Patterns = []string{"PJSIP/{ext}"} }},
		{"bad extension range", "dial.agent_endpoints.extensions[0]", func(c *Config) {
			c.Dial.AgentEndpoints.Patterns = []string{"PJSIP/{ext}"}
			c.Dial.AgentEndpoints.Extensions = []string{"1999-1000"}
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c := validRouting()
			tc.break_(&c)
			wantKeyError(t, c.Validate(), tc.key)
		})
	}
}

// TestDialEngineCompilesThePolicy: the translation carries every dial
// setting and the policy it compiles is the configured one; the endpoint
// patterns default to each agent's own PJSIP endpoint.
func TestDialEngineCompilesThePolicy(t *testing.T) {
	c := Default()
	c.Dial.CallerID = "+18005550100"
	c.Dial.Policy = DialPolicy{AllowTypes: []string{"premium_rate"}, InternalNumbers: []string{"1000-1999"}}
	d, err := c.Dial.Engine()
	if err != nil {
		t.Fatal(err)
	}
	if d.Endpoint != c.Dial.Endpoint || d.DefaultRegion != "US" || d.CallerID != "+18005550100" || d.RingTimeout != c.Dial.RingTimeout {
		t.Fatalf("dial settings %+v from %+v", d, c.Dial)
	}
	for _, ok := range []string{"+19005550100", "1500"} {
		if _, err := d.Policy.Dialable(ok, d.DefaultRegion); err != nil {
			t.Errorf("%s: %v", ok, err)
		}
	}
	var re *dialnum.RuleError
	if _, err := d.Policy.Dialable("911", d.DefaultRegion); !errors.As(err, &re) || re.Rule != dialnum.RuleEmergency {
		t.Errorf("911: %v", err)
	}
	ep, err := c.Dial.AgentEndpoints.Engine()
	if err != nil {
		t.Fatal(err)
	}
	if err := ep.Check("1001", "PJSIP/1001"); err != nil {
		t.Errorf("default pattern, own endpoint: %v", err)
	}
	if err := ep.Check("1001", "PJSIP/1002"); err == nil {
		t.Error("default pattern let agent 1001 log in as PJSIP/1002")
	}
}
