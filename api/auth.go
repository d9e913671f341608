package api

import (
	"context"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"net/http"
	"strings"

	"github.com/tandem-cc/tandem/acd"
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

// Actor names are the audit's "actor" field: the principal that acted, as
// opposed to the agent it acted for. They are the core's (acd/actor.go),
// which records them in the history and the audit stream.
const (
	agentActorPrefix      = acd.AgentActorPrefix
	supervisorActorPrefix = acd.SupervisorActorPrefix
)

// actorOf is the audit identity of whoever made the request: put in the
// request's context by guard for every authenticated route (acd.WithActor,
// which the core reads for every action it records), "" on a route that
// has none (the core then refuses to reveal: nothing audited goes without
// an actor).
func actorOf(ctx context.Context) string {
	return acd.ActorOf(ctx)
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

// The WebSocket subprotocols a browser offers to authenticate: the server
// picks wsProtocol, and the token rides in the other one, never echoed.
const (
	wsProtocol       = "tandem"
	wsBearerProtocol = "bearer."
)

// subprotocolToken is the token of a "bearer.<base64url(token), no
// padding>" subprotocol offered in Sec-WebSocket-Protocol, "" when there
// is none or it does not decode (then the request has no token: 401).
func subprotocolToken(r *http.Request) string {
	for _, v := range r.Header.Values("Sec-WebSocket-Protocol") {
		for p := range strings.SplitSeq(v, ",") {
			enc, ok := strings.CutPrefix(strings.TrimSpace(p), wsBearerProtocol)
			if !ok {
				continue
			}
			tok, err := base64.RawURLEncoding.DecodeString(enc)
			if err != nil {
				return ""
			}
			return string(tok)
		}
	}
	return ""
}
