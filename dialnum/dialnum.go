// Package dialnum checks and normalises the numbers an agent types or pastes
// for a consult, a transfer or a callback, before anything is dialled.
//
// libphonenumber (github.com/nyaruka/phonenumbers) decides what a valid
// number is; this package adds the desk rules on top: which characters a
// pasted number may contain, how long it may be, where '+' may stand, that a
// North American number has exactly ten digits after +1, and that short
// numbers (3 to 6 digits, possibly with # * :) are internal extensions or
// feature codes dialled as typed.
//
// Normalize only says what a number is. Whether Tandem may dial it is the
// dialling policy's call (policy.go: emergency numbers, refused number
// types, the configured internal numbers), and which endpoints an agent may
// log in with is EndpointPolicy's (endpoint.go).
package dialnum

import (
	"errors"
	"fmt"
	"strconv"
	"strings"
	"unicode"

	"github.com/nyaruka/phonenumbers"
)

// Kind says how a number is dialled.
type Kind string

const (
	// E164 is a public number in international format (+<country><number>).
	E164 Kind = "e164"
	// Internal is an extension or feature code dialled as typed.
	Internal Kind = "internal"
)

// Limits of the desk rules, counted in keys: the digits plus '#' and '*',
// which are keys of the keypad too ("*67" is three). '+' and the pause ':'
// are not dialled as keys and do not count.
const (
	MinDigits         = 3
	MaxDigits         = 18
	MaxInternalDigits = 6
	// MaxLength bounds the cleaned number, pauses and '+' included, so a
	// paste of ":::…" cannot make a dial string of any length.
	MaxLength = 32

	maxE164Digits = 15 // ITU-T E.164
)

// Number is a normalised number.
type Number struct {
	// E164 is the number in E.164 format, "" for an internal number.
	E164 string `json:"e164,omitempty"`
	// Dial is what to dial: E164, or the internal digits and symbols.
	Dial string `json:"dial"`
	Kind Kind   `json:"kind"`
	// Region is the number's region ("US", "GB"; "001" for non-geographic
	// numbers such as +800), "" for an internal number.
	Region string `json:"region,omitempty"`
}

// Rules a number can break; RuleError.Rule is one of these.
const (
	RuleCharacters      = "characters"       // a character other than digits, + # * : and separators
	RuleLength          = "length"           // fewer than 3 or more than 18 digits (# * count)
	RulePlusPosition    = "plus-position"    // '+' anywhere but first
	RuleSymbols         = "symbols"          // # * : in a number that is not internal
	RuleE164Invalid     = "e164-invalid"     // an international number no country uses
	RuleUSTenDigits     = "us-ten-digits"    // +1 not followed by exactly ten digits
	RuleNationalInvalid = "national-invalid" // a national number not valid in the region
	RuleUnknownRegion   = "unknown-region"   // no (or an unknown) region to read a national number in
)

// RuleError is a number refused by one rule. Its message is meant for the
// agent who typed the number (the API shows it with field "number").
type RuleError struct {
	Rule string
	Msg  string
}

func (e *RuleError) Error() string { return fmt.Sprintf("number: %s (rule %s)", e.Msg, e.Rule) }

func ruleErr(rule, format string, args ...any) *RuleError {
	return &RuleError{Rule: rule, Msg: fmt.Sprintf(format, args...)}
}

// Normalize checks input against the desk rules and returns what to dial.
// defaultRegion (ISO 3166 alpha-2, e.g. "US") is the region national
// numbers and international-prefix (IDD) numbers are read in; it is needed
// only for numbers without a leading '+'.
func Normalize(input, defaultRegion string) (Number, error) {
	s, err := clean(input)
	if err != nil {
		return Number{}, err
	}
	if len(s) > MaxLength {
		return Number{}, ruleErr(RuleLength, "must be at most %d characters without separators, has %d", MaxLength, len(s))
	}
	if i := strings.LastIndexByte(s, '+'); i > 0 {
		return Number{}, ruleErr(RulePlusPosition, "'+' may only be the first character")
	}
	digits := countKeys(s)
	if digits < MinDigits || digits > MaxDigits {
		return Number{}, ruleErr(RuleLength, "must have %d to %d digits (# and * count), has %d", MinDigits, MaxDigits, digits)
	}
	symbols := strings.ContainsAny(s, "#*:")
	international := strings.HasPrefix(s, "+")
	if !international && digits <= MaxInternalDigits {
		return Number{Dial: s, Kind: Internal}, nil
	}
	if symbols {
		// Post-dial digits after a pause (+12025550123:1001) would need their
		// own field in Number and a PBX-specific way to send them; until then
		// the symbols belong to internal numbers only.
		return Number{}, ruleErr(RuleSymbols, "# * : are allowed only in internal numbers of up to %d digits", MaxInternalDigits)
	}
	if international {
		return normalizeE164(s)
	}
	return normalizeNational(input, s, defaultRegion)
}

// normalizeE164 reads "+<digits>" (already cleaned, digits only).
func normalizeE164(s string) (Number, error) {
	if strings.HasPrefix(s, "+1") && len(s)-2 != 10 {
		return Number{}, ruleErr(RuleUSTenDigits, "+1 must be followed by exactly 10 digits, has %d", len(s)-2)
	}
	num, err := phonenumbers.Parse(s, "ZZ") // the region is not used after '+'
	if err != nil {
		return Number{}, ruleErr(RuleE164Invalid, "%s is not an international number: %s", s, parseReason(err))
	}
	return fromParsed(num, RuleE164Invalid, "is not a valid number in any country")
}

