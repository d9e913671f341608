package luascript

import (
	"errors"
	"strings"
	"testing"

	"github.com/tandem-cc/tandem/errs"
)

// TestReadersRefuseWrongShapes: a reply of the wrong shape is an error
// that names the script and wraps errs.ErrBadReply; a right one reads.
func TestReadersRefuseWrongShapes(t *testing.T) {
	bad := []struct {
		name string
		read func() error
	}{
		{"List of an int", func() error { _, err := List("finish", int64(1)); return err }},
		{"List of nil", func() error { _, err := List("finish", nil); return err }},
		{"Int of a list", func() error { _, err := Int("arrive", []any{}); return err }},
		{"Int of words", func() error { _, err := Int("arrive", "soon"); return err }},
		{"String of a list", func() error { _, err := String("adopt", []any{"x"}); return err }},
		{"String of nil", func() error { _, err := String("adopt", nil); return err }},
		{"Strings with a list inside", func() error { _, err := Strings("reclaim", []any{"a", []any{}}); return err }},
		{"At past the end", func() error { _, err := At("wrapup", []any{"x"}, 1); return err }},
	}
	for _, tc := range bad {
		err := tc.read()
		if !errors.Is(err, errs.ErrBadReply) {
			t.Errorf("%s: %v, want ErrBadReply", tc.name, err)
			continue
		}
		if !strings.Contains(err.Error(), "script ") {
			t.Errorf("%s: %q does not name the script", tc.name, err)
		}
	}
	if n, err := Int("arrive", "42"); err != nil || n != 42 {
		t.Errorf("Int of a numeric string: %d %v", n, err)
	}
	if s, err := String("adopt", int64(7)); err != nil || s != "7" {
		t.Errorf("String of a number: %q %v", s, err)
	}
	if l, err := Strings("reclaim", []any{"a", int64(2)}); err != nil || len(l) != 2 || l[1] != "2" {
		t.Errorf("Strings: %v %v", l, err)
	}
}
