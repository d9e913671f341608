package callbacks

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"
)

// fieldErr asserts err is a FieldError of field and rule.
func fieldErr(t *testing.T, err error, field, rule string) {
	t.Helper()
	var fe *FieldError
	if !errors.As(err, &fe) || fe.Field != field || fe.Rule != rule {
		t.Fatalf("err %v, want a FieldError of field %s, rule %s", err, field, rule)
	}
}

// redisNow is the clock the scripts read.
func redisNow(t *testing.T, s *Store) time.Time {
	t.Helper()
	now, err := s.Client().Time(context.Background()).Result()
	if err != nil {
		t.Fatal(err)
	}
	return now
}

func TestCreateRefusesTimesBeyondMaxAheadAndMergesNothing(t *testing.T) {
	s := newStore(t)
	ctx := context.Background()
	existing := mustCreate(t, s, Request{Queue: "sales", Number: "+12025550123"})
	year9999 := time.Date(9999, 12, 31, 23, 59, 59, 0, time.UTC)
	now := redisNow(t, s)
	cases := []struct {
		name  string
		req   Request
		field string
	}{
		{"earliest in 9999", Request{EarliestAt: year9999}, "earliest_at"},
		{"window end in 9999", Request{WindowEnd: year9999}, "window_end"},
		{"earliest beyond 30 days by default", Request{EarliestAt: now.Add(31 * 24 * time.Hour)}, "earliest_at"},
		{"earliest beyond the queue's bound", Request{EarliestAt: now.Add(2 * time.Hour), MaxAhead: time.Hour}, "earliest_at"},
		{"window beyond the queue's bound", Request{EarliestAt: now.Add(30 * time.Minute), WindowEnd: now.Add(2 * time.Hour), MaxAhead: time.Hour}, "window_end"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			c.req.Queue, c.req.Number = "sales", "+12025550123" // the live callback's number
			_, merged, err := s.Create(ctx, c.req)
			fieldErr(t, err, c.field, RuleTooFarAhead)
			if merged || !strings.Contains(err.Error(), "ahead") {
				t.Fatalf("merged=%v err %v", merged, err)
			}
		})
	}
	if got := mustGet(t, s, existing.ID); !got.Due.Equal(existing.Due) {
		t.Fatalf("a refused request moved the live callback's due time from %v to %v", existing.Due, got.Due)
	}
	// Within the bound it is taken, and the bound is the queue's.
	mustCreate(t, s, Request{Queue: "sales", Number: "+12025550124", EarliestAt: now.Add(29 * 24 * time.Hour), WindowEnd: now.Add(29*24*time.Hour + time.Hour)})
	mustCreate(t, s, Request{Queue: "sales", Number: "+12025550125", EarliestAt: now.Add(59 * 24 * time.Hour), MaxAhead: 60 * 24 * time.Hour})
}

func TestMergeKeepsTheEarlierDueTime(t *testing.T) {
	s := newStore(t)
	ctx := context.Background()
	now := redisNow(t, s)
	nextWeek := now.Add(7 * 24 * time.Hour)
	later := mustCreate(t, s, Request{Queue: "sales", Number: "+12025550123", Name: "Ann", Vars: map[string]string{"order": "42"}, Kind: KindScheduled, EarliestAt: nextWeek})
	if got, _ := s.Claim(ctx, "n1", time.Minute, 10); len(got) != 0 {
		t.Fatalf("claimed %d callbacks due next week", len(got))
	}
	// "Call me now" for the same number: merged, and now due now; the
	// rest is the live callback's.
	cb, merged, err := s.Create(ctx, Request{Queue: "sales", Number: "(202) 555-0123", Region: "US", Name: "Bob", Vars: map[string]string{"order": "7"}})
	if err != nil || !merged || cb.ID != later.ID {
		t.Fatalf("merge: %s merged=%v err=%v", cb.ID, merged, err)
	}
	if !cb.Due.Before(nextWeek) || cb.Name != "Ann" || cb.Vars["order"] != "42" || cb.Kind != KindScheduled || !cb.Created.Equal(later.Created) {
		t.Fatalf("after merge: %+v", cb)
	}
	// A request for next month does not push it back.
	if cb2, merged, err := s.Create(ctx, Request{Queue: "sales", Number: "+12025550123", EarliestAt: now.Add(20 * 24 * time.Hour)}); err != nil || !merged || !cb2.Due.Equal(cb.Due) {
		t.Fatalf("a later request moved the due time: %v -> %v (merged=%v err=%v)", cb.Due, cb2.Due, merged, err)
	}
	// The due index moved with the record: it is claimed now.
	claimed, err := s.Claim(ctx, "n1", time.Minute, 10)
	if err != nil || len(claimed) != 1 || claimed[0].ID != later.ID {
		t.Fatalf("claim after the merge: %+v %v", claimed, err)
	}
	// One being dialled is left as it is.
	dialing, merged, err := s.Create(ctx, Request{Queue: "sales", Number: "+12025550123"})
	if err != nil || !merged || dialing.State != StateDialing || !dialing.Due.Equal(claimed[0].Due) {
		t.Fatalf("merge into a dialing callback: %+v merged=%v err=%v", dialing, merged, err)
	}
}