// normalizeNational reads a number without '+' in region: a national number
// (with or without the trunk prefix), or an international one dialled with
// the region's international prefix (011 from the US, 00 from most of
// Europe), which libphonenumber recognises from the region's metadata.
// Every refusal says which region the number was read in: someone who typed
// 0033 1 40 00 00 01 on a US desk never typed +1, and "+1 must be followed
// by 10 digits" would not tell them that 00 is not the US's international
// prefix.
func normalizeNational(input, s, region string) (Number, error) {
	region = strings.ToUpper(strings.TrimSpace(region))
	if region == "" {
		return Number{}, ruleErr(RuleUnknownRegion, "a number without '+' needs a default region to be read in")
	}
	if phonenumbers.GetCountryCodeForRegion(region) == 0 {
		return Number{}, ruleErr(RuleUnknownRegion, "unknown region %q", region)
	}
	shown := strings.Join(strings.Fields(input), " ")
	num, err := phonenumbers.ParseAndKeepRawInput(s, region)
	if err != nil {
		return Number{}, ruleErr(RuleNationalInvalid, "%s read in region %s: not a number there: %s%s", shown, region, parseReason(err), internationalHint)
	}
	viaIDD := num.GetCountryCodeSource() == phonenumbers.PhoneNumber_FROM_NUMBER_WITH_IDD
	if !viaIDD && num.GetCountryCode() == 1 {
		// A national number on a NANP desk: say it in the desk's terms.
		if n := len(phonenumbers.GetNationalSignificantNumber(num)); n != 10 {
			return Number{}, ruleErr(RuleUSTenDigits, "%s read in region %s: a North American number has 10 digits (without the trunk prefix 1), this has %d%s",
				shown, region, n, internationalHint)
		}
	}
	rule, msg := RuleE164Invalid, "is not a valid number in any country"
	if !viaIDD {
		rule, msg = RuleNationalInvalid, "is not a valid number in "+region
	}
	n, err := fromParsed(num, rule, msg)
	var re *RuleError
	if errors.As(err, &re) {
		re.Msg = fmt.Sprintf("%s read in region %s: %s", shown, region, re.Msg)
		if !viaIDD {
			re.Msg += internationalHint
		}
	}
	return n, err
}

// internationalHint ends the refusal of a number read as national: the most
// common cause is an international number typed with another region's
// international prefix.
const internationalHint = " (for an international number type + and the country code)"

// fromParsed applies the validity rules to a parsed number; invalidRule
// and invalidMsg say how to refuse a number libphonenumber finds invalid.
func fromParsed(num *phonenumbers.PhoneNumber, invalidRule, invalidMsg string) (Number, error) {
	// Built by hand rather than with phonenumbers.Format, which returns the
	// raw input for a number whose national part is all zeros
	// (+800 00000000 typed as 00 800 00000000).
	e164 := "+" + strconv.Itoa(int(num.GetCountryCode())) + phonenumbers.GetNationalSignificantNumber(num)
	// NANP numbers are always ten digits after +1; saying so is clearer
	// than "invalid" for the most common typing mistake on a US desk.
	if num.GetCountryCode() == 1 {
		if n := len(phonenumbers.GetNationalSignificantNumber(num)); n != 10 {
			return Number{}, ruleErr(RuleUSTenDigits, "+1 must be followed by exactly 10 digits, has %d", n)
		}
	}
	// E.164 allows 15 digits; libphonenumber accepts some longer domestic-only
	// numbers (Japanese 00xx service numbers) that cannot be written with +.
	if !phonenumbers.IsValidNumber(num) || len(e164)-1 > maxE164Digits {
		return Number{}, ruleErr(invalidRule, "%s %s", e164, invalidMsg)
	}
	return Number{E164: e164, Dial: e164, Kind: E164, Region: phonenumbers.GetRegionCodeForNumber(num)}, nil
}

// parseReason turns libphonenumber's parse errors into words for an agent.
func parseReason(err error) string {
	switch err {
	case phonenumbers.ErrInvalidCountryCode:
		return "no country uses that country code"
	case phonenumbers.ErrTooShortNSN, phonenumbers.ErrTooShortAfterIDD:
		return "too short"
	case phonenumbers.ErrNumTooLong:
		return "too long"
	}
	return "not a phone number"
}

// clean drops the separators people paste (spaces, dashes, dots,
// parentheses) and refuses any other character that is not a digit or one
// of + # * :. Whitespace includes non-breaking spaces and dashes include the
// typographic ones, which arrive when a number is copied from a document.
func clean(input string) (string, error) {
	var b strings.Builder
	b.Grow(len(input))
	for _, r := range input {
		switch {
		case r >= '0' && r <= '9', r == '+', r == '#', r == '*', r == ':':
			b.WriteRune(r)
		case unicode.IsSpace(r), r == '-', r == '.', r == '(', r == ')',
			r >= '\u2010' && r <= '\u2015', r == '\u2212':
			// separator: dropped
		default:
			return "", ruleErr(RuleCharacters, "%q is not allowed: use digits, + # * : and separators (space - . ( ))", r)
		}
	}
	return b.String(), nil
}

// countKeys counts the keypad keys of a cleaned number (see MinDigits).
func countKeys(s string) int {
	n := 0
	for i := 0; i < len(s); i++ {
		if c := s[i]; c >= '0' && c <= '9' || c == '#' || c == '*' {
			n++
		}
	}
	return n
}
