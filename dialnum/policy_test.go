package dialnum

import (
	"errors"
	"strings"
	"testing"
)

func mustPolicy(t *testing.T, cfg PolicyConfig) *Policy {
	t.Helper()
	p, err := NewPolicy(cfg)
	if err != nil {
		t.Fatalf("NewPolicy(%+v): %v", cfg, err)
	}
	return p
}

func wantRule(t *testing.T, err error, rule string) {
	t.Helper()
	var re *RuleError
	if !errors.As(err, &re) || re.Rule != rule {
		t.Fatalf("got %v, want rule %s", err, rule)
	}
	if !strings.Contains(err.Error(), rule) {
		t.Fatalf("message %q does not name rule %s", err, rule)
	}
}

// TestPolicyRefusesEmergencyNumbers: 911, 112, 999 and the other common
// emergency numbers are refused in any region, even when the operator
// opened every short number of their length as internal, with a trailing
// # or pauses; only allow_numbers lets one through.
func TestPolicyRefusesEmergencyNumbers(t *testing.T) {
	wide := mustPolicy(t, PolicyConfig{Internal: []string{"100-999", "1000-9999"}})
	for _, p := range []*Policy{nil, wide} {
		for _, region := range []string{"US", "FR", "GB", "AU", "DE"} {
			for _, number := range []string{"911", "112", "999", "000", "110", "119", "118", "911#", "1:1:2", " 9-1-1 "} {
				_, err := p.Dialable(number, region)
				wantRule(t, err, RuleEmergency)
			}
		}
	}
	// The region's own short-number data counts too: 17 and 15 are too
	// short to dial at all, but 1722 is not an emergency number, so it is
	// the internal rule that refuses it.
	_, err := (&Policy{}).Dialable("1722", "FR") // a zero Policy is the default one
	wantRule(t, err, RuleInternalNotAllowed)
	_, err = (*Policy)(nil).Dialable("933", "TO") // Tonga's emergency number
	wantRule(t, err, RuleEmergency)
	// A carrier's test line, named by the operator.
	p := mustPolicy(t, PolicyConfig{AllowNumbers: []string{"933"}})
	if n, err := p.Dialable("933", "US"); err != nil || n.Dial != "933" {
		t.Fatalf("allowed 933: %+v %v", n, err)
	}
	_, err = p.Dialable("911", "US")
	wantRule(t, err, RuleEmergency)
}

// TestPolicyRefusesNumberTypes: premium-rate (and the other types refused
// by default) are refused; allow_types and allow_numbers let them through,
// refuse_types adds types.
func TestPolicyRefusesNumberTypes(t *testing.T) {
	for _, number := range []string{"+19005550100", "1-900-555-0100", "011 1 900 555 0100"} {
		_, err := (*Policy)(nil).Dialable(number, "US")
		wantRule(t, err, RuleNumberType)
		if !strings.Contains(err.Error(), "premium-rate") {
			t.Fatalf("%s: %v does not say premium-rate", number, err)
		}
	}
	_, err := (*Policy)(nil).Dialable("+448719123456", "US") // UK 0871: shared cost
	wantRule(t, err, RuleNumberType)
	for _, number := range []string{"+12025550123", "+18005550100", "+442079460958", "+33612345678"} {
		if _, err := (*Policy)(nil).Dialable(number, "US"); err != nil {
			t.Fatalf("%s: %v", number, err)
		}
	}
	premium := mustPolicy(t, PolicyConfig{AllowTypes: []string{TypePremiumRate}})
	if _, err := premium.Dialable("+19005550100", "US"); err != nil {
		t.Fatalf("premium allowed by type: %v", err)
	}
	one := mustPolicy(t, PolicyConfig{AllowNumbers: []string{"+1 900 555 0100"}})
	if _, err := one.Dialable("1 (900) 555-0100", "US"); err != nil {
		t.Fatalf("premium allowed by number: %v", err)
	}
	_, err = one.Dialable("+19005550101", "US")
	wantRule(t, err, RuleNumberType)
	noMobiles := mustPolicy(t, PolicyConfig{RefuseTypes: []string{TypeMobile}})
	_, err = noMobiles.Dialable("+33612345678", "US")
	wantRule(t, err, RuleNumberType)
}

