package cad

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/tandem-cc/tandem/internal/redistest"
)

// testDefs is a queue's variables, deliberately not in display order.
var testDefs = []Variable{
	{Name: "notes", Label: "Notes", Type: "string", Editable: true, Order: 9},
	{Name: "account", Label: "Account", Type: "string", Order: 1, PopUp: true},
	{Name: "card", Label: "Card", Type: "string", Secure: true, Editable: true, Order: 3, PopUp: true},
	{Name: "balance", Label: "Balance", Type: "number", Editable: true, Order: 2, PopUp: true},
	{Name: "vip", Label: "VIP", Type: "boolean", Editable: true, Order: 2},
	{Name: "callback_at", Label: "Call back at", Type: "datetime", Editable: true, Order: 5},
	{Name: "_version", Label: "Customer's version", Type: "string", Editable: true, Order: 8},
}

func newStore(t *testing.T) (*Store, *redis.Client) {
	t.Helper()
	rdb := redistest.Client(t)
	return NewStore(rdb, "tandem", nil), rdb
}

func initCall(t *testing.T, s *Store, conn string) View {
	t.Helper()
	v, err := s.Init(context.Background(), conn, testDefs, map[string]string{
		"account": "ACME-1", "card": "4111111111111111", "balance": "12.50",
		"vip":       "yes", // not a boolean, but it came from the PBX: kept as given
		"undefined": "dropped",
	})
	if err != nil {
		t.Fatalf("init: %v", err)
	}
	return v
}

func valueOf(t *testing.T, v View, name string) string {
	t.Helper()
	for _, x := range v.Values {
		if x.Name == name {
			return x.Value
		}
	}
	t.Fatalf("view has no %s: %+v", name, v)
	return ""
}

func TestInitStoresDefinedValuesAtVersionOneInDisplayOrder(t *testing.T) {
	s, rdb := newStore(t)
	v := initCall(t, s, "c1")
	if v.Version != 1 || v.ConnectionID != "c1" {
		t.Fatalf("version %d conn %q, want 1 c1", v.Version, v.ConnectionID)
	}
	var names []string
	for _, x := range v.Values {
		names = append(names, x.Name)
	}
	// Order, then name; every defined variable, set or not.
	if got := strings.Join(names, ","); got != "account,balance,vip,card,callback_at,_version,notes" {
		t.Fatalf("order %s", got)
	}
	if valueOf(t, v, "vip") != "yes" || valueOf(t, v, "account") != "ACME-1" || valueOf(t, v, "notes") != "" {
		t.Fatalf("values %+v", v.Values)
	}
	if n, _ := rdb.HExists(context.Background(), "tandem:v1:ix:c1:cad", "v:undefined").Result(); n {
		t.Fatal("an undefined name was stored")
	}
	// A variable named _version (from the PBX) cannot touch the version:
	// values live under "v:<name>".
	v2, err := s.Init(context.Background(), "c2", testDefs, map[string]string{"_version": "99"})
	if err != nil || v2.Version != 1 || valueOf(t, v2, "_version") != "99" {
		t.Fatalf("init _version: %+v %v", v2, err)
	}
}

func TestEditRefusesNamesTandemSetsAndControlCharacters(t *testing.T) {
	s, _ := newStore(t)
	ctx := context.Background()
	defs := append(slices.Clone(testDefs),
		Variable{Name: "callback_id", Label: "Callback", Type: "string", Editable: true},
		Variable{Name: "TANDEM_AGENT", Label: "Agent", Type: "string", Editable: true},
		Variable{Name: "note", Label: "Note", Type: TypeText, Editable: true})
	if _, err := s.Init(ctx, "c1", defs, map[string]string{"callback_id": "real-id"}); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name, variable, value, rule string
	}{
		// Even defined and editable in the queue's configuration.
		{"callback_id", "callback_id", "evil", RuleReserved},
		{"TANDEM_ prefix", "TANDEM_AGENT", "1002", RuleReserved},
		{"_version", "_version", "99", RuleReserved},
		{"NUL in a string", "notes", "a\x00b", RuleControl},
		{"ANSI clear screen", "notes", "\x1b[2J", RuleControl},
		{"newline in a string", "notes", "a\nb", RuleControl},
		{"bidi override", "notes", "abc\u202edcba", RuleControl},
		{"NUL in a note", "note", "a\x00b", RuleControl},
		{"carriage return in a note", "note", "a\rb", RuleControl},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if _, err := s.Edit(ctx, "c1", defs, tt.variable, tt.value, 1); !isRule(tt.rule)(err) {
				t.Fatalf("Edit(%s, %q) = %v, want rule %s", tt.variable, tt.value, err, tt.rule)
			}
		})
	}
	v, err := s.View(ctx, "c1", defs)
	if err != nil || v.Version != 1 || valueOf(t, v, "callback_id") != "real-id" {
		t.Fatalf("a refused edit changed something: %+v %v", v, err)
	}
	// Tab and newline are what a note is for.
	v, err = s.Edit(ctx, "c1", defs, "note", "line 1\n\tline 2", 1)
	if err != nil || v.Version != 2 || valueOf(t, v, "note") != "line 1\n\tline 2" {
		t.Fatalf("edit note: %+v %v", v, err)
	}
}

