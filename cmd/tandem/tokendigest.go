package main

import (
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"strings"
	"unicode"

	"github.com/spf13/pflag"
)

// maxTokenInput bounds what token-digest reads: a bearer token is a line,
// not a file.
const maxTokenInput = 4096

// tokenDigestCmd prints the SHA-256 digest of the token read from stdin,
// as auth.*.token_sha256 takes it, so a token need never be written to
// the configuration file. The token is read, not taken as an argument,
// so it stays out of the shell's history and the process list. Trailing
// whitespace (echo's newline) is dropped: a token may not contain any.
func tokenDigestCmd(args []string, stdin io.Reader, stdout, stderr io.Writer) error {
	fs := pflag.NewFlagSet("tandem token-digest", pflag.ContinueOnError)
	fs.Usage = func() {
		_, _ = fmt.Fprint(stderr, "Usage: tandem token-digest < token-file\n\n"+
			"Reads a bearer token on stdin and prints its SHA-256 digest (64 hex digits),\n"+
			"for auth.agents[].token_sha256 and auth.supervisors[].token_sha256.\n")
	}
	if err := parse(fs, args, stderr); err != nil {
		return err
	}
	data, err := io.ReadAll(io.LimitReader(stdin, maxTokenInput+1))
	if err != nil {
		return fmt.Errorf("read the token: %w", err)
	}
	if len(data) > maxTokenInput {
		return usageError{fmt.Errorf("the token is longer than %d bytes", maxTokenInput)}
	}
	tok := strings.TrimRightFunc(string(data), unicode.IsSpace)
	switch {
	case tok == "":
		return usageError{errors.New("no token on stdin")}
	case strings.IndexFunc(tok, unicode.IsSpace) >= 0:
		// The configuration refuses such a token in clear; its digest is
		// refused here the same way (Validate cannot see through it).
		return usageError{errors.New("the token contains whitespace (one token, one line)")}
	}
	d := sha256.Sum256([]byte(tok))
	_, err = fmt.Fprintln(stdout, hex.EncodeToString(d[:]))
	return err
}
