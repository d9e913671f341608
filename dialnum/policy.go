package dialnum

import (
	"fmt"
	"slices"
	"strconv"
	"strings"

	"github.com/nyaruka/phonenumbers"
)

// The dialling policy decides which well-formed numbers Tandem may dial at
// all. Normalize answers "is this a number?"; the policy answers "may a
// contact center's agent, web form or IVR make the trunk call it?", which
// is where toll fraud happens: premium-rate numbers, emergency services and
// short codes the trunk routes to services nobody meant to reach.
//
// A number passes, in this order:
//
//  1. the desk rules (Normalize);
//  2. an exact match in AllowNumbers passes at once: the operator named it;
//  3. an emergency number is refused (RuleEmergency);
//  4. an internal (short) number passes only if it is in Internal
//     (RuleInternalNotAllowed): without that, every 3-6 digit number was
//     "internal", which let 911 and 112 through every country list;
//  5. an E.164 number whose type (libphonenumber's GetNumberType) is
//     refused is refused (RuleNumberType).
//
// Per-queue country lists (CheckCountry) apply after the policy.

// Rules of the dialling policy; RuleError.Rule is one of these.
const (
	RuleEmergency          = "emergency"            // an emergency-service number
	RuleInternalNotAllowed = "internal-not-allowed" // a short number outside the configured internal numbers
	RuleNumberType         = "number-type"          // a number type the policy refuses (premium rate, …)
	RuleCountryNotAllowed  = "country-not-allowed"  // a country code the queue may not call
)

// Number type names, as configuration spells them.
const (
	TypeFixedLine         = "fixed_line"
	TypeMobile            = "mobile"
	TypeFixedLineOrMobile = "fixed_line_or_mobile"
	TypeTollFree          = "toll_free"
	TypePremiumRate       = "premium_rate"
	TypeSharedCost        = "shared_cost"
	TypeVoIP              = "voip"
	TypePersonalNumber    = "personal_number"
	TypePager             = "pager"
	TypeUAN               = "uan"
	TypeVoicemail         = "voicemail"
	TypeUnknown           = "unknown"
)

// TypeNames lists every number type name, in libphonenumber's order.
func TypeNames() []string {
	return []string{TypeFixedLine, TypeMobile, TypeFixedLineOrMobile, TypeTollFree, TypePremiumRate,
		TypeSharedCost, TypeVoIP, TypePersonalNumber, TypePager, TypeUAN, TypeVoicemail, TypeUnknown}
}

// DefaultRefusedTypes are refused unless PolicyConfig.AllowTypes names
// them: the caller pays more than a call costs (premium rate, shared cost,
// UAN: national "one number" services billed above a local call), or the
// number forwards to wherever its owner points it (personal numbers), or
// nobody answers a conversation there (pagers, voicemail access).
func DefaultRefusedTypes() []string {
	return []string{TypePremiumRate, TypeSharedCost, TypeUAN, TypePersonalNumber, TypePager, TypeVoicemail}
}

func typeName(t phonenumbers.PhoneNumberType) string {
	switch t {
	case phonenumbers.FIXED_LINE:
		return TypeFixedLine
	case phonenumbers.MOBILE:
		return TypeMobile
	case phonenumbers.FIXED_LINE_OR_MOBILE:
		return TypeFixedLineOrMobile
	case phonenumbers.TOLL_FREE:
		return TypeTollFree
	case phonenumbers.PREMIUM_RATE:
		return TypePremiumRate
	case phonenumbers.SHARED_COST:
		return TypeSharedCost
	case phonenumbers.VOIP:
		return TypeVoIP
	case phonenumbers.PERSONAL_NUMBER:
		return TypePersonalNumber
	case phonenumbers.PAGER:
		return TypePager
	case phonenumbers.UAN:
		return TypeUAN
	case phonenumbers.VOICEMAIL:
		return TypeVoicemail
	}
	return TypeUnknown
}

// WellKnownEmergencyNumbers are refused in every region, on top of the
// emergency numbers libphonenumber knows for the region a number is read
// in: a trunk may sit in another country than the desk's default region,
// and carriers route the common foreign codes (112 on US mobiles, 911 in
// much of the Americas) to the local emergency centre anyway.
func WellKnownEmergencyNumbers() []string {
	return []string{"000", "100", "101", "102", "103", "108", "110", "111", "112", "113", "117", "118",
		"119", "122", "123", "190", "191", "192", "193", "197", "911", "995", "997", "998", "999"}
}

// PolicyConfig is the dialling policy as configured (dial.policy).
type PolicyConfig struct {
	// AllowTypes are types of DefaultRefusedTypes that may be dialled.
	AllowTypes []string
	// RefuseTypes are more types refused (e.g. "mobile").
	RefuseTypes []string
	// AllowNumbers may be dialled whatever their type and even if they are
	// emergency numbers (a carrier's test line such as 933): E.164
	// ("+19005550100") or internal as dialled ("933", "*67").
	AllowNumbers []string
	// Internal are the short numbers that may be dialled: each exactly
	// ("*67", "1001#") or a range of digit strings of one length
	// ("1000-1999").
	Internal []string
}

// Policy is a compiled dialling policy. The nil *Policy is the default
// one: DefaultRefusedTypes and emergency numbers refused, no internal
// number allowed.
type Policy struct {
	refused  map[string]bool // type name → refused
	allow    map[string]bool // Number.Dial → allowed whatever it is
	internal *Set
}