func TestInitIsIdempotent(t *testing.T) {
	s, _ := newStore(t)
	ctx := context.Background()
	initCall(t, s, "c1")
	if _, err := s.Edit(ctx, "c1", testDefs, "notes", "edited", 1); err != nil {
		t.Fatal(err)
	}
	v, err := s.Init(ctx, "c1", testDefs, map[string]string{"notes": "from a retry", "account": "OTHER"})
	if err != nil {
		t.Fatal(err)
	}
	if v.Version != 2 || valueOf(t, v, "notes") != "edited" || valueOf(t, v, "account") != "ACME-1" {
		t.Fatalf("second init changed the variables: %+v", v)
	}
}

func TestInitWithNoValues(t *testing.T) {
	s, _ := newStore(t)
	v, err := s.Init(context.Background(), "c1", testDefs, nil)
	if err != nil || v.Version != 1 || len(v.Values) != len(testDefs) {
		t.Fatalf("%+v %v", v, err)
	}
}

func TestViewOfUnknownInteractionIsNotFound(t *testing.T) {
	s, _ := newStore(t)
	ctx := context.Background()
	if _, err := s.View(ctx, "nope", testDefs); !errors.Is(err, ErrNotFound) {
		t.Fatalf("view: %v", err)
	}
	if _, err := s.Edit(ctx, "nope", testDefs, "notes", "x", 1); !errors.Is(err, ErrNotFound) {
		t.Fatalf("edit: %v", err)
	}
	if _, err := s.Reveal(ctx, "nope", testDefs, "card", "supervisor:sup1", "1002"); !errors.Is(err, ErrNotFound) {
		t.Fatalf("reveal: %v", err)
	}
}

func TestEditSetsValueAndIncrementsVersion(t *testing.T) {
	s, _ := newStore(t)
	ctx := context.Background()
	initCall(t, s, "c1")
	v, err := s.Edit(ctx, "c1", testDefs, "balance", "99.95", 1)
	if err != nil {
		t.Fatal(err)
	}
	if v.Version != 2 || valueOf(t, v, "balance") != "99.95" {
		t.Fatalf("after edit: %+v", v)
	}
	v, err = s.Edit(ctx, "c1", testDefs, "callback_at", "2026-11-22T10:00:00+01:00", 2)
	if err != nil || v.Version != 3 {
		t.Fatalf("second edit: %+v %v", v, err)
	}
	read, err := s.View(ctx, "c1", testDefs)
	if err != nil || read.Version != 3 || valueOf(t, read, "balance") != "99.95" ||
		valueOf(t, read, "callback_at") != "2026-11-22T10:00:00+01:00" {
		t.Fatalf("read back: %+v %v", read, err)
	}
}

func TestEditWithStaleVersionConflictsWithCurrentView(t *testing.T) {
	s, _ := newStore(t)
	ctx := context.Background()
	initCall(t, s, "c1")
	if _, err := s.Edit(ctx, "c1", testDefs, "notes", "first", 1); err != nil {
		t.Fatal(err)
	}
	_, err := s.Edit(ctx, "c1", testDefs, "notes", "second", 1)
	var ce *ConflictError
	if !errors.As(err, &ce) || !errors.Is(err, ErrConflict) {
		t.Fatalf("got %v, want ConflictError", err)
	}
	if ce.Name != "notes" || ce.Current.Version != 2 || valueOf(t, ce.Current, "notes") != "first" {
		t.Fatalf("conflict %+v", ce)
	}
	if valueOf(t, ce.Current, "card") != Masked {
		t.Fatal("conflict view shows a secure value")
	}
	read, _ := s.View(ctx, "c1", testDefs)
	if read.Version != 2 || valueOf(t, read, "notes") != "first" {
		t.Fatalf("the losing edit changed something: %+v", read)
	}
}

