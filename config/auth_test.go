package config

import (
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"reflect"
	"strings"
	"testing"
)

// digestOf is what `printf %s TOKEN | sha256sum` prints.
func digestOf(tok string) string {
	d := sha256.Sum256([]byte(tok))
	return hex.EncodeToString(d[:])
}

// loadAuth loads minimalYAML with an auth section appended.
func loadAuth(t *testing.T, auth string) (Config, error) {
	t.Helper()
	clearEnv(t)
	return Load(flags(t, "--config", writeFile(t, minimalYAML+"\nauth:\n"+auth)))
}

// keyErrors lists the keys an error from Load or Validate names.
func keyErrors(err error) []string {
	var keys []string
	for _, e := range flattenErrors(err) {
		var ke *KeyError
		if errors.As(e, &ke) {
			keys = append(keys, ke.Key)
		}
	}
	return keys
}

func flattenErrors(err error) []error {
	if j, ok := err.(interface{ Unwrap() []error }); ok {
		var out []error
		for _, e := range j.Unwrap() {
			out = append(out, flattenErrors(e)...)
		}
		return out
	}
	if err == nil {
		return nil
	}
	return []error{err}
}

// A plain list of supervisor tokens, as before names existed, still loads;
// each entry gets the name of its place in the list.
func TestAuthPlainSupervisorListGetsGeneratedNames(t *testing.T) {
	c, err := loadAuth(t, "  supervisors: [tok-one, tok-two]\n")
	if err != nil {
		t.Fatal(err)
	}
	want := []SupervisorToken{{Name: "supervisor-1", Token: "tok-one"}, {Name: "supervisor-2", Token: "tok-two"}}
	if !reflect.DeepEqual(c.Auth.Supervisors, want) {
		t.Errorf("supervisors = %+v, want %+v", c.Auth.Supervisors, want)
	}
}

// Named entries, digests and plain strings mix in one list; agents take a
// digest too.
func TestAuthNamedListAndDigests(t *testing.T) {
	alice, agent := digestOf("alice-secret"), strings.ToUpper(digestOf("agent-secret"))
	c, err := loadAuth(t, `  agents:
    - agent: "1001"
      token_sha256: `+agent+`
    - agent: "1002"
      token: clear-agent-token
  supervisors:
    - name: alice
      token_sha256: `+alice+`
    - name: bob
      token: bob-secret
    - plain-secret
`)
	if err != nil {
		t.Fatal(err)
	}
	want := []SupervisorToken{
		{Name: "alice", TokenSHA256: alice},
		{Name: "bob", Token: "bob-secret"},
		{Name: "supervisor-3", Token: "plain-secret"},
	}
	if !reflect.DeepEqual(c.Auth.Supervisors, want) {
		t.Errorf("supervisors = %+v, want %+v", c.Auth.Supervisors, want)
	}
	for i, tok := range []string{"alice-secret", "bob-secret", "plain-secret"} {
		if d, ok := c.Auth.Supervisors[i].Digest(); !ok || d != sha256.Sum256([]byte(tok)) {
			t.Errorf("supervisor %d digest = %x %v", i, d, ok)
		}
	}
	if d, ok := c.Auth.Agents[0].Digest(); !ok || d != sha256.Sum256([]byte("agent-secret")) {
		t.Errorf("agent digest (upper-case hex) = %x %v", d, ok)
	}
	if d, ok := c.Auth.Agents[1].Digest(); !ok || d != sha256.Sum256([]byte("clear-agent-token")) {
		t.Errorf("agent clear-token digest = %x %v", d, ok)
	}
}

