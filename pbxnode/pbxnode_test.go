package pbxnode

import (
	"errors"
	"testing"
)

func TestSplitAndCanonical(t *testing.T) {
	two := []string{"ast1", "fs1"}
	for _, tc := range []struct {
		nodes           []string
		endpoint        string
		node, dial, can string
		err             error
	}{
		{two, "fs1/user/1001", "fs1", "user/1001", "fs1/user/1001", nil},
		{two, "ast1/PJSIP/1001", "ast1", "PJSIP/1001", "ast1/PJSIP/1001", nil},
		{two, "PJSIP/1001", "", "", "", ErrMissingNode},
		{two, "sofia/gateway/gw/1001", "", "", "", ErrMissingNode},
		{two, "fs9/user/1001", "", "", "", ErrUnknownNode},
		{two, "ast1/", "", "", "", ErrEmptyDial},
		{[]string{"ast1"}, "PJSIP/1001", "ast1", "PJSIP/1001", "PJSIP/1001", nil},
		{[]string{"ast1"}, "ast1/PJSIP/1001", "ast1", "PJSIP/1001", "PJSIP/1001", nil},
		{nil, "PJSIP/1001", "", "", "", ErrNoNodes},
	} {
		node, dial, err := Split(tc.nodes, tc.endpoint)
		if !errors.Is(err, tc.err) || node != tc.node || dial != tc.dial {
			t.Errorf("Split(%v, %q) = %q, %q, %v; want %q, %q, %v", tc.nodes, tc.endpoint, node, dial, err, tc.node, tc.dial, tc.err)
		}
		can, err := Canonical(tc.nodes, tc.endpoint)
		if !errors.Is(err, tc.err) || can != tc.can {
			t.Errorf("Canonical(%v, %q) = %q, %v; want %q", tc.nodes, tc.endpoint, can, err, tc.can)
		}
	}
}

// TestTechnologiesAreNotNodeNames: a node called like a channel
// technology would make "user/1001" ambiguous when the prefix is optional.
func TestTechnologiesAreNotNodeNames(t *testing.T) {
	for _, n := range []string{"user", "PJSIP", "pjsip", "sofia", "Local", "loopback", "", "a b", "fs/1"} {
		if ValidName(n) {
			t.Errorf("%q accepted as a node name", n)
		}
	}
	for _, n := range []string{"ast1", "fs1", "fs-east", "FS_2"} {
		if !ValidName(n) {
			t.Errorf("%q refused", n)
		}
	}
}

func TestDefaultAgentPatternPerKind(t *testing.T) {
	if Asterisk.DefaultAgentPattern() != "PJSIP/{agent}" || FreeSWITCH.DefaultAgentPattern() != "user/{agent}" || Kind("yate").DefaultAgentPattern() != "" {
		t.Fatal("wrong default patterns")
	}
	if !Asterisk.Valid() || !FreeSWITCH.Valid() || Kind("").Valid() {
		t.Fatal("Valid wrong")
	}
}
