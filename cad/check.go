package cad

import (
	"fmt"
	"math"
	"regexp"
	"strconv"
	"time"
	"unicode/utf8"
)

// MaxValueRunes is the longest value of any type, in characters (runes).
const MaxValueRunes = 256

// Rules a value can break; ValueError.Rule is one of these.
const (
	RuleMaxLength  = "max-length" // more than MaxValueRunes characters
	RuleEncoding   = "encoding"   // not valid UTF-8
	RuleNumber     = "number"     // type number: not a finite decimal
	RuleBoolean    = "boolean"    // type boolean: not true or false
	RuleDatetime   = "datetime"   // type datetime: not RFC 3339
	RuleReadOnly   = "read-only"  // the variable is not editable
	RuleDefinition = "definition" // the variable's definition has an unknown type
)

// decimal is a plain decimal number: strconv.ParseFloat alone would also
// take hex floats ("0x1p-2"), underscores ("1_0") and "Inf".
var decimal = regexp.MustCompile(`^[+-]?([0-9]+(\.[0-9]*)?|\.[0-9]+)([eE][+-]?[0-9]+)?$`)

// CheckValue checks value against def's type and the length limit. The
// error is a *ValueError that never quotes the value.
func CheckValue(def Variable, value string) error {
	bad := func(rule, format string, args ...any) error {
		return &ValueError{Name: def.Name, Rule: rule, Msg: fmt.Sprintf(format, args...)}
	}
	if !utf8.ValidString(value) {
		return bad(RuleEncoding, "must be valid UTF-8 text")
	}
	if n := utf8.RuneCountInString(value); n > MaxValueRunes {
		return bad(RuleMaxLength, "must be at most %d characters, has %d", MaxValueRunes, n)
	}
	switch def.Type {
	case "string", "":
		return nil
	case "number":
		if !decimal.MatchString(value) {
			return bad(RuleNumber, "must be a decimal number such as 42 or -3.5")
		}
		if f, err := strconv.ParseFloat(value, 64); err != nil || math.IsInf(f, 0) {
			return bad(RuleNumber, "must be a decimal number within range")
		}
		return nil
	case "boolean":
		if value != "true" && value != "false" {
			return bad(RuleBoolean, "must be true or false")
		}
		return nil
	case "datetime":
		if _, err := time.Parse(time.RFC3339, value); err != nil {
			return bad(RuleDatetime, "must be a date and time such as 2026-11-22T10:00:00Z or 2026-11-22T10:00:00+01:00")
		}
		return nil
	}
	return bad(RuleDefinition, "has unknown type %q", def.Type)
}
