package api

import (
	"crypto/sha256"
	"crypto/subtle"
	"net/http"
	"strconv"
	"strings"

	"github.com/tandem-cc/tandem/config"
)

// principal is who a valid token belongs to.
type principal struct {
	supervisor bool
	agent      string // the agent an agent token acts for
	// name is who the token is in the audit: "agent:<id>", or
	// "supervisor:<n>" with n the token's index in auth.supervisors
	// (supervisor tokens carry no name in the configuration).
	name string
}

// mayActFor reports whether p may act for (and read) agent id.
func (p principal) mayActFor(id string) bool {
	return p.supervisor || p.agent == id
}

// authenticator checks bearer tokens. It keeps SHA-256 digests, not the
// tokens, so every comparison is between equal-length values and takes the
// same time whatever the token's length or how much of it matches.
type authenticator struct {
	tokens []tokenEntry
}

type tokenEntry struct {
	digest [sha256.Size]byte
	who    principal
}

func newAuthenticator(a config.Auth) *authenticator {
	var au authenticator
	for _, at := range a.Agents {
		if at.Token != "" {
			au.tokens = append(au.tokens, tokenEntry{sha256.Sum256([]byte(at.Token)), principal{agent: at.Agent, name: "agent:" + at.Agent}})
		}
	}
	for i, tok := range a.Supervisors {
		if tok != "" {
			au.tokens = append(au.tokens, tokenEntry{sha256.Sum256([]byte(tok)), principal{supervisor: true, name: "supervisor:" + strconv.Itoa(i)}})
		}
	}
	return &au
}

// identify returns who token belongs to. It compares against every entry
// without stopping at a match, so the time taken does not tell which
// entry (or whether any) matched.
func (a *authenticator) identify(token string) (principal, bool) {
	if token == "" {
		return principal{}, false
	}
	d := sha256.Sum256([]byte(token))
	var who principal
	found := 0
	for _, e := range a.tokens {
		eq := subtle.ConstantTimeCompare(d[:], e.digest[:])
		if eq == 1 && found == 0 {
			who = e.who
		}
		found |= eq
	}
	return who, found == 1
}

// bearer extracts the token of an "Authorization: Bearer <token>" header.
func bearer(r *http.Request) string {
	scheme, tok, ok := strings.Cut(r.Header.Get("Authorization"), " ")
	if !ok || !strings.EqualFold(scheme, "Bearer") {
		return ""
	}
	return strings.TrimSpace(tok)
}