func TestEditRefusesReadOnlyUnknownAndInvalid(t *testing.T) {
	s, _ := newStore(t)
	ctx := context.Background()
	initCall(t, s, "c1")
	tests := []struct {
		name, variable, value string
		check                 func(error) bool
	}{
		{"read-only", "account", "ACME-2", isRule(RuleReadOnly)},
		{"unknown", "shoe_size", "42", func(err error) bool { return errors.Is(err, ErrUnknownVariable) }},
		{"not a number", "balance", "lots", isRule(RuleNumber)},
		{"not a boolean", "vip", "yes", isRule(RuleBoolean)},
		{"not a datetime", "callback_at", "tomorrow", isRule(RuleDatetime)},
		{"257 characters", "notes", strings.Repeat("x", 257), isRule(RuleMaxLength)},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if _, err := s.Edit(ctx, "c1", testDefs, tt.variable, tt.value, 1); !tt.check(err) {
				t.Fatalf("got %v", err)
			}
		})
	}
	if v, _ := s.View(ctx, "c1", testDefs); v.Version != 1 {
		t.Fatalf("a refused edit changed the version to %d", v.Version)
	}
}

func isRule(rule string) func(error) bool {
	return func(err error) bool {
		var ve *ValueError
		return errors.As(err, &ve) && ve.Rule == rule
	}
}

func TestConcurrentEditsOnOneVersionHaveOneWinner(t *testing.T) {
	s, _ := newStore(t)
	ctx := context.Background()
	initCall(t, s, "c1")
	const n = 8
	var (
		wg        sync.WaitGroup
		mu        sync.Mutex
		wins      []string
		conflicts int
		others    []error
	)
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			val := fmt.Sprintf("writer %d", i)
			_, err := s.Edit(ctx, "c1", testDefs, "notes", val, 1)
			mu.Lock()
			defer mu.Unlock()
			var ce *ConflictError
			switch {
			case err == nil:
				wins = append(wins, val)
			case errors.As(err, &ce):
				conflicts++
			default:
				others = append(others, err)
			}
		}()
	}
	wg.Wait()
	if len(wins) != 1 || conflicts != n-1 || len(others) != 0 {
		t.Fatalf("wins %v, conflicts %d, errors %v", wins, conflicts, others)
	}
	v, _ := s.View(ctx, "c1", testDefs)
	if v.Version != 2 || valueOf(t, v, "notes") != wins[0] {
		t.Fatalf("after the race: %+v, winner %q", v, wins[0])
	}
}

func TestRevealReturnsClearValueAndAudits(t *testing.T) {
	var logs bytes.Buffer
	rdb := redistest.Client(t)
	s := NewStore(rdb, "tandem", slog.New(slog.NewJSONHandler(&logs, &slog.HandlerOptions{Level: slog.LevelDebug})))
	ctx := context.Background()
	initCall(t, s, "c1")
	if _, err := s.Edit(ctx, "c1", testDefs, "card", "5500000000000004", 1); err != nil {
		t.Fatal(err)
	}

	got, err := s.Reveal(ctx, "c1", testDefs, "card", "supervisor:sup1", "1002")
	if err != nil || got != "5500000000000004" {
		t.Fatalf("reveal = %q, %v", got, err)
	}
	entries, err := rdb.XRange(ctx, s.AuditStream(), "-", "+").Result()
	if err != nil || len(entries) != 1 {
		t.Fatalf("audit entries %v %v", entries, err)
	}
	e := entries[0].Values
	// Who acted and on whose behalf: a supervisor's reveal is not the agent's.
	if e["kind"] != "reveal" || e["actor"] != "supervisor:sup1" || e["agent"] != "1002" || e["who"] != "supervisor:sup1" ||
		e["connection_id"] != "c1" || e["name"] != "card" || e["at"] == "" {
		t.Fatalf("audit entry %v", e)
	}
	for k, v := range e {
		if strings.Contains(fmt.Sprint(v), "5500") {
			t.Fatalf("audit entry field %s holds the value", k)
		}
	}
	// The whole values: a fragment such as "5500" also turns up in a log line's timestamp.
	if strings.Contains(logs.String(), "5500000000000004") || strings.Contains(logs.String(), "4111111111111111") {
		t.Fatalf("a secure value reached the log: %s", logs.String())
	}
	if !strings.Contains(logs.String(), `"variable revealed"`) {
		t.Fatalf("reveal not logged: %s", logs.String())
	}

	if _, err := s.Reveal(ctx, "c1", testDefs, "pin", "supervisor:sup1", "1002"); !errors.Is(err, ErrUnknownVariable) {
		t.Fatalf("unknown: %v", err)
	}
	if _, err := s.Reveal(ctx, "c1", testDefs, "card", " ", "1002"); err == nil {
		t.Fatal("reveal without a user was allowed")
	}
	if n, _ := rdb.XLen(ctx, s.AuditStream()).Result(); n != 1 {
		t.Fatalf("refused reveals were audited: %d entries", n)
	}
}