func TestCreateRefusesVariableNamesTandemSets(t *testing.T) {
	s := newStore(t)
	ctx := context.Background()
	for _, name := range []string{"callback_id", "callback_number", "_version", "TANDEM_CONNECTION_ID", "tandem_agent"} {
		_, _, err := s.Create(ctx, Request{Queue: "sales", Number: "+12025550123", Vars: map[string]string{"order": "42", name: "evil"}})
		fieldErr(t, err, "variables."+name, "reserved")
	}
	if n, err := s.Client().DBSize(ctx).Result(); err != nil || n != 0 {
		t.Fatalf("refused requests left %d keys (%v)", n, err)
	}
}

func TestCreateRefusesMediaTandemDoesNotPlay(t *testing.T) {
	s := newStore(t)
	ctx := context.Background()
	for _, m := range []string{"http://evil/x.wav", "recording:../../etc/passwd", "recording:a/b", "sound:/etc/passwd"} {
		_, _, err := s.Create(ctx, Request{Queue: "sales", Number: "+12025550123", Media: m})
		fieldErr(t, err, "media", "media")
	}
	if cb := mustCreate(t, s, Request{Queue: "sales", Number: "+12025550123", Media: "recording:callback-abc"}); cb.Media != "recording:callback-abc" {
		t.Fatalf("media %q", cb.Media)
	}
}

func TestRevealReturnsTheValueAndAuditsWhoWithoutIt(t *testing.T) {
	s := newStore(t)
	ctx := context.Background()
	const card = "4111111111111111"
	cb := mustCreate(t, s, Request{Queue: "sales", Number: "+12025550123", Vars: map[string]string{"CARD_NUMBER": card, "order": "42"}})
	v, err := s.Reveal(ctx, cb.ID, "CARD_NUMBER", "supervisor:ops")
	if err != nil || v != card {
		t.Fatalf("reveal = %q, %v", v, err)
	}
	if v, err := s.Reveal(ctx, cb.ID, "NOT_GIVEN", "supervisor:ops"); err != nil || v != "" {
		t.Fatalf("reveal of a variable not given = %q, %v", v, err)
	}
	if _, err := s.Reveal(ctx, "no-such", "CARD_NUMBER", "supervisor:ops"); !errors.Is(err, ErrNotFound) {
		t.Fatalf("reveal of an unknown callback: %v", err)
	}
	if _, err := s.Reveal(ctx, cb.ID, "CARD_NUMBER", " "); err == nil {
		t.Fatal("a reveal without a user to audit was allowed")
	}
	entries, err := s.Client().XRange(ctx, s.Keys().Audit(), "-", "+").Result()
	if err != nil || len(entries) != 2 {
		t.Fatalf("audit: %d entries (%v), want one per reveal of a known callback", len(entries), err)
	}
	e := entries[0].Values
	if e["kind"] != "reveal" || e["callback_id"] != cb.ID || e["name"] != "CARD_NUMBER" || e["who"] != "supervisor:ops" || e["actor"] != "supervisor:ops" || e["at"] == "" {
		t.Fatalf("audit entry %v", e)
	}
	for _, x := range entries {
		for k, val := range x.Values {
			if strings.Contains(val.(string), card) {
				t.Fatalf("audit field %s holds the value", k)
			}
		}
	}
	if s.Keys().Audit() != "tandem:v1:audit" {
		t.Fatalf("audit stream %s, want the one call-variable reveals use", s.Keys().Audit())
	}
}
