package callbacks

import (
	"context"
	"errors"
	"testing"

	"github.com/tandem-cc/tandem/dialnum"
)

// TestCreateRefusesWhatTheDiallingPolicyRefuses: a web form could book a
// callback to an emergency or premium-rate number and have an agent's
// trunk dial it. Refused with the rule named, even on a queue whose
// country list would not have caught them (3-6 digit numbers used to pass
// as internal), and nothing is written to Redis.
func TestCreateRefusesWhatTheDiallingPolicyRefuses(t *testing.T) {
	s := newStore(t)
	ctx := context.Background()
	cases := []struct {
		number, region, rule string
	}{
		{"911", "US", dialnum.RuleEmergency},
		{"112", "US", dialnum.RuleEmergency},
		{"999", "US", dialnum.RuleEmergency},
		{"112", "FR", dialnum.RuleEmergency},
		{"911#", "US", dialnum.RuleEmergency},
		{"+19005550100", "US", dialnum.RuleNumberType},
		{"1 900 555 0100", "US", dialnum.RuleNumberType},
		{"1001", "US", dialnum.RuleInternalNotAllowed},
		{"+12025550123", "US", dialnum.RuleCountryNotAllowed},
	}
	for _, c := range cases {
		t.Run(c.number+" "+c.region, func(t *testing.T) {
			_, _, err := s.Create(ctx, Request{Queue: "fr", Number: c.number, Region: c.region, AllowedCountryCodes: []int{33}})
			var fe *FieldError
			if !errors.As(err, &fe) || fe.Field != "number" || fe.Rule != c.rule {
				t.Fatalf("create %s: %v, want field number rule %s", c.number, err, c.rule)
			}
		})
	}
	if keys, err := s.Client().Keys(ctx, "*").Result(); err != nil || len(keys) != 0 {
		t.Fatalf("refused requests left keys %v (%v)", keys, err)
	}
	// A French number passes both the policy and the country list.
	mustCreate(t, s, Request{Queue: "fr", Number: "+33 1 40 00 00 01", AllowedCountryCodes: []int{33}})
}

// TestCreateHonoursThePolicyAllowLists: what the operator allows by name
// passes; the queue's country list still applies after the policy.
func TestCreateHonoursThePolicyAllowLists(t *testing.T) {
	s := newStore(t)
	p, err := dialnum.NewPolicy(dialnum.PolicyConfig{
		AllowTypes: []string{dialnum.TypePremiumRate}, AllowNumbers: []string{"933"}, Internal: []string{"1000-1999"},
	})
	if err != nil {
		t.Fatal(err)
	}
	mustCreate(t, s, Request{Queue: "q", Number: "+19005550100", Policy: p})
	mustCreate(t, s, Request{Queue: "q", Number: "933", Policy: p})
	mustCreate(t, s, Request{Queue: "q", Number: "1999", Policy: p, AllowedCountryCodes: []int{33}})
	_, _, err = s.Create(context.Background(), Request{Queue: "q", Number: "+19005550101", Policy: p, AllowedCountryCodes: []int{33}})
	var fe *FieldError
	if !errors.As(err, &fe) || fe.Rule != dialnum.RuleCountryNotAllowed {
		t.Fatalf("allowed type outside the queue's countries: %v, want %s", err, dialnum.RuleCountryNotAllowed)
	}
	_, _, err = s.Create(context.Background(), Request{Queue: "q", Number: "911", Policy: p})
	if !errors.As(err, &fe) || fe.Rule != dialnum.RuleEmergency {
		t.Fatalf("911 with another number allowed: %v, want %s", err, dialnum.RuleEmergency)
	}
}
