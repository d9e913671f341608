package acd

import (
	"context"
	"encoding/json"
	"errors"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/tandem-cc/tandem/cad"
	"github.com/tandem-cc/tandem/internal/redistest"
)

// Secrets of the secure-value tests: long enough that no stream id or
// timestamp contains them by chance.
const (
	testCard = "4111111111111111"
	testPIN  = "73918246"
	testPAN  = "5500005555555559"
)

// secureDefs are a queue's variables: CARD secure, ACCOUNT not.
var secureDefs = []cad.Variable{
	{Name: "ACCOUNT", Label: "Account", Type: "string", PopUp: true},
	{Name: "CARD", Label: "Card", Type: "string", Secure: true},
}

// secureCall makes a call c1 holding the three secrets at rest, as the
// engine would: CARD attached at arrival (a channel variable the queue
// declares secure), PIN keyed in an IVR node marked secure, the
// call-associated data initialised for the first queue, and PAN, a secure
// editable variable of a second queue the call was moved to, edited in.
// An audited reveal fills the audit stream. Before the end every secret
// is in Redis (so the checks after it can fail).
func secureCall(t *testing.T, s *tStore) *cad.Store {
	t.Helper()
	ctx := context.Background()
	if _, err := s.Arrive(ctx, "c1", "c1-leg", "5551000", "800", map[string]string{"CARD": testCard, "ACCOUNT": "42"}); err != nil {
		t.Fatal(err)
	}
	vars := map[string]string{"CARD": testCard, "ACCOUNT": "42", "PIN": testPIN}
	if err := s.SetAttached(ctx, "c1", vars, map[string]bool{"PIN": true}); err != nil {
		t.Fatal(err)
	}
	cs := cad.NewStore(s.rdb, "t", nil)
	v, err := cs.Init(ctx, "c1", secureDefs, vars)
	if err != nil {
		t.Fatal(err)
	}
	second := slices.Concat(secureDefs, []cad.Variable{{Name: "PAN", Label: "PAN", Type: "string", Editable: true, Secure: true}})
	if _, err := cs.Edit(ctx, "c1", second, "PAN", testPAN, v.Version); err != nil {
		t.Fatal(err)
	}
	if got, err := cs.Reveal(ctx, "c1", secureDefs, "CARD", "agent:a1", "a1"); err != nil || got != testCard {
		t.Fatalf("reveal %q %v", got, err)
	}
	if _, err := s.Enqueue(ctx, "c1", "sales", 0); err != nil {
		t.Fatal(err)
	}
	dump := redistest.Dump(t, s.rdb, "t:*")
	for _, secret := range []string{testCard, testPIN, testPAN} {
		found := false
		for _, content := range dump {
			if strings.Contains(content, secret) {
				found = true
			}
		}
		if !found {
			t.Fatalf("secret %s not in Redis before the end: the test checks nothing", secret)
		}
	}
	return cs
}

// requireDropped checks what the end leaves of c1's variables: the names,
// secure values replaced with the marker, the others as they were.
func requireDropped(t *testing.T, s *tStore) {
	t.Helper()
	ctx := context.Background()
	raw, err := s.rdb.HGet(ctx, s.keys.Interaction("c1"), "attached").Result()
	if err != nil {
		t.Fatal(err)
	}
	var att map[string]string
	if err := json.Unmarshal([]byte(raw), &att); err != nil {
		t.Fatal(err)
	}
	if att["CARD"] != DroppedValue || att["PIN"] != DroppedValue || att["ACCOUNT"] != "42" {
		t.Errorf("attached after the end: %v", att)
	}
	h, err := s.rdb.HGetAll(ctx, s.keys.CAD("c1")).Result()
	if err != nil {
		t.Fatal(err)
	}
	if h["v:CARD"] != DroppedValue || h["v:PAN"] != DroppedValue || h["v:ACCOUNT"] != "42" {
		t.Errorf("call-associated data after the end: %v", h)
	}
	redistest.RequireAbsent(t, s.rdb, "t:*", testCard, testPIN, testPAN)
}

