package dialnum

import (
	"errors"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/nyaruka/phonenumbers"
)

// Properties of every number Normalize accepts.
var (
	e164Form     = regexp.MustCompile(`^\+[1-9][0-9]{1,14}$`)
	internalForm = regexp.MustCompile(`^[0-9#*:]+$`)
)

var fuzzRegions = []string{"US", "GB", "DE", "FR", "IT", "JP", "AU", "TO", "", "XX"}

func fuzzRegion(r uint8) string { return fuzzRegions[int(r)%len(fuzzRegions)] }

// checkRefusal fails unless err is a *RuleError with a rule and a message.
func checkRefusal(t *testing.T, what string, err error) {
	t.Helper()
	var re *RuleError
	if !errors.As(err, &re) || re.Rule == "" || re.Msg == "" {
		t.Fatalf("%s: error %v is not a RuleError with a rule", what, err)
	}
}

// FuzzNormalize: Normalize never panics; it refuses with a RuleError
// naming a rule, or returns a number whose Dial holds only what a dial
// string may (E.164, or digits # * : for an internal number), which
// normalises to itself again in the same region, and, for E.164, in any
// region (a '+' number is read in none).
func FuzzNormalize(f *testing.F) {
	for _, s := range []string{
		"+12025550123", "(202) 555-0123", "011 44 20 7946 0958", "00 49 30 123456",
		"*67", "1001#", "12:34", "+44 (0)20 7946 0958", "1-800-FLOWERS", "++1", "",
		"+800 1234 5678", "0049 30 123456", "+1\u00a0202", "0033 1 40 00 00 01", "911", "+19005550100",
	} {
		f.Add(s, uint8(0))
	}
	f.Fuzz(func(t *testing.T, input string, r uint8) {
		region := fuzzRegion(r)
		n, err := Normalize(input, region)
		if err != nil {
			checkRefusal(t, "Normalize("+input+")", err)
			return
		}
		switch n.Kind {
		case E164:
			if n.Dial != n.E164 || !e164Form.MatchString(n.E164) || n.Region == "" {
				t.Fatalf("Normalize(%q, %q) = %+v: not an E.164 number", input, region, n)
			}
			for _, other := range fuzzRegions {
				if again, err := Normalize(n.E164, other); err != nil || again != n {
					t.Fatalf("Normalize(%q, %q) = %+v, but in region %q it reads %+v, %v", input, region, n, other, again, err)
				}
			}
		case Internal:
			if n.E164 != "" || n.Region != "" || !internalForm.MatchString(n.Dial) || len(n.Dial) > MaxLength ||
				countKeys(n.Dial) < MinDigits || countKeys(n.Dial) > MaxInternalDigits {
				t.Fatalf("Normalize(%q, %q) = %+v: not an internal number", input, region, n)
			}
		default:
			t.Fatalf("Normalize(%q, %q) = %+v: unknown kind", input, region, n)
		}
		again, err := Normalize(n.Dial, region)
		if err != nil || again != n {
			t.Fatalf("Normalize(%q, %q) = %+v, re-normalised to %+v, %v", input, region, n, again, err)
		}
	})
}

// FuzzDialable: the policy never lets through an emergency number, a short
// number outside its internal set, or a refused type, and always names the
// rule of a refusal. The policy fuzzed is the one the lab and the example
// use: internal 1000-1999, premium rate allowed, mobiles refused.
func FuzzDialable(f *testing.F) {
	for _, s := range []string{"911", "112", "999", "911#", "1:1:2", "1001", "2001", "+19005550100",
		"1 900 555 0100", "+33612345678", "+12025550123", "*67", "0033 1 40 00 00 01", "000"} {
		f.Add(s, uint8(0))
	}
	p, err := NewPolicy(PolicyConfig{Internal: []string{"1000-1999"}, AllowTypes: []string{TypePremiumRate}, RefuseTypes: []string{TypeMobile}})
	if err != nil {
		f.Fatal(err)
	}
	f.Fuzz(func(t *testing.T, input string, r uint8) {
		region := fuzzRegion(r)
		n, err := p.Dialable(input, region)
		if err != nil {
			checkRefusal(t, "Dialable("+input+")", err)
			return
		}
		if emergency(n, region) {
			t.Fatalf("Dialable(%q, %q) = %+v: an emergency number passed", input, region, n)
		}
		digits := strings.NewReplacer(":", "", "#", "").Replace(n.Dial)
		if slices.Contains(WellKnownEmergencyNumbers(), digits) {
			t.Fatalf("Dialable(%q, %q) = %+v: a well-known emergency number passed", input, region, n)
		}
		if n.Kind == Internal && !p.internal.Contains(n.Dial) {
			t.Fatalf("Dialable(%q, %q) = %+v: a short number outside the internal set passed", input, region, n)
		}
		if n.Kind == E164 {
			num, err := phonenumbers.Parse(n.E164, "ZZ")
			if err != nil {
				t.Fatalf("Dialable(%q, %q) = %+v, which does not parse: %v", input, region, n, err)
			}
			typ := typeName(phonenumbers.GetNumberType(num))
			if typ == TypeMobile || typ != TypePremiumRate && slices.Contains(DefaultRefusedTypes(), typ) {
				t.Fatalf("Dialable(%q, %q) = %+v: a %s number passed", input, region, n, typ)
			}
		}
	})
}

// FuzzEndpointCheck: an endpoint the policy accepts is exactly one of the
// forms it allows, whatever the agent id.
func FuzzEndpointCheck(f *testing.F) {
	for _, s := range [][2]string{{"1002", "PJSIP/1002"}, {"1002", "Local/1002@from-pstn"}, {"ann", "PJSIP/ann"},
		{"{ext}", "PJSIP/1500"}, {"", "PJSIP/"}, {"1002", "PJSIP/1002@trunk"}, {"x", "PJSIP/01500"}} {
		f.Add(s[0], s[1])
	}
	p, err := NewEndpointPolicy([]string{"PJSIP/{ext}", "PJSIP/{agent}"}, []string{"1000-1999"})
	if err != nil {
		f.Fatal(err)
	}
	f.Fuzz(func(t *testing.T, agent, endpoint string) {
		err := p.Check(agent, endpoint)
		if err != nil {
			checkRefusal(t, "Check("+agent+", "+endpoint+")", err)
			return
		}
		ext, isPJSIP := strings.CutPrefix(endpoint, "PJSIP/")
		inRange := len(ext) == 4 && allDigits(ext) && ext >= "1000" && ext <= "1999"
		if !isPJSIP || !inRange && (agent == "" || ext != agent) {
			t.Fatalf("Check(%q, %q) accepted an endpoint outside PJSIP/1000-1999 and PJSIP/<agent>", agent, endpoint)
		}
	})
}