// NewPolicy compiles cfg. Errors are *ListError naming the list and entry.
func NewPolicy(cfg PolicyConfig) (*Policy, error) {
	p := &Policy{refused: map[string]bool{}, allow: map[string]bool{}}
	for _, t := range DefaultRefusedTypes() {
		p.refused[t] = true
	}
	for i, t := range cfg.AllowTypes {
		if !slices.Contains(DefaultRefusedTypes(), t) {
			return nil, &ListError{List: "allow_types", Index: i,
				Msg: fmt.Sprintf("%q is not refused by default; refused by default are %s", t, strings.Join(DefaultRefusedTypes(), ", "))}
		}
		delete(p.refused, t)
	}
	for i, t := range cfg.RefuseTypes {
		switch {
		case !slices.Contains(TypeNames(), t):
			return nil, &ListError{List: "refuse_types", Index: i, Msg: fmt.Sprintf("%q is not a number type; types are %s", t, strings.Join(TypeNames(), ", "))}
		case slices.Contains(cfg.AllowTypes, t):
			return nil, &ListError{List: "refuse_types", Index: i, Msg: fmt.Sprintf("%q is also in allow_types", t)}
		}
		p.refused[t] = true
	}
	for i, s := range cfg.AllowNumbers {
		// No region: an allowed public number is written in E.164, so it
		// means the same whatever the desk's region.
		n, err := Normalize(s, "")
		if err != nil {
			return nil, &ListError{List: "allow_numbers", Index: i, Msg: fmt.Sprintf("%v (write public numbers in E.164, +<country><number>)", err)}
		}
		p.allow[n.Dial] = true
	}
	set, err := NewSet(cfg.Internal)
	if err != nil {
		err.List = "internal_numbers"
		return nil, err
	}
	for _, e := range set.entries {
		if e.lo != "" && len(e.lo) > MaxInternalDigits || e.exact != "" && countKeys(e.exact) > MaxInternalDigits {
			return nil, &ListError{List: "internal_numbers", Index: e.index, Msg: fmt.Sprintf("internal numbers have %d to %d keys; longer ones are read as national numbers", MinDigits, MaxInternalDigits)}
		}
	}
	p.internal = set
	return p, nil
}

// Dialable normalises input (Normalize, in defaultRegion) and applies the
// policy: the number Tandem may dial, or a *RuleError naming the rule.
func (p *Policy) Dialable(input, defaultRegion string) (Number, error) {
	n, err := Normalize(input, defaultRegion)
	if err != nil {
		return Number{}, err
	}
	if err := p.Check(n, defaultRegion); err != nil {
		return Number{}, err
	}
	return n, nil
}

// Check applies the policy to a normalised number; defaultRegion is the
// region whose emergency numbers a short number is checked against.
func (p *Policy) Check(n Number, defaultRegion string) error {
	if p != nil && p.allow[n.Dial] {
		return nil
	}
	if emergency(n, defaultRegion) {
		return ruleErr(RuleEmergency, "%s is an emergency number: Tandem never dials one unless dial.policy.allow_numbers names it", n.Dial)
	}
	switch n.Kind {
	case Internal:
		if p == nil || !p.internal.Contains(n.Dial) {
			return ruleErr(RuleInternalNotAllowed, "%s is a short number that is not one of the internal numbers (dial.policy.internal_numbers)", n.Dial)
		}
	case E164:
		num, err := phonenumbers.Parse(n.E164, "ZZ")
		if err != nil {
			// Normalize parsed it already; a failure here is a bug, and a
			// number we cannot classify is not dialled.
			return ruleErr(RuleNumberType, "%s cannot be classified: %v", n.E164, err)
		}
		t := typeName(phonenumbers.GetNumberType(num))
		if p.refuses(t) {
			return ruleErr(RuleNumberType, "%s is a %s number, which the dialling policy refuses", n.E164, strings.ReplaceAll(t, "_", "-"))
		}
	}
	return nil
}

func (p *Policy) refuses(t string) bool {
	if p == nil || p.refused == nil { // nil, or a Policy{} not made by NewPolicy
		return slices.Contains(DefaultRefusedTypes(), t)
	}
	return p.refused[t]
}

// emergency reports whether n reaches an emergency service: a short number
// of the well-known list or of the desk's region, or a number that is an
// emergency number in its own region. Pauses and a trailing '#' do not
// hide one ("911#" is dialled as 911 by most trunks); '*' codes are PBX
// feature codes, not public numbers.
func emergency(n Number, defaultRegion string) bool {
	if n.Kind == E164 {
		num, err := phonenumbers.Parse(n.E164, "ZZ")
		return err == nil && phonenumbers.IsEmergencyNumber(phonenumbers.GetNationalSignificantNumber(num), n.Region)
	}
	digits := strings.NewReplacer(":", "", "#", "").Replace(n.Dial)
	if digits == "" || strings.ContainsRune(digits, '*') {
		return false
	}
	if slices.Contains(WellKnownEmergencyNumbers(), digits) {
		return true
	}
	region := strings.ToUpper(strings.TrimSpace(defaultRegion))
	return region != "" && phonenumbers.IsEmergencyNumber(digits, region)
}

// CheckCountry refuses an E.164 number whose country calling code is not
// in codes (empty allows all). Internal numbers have no country: the
// policy has already decided on them.
func CheckCountry(n Number, codes []int) error {
	if n.Kind != E164 || len(codes) == 0 {
		return nil
	}
	// Country calling codes are prefix-free (ITU-T E.164), so a prefix
	// match names exactly one code.
	allowed := make([]string, len(codes))
	for i, cc := range codes {
		allowed[i] = "+" + strconv.Itoa(cc)
		if strings.HasPrefix(n.E164, allowed[i]) {
			return nil
		}
	}
	return ruleErr(RuleCountryNotAllowed, "%s: only country codes %s may be called", n.E164, strings.Join(allowed, ", "))
}