// TestFinishDropsSecureValues: with the default retention (0), the script
// that ends the call drops every secure value: a dump of every key under
// the prefix (interaction, call data, history and audit streams, indexes)
// holds none of them.
func TestFinishDropsSecureValues(t *testing.T) {
	s := newTestStore(t, "n1").WithPolicy(Policy{SecureNames: secureNames(map[string]QueueSettings{"sales": {Variables: secureDefs}}, IVRMenus{})})
	secureCall(t, s)
	if _, _, err := s.Finish(context.Background(), "c1", "hangup", "caller"); err != nil {
		t.Fatal(err)
	}
	requireDropped(t, s)
	if n := s.rdb.ZCard(context.Background(), s.keys.SecureDue()).Val(); n != 0 {
		t.Errorf("%d drops scheduled with no retention", n)
	}
}

// TestForceEndDropsSecureValues: a supervisor's forced end (force_end.lua,
// the other script that ends an interaction) drops them too.
func TestForceEndDropsSecureValues(t *testing.T) {
	ctx := context.Background()
	s := newTestStore(t, "n1").WithPolicy(Policy{SecureNames: map[string]bool{"CARD": true}})
	secureCall(t, s)
	// As Engine.forceEndHere runs it for a call whose owner n1 is dead.
	if _, err := s.run(ctx, scriptForceEnd,
		[]string{s.keys.Interaction("c1"), s.keys.Audit(), s.keys.ReplicaAlive("n1")},
		"c1", "n1", "dead", "supervisor:0", "stuck", 0); err != nil {
		t.Fatal(err)
	}
	if st := ixState(t, s, "c1"); st != StateAbandoned {
		t.Fatalf("state %s", st)
	}
	requireDropped(t, s)
}

// TestSecureRetentionDropsLater: with a retention, the values stay after
// the end until it passes, then the sweep's secure_expire.lua drops them.
func TestSecureRetentionDropsLater(t *testing.T) {
	ctx := context.Background()
	s := newTestStore(t, "n1").WithPolicy(Policy{SecureNames: map[string]bool{"CARD": true}, SecureRetention: 50 * time.Millisecond})
	secureCall(t, s)
	if _, _, err := s.Finish(ctx, "c1", "hangup", "caller"); err != nil {
		t.Fatal(err)
	}
	h, _ := s.rdb.HGetAll(ctx, s.keys.CAD("c1")).Result()
	if h["v:CARD"] != testCard {
		t.Fatalf("secure value dropped before its retention: %v", h)
	}
	due, err := s.rdb.ZScore(ctx, s.keys.SecureDue(), "c1").Result()
	if err != nil {
		t.Fatalf("drop not scheduled: %v", err)
	}
	if n, err := s.DropDueSecureValues(ctx, 10); err != nil || n != 0 {
		t.Fatalf("dropped %d before due (%v)", n, err)
	}
	waitRedisPast(t, s.rdb, time.UnixMilli(int64(due)))
	if n, err := s.DropDueSecureValues(ctx, 10); err != nil || n != 1 {
		t.Fatalf("dropped %d, want 1 (%v)", n, err)
	}
	requireDropped(t, s)
	if n := s.rdb.ZCard(ctx, s.keys.SecureDue()).Val(); n != 0 {
		t.Errorf("%d drops still scheduled", n)
	}
}

// Data the IVR attaches after the call ended (a supervisor's force-end can
// end a call while its IVR runs) is refused: the end has dropped the secure
// values already, and what came after would stay in clear.
func TestAttachAfterTheEndIsRefused(t *testing.T) {
	ctx := context.Background()
	s := newTestStore(t, "n1").WithPolicy(Policy{SecureNames: map[string]bool{"CARD": true}})
	secureCall(t, s)
	if _, _, err := s.Finish(ctx, "c1", "hangup", "caller"); err != nil {
		t.Fatal(err)
	}
	late := map[string]string{"CARD": testCard, "PIN": testPIN}
	if err := s.SetAttached(ctx, "c1", late, map[string]bool{"PIN": true}); !errors.Is(err, ErrIllegalTransition) {
		t.Fatalf("attach after the end: %v, want an illegal transition", err)
	}
	requireDropped(t, s)
	if err := s.SetAttached(ctx, "nope", late, nil); !errors.Is(err, ErrNotFound) {
		t.Fatalf("attach to no interaction: %v, want not found", err)
	}
	if n := s.rdb.Exists(ctx, s.keys.Interaction("nope")).Val(); n != 0 {
		t.Fatal("attaching to no interaction created one")
	}
}
