package cad

import (
	"fmt"
	"math"
	"regexp"
	"strconv"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"
)

// MaxValueRunes is the longest value of any type, in characters (runes).
const MaxValueRunes = 256

// Rules a value can break; ValueError.Rule is one of these.
const (
	RuleMaxLength  = "max-length"        // more than MaxValueRunes characters
	RuleEncoding   = "encoding"          // not valid UTF-8
	RuleNumber     = "number"            // type number: not a finite decimal
	RuleBoolean    = "boolean"           // type boolean: not true or false
	RuleDatetime   = "datetime"          // type datetime: not RFC 3339
	RuleReadOnly   = "read-only"         // the variable is not editable
	RuleDefinition = "definition"        // the variable's definition has an unknown type
	RuleControl    = "control-character" // a control character (see ForbiddenRune)
	RuleReserved   = "reserved"          // a name Tandem sets itself (see Reserved)
)

// TypeText is the one variable type whose values may span lines: a free-
// text note, where tab and newline are allowed (see ForbiddenRune).
const TypeText = "text"

// ForbiddenRune returns the first character of s that no text a person
// sends may hold, and whether there is one. Every piece of text a client
// sends Tandem (variable values, callback names and variables, reasons,
// codes) is checked with it, because such text reaches agents' desktops,
// logs and terminals, where these characters rewrite what is shown:
//
//   - every Unicode control character (category Cc: U+0000-U+001F,
//     U+007F-U+009F, so NUL and ESC of "\x1b[2J"), except tab and newline
//     when multiline (free-text notes; carriage return is refused even
//     there: "\r" alone returns a terminal's cursor to overwrite a line);
//   - the line and paragraph separators U+2028 and U+2029 (line breaks a
//     one-line field must not hold; a note uses newline);
//   - the bidirectional embedding, override and isolate controls
//     U+202A-U+202E and U+2066-U+2069, which make text display in another
//     order than it is stored (a number or id that reads as another).
//
// Other format characters (category Cf) are allowed: zero-width joiner and
// non-joiner, left-to-right and right-to-left marks and soft hyphen are
// needed to write names in Persian, Arabic, Hebrew or Indic scripts and
// emoji sequences, and they move nothing on a screen.
func ForbiddenRune(s string, multiline bool) (rune, bool) {
	for _, r := range s {
		switch {
		case multiline && (r == '\t' || r == '\n'):
		case unicode.Is(unicode.Cc, r),
			r == '\u2028', r == '\u2029',
			r >= '\u202a' && r <= '\u202e',
			r >= '\u2066' && r <= '\u2069':
			return r, true
		}
	}
	return 0, false
}

// reservedNames are the variables Tandem attaches to a call itself (acd's
// callback scheduler: callback_id, callback_number) and the field that
// versions a call's variables (_version, see keys.go).
var reservedNames = []string{"callback_id", "callback_number", versionField}

// reservedPrefix starts the channel variables Tandem sets on the legs it
// originates (TANDEM_CONNECTION_ID, TANDEM_AGENT, TANDEM_CONSULT,
// TANDEM_RING_ALL, TANDEM_CALLBACK_ID, ...) and reads from the dialplan
// (TANDEM_QUEUE). Compared without case: "tandem_agent" would still be
// read as Tandem's by a person looking at the pop.
const reservedPrefix = "TANDEM_"

// Reserved reports whether name is one Tandem sets itself, so that no
// client may set or edit it: a screen pop must show Tandem's callback_id,
// not one a web form made up.
func Reserved(name string) bool {
	if len(name) >= len(reservedPrefix) && strings.EqualFold(name[:len(reservedPrefix)], reservedPrefix) {
		return true
	}
	for _, r := range reservedNames {
		if name == r {
			return true
		}
	}
	return false
}

// CheckName refuses a variable name a client may not set (Reserved), with
// a *ValueError of rule RuleReserved.
func CheckName(name string) error {
	if Reserved(name) {
		return &ValueError{Name: name, Rule: RuleReserved, Msg: "is set by Tandem itself and cannot be given or edited"}
	}
	return nil
}

// decimal is a plain decimal number: strconv.ParseFloat alone would also
// take hex floats ("0x1p-2"), underscores ("1_0") and "Inf".
var decimal = regexp.MustCompile(`^[+-]?([0-9]+(\.[0-9]*)?|\.[0-9]+)([eE][+-]?[0-9]+)?$`)

// CheckValue checks value against def's type, the length limit and
// ForbiddenRune (tab and newline are allowed in TypeText only). The error
// is a *ValueError that never quotes the value (it names a forbidden
// character by its code point, which is no part of a real value).
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
	if r, found := ForbiddenRune(value, def.Type == TypeText); found {
		if def.Type == TypeText {
			return bad(RuleControl, "must not contain control characters (found %U; tab and newline are allowed)", r)
		}
		return bad(RuleControl, "must not contain control characters (found %U)", r)
	}
	switch def.Type {
	case "string", TypeText, "":
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
