package dialnum

import (
	"errors"
	"strings"
	"testing"
)

func TestNormalizeAcceptsAndNormalises(t *testing.T) {
	tests := []struct {
		name, input, region string
		want                Number
	}{
		// E.164 in several countries
		{"us e164", "+12025550123", "US", e164("+12025550123", "US")},
		{"gb e164", "+442079460958", "US", e164("+442079460958", "GB")},
		{"de e164", "+4930123456", "US", e164("+4930123456", "DE")},
		{"fr e164 mobile", "+33612345678", "", e164("+33612345678", "FR")},
		{"au e164", "+61291234567", "GB", e164("+61291234567", "AU")},
		{"gb e164 with (0) trunk prefix", "+44 (0)20 7946 0958", "US", e164("+442079460958", "GB")},
		// national numbers read in the default region
		{"us national pasted", "(202) 555-0123", "US", e164("+12025550123", "US")},
		{"us national with trunk 1", "1-202-555-0123", "US", e164("+12025550123", "US")},
		{"us national dotted", "202.555.0123", "us", e164("+12025550123", "US")},
		{"gb national", "020 7946 0958", "GB", e164("+442079460958", "GB")},
		{"de national", "030 123456", "DE", e164("+4930123456", "DE")},
		// IDD prefixes converted to E.164
		{"idd 011 from us", "011 44 20 7946 0958", "US", e164("+442079460958", "GB")},
		{"idd 00 from de", "00 44 20 7946 0958", "DE", e164("+442079460958", "GB")},
		{"idd 00 from gb", "00 49 30 123456", "GB", e164("+4930123456", "DE")},
		{"idd 011 to nanp", "011 1 202 555 0123", "US", e164("+12025550123", "US")},
		// pasted separators of every kind
		{"tabs nbsp and typographic dash", "+1\t202\u00a0555\u20130123", "US", e164("+12025550123", "US")},
		// internal numbers and feature codes as typed
		{"extension", "1001", "US", internal("1001")},
		{"extension pasted", " 10-01 ", "US", internal("1001")},
		{"star code", "*67", "US", internal("*67")},
		{"extension with hash", "1001#", "US", internal("1001#")},
		{"pause", "12:34", "", internal("12:34")},
		{"international freephone all zeros", "00 800 00000000", "DE", e164("+80000000000", "001")},
		{"three digits", "100", "", internal("100")},
		{"six digits", "123456", "", internal("123456")},
		{"three keys with symbols", "*6#", "", internal("*6#")},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := Normalize(tt.input, tt.region)
			if err != nil {
				t.Fatalf("Normalize(%q, %q): %v", tt.input, tt.region, err)
			}
			if got != tt.want {
				t.Fatalf("Normalize(%q, %q) = %+v, want %+v", tt.input, tt.region, got, tt.want)
			}
		})
	}
}

func TestNormalizeRefusesNamingTheRule(t *testing.T) {
	tests := []struct {
		name, input, region, rule string
	}{
		{"letters", "1-800-FLOWERS", "US", RuleCharacters},
		{"letter x for extension", "+12025550123x12", "US", RuleCharacters},
		{"comma", "202,555,0123", "US", RuleCharacters},
		{"slash", "202/5550123", "US", RuleCharacters},
		{"empty", "", "US", RuleLength},
		{"only separators", " - ( ) ", "US", RuleLength},
		{"two digits", "12", "US", RuleLength},
		{"two keys", "*6", "US", RuleLength},
		{"pauses do not count", "1:2:", "US", RuleLength},
		{"too many pauses", "1001" + strings.Repeat(":", 29), "US", RuleLength},
		{"nineteen digits", strings.Repeat("1", 19), "US", RuleLength},
		{"nineteen digits e164", "+" + strings.Repeat("4", 19), "US", RuleLength},
		{"plus in the middle", "1+2025550123", "US", RulePlusPosition},
		{"two pluses", "++12025550123", "US", RulePlusPosition},
		{"symbols in external number", "2025550123#", "US", RuleSymbols},
		{"symbols in e164", "+12025550123:1001", "US", RuleSymbols},
		{"us plus one nine digits", "+1202555012", "US", RuleUSTenDigits},
		{"us plus one eleven digits", "+120255501234", "US", RuleUSTenDigits},
		{"us national nine digits", "202555012", "US", RuleUSTenDigits},
		{"us idd to nanp nine digits", "011 1 202 555 012", "US", RuleUSTenDigits},
		{"unassigned us area code", "+11235550123", "US", RuleE164Invalid},
		{"no such country code", "+8881234567", "US", RuleE164Invalid},
		{"gb too short", "+44207946", "US", RuleE164Invalid},
		{"de invalid", "+49000", "US", RuleE164Invalid},
		{"fr too long", "+336123456789", "US", RuleE164Invalid},
		{"idd to invalid number", "011 44 20 79", "US", RuleE164Invalid},
		{"gb national invalid", "020 7946", "GB", RuleNationalInvalid},
		{"jp domestic-only longer than e164", "00780000000000000", "JP", RuleNationalInvalid},
		{"national without region", "2025550123", "", RuleUnknownRegion},
		{"national with unknown region", "2025550123", "XX", RuleUnknownRegion},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := Normalize(tt.input, tt.region)
			var re *RuleError
			if !errors.As(err, &re) {
				t.Fatalf("Normalize(%q, %q) = %+v, %v; want a RuleError %s", tt.input, tt.region, got, err, tt.rule)
			}
			if re.Rule != tt.rule {
				t.Fatalf("Normalize(%q, %q): rule %s (%v), want %s", tt.input, tt.region, re.Rule, err, tt.rule)
			}
			if !strings.Contains(err.Error(), tt.rule) {
				t.Fatalf("message %q does not name rule %s", err.Error(), tt.rule)
			}
		})
	}
}

func TestNormalizeUSPlusOneNeedsExactlyTenDigits(t *testing.T) {
	for _, tt := range []struct {
		input string
		ok    bool
	}{
		{"+1 202 555 012", false},    // 9
		{"+1 202 555 0123", true},    // 10
		{"+1 202 555 01234", false},  // 11
		{"+1 1 202 555 0123", false}, // 11: trunk prefix after +1
	} {
		_, err := Normalize(tt.input, "US")
		if tt.ok && err != nil {
			t.Errorf("%q: %v", tt.input, err)
		}
		var re *RuleError
		if !tt.ok && (!errors.As(err, &re) || re.Rule != RuleUSTenDigits) {
			t.Errorf("%q: got %v, want rule %s", tt.input, err, RuleUSTenDigits)
		}
	}
}

func e164(n, region string) Number { return Number{E164: n, Dial: n, Kind: E164, Region: region} }
func internal(n string) Number     { return Number{Dial: n, Kind: Internal} }
