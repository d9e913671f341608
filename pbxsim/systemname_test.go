package pbxsim

import (
	"regexp"
	"testing"
)

// Two Asterisks behind one Tandem must never hand out the same channel id
// (a multiplexer routes commands by leg id): SystemName prefixes them, as
// asterisk.conf's systemname does.
func TestSystemNamePrefixesChannelIDs(t *testing.T) {
	named := New(Options{SystemName: "ast9"})
	defer named.Close()
	bare := New(Options{})
	defer bare.Close()
	named.mu.Lock()
	a, b := named.newUniqueID(), named.newUniqueID()
	named.mu.Unlock()
	bare.mu.Lock()
	c := bare.newUniqueID()
	bare.mu.Unlock()
	if !regexp.MustCompile(`^ast9-\d+\.\d+$`).MatchString(a) || a == b {
		t.Fatalf("named ids %q, %q: want distinct ast9-<epoch>.<n>", a, b)
	}
	if !regexp.MustCompile(`^\d+\.\d+$`).MatchString(c) {
		t.Fatalf("bare id %q: want <epoch>.<n>", c)
	}
}
