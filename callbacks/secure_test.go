package callbacks

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/tandem-cc/tandem/internal/redistest"
)

// TestSecureVariablesDroppedWhenCallbackIsOver: a callback keeps its secure
// variables in clear while it may still be made (its interaction needs
// them) and not after: done, failed and cancelled callbacks keep the
// names with the marker, and a dump of every callback key holds no secret.
func TestSecureVariablesDroppedWhenCallbackIsOver(t *testing.T) {
	ctx := context.Background()
	s := newStore(t)
	secrets := map[string]string{"done": "4111111111111111", "failed": "5500005555555559", "cancelled": "340000000000009"}
	ids := map[string]string{}
	for i, end := range []string{"done", "failed", "cancelled"} {
		cb := mustCreate(t, s, Request{Queue: "sales", Number: "+1202555012" + string(rune('1'+i)), MaxAttempts: 1,
			Vars: map[string]string{"CARD_NUMBER": secrets[end], "ORDER": "A-7"}, Secure: []string{"CARD_NUMBER"}})
		if cb.Vars["CARD_NUMBER"] != secrets[end] {
			t.Fatalf("pending callback lost its secure value: %v", cb.Vars)
		}
		ids[end] = cb.ID
	}
	// The store holds them while pending: the checks below can fail.
	all := make([]string, 0, len(secrets))
	for _, v := range secrets {
		all = append(all, v)
	}
	dump := redistest.Dump(t, s.rdb, "tandem:*")
	for _, v := range all {
		if !strings.Contains(strings.Join(mapValues(dump), "\n"), v) {
			t.Fatalf("secret %s not stored while pending", v)
		}
	}

	if _, err := s.Cancel(ctx, ids["cancelled"]); err != nil {
		t.Fatal(err)
	}
	claimed, err := s.Claim(ctx, "n1", time.Minute, 10)
	if err != nil || len(claimed) != 2 {
		t.Fatalf("claimed %d (%v)", len(claimed), err)
	}
	if _, err := s.Complete(ctx, ids["done"], holder(t, s, ids["done"], "n1"), OutcomeAnswered); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Complete(ctx, ids["failed"], holder(t, s, ids["failed"], "n1"), OutcomeNoAnswer); err != nil {
		t.Fatal(err)
	}
	for end, id := range ids {
		cb := mustGet(t, s, id)
		if string(cb.State) != end {
			t.Fatalf("callback %s is %s, want %s", id, cb.State, end)
		}
		if cb.Vars["CARD_NUMBER"] != DroppedValue || cb.Vars["ORDER"] != "A-7" {
			t.Errorf("%s callback's variables: %v", end, cb.Vars)
		}
	}
	if n := redistest.RequireAbsent(t, s.rdb, "tandem:*", all...); n == 0 {
		t.Fatal("no key read")
	}
}

func mapValues(m map[string]string) []string {
	out := make([]string, 0, len(m))
	for _, v := range m {
		out = append(out, v)
	}
	return out
}
