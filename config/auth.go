package config

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"regexp"
	"strconv"
	"strings"
	"unicode"
)

// Auth lists the bearer tokens the API accepts. Tokens are kept in lists,
// not maps, because viper lower-cases map keys and tokens are
// case-sensitive.
//
// Every token has an identity, which the audit stream records as the
// actor of what the token did: "agent:<agent>" or "supervisor:<name>".
type Auth struct {
	Agents      []AgentToken      `mapstructure:"agents"`
	Supervisors []SupervisorToken `mapstructure:"supervisors"`
}

// AgentToken lets one agent act for itself. Exactly one of Token (the
// token in clear) and TokenSHA256 (its SHA-256 digest, 64 hex digits) is
// set: with the digest, a configuration file that leaks does not leak the
// token.
type AgentToken struct {
	Agent       string `mapstructure:"agent"`
	Token       string `mapstructure:"token"`
	TokenSHA256 string `mapstructure:"token_sha256"`
}

// SupervisorToken lets a supervisor act for any agent and use the
// supervisor routes. Name is who the supervisor is in the audit; Token and
// TokenSHA256 are as in AgentToken.
//
// In the file an entry is either a mapping ({name, token} or {name,
// token_sha256}) or, as before names existed, a plain string: the token,
// named by its place in the list (SupervisorName).
type SupervisorToken struct {
	Name        string `mapstructure:"name"`
	Token       string `mapstructure:"token"`
	TokenSHA256 string `mapstructure:"token_sha256"`
}

// UnmarshalText reads the plain-string form of a supervisor entry (a
// bare token, from the file or from TANDEM_AUTH_SUPERVISORS="t1,t2"); the
// decoder calls it through TextUnmarshallerHookFunc. A mapping is decoded
// field by field instead.
func (s *SupervisorToken) UnmarshalText(text []byte) error {
	*s = SupervisorToken{Token: string(text)}
	return nil
}

// SupervisorName is the name of the i-th (0-based) entry of
// auth.supervisors: its own, or "supervisor-<i+1>" when it has none (the
// plain-string form). Load fills these in; the API calls this too, so a
// Config built in code names its supervisors the same way.
func (a Auth) SupervisorName(i int) string {
	if n := a.Supervisors[i].Name; n != "" {
		return n
	}
	return "supervisor-" + strconv.Itoa(i+1)
}

// Digest returns the SHA-256 digest the token is checked against: that of
// Token, or TokenSHA256 decoded. ok is false when neither gives one (an
// entry Validate refuses).
func (a AgentToken) Digest() (d [sha256.Size]byte, ok bool) {
	return tokenDigest(a.Token, a.TokenSHA256)
}

// Digest is AgentToken.Digest for a supervisor's token.
func (s SupervisorToken) Digest() (d [sha256.Size]byte, ok bool) {
	return tokenDigest(s.Token, s.TokenSHA256)
}

func tokenDigest(clear, digest string) (d [sha256.Size]byte, ok bool) {
	switch {
	case clear != "" && digest == "":
		return sha256.Sum256([]byte(clear)), true
	case clear == "" && digest != "":
		b, err := hex.DecodeString(digest)
		if err != nil || len(b) != sha256.Size {
			return d, false
		}
		copy(d[:], b)
		return d, true
	}
	return d, false
}

// nameSupervisors gives each unnamed supervisor entry its generated name,
// so the loaded Config says who every token is.
func (a *Auth) nameSupervisors() {
	for i := range a.Supervisors {
		a.Supervisors[i].Name = a.SupervisorName(i)
	}
}

// principalName is what a supervisor may be called: it is written to the
// audit stream and to logs as "supervisor:<name>", so it is kept plain.
var principalName = regexp.MustCompile(`^[A-Za-z0-9_-]{1,64}$`)

// sha256Hex is a SHA-256 digest as sha256sum prints it (either case).
var sha256Hex = regexp.MustCompile(`^[0-9A-Fa-f]{64}$`)

// validate reports every bad auth setting through bad. A token (or
// digest) may belong to one principal only: otherwise who the caller is
// would depend on the order of the lists; a clear token and a digest of
// the same token count as the same. A supervisor's name, likewise, names
// one supervisor. Tokens are never printed.
func (a Auth) validate(bad func(key, format string, args ...any)) {
	seen := map[[sha256.Size]byte]string{} // digest → key that declared it
	token := func(key, clear, digest string) {
		switch {
		case clear == "" && digest == "":
			bad(key+".token", "must not be empty (or give token_sha256)")
			return
		case clear != "" && digest != "":
			bad(key+".token_sha256", "give token or token_sha256, not both")
			return
		case clear != "" && strings.IndexFunc(clear, unicode.IsSpace) >= 0:
			bad(key+".token", "must not contain spaces")
			return
		case digest != "" && !sha256Hex.MatchString(digest):
			bad(key+".token_sha256", "must be 64 hexadecimal digits (printf %%s TOKEN | sha256sum)")
			return
		}
		d, _ := tokenDigest(clear, digest)
		which := key + ".token"
		if digest != "" {
			which = key + ".token_sha256"
		}
		if prev := seen[d]; prev != "" {
			bad(which, "duplicates %s", prev)
			return
		}
		seen[d] = which
	}
	for i, at := range a.Agents {
		key := fmt.Sprintf("auth.agents[%d]", i)
		if !ValidAgentID(at.Agent) {
			bad(key+".agent", AgentIDRule)
		}
		token(key, at.Token, at.TokenSHA256)
	}
	names := map[string]string{} // name → key that declared it
	for i, s := range a.Supervisors {
		key := fmt.Sprintf("auth.supervisors[%d]", i)
		name := a.SupervisorName(i)
		switch {
		case !principalName.MatchString(name):
			bad(key+".name", "must be 1-64 characters of A-Z a-z 0-9 _ -")
		case names[name] != "":
			bad(key+".name", "%q is already the name of %s", name, names[name])
		default:
			names[name] = key
		}
		token(key, s.Token, s.TokenSHA256)
	}
}
