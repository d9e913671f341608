package cad

import (
	"cmp"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"slices"
	"strconv"
)

// Secret holds a secure value. Every way Go prints or encodes it — slog,
// fmt, JSON, text — shows Masked, so a secure value that reaches a logger
// or a response by mistake stays masked. Plain is the one way out.
type Secret string

// Plain is the value in clear, for an audited reveal only.
func (s Secret) Plain() string { return string(s) }

func (Secret) LogValue() slog.Value         { return slog.StringValue(Masked) }
func (Secret) String() string               { return Masked }
func (Secret) GoString() string             { return "cad.Secret(" + strconv.Quote(Masked) + ")" }
func (Secret) MarshalJSON() ([]byte, error) { return json.Marshal(Masked) }
func (Secret) MarshalText() ([]byte, error) { return []byte(Masked), nil }
func (s Secret) Format(f fmt.State, verb rune) {
	_, _ = io.WriteString(f, formatMasked(verb, f.Flag('#')))
}

func formatMasked(verb rune, sharp bool) string {
	switch {
	case verb == 'v' && sharp:
		return Secret("").GoString()
	case verb == 'q':
		return strconv.Quote(Masked)
	}
	return Masked
}

// mask is what a desktop, an event or a log may show of a variable's value:
// a secure value becomes Masked. An empty secure value stays empty: that
// there is nothing to reveal is no secret, and the desktop can say so.
func mask(def Variable, v string) string {
	if def.Secure && v != "" {
		return Secret(v).String()
	}
	return v
}

// MaskVars returns a copy of vars with the values of the secure variables
// of defs masked; names defs does not define are copied as they are. The
// engine uses it for screen pops and events.
func MaskVars(defs []Variable, vars map[string]string) map[string]string {
	if vars == nil {
		return nil
	}
	out := make(map[string]string, len(vars))
	for k, v := range vars {
		out[k] = v
	}
	for _, d := range defs {
		if v, ok := out[d.Name]; ok {
			out[d.Name] = mask(d, v)
		}
	}
	return out
}

// PopUp returns the screen-pop variables of defs (those with PopUp; the
// config allows 3 to 6) in display order, with their values from vars,
// secure ones masked.
func PopUp(defs []Variable, vars map[string]string) []Value {
	out := []Value{}
	for _, d := range displayOrder(defs) {
		if d.PopUp {
			out = append(out, value(d, vars[d.Name]))
		}
	}
	return out
}

// displayOrder returns defs sorted by Order, then name (a copy: the
// config's slice is shared).
func displayOrder(defs []Variable) []Variable {
	out := slices.Clone(defs)
	slices.SortStableFunc(out, func(a, b Variable) int {
		return cmp.Or(cmp.Compare(a.Order, b.Order), cmp.Compare(a.Name, b.Name))
	})
	return out
}

// value is def's Value for a desktop, masked if secure.
func value(def Variable, v string) Value {
	return Value{
		Name:     def.Name,
		Label:    def.Label,
		Type:     def.Type,
		Value:    mask(def, v),
		Editable: def.Editable,
		Secure:   def.Secure,
		Order:    def.Order,
		PopUp:    def.PopUp,
	}
}

func lookup(defs []Variable, name string) (Variable, bool) {
	for _, d := range defs {
		if d.Name == name {
			return d, true
		}
	}
	return Variable{}, false
}
