package keyspace

import (
	"os"
	"reflect"
	"regexp"
	"slices"
	"strings"
	"testing"
)

// notKeys are the methods of Keys that name no key: the common start of
// every key, and the start of a routing-index generation (its keys are
// Eligible and Skilled).
var notKeys = []string{"Base", "QueueIndex"}

// TestReadmeKeyTableListsEveryKey holds README's "Redis key layout" table
// to the builders: every method of Keys (found by reflection, so a new
// builder is checked without touching this test) names a key family the
// table has a row for, and every row is a family some builder names. The
// two sides are compared by shape: a builder is called with placeholder
// arguments, a row's <name> parts are placeholders, and both are written
// with "<>" in their place.
func TestReadmeKeyTableListsEveryKey(t *testing.T) {
	rows := readmeKeyRows(t)
	if len(rows) < 10 {
		t.Fatalf("found %d rows in README's key table; has the section moved?", len(rows))
	}
	documented := map[string]bool{}
	for _, r := range rows {
		documented[placeholderShape.ReplaceAllString(r, "<>")] = true
	}

	k := New("tandem")
	v := reflect.ValueOf(k)
	built := map[string]string{} // shape -> builder
	for i := range v.NumMethod() {
		m := v.Type().Method(i)
		if slices.Contains(notKeys, m.Name) {
			continue
		}
		var args []reflect.Value
		for a := range m.Type.NumIn() - 1 { // In(0) is the receiver
			switch in := m.Type.In(a + 1); in.Kind() {
			case reflect.String:
				args = append(args, reflect.ValueOf(stringArg))
			case reflect.Int64:
				args = append(args, reflect.ValueOf(intArg))
			default:
				t.Fatalf("Keys.%s takes a %s: teach this test a placeholder for it", m.Name, in)
			}
		}
		out := v.Method(i).Call(args)
		if len(out) != 1 || out[0].Kind() != reflect.String {
			t.Fatalf("Keys.%s does not return one string", m.Name)
		}
		shape := strings.NewReplacer(stringArg, "<>", intArgText, "<>").Replace(out[0].String())
		built[shape] = m.Name
		if !documented[shape] {
			t.Errorf("Keys.%s builds %s, which README.md's \"Redis key layout\" table does not list", m.Name, shape)
		}
	}
	for shape := range documented {
		if _, ok := built[shape]; !ok {
			t.Errorf("README.md's key table lists %s, which no builder in internal/keyspace names", shape)
		}
	}
}

// Placeholders that cannot occur in a key name's fixed parts.
const (
	stringArg  = "\x00arg\x00"
	intArg     = int64(987654321)
	intArgText = "987654321"
)

// placeholderShape is a row's variable part: <conn>, <queue>, <date>, …
var placeholderShape = regexp.MustCompile(`<[^<>]*>`)

// readmeKeyRows returns the first cell, unquoted, of each row of the table
// in README.md's "Redis key layout" section.
func readmeKeyRows(t *testing.T) []string {
	t.Helper()
	data, err := os.ReadFile("../../README.md")
	if err != nil {
		t.Fatal(err)
	}
	_, section, ok := strings.Cut(string(data), "\n## Redis key layout\n")
	if !ok {
		t.Fatal(`README.md has no "## Redis key layout" section`)
	}
	section, _, _ = strings.Cut(section, "\n## ")
	var rows []string
	for line := range strings.SplitSeq(section, "\n") {
		cells := strings.Split(line, "|")
		if len(cells) < 3 || !strings.HasPrefix(strings.TrimSpace(cells[1]), "`") {
			continue // not a row, or the header and its rule
		}
		rows = append(rows, strings.Trim(strings.TrimSpace(cells[1]), "`"))
	}
	return rows
}
