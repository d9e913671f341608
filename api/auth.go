package api

import (
	"context"
	"crypto/sha256"
	"crypto/subtle"
	"net/http"
	"strings"

	"github.com/tandem-cc/tandem/config"
)

// principal is who a valid token belongs to.
type principal struct {
	supervisor bool
	agent      string // the agent an agent token acts for
	// name is who the token is in the audit: "agent:<id>", or
	// "supervisor:<name>" with the name auth.supervisors gives it.
	name string
}

// Actor names are the audit's "actor" field, and what the core's audited
// methods take: the principal that acted, as opposed to the agent it
// acted for.
const (
	agentActorPrefix      = "agent:"
	supervisorActorPrefix = "supervisor:"
)

// principalKey carries the authenticated principal in a request's
// context, for handlers whose wrapper passes on only the agent id.
type principalKey struct{}

func withPrincipal(ctx context.Context, p principal) context.Context {
	return context.WithValue(ctx, principalKey{}, p)
}

// actorOf is the audit identity of whoever made the request: set by
// guard for every authenticated route, "" on a route that has none (the
// core then refuses to act: nothing audited goes without an actor).
func actorOf(ctx context.Context) string {
	p, _ := ctx.Value(principalKey{}).(principal)
	return p.name
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

// newAuthenticator keeps the digest of each configured token: computed
// from a clear token, or taken from token_sha256. An entry with neither
// (Validate refuses it) authenticates nobody.
func newAuthenticator(a config.Auth) *authenticator {
	var au authenticator
	for _, at := range a.Agents {
		if d, ok := at.Digest(); ok {
			au.tokens = append(au.tokens, tokenEntry{d, principal{agent: at.Agent, name: agentActorPrefix + at.Agent}})
		}
	}
	for i, st := range a.Supervisors {
		if d, ok := st.Digest(); ok {
			au.tokens = append(au.tokens, tokenEntry{d, principal{supervisor: true, name: supervisorActorPrefix + a.SupervisorName(i)}})
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
