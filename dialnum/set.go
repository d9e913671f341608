package dialnum

import (
	"fmt"
	"strings"
)

// Set is a configured set of short numbers or extensions: each entry is a
// string matched exactly ("*67", "1001#") or a range of digit strings of
// one length ("1000-1999", which holds 1000 and 1999 but not 999 or
// 01000). The nil *Set is empty.
type Set struct {
	entries []setEntry
}

type setEntry struct {
	index  int    // position in the configured list, for errors
	exact  string // an exact entry, or
	lo, hi string // a range of digit strings of one length
}

// ListError is a bad entry of a configured list; the caller names the
// configuration key (List is the last part of it, Index the entry, -1 for
// the list as a whole).
type ListError struct {
	List  string
	Index int
	Msg   string
}

func (e *ListError) Error() string {
	if e.Index < 0 {
		return fmt.Sprintf("%s: %s", e.List, e.Msg)
	}
	return fmt.Sprintf("%s[%d]: %s", e.List, e.Index, e.Msg)
}

// maxSetDigits bounds an entry: extensions and short codes, not numbers.
const maxSetDigits = 10

// NewSet compiles entries.
func NewSet(entries []string) (*Set, *ListError) {
	s := &Set{}
	for i, raw := range entries {
		e := strings.TrimSpace(raw)
		bad := func(format string, args ...any) *ListError {
			return &ListError{Index: i, Msg: fmt.Sprintf(format, args...)}
		}
		if lo, hi, ok := strings.Cut(e, "-"); ok {
			switch {
			case !allDigits(lo) || !allDigits(hi):
				return nil, bad("range %q: both ends must be digits, e.g. 1000-1999", e)
			case len(lo) != len(hi):
				return nil, bad("range %q: both ends must have the same number of digits", e)
			case len(lo) > maxSetDigits:
				return nil, bad("range %q: at most %d digits", e, maxSetDigits)
			case lo > hi: // same length: string order is numeric order
				return nil, bad("range %q: the first end must not be above the second", e)
			}
			s.entries = append(s.entries, setEntry{index: i, lo: lo, hi: hi})
			continue
		}
		switch {
		case e == "":
			return nil, bad("must not be empty")
		case strings.Trim(e, "0123456789#*:") != "":
			return nil, bad("%q: use digits, # * : or a range such as 1000-1999", e)
		case countKeys(e) > maxSetDigits:
			return nil, bad("%q: at most %d keys", e, maxSetDigits)
		}
		s.entries = append(s.entries, setEntry{index: i, exact: e})
	}
	return s, nil
}

// Contains reports whether v (a normalised internal number, or the
// extension part of an endpoint) is in the set.
func (s *Set) Contains(v string) bool {
	if s == nil {
		return false
	}
	for _, e := range s.entries {
		if e.exact != "" {
			if v == e.exact {
				return true
			}
			continue
		}
		if len(v) == len(e.lo) && allDigits(v) && v >= e.lo && v <= e.hi {
			return true
		}
	}
	return false
}

// Empty reports whether the set has no entry.
func (s *Set) Empty() bool { return s == nil || len(s.entries) == 0 }

func allDigits(s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return true
}
