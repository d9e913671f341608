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
