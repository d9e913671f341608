package api

import (
	"crypto/sha256"
	"encoding/hex"
	"net/http"
	"strings"
	"testing"

	"github.com/tandem-cc/tandem/config"
)

func hexDigest(tok string) string {
	d := sha256.Sum256([]byte(tok))
	return hex.EncodeToString(d[:])
}

// digestWorld serves the API with tokens configured only as SHA-256
// digests: the configuration holds no token in clear.
func digestWorld(t *testing.T) *world {
	t.Helper()
	auth := config.Auth{
		Agents: []config.AgentToken{{Agent: agentID, TokenSHA256: hexDigest(agentTok)}},
		Supervisors: []config.SupervisorToken{
			{Name: "alice", TokenSHA256: strings.ToUpper(hexDigest(superTok))}, // sha256sum's case or not
		},
	}
	core := newFakeCore()
	return &world{core: core, h: New(core, auth, nil), logs: &syncBuffer{}}
}

// TestDigestConfiguredTokenAuthenticates: a token whose digest is
// configured authenticates as its principal; a wrong token, a prefix of
// the right one, or the digest itself sent as the token does not.
func TestDigestConfiguredTokenAuthenticates(t *testing.T) {
	const reveal = "/v1/agents/1001/call/variables/CARD/reveal"
	w := digestWorld(t)
	if rec := w.do("POST", reveal, agentTok, ""); rec.Code != http.StatusOK {
		t.Fatalf("agent token: status %d: %s", rec.Code, rec.Body)
	}
	if rec := w.do("POST", reveal, superTok, ""); rec.Code != http.StatusOK {
		t.Fatalf("supervisor token: status %d: %s", rec.Code, rec.Body)
	}
	want := []string{"RevealVariable(agent:1001,1001,CARD)", "RevealVariable(supervisor:alice,1001,CARD)"}
	if got := w.core.Calls(); strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Errorf("core calls %q, want %q", got, want)
	}

	for _, tok := range []string{wrongTok, otherTok, hexDigest(agentTok), strings.ToUpper(hexDigest(superTok)), agentTok + "x"} {
		w := digestWorld(t)
		rec := w.do("POST", reveal, tok, "")
		if rec.Code != http.StatusUnauthorized {
			t.Errorf("token %q: status %d, want 401", tok, rec.Code)
		}
		if calls := w.core.Calls(); len(calls) != 0 {
			t.Errorf("token %q reached the core: %v", tok, calls)
		}
	}
}

// TestDigestConfiguredSupervisorUsesSupervisorRoutes: a digest-configured
// supervisor is a supervisor (the override routes take it, under its
// name); a digest-configured agent token is not.
func TestDigestConfiguredSupervisorUsesSupervisorRoutes(t *testing.T) {
	w := digestWorld(t)
	if rec := w.do("POST", forceEndPath, agentTok, `{"reason":"r"}`); rec.Code != http.StatusForbidden {
		t.Fatalf("agent token on a supervisor route: status %d", rec.Code)
	}
	if rec := w.do("POST", forceEndPath, superTok, `{"reason":"stuck"}`); rec.Code != http.StatusOK {
		t.Fatalf("status %d: %s", rec.Code, rec.Body)
	}
	if got := w.core.Calls(); len(got) != 1 || got[0] != "ForceEnd(c-1,supervisor:alice,stuck)" {
		t.Errorf("core calls %q", got)
	}
}

// TestRevealNamesTheActor: the reveal route tells the core who asked —
// the agent itself, or the supervisor acting for it — never the agent in
// place of the supervisor (issue 11: a supervisor's reveal was audited as
// the agent's).
func TestRevealNamesTheActor(t *testing.T) {
	w := newWorld(t)
	for _, tok := range []string{otherTok, superTok} {
		if rec := w.do("POST", "/v1/agents/1002/call/variables/CARD/reveal", tok, ""); rec.Code != http.StatusOK {
			t.Fatalf("status %d: %s", rec.Code, rec.Body)
		}
	}
	want := []string{"RevealVariable(agent:1002,1002,CARD)", "RevealVariable(supervisor:supervisor-1,1002,CARD)"}
	if got := w.core.Calls(); strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Errorf("core calls %q, want %q", got, want)
	}
}

// TestAuthenticatorSkipsUnusableEntries: an entry with neither a token
// nor a well-formed digest (Validate refuses it; a Config built in code
// may still hold one) authenticates nobody, not even the empty token.
func TestAuthenticatorSkipsUnusableEntries(t *testing.T) {
	au := newAuthenticator(config.Auth{
		Agents:      []config.AgentToken{{Agent: "a1"}, {Agent: "a2", TokenSHA256: "not-hex"}},
		Supervisors: []config.SupervisorToken{{Name: "s"}, {Name: "t", TokenSHA256: hexDigest("x")[:10]}},
	})
	if len(au.tokens) != 0 {
		t.Fatalf("%d entries kept", len(au.tokens))
	}
	for _, tok := range []string{"", "not-hex", "x"} {
		if _, ok := au.identify(tok); ok {
			t.Errorf("token %q authenticated", tok)
		}
	}
}
