package main

import (
	"bytes"
	"strings"
	"testing"
)

// TestBenchAndSimFlags: the load tool's command lines fail as usage
// errors before anything starts. (The tool itself is tested end to end in
// internal/bench.)
func TestBenchAndSimFlags(t *testing.T) {
	for _, tc := range []struct {
		args []string
		code int
		out  string
	}{
		{[]string{"help"}, exitOK, "tandem bench"},
		{[]string{"bench", "--help"}, exitOK, "--waiting"},
		{[]string{"bench", "--report", "xml"}, exitUsage, "must be text, json or row"},
		{[]string{"bench", "--replicas", "4"}, exitError, "must be 1, 2 or 3"},
		{[]string{"sim", "--user", "u", "--password", "p", "--phone-count", "3"}, exitUsage, "--phone-format and --phone-count go together"},
		{[]string{"bench-replica"}, exitUsage, "pprof"},
	} {
		t.Run(strings.Join(tc.args, " "), func(t *testing.T) {
			var out bytes.Buffer
			if code := run(tc.args, &out, &out); code != tc.code {
				t.Errorf("exit code %d, want %d; output:\n%s", code, tc.code, out.String())
			}
			if !strings.Contains(out.String(), tc.out) {
				t.Errorf("output does not mention %q:\n%s", tc.out, out.String())
			}
		})
	}
}