// The environment takes the plain form: TANDEM_AUTH_SUPERVISORS="t1,t2".
func TestAuthSupervisorsFromEnvironment(t *testing.T) {
	clearEnv(t)
	t.Setenv("TANDEM_AUTH_SUPERVISORS", "e1,e2")
	c, err := Load(flags(t, "--config", writeFile(t, minimalYAML)))
	if err != nil {
		t.Fatal(err)
	}
	want := []SupervisorToken{{Name: "supervisor-1", Token: "e1"}, {Name: "supervisor-2", Token: "e2"}}
	if !reflect.DeepEqual(c.Auth.Supervisors, want) {
		t.Errorf("supervisors = %+v", c.Auth.Supervisors)
	}
}

// Every refusal names the key at fault, and no message carries a token.
func TestAuthInvalidEntriesNameTheirKey(t *testing.T) {
	tokDigest := digestOf("same-token")
	cases := []struct {
		name, yaml string
		keys       []string
	}{
		{"digest too short", "  supervisors:\n    - {name: alice, token_sha256: abc123}\n",
			[]string{"auth.supervisors[0].token_sha256"}},
		{"digest not hex", "  agents:\n    - {agent: a1, token_sha256: " + strings.Repeat("g", 64) + "}\n",
			[]string{"auth.agents[0].token_sha256"}},
		{"token and digest", "  supervisors:\n    - {name: alice, token: same-token, token_sha256: " + tokDigest + "}\n",
			[]string{"auth.supervisors[0].token_sha256"}},
		{"neither", "  supervisors:\n    - {name: alice}\n",
			[]string{"auth.supervisors[0].token"}},
		{"bad name", "  supervisors:\n    - {name: \"al ice\", token: t1}\n",
			[]string{"auth.supervisors[0].name"}},
		{"name with a colon", "  supervisors:\n    - {name: \"supervisor:0\", token: t1}\n",
			[]string{"auth.supervisors[0].name"}},
		{"duplicate names", "  supervisors:\n    - {name: alice, token: t1}\n    - {name: alice, token: t2}\n",
			[]string{"auth.supervisors[1].name"}},
		{"a name clashing with a generated one", "  supervisors:\n    - t1\n    - {name: supervisor-1, token: t2}\n",
			[]string{"auth.supervisors[1].name"}},
		{"duplicate clear tokens", "  supervisors:\n    - {name: alice, token: same-token}\n    - {name: bob, token: same-token}\n",
			[]string{"auth.supervisors[1].token"}},
		{"a digest duplicating a clear token", "  agents:\n    - {agent: a1, token: same-token}\n  supervisors:\n    - {name: bob, token_sha256: " + tokDigest + "}\n",
			[]string{"auth.supervisors[0].token_sha256"}},
		{"duplicate digests", "  agents:\n    - {agent: a1, token_sha256: " + tokDigest + "}\n    - {agent: a2, token_sha256: " + strings.ToUpper(tokDigest) + "}\n",
			[]string{"auth.agents[1].token_sha256"}},
		{"unknown field", "  supervisors:\n    - {name: alice, tokn: t1}\n", nil},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			_, err := loadAuth(t, tc.yaml)
			if err == nil {
				t.Fatal("loaded")
			}
			if strings.Contains(err.Error(), "same-token") || strings.Contains(err.Error(), tokDigest) {
				t.Errorf("error prints a token or digest: %v", err)
			}
			if tc.keys == nil {
				if !strings.Contains(err.Error(), "tokn") {
					t.Errorf("err %v does not name the unknown field", err)
				}
				return
			}
			if got := keyErrors(err); !reflect.DeepEqual(got, tc.keys) {
				t.Errorf("keys %v, want %v (err %v)", got, tc.keys, err)
			}
		})
	}
}

// A Config built in code (tests, embedders) names unnamed supervisors the
// same way Load does.
func TestSupervisorNameOfUnnamedEntry(t *testing.T) {
	a := Auth{Supervisors: []SupervisorToken{{Token: "x"}, {Name: "carol", Token: "y"}}}
	if a.SupervisorName(0) != "supervisor-1" || a.SupervisorName(1) != "carol" {
		t.Errorf("names %q %q", a.SupervisorName(0), a.SupervisorName(1))
	}
}
