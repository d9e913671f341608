package main

import (
	"bytes"
	"os"
	"regexp"
	"strings"
	"testing"
)

// TestReadmeListsEveryDemoAndSimFlag holds README.md to the command line:
// every flag `tandem demo --help` prints is in the demo's flag table (in
// "Quick start"), and every flag `tandem sim --help` prints is in the
// sim's row of the "Commands" table, so a flag added without a word in
// the README fails here.
func TestReadmeListsEveryDemoAndSimFlag(t *testing.T) {
	data, err := os.ReadFile("../../README.md")
	if err != nil {
		t.Fatal(err)
	}
	readme := string(data)
	for _, tc := range []struct {
		cmd   string
		where string // the README text that must name each flag
	}{
		{"demo", between(t, readme, "`--help` lists\nthe flags:", "\n**`scripts/test.sh`**")},
		{"sim", between(t, readme, "| `tandem sim", "\n| `tandem bench")},
	} {
		var out bytes.Buffer
		if code := run([]string{tc.cmd, "--help"}, &out, &out); code != exitOK {
			t.Fatalf("%s --help: exit %d\n%s", tc.cmd, code, out.String())
		}
		flags := helpFlag.FindAllStringSubmatch(out.String(), -1)
		if len(flags) < 5 {
			t.Fatalf("%s --help lists %d flags; has its format changed?\n%s", tc.cmd, len(flags), out.String())
		}
		for _, f := range flags {
			if !regexp.MustCompile(`--` + f[1] + `(?:[^a-z0-9-]|$)`).MatchString(tc.where) {
				t.Errorf("README.md does not describe `tandem %s --%s`", tc.cmd, f[1])
			}
		}
	}
}

// helpFlag is a flag's line in pflag's usage: "      --name type   text".
var helpFlag = regexp.MustCompile(`(?m)^\s+(?:-\w, )?--([a-z0-9-]+)`)

// between is the text of s from the first from to the next to after it.
func between(t *testing.T, s, from, to string) string {
	t.Helper()
	_, rest, ok := strings.Cut(s, from)
	if !ok {
		t.Fatalf("README.md has no %q", from)
	}
	part, _, ok := strings.Cut(rest, to)
	if !ok {
		t.Fatalf("README.md has no %q after %q", to, from)
	}
	return part
}