func TestSecureValuesAreMaskedInViewMaskVarsAndPopUp(t *testing.T) {
	s, _ := newStore(t)
	ctx := context.Background()
	v := initCall(t, s, "c1")
	if valueOf(t, v, "card") != Masked {
		t.Fatalf("init view shows the card: %+v", v)
	}
	v, _ = s.View(ctx, "c1", testDefs)
	if valueOf(t, v, "card") != Masked {
		t.Fatalf("view shows the card: %+v", v)
	}
	out, _ := json.Marshal(v)
	if strings.Contains(string(out), "4111") {
		t.Fatalf("view JSON %s", out)
	}

	vars := map[string]string{"account": "ACME-1", "card": "4111111111111111", "balance": "3", "ani": "+12025550123"}
	masked := MaskVars(testDefs, vars)
	want := map[string]string{"account": "ACME-1", "card": Masked, "balance": "3", "ani": "+12025550123"}
	if fmt.Sprint(masked) != fmt.Sprint(want) {
		t.Fatalf("MaskVars = %v", masked)
	}
	if vars["card"] != "4111111111111111" {
		t.Fatal("MaskVars changed its argument")
	}
	if MaskVars(testDefs, nil) != nil {
		t.Fatal("MaskVars(nil) should be nil")
	}
	if got := MaskVars(testDefs, map[string]string{"card": ""}); got["card"] != "" {
		t.Fatalf("an empty secure value should stay empty (nothing to reveal), got %q", got["card"])
	}

	pop := PopUp(testDefs, vars)
	var got []string
	for _, p := range pop {
		got = append(got, p.Name+"="+p.Value)
	}
	if strings.Join(got, " ") != "account=ACME-1 balance=3 card="+Masked {
		t.Fatalf("PopUp = %v", got)
	}
}

func TestSecretIsMaskedInLogsFormattingAndJSON(t *testing.T) {
	const clear = "4111111111111111"
	s := Secret(clear)
	var buf bytes.Buffer
	log := slog.New(slog.NewJSONHandler(&buf, nil))
	log.Info("oops", "card", s, slog.Group("g", slog.Any("card", s)),
		"in_struct", struct{ Card Secret }{s}, "in_map", map[string]Secret{"card": s})
	log = slog.New(slog.NewTextHandler(&buf, nil))
	log.Info("oops", "card", s)
	if strings.Contains(buf.String(), clear) {
		t.Fatalf("log shows the secret: %s", buf.String())
	}
	if !strings.Contains(buf.String(), `"card":"********"`) {
		t.Fatalf("log does not show the mask: %s", buf.String())
	}
	for _, f := range []string{"%v", "%s", "%q", "%+v", "%#v", "%x", "%d", "%10s"} {
		if out := fmt.Sprintf(f, s); strings.Contains(out, clear) || !strings.Contains(out, Masked) {
			t.Fatalf("Sprintf(%s) = %s", f, out)
		}
	}
	if out := fmt.Sprint(s) + s.String(); strings.Contains(out, clear) {
		t.Fatal(out)
	}
	out, err := json.Marshal(map[string]any{"card": s, "cards": []Secret{s}})
	if err != nil || strings.Contains(string(out), clear) || !strings.Contains(string(out), Masked) {
		t.Fatalf("json %s %v", out, err)
	}
	if s.Plain() != clear {
		t.Fatal("Plain lost the value")
	}
}

// The end of a call gives its CAD hash an expiry in the script that drops
// its secure values (acd's lib.lua close_interaction): an edit that
// arrives after that is refused, so it cannot store a secure value in
// clear that nothing would drop.
func TestEditAfterTheCallEndedIsRefused(t *testing.T) {
	s, rdb := newStore(t)
	ctx := context.Background()
	initCall(t, s, "c1")
	if err := rdb.PExpire(ctx, s.keys.cad("c1"), time.Hour).Err(); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Edit(ctx, "c1", testDefs, "balance", "99.95", 1); !errors.Is(err, ErrNotFound) {
		t.Fatalf("edit of an ended call's data: %v, want not found", err)
	}
	if got, err := rdb.HGet(ctx, s.keys.cad("c1"), "_version").Result(); err != nil || got != "1" {
		t.Fatalf("version after the refused edit: %q %v", got, err)
	}
}
