package luascript

import (
	"fmt"
	"strconv"

	"github.com/tandem-cc/tandem/errs"
)

// The checked readers of a script's reply. go-redis hands a reply back as
// any: a Lua table is []any, a number int64, a string string (a Lua
// false is nil). Every caller reads a reply through these, so a reply of
// a shape the Go side does not expect (a script changed on one side only)
// is an error naming the script, wrapping errs.ErrBadReply, never a panic
// or a silent zero value.

// List reads v as a list.
func List(script string, v any) ([]any, error) {
	l, ok := v.([]any)
	if !ok {
		return nil, badReply(script, "a list", v)
	}
	return l, nil
}

// Int reads v as an integer (a Lua number, or a string of digits, which
// is how scripts return scores and ids they read from hashes).
func Int(script string, v any) (int64, error) {
	switch x := v.(type) {
	case int64:
		return x, nil
	case string:
		n, err := strconv.ParseInt(x, 10, 64)
		if err != nil {
			return 0, badReply(script, "an integer", v)
		}
		return n, nil
	}
	return 0, badReply(script, "an integer", v)
}

// String reads v as a string (a Lua number is formatted, as Redis
// itself does with numbers it returns as bulk strings).
func String(script string, v any) (string, error) {
	switch x := v.(type) {
	case string:
		return x, nil
	case int64:
		return strconv.FormatInt(x, 10), nil
	}
	return "", badReply(script, "a string", v)
}

// Strings reads v as a list of strings.
func Strings(script string, v any) ([]string, error) {
	l, err := List(script, v)
	if err != nil {
		return nil, err
	}
	out := make([]string, len(l))
	for i, x := range l {
		if out[i], err = String(script, x); err != nil {
			return nil, fmt.Errorf("item %d: %w", i, err)
		}
	}
	return out, nil
}

// At reads item i of a list reply, failing if the list is too short.
func At(script string, l []any, i int) (any, error) {
	if i < 0 || i >= len(l) {
		return nil, fmt.Errorf("script %s: reply has %d items, want at least %d: %w", script, len(l), i+1, errs.ErrBadReply)
	}
	return l[i], nil
}

func badReply(script, want string, v any) error {
	return fmt.Errorf("script %s: reply %T, want %s: %w", script, v, want, errs.ErrBadReply)
}