// TestPolicyAllowsInternalNumbersOnlyFromTheSet: a 3-6 key number is no
// longer internal just because it is short.
func TestPolicyAllowsInternalNumbersOnlyFromTheSet(t *testing.T) {
	p := mustPolicy(t, PolicyConfig{Internal: []string{"1000-1999", "*67", "4000#"}})
	for _, ok := range []string{"1000", "1999", "10-01", "*67", "4000#"} {
		if _, err := p.Dialable(ok, "US"); err != nil {
			t.Errorf("%s: %v", ok, err)
		}
	}
	for _, refused := range []string{"2000", "999999", "0999", "*68", "4000", "1000#"} {
		_, err := p.Dialable(refused, "US")
		var re *RuleError
		if !errors.As(err, &re) || (re.Rule != RuleInternalNotAllowed && re.Rule != RuleEmergency) {
			t.Errorf("%s: %v, want %s", refused, err, RuleInternalNotAllowed)
		}
	}
	_, err := (*Policy)(nil).Dialable("1001", "US")
	wantRule(t, err, RuleInternalNotAllowed)
}

// TestCheckCountryAppliesAfterThePolicy: the queue's country list refuses
// other countries; internal numbers have none.
func TestCheckCountryAppliesAfterThePolicy(t *testing.T) {
	fr := []int{33}
	n, _ := Normalize("+33140000001", "")
	if err := CheckCountry(n, fr); err != nil {
		t.Fatal(err)
	}
	n, _ = Normalize("+12025550123", "")
	wantRule(t, CheckCountry(n, fr), RuleCountryNotAllowed)
	if err := CheckCountry(n, nil); err != nil {
		t.Fatalf("no list: %v", err)
	}
	n, _ = Normalize("1001", "")
	if err := CheckCountry(n, fr); err != nil {
		t.Fatalf("internal: %v", err)
	}
}

func TestNewPolicyRefusesBadLists(t *testing.T) {
	for _, tc := range []struct {
		name string
		cfg  PolicyConfig
		list string
		idx  int
	}{
		{"allow a type not refused", PolicyConfig{AllowTypes: []string{TypeMobile}}, "allow_types", 0},
		{"refuse an unknown type", PolicyConfig{RefuseTypes: []string{"landline"}}, "refuse_types", 0},
		{"allow and refuse", PolicyConfig{AllowTypes: []string{TypePager}, RefuseTypes: []string{TypePager}}, "refuse_types", 0},
		{"national allow number", PolicyConfig{AllowNumbers: []string{"+12025550123", "2025550123"}}, "allow_numbers", 1},
		{"letters in internal", PolicyConfig{Internal: []string{"100", "ext"}}, "internal_numbers", 1},
		{"range of two lengths", PolicyConfig{Internal: []string{"100-1999"}}, "internal_numbers", 0},
		{"reversed range", PolicyConfig{Internal: []string{"1999-1000"}}, "internal_numbers", 0},
		{"range longer than internal", PolicyConfig{Internal: []string{"1000000-1999999"}}, "internal_numbers", 0},
		{"empty internal", PolicyConfig{Internal: []string{""}}, "internal_numbers", 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := NewPolicy(tc.cfg)
			var le *ListError
			if !errors.As(err, &le) || le.List != tc.list || le.Index != tc.idx {
				t.Fatalf("got %v, want %s[%d]", err, tc.list, tc.idx)
			}
		})
	}
}

// TestNationalNumberRefusalNamesTheRegion: someone who typed an
// international number with another region's prefix is told which region
// it was read in, never "+1 must be followed by exactly 10 digits".
func TestNationalNumberRefusalNamesTheRegion(t *testing.T) {
	_, err := Normalize("0033 1 40 00 00 01", "US")
	var re *RuleError
	if !errors.As(err, &re) {
		t.Fatalf("got %v", err)
	}
	if !strings.HasPrefix(re.Msg, "0033 1 40 00 00 01 read in region US: ") || strings.Contains(re.Msg, "+1") {
		t.Fatalf("message %q", re.Msg)
	}
	if n, err := Normalize("0033 1 40 00 00 01", "FR"); err != nil || n.E164 != "+33140000001" {
		t.Fatalf("read in FR: %+v %v", n, err)
	}
	for _, tc := range []struct{ input, region string }{
		{"020 7946", "GB"}, {"202555012", "US"}, {"011 44 20 79", "US"}, {"06 12 34 56", "FR"},
	} {
		_, err := Normalize(tc.input, tc.region)
		if !errors.As(err, &re) || !strings.Contains(re.Msg, "read in region "+tc.region) {
			t.Errorf("Normalize(%q, %q): %v does not name the region", tc.input, tc.region, err)
		}
	}
	// A number with '+' is read in no region and says none.
	_, err = Normalize("+1202555012", "US")
	if !errors.As(err, &re) || strings.Contains(re.Msg, "region") {
		t.Fatalf("e164: %v", err)
	}
}
