package cad

import (
	"errors"
	"strings"
	"testing"
)

func TestCheckValueByType(t *testing.T) {
	tests := []struct {
		name, typ, value string
		rule             string // "" = accepted
	}{
		{"string anything", "string", "Ünïcode ✓ <b>", ""},
		{"string empty", "string", "", ""},
		{"untyped is string", "", "x", ""},
		{"string 256 runes", "string", strings.Repeat("é", 256), ""},
		{"string 257 runes", "string", strings.Repeat("é", 257), RuleMaxLength},
		{"number 256 chars", "number", strings.Repeat("1", 256), ""},
		{"number 257 chars", "number", strings.Repeat("1", 257), RuleMaxLength},
		{"invalid utf8", "string", "\xff", RuleEncoding},
		{"number integer", "number", "42", ""},
		{"number negative decimal", "number", "-3.50", ""},
		{"number exponent", "number", "1.5e3", ""},
		{"number leading dot", "number", ".5", ""},
		{"number empty", "number", "", RuleNumber},
		{"number NaN", "number", "NaN", RuleNumber},
		{"number Inf", "number", "+Inf", RuleNumber},
		{"number overflow", "number", "1e999", RuleNumber},
		{"number hex float", "number", "0x1p-2", RuleNumber},
		{"number underscore", "number", "1_000", RuleNumber},
		{"number with space", "number", " 42", RuleNumber},
		{"number words", "number", "twelve", RuleNumber},
		{"boolean true", "boolean", "true", ""},
		{"boolean false", "boolean", "false", ""},
		{"boolean capitalised", "boolean", "True", RuleBoolean},
		{"boolean digit", "boolean", "1", RuleBoolean},
		{"boolean empty", "boolean", "", RuleBoolean},
		{"datetime utc", "datetime", "2026-11-22T10:00:00Z", ""},
		{"datetime offset", "datetime", "2026-11-22T10:00:00+01:00", ""},
		{"datetime fraction", "datetime", "2026-11-22T10:00:00.250-05:00", ""},
		{"datetime no zone", "datetime", "2026-11-22T10:00:00", RuleDatetime},
		{"datetime date only", "datetime", "2026-11-22", RuleDatetime},
		{"datetime impossible", "datetime", "2026-02-30T10:00:00Z", RuleDatetime},
		{"datetime words", "datetime", "tomorrow", RuleDatetime},
		{"unknown type", "money", "1", RuleDefinition},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := CheckValue(Variable{Name: "v", Type: tt.typ}, tt.value)
			if tt.rule == "" {
				if err != nil {
					t.Fatalf("CheckValue(%s, %q): %v", tt.typ, tt.value, err)
				}
				return
			}
			var ve *ValueError
			if !errors.As(err, &ve) || ve.Rule != tt.rule || ve.Name != "v" {
				t.Fatalf("CheckValue(%s, %q) = %v, want ValueError{Name: v, Rule: %s}", tt.typ, tt.value, err, tt.rule)
			}
			if !strings.Contains(err.Error(), "variable v") || !strings.Contains(err.Error(), tt.rule) {
				t.Fatalf("message %q should name the variable and the rule", err)
			}
		})
	}
}

func TestValueErrorNeverQuotesTheValue(t *testing.T) {
	secret := strings.Repeat("4111111111111111", 17) // too long, and a card number
	err := CheckValue(Variable{Name: "card", Type: "string", Secure: true}, secret)
	if err == nil || strings.Contains(err.Error(), "4111") {
		t.Fatalf("got %v", err)
	}
	err = CheckValue(Variable{Name: "card", Type: "number", Secure: true}, "4111-1111")
	if err == nil || strings.Contains(err.Error(), "4111") {
		t.Fatalf("got %v", err)
	}
}

func TestForbiddenRuneRefusesControlCharactersAndAllowsScripts(t *testing.T) {
	tests := []struct {
		name, s   string
		multiline bool
		want      rune // accepted = -1
	}{
		{"plain", "Ann O'Neil <ann@example.com>", false, -1},
		{"NUL", "a\x00", false, 0},
		{"ESC of a clear screen", "\x1b[2J", false, 0x1b},
		{"DEL", "a\x7f", false, 0x7f},
		{"C1 CSI", "a\u009b2J", false, 0x9b},
		{"tab on one line", "a\tb", false, '\t'},
		{"newline on one line", "a\nb", false, '\n'},
		{"tab and newline in a note", "a\tb\nc", true, -1},
		{"carriage return even in a note", "a\r\nb", true, '\r'},
		{"line separator", "a\u2028b", true, 0x2028},
		{"right-to-left override", "+1202\u202e555", false, 0x202e},
		{"first strong isolate", "a\u2068b", false, 0x2068},
		{"zero-width joiner (emoji, Indic)", "👩\u200d💻 क्\u200dष", false, -1},
		{"zero-width non-joiner (Persian)", "می\u200cخواهم", false, -1},
		{"right-to-left mark (Hebrew)", "שלום\u200f", false, -1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r, found := ForbiddenRune(tt.s, tt.multiline)
			wantFound := tt.want != -1
			if found != wantFound || (found && r != tt.want) {
				t.Fatalf("ForbiddenRune(%q, %v) = %U, %v; want %U, %v", tt.s, tt.multiline, r, found, tt.want, wantFound)
			}
		})
	}
}

func TestCheckValueRefusesControlCharactersExceptTabAndNewlineInText(t *testing.T) {
	for _, typ := range []string{"string", "", "number", "boolean", "datetime"} {
		err := CheckValue(Variable{Name: "v", Type: typ}, "1\n")
		if !isRule(RuleControl)(err) {
			t.Errorf("type %q with a newline: %v, want rule %s", typ, err, RuleControl)
		}
	}
	if err := CheckValue(Variable{Name: "v", Type: TypeText}, "first line\n\tindented"); err != nil {
		t.Fatalf("a note with tab and newline: %v", err)
	}
	err := CheckValue(Variable{Name: "v", Type: TypeText, Secure: true}, "x\x1b[2J")
	if !isRule(RuleControl)(err) || !strings.Contains(err.Error(), "U+001B") || strings.Contains(err.Error(), "[2J") {
		t.Fatalf("ESC in a note: %v, want rule %s naming U+001B and not quoting the value", err, RuleControl)
	}
}

func TestReservedNamesAreTheOnesTandemSets(t *testing.T) {
	for _, name := range []string{"callback_id", "callback_number", "_version", "TANDEM_CONNECTION_ID", "TANDEM_QUEUE", "tandem_agent", "TANDEM_"} {
		if !Reserved(name) || !isRule(RuleReserved)(CheckName(name)) {
			t.Errorf("%s is not reserved", name)
		}
	}
	for _, name := range []string{"callback_at", "CALLBACK_ID2", "order", "TANDEM", "MY_TANDEM_X", "version"} {
		if Reserved(name) || CheckName(name) != nil {
			t.Errorf("%s is reserved", name)
		}
	}
}
