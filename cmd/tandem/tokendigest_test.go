package main

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"strings"
	"testing"
)

// TestTokenDigest: the printed digest is what auth.*.token_sha256 takes
// (sha256sum of the token without echo's newline); bad input is a usage
// error and prints nothing.
func TestTokenDigest(t *testing.T) {
	d := sha256.Sum256([]byte("s3cret-Token"))
	want := hex.EncodeToString(d[:]) + "\n"
	for _, in := range []string{"s3cret-Token", "s3cret-Token\n", "s3cret-Token\r\n"} {
		var out, errOut bytes.Buffer
		if err := tokenDigestCmd(nil, strings.NewReader(in), &out, &errOut); err != nil {
			t.Fatalf("%q: %v", in, err)
		}
		if out.String() != want {
			t.Errorf("%q: printed %q, want %q", in, out.String(), want)
		}
	}
	for _, in := range []string{"", "\n", "two words", strings.Repeat("x", maxTokenInput+1)} {
		var out, errOut bytes.Buffer
		var ue usageError
		if err := tokenDigestCmd(nil, strings.NewReader(in), &out, &errOut); !errors.As(err, &ue) {
			t.Errorf("%.20q: err %v, want a usage error", in, err)
		}
		if out.Len() != 0 {
			t.Errorf("%.20q: printed %q", in, out.String())
		}
	}
	var out bytes.Buffer
	if err := tokenDigestCmd([]string{"extra"}, strings.NewReader("t"), &out, &out); !errors.As(err, new(usageError)) {
		t.Errorf("an argument: err %v, want a usage error", err)
	}
}
