package callbacks

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/tandem-cc/tandem/dialnum"
	"github.com/tandem-cc/tandem/internal/redistest"
)

func newStore(t testing.TB) *Store {
	t.Helper()
	return NewStore(redistest.Client(t), "tandem")
}

func mustCreate(t *testing.T, s *Store, req Request) Callback {
	t.Helper()
	cb, merged, err := s.Create(context.Background(), req)
	if err != nil {
		t.Fatalf("create %+v: %v", req, err)
	}
	if merged {
		t.Fatalf("create %+v merged into %s", req, cb.ID)
	}
	return cb
}

func mustGet(t *testing.T, s *Store, id string) Callback {
	t.Helper()
	cb, err := s.Get(context.Background(), id)
	if err != nil {
		t.Fatalf("get %s: %v", id, err)
	}
	return cb
}

// holder is node's token on callback id if node holds it now, else node
// itself (which holds nothing): "as node n1's current claim".
func holder(t testing.TB, s *Store, id, node string) string {
	t.Helper()
	cb, err := s.Get(context.Background(), id)
	if err != nil {
		t.Fatal(err)
	}
	if strings.HasPrefix(cb.Node, node+"#") {
		return cb.Node
	}
	return node
}

// lapse ends node's current lease on id now (Store.Lapse), ago in the
// past: a lease runs out at the step the test chooses, whatever the load.
func lapse(t *testing.T, s *Store, id, node string, ago time.Duration) {
	t.Helper()
	if _, err := s.Lapse(context.Background(), id, holder(t, s, id, node), ago); err != nil {
		t.Fatalf("lapse %s's lease on %s: %v", node, id, err)
	}
}

// waitRedisPast waits until Redis TIME, the clock the scripts read, has
// passed at by a whole millisecond: the event a due time or a window end
// waits for.
func waitRedisPast(t *testing.T, s *Store, at time.Time) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for {
		now, err := s.Client().Time(context.Background()).Result()
		if err != nil {
			t.Fatalf("redis time: %v", err)
		}
		if now.UnixMilli() > at.UnixMilli() { // the scripts read whole ms
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("redis time %v never passed %v", now, at)
		}
		time.Sleep(time.Millisecond)
	}
}

func claimOne(t *testing.T, s *Store, node string, lease time.Duration) Callback {
	t.Helper()
	got, err := s.Claim(context.Background(), node, lease, 1)
	if err != nil || len(got) != 1 {
		t.Fatalf("claim by %s: %v, %v", node, got, err)
	}
	return got[0]
}

func TestCreateNormalisesAndReadsBack(t *testing.T) {
	s := newStore(t)
	ctx := context.Background()
	before := time.Now().Add(-time.Second)
	cb := mustCreate(t, s, Request{Queue: "sales", Number: "(202) 555-0123", Region: "US", Name: "Ada",
		Vars: map[string]string{"order": "42"}, Kind: KindScheduled})
	got, err := s.Get(ctx, cb.ID)
	if err != nil {
		t.Fatal(err)
	}
	if got.Number != "+12025550123" || got.Queue != "sales" || got.Name != "Ada" || got.Vars["order"] != "42" ||
		got.Kind != KindScheduled || got.State != StatePending || got.MaxAttempts != DefaultMaxAttempts ||
		got.RetryDelay != DefaultRetryDelay || len(got.Attempts) != 0 {
		t.Fatalf("read back %+v", got)
	}
	if got.Due.Before(before) || got.Created.Before(before) || got.Score != float64(got.Created.UnixMilli()) {
		t.Fatalf("due %v created %v score %v", got.Due, got.Created, got.Score)
	}
	if _, err := s.Get(ctx, "nope"); !errors.Is(err, ErrNotFound) {
		t.Fatalf("get unknown: %v", err)
	}
}

func TestCreateRefusesBadRequestsNamingTheRule(t *testing.T) {
	s := newStore(t)
	cases := []struct {
		name       string
		req        Request
		field, msg string
	}{
		{"no queue", Request{Number: "+12025550123"}, "queue", "queue"},
		{"letters", Request{Queue: "q", Number: "call me"}, "number", "rule characters"},
		{"short", Request{Queue: "q", Number: "+12"}, "number", "rule length"},
		{"us digits", Request{Queue: "q", Number: "+1202555012"}, "number", "rule us-ten-digits"},
		{"uk on a us-only queue", Request{Queue: "us", Number: "+442079460958", AllowedCountryCodes: []int{1}},
			"number", "rule country-not-allowed"},
		{"courtesy without score", Request{Queue: "q", Number: "+12025550123", Kind: KindCourtesy}, "score", "original call's score"},
		{"bad kind", Request{Queue: "q", Number: "+12025550123", Kind: "sms"}, "kind", "sms"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			_, _, err := s.Create(context.Background(), c.req)
			var fe *FieldError
			if !errors.As(err, &fe) || fe.Field != c.field || !strings.Contains(err.Error(), c.msg) {
				t.Fatalf("err %v, want field %s naming %q", err, c.field, c.msg)
			}
		})
	}
	// The allow-list lets its own countries (and internal numbers) through.
	mustCreate(t, s, Request{Queue: "uk", Number: "+442079460958", AllowedCountryCodes: []int{1, 44}})
	internal, err := dialnum.NewPolicy(dialnum.PolicyConfig{Internal: []string{"1000-1999"}})
	if err != nil {
		t.Fatal(err)
	}
	mustCreate(t, s, Request{Queue: "uk", Number: "1001", AllowedCountryCodes: []int{44}, Policy: internal})
}

func TestDuplicateRequestsMerge(t *testing.T) {
	s := newStore(t)
	ctx := context.Background()
	first := mustCreate(t, s, Request{Queue: "sales", Number: "+12025550123"})
	again, merged, err := s.Create(ctx, Request{Queue: "sales", Number: "202-555-0123", Region: "US"})
	if err != nil || !merged || again.ID != first.ID {
		t.Fatalf("same number and queue: %s merged=%v err=%v, want %s", again.ID, merged, err, first.ID)
	}
	other := mustCreate(t, s, Request{Queue: "support", Number: "+12025550123"})
	if other.ID == first.ID {
		t.Fatal("another queue merged")
	}
	// Still merged while dialing; a new one once the first is finished.
	claimed, _ := s.Claim(ctx, "n1", time.Minute, 10)
	if len(claimed) != 2 {
		t.Fatalf("claimed %d", len(claimed))
	}
	if cb, merged, _ := s.Create(ctx, Request{Queue: "sales", Number: "+12025550123"}); !merged || cb.ID != first.ID {
		t.Fatalf("while dialing: %s merged=%v", cb.ID, merged)
	}
	if _, err := s.Complete(ctx, first.ID, holder(t, s, first.ID, "n1"), OutcomeAnswered); err != nil {
		t.Fatal(err)
	}
	if cb := mustCreate(t, s, Request{Queue: "sales", Number: "+12025550123"}); cb.ID == first.ID {
		t.Fatal("merged into a done callback")
	}
}

func TestConcurrentDuplicatesMakeOneCallback(t *testing.T) {
	s := newStore(t)
	var wg sync.WaitGroup
	ids := make([]string, 8)
	for i := range ids {
		wg.Add(1)
		go func() {
			defer wg.Done()
			cb, _, err := s.Create(context.Background(), Request{Queue: "sales", Number: "+12025550123"})
			if err != nil {
				t.Error(err)
			}
			ids[i] = cb.ID
		}()
	}
	wg.Wait()
	for _, id := range ids {
		if id != ids[0] {
			t.Fatalf("ids %v", ids)
		}
	}
}

func TestCancelPendingButNotDialing(t *testing.T) {
	s := newStore(t)
	ctx := context.Background()
	a := mustCreate(t, s, Request{Queue: "sales", Number: "+12025550123"})
	got, err := s.Cancel(ctx, a.ID)
	if err != nil || got.State != StateCancelled {
		t.Fatalf("cancel pending: %v %v", got.State, err)
	}
	if w, _ := s.Waiting(ctx, "sales"); len(w) != 0 {
		t.Fatalf("cancelled still waiting: %v", w)
	}
	if c, _ := s.Claim(ctx, "n1", time.Minute, 10); len(c) != 0 {
		t.Fatalf("cancelled claimed: %v", c)
	}

	// Claimed but not dialled yet (waiting for an agent): cancelled, and
	// the holder loses its lease.
	b := mustCreate(t, s, Request{Queue: "sales", Number: "+12025550124"})
	tok := claimOne(t, s, "n1", time.Minute).Node
	if err := s.Attach(ctx, b.ID, tok, "conn-b", ""); err != nil {
		t.Fatal(err)
	}
	got, err = s.Cancel(ctx, b.ID)
	if err != nil || got.State != StateCancelled || got.Conn != "conn-b" || got.CancelledHolder != tok {
		t.Fatalf("cancel claimed: %+v %v", got, err)
	}
	if _, err := s.Extend(ctx, b.ID, tok, time.Minute); !errors.Is(err, ErrLeaseLost) {
		t.Fatalf("holder kept its lease: %v", err)
	}
	if _, err := s.StartDial(ctx, b.ID, tok, "leg", "app"); !errors.Is(err, ErrLeaseLost) {
		t.Fatalf("holder dialled a cancelled callback: %v", err)
	}

	// Being dialled: refused, naming the state.
	c := mustCreate(t, s, Request{Queue: "sales", Number: "+12025550125"})
	claimOne(t, s, "n1", time.Minute)
	if _, err := s.StartDial(ctx, c.ID, holder(t, s, c.ID, "n1"), "leg", "app"); err != nil {
		t.Fatal(err)
	}
	_, err = s.Cancel(ctx, c.ID)
	if !errors.Is(err, ErrIllegalTransition) || !strings.Contains(err.Error(), "dialing") {
		t.Fatalf("cancel dialing: %v", err)
	}
	if got := mustGet(t, s, c.ID); got.State != StateDialing || got.Node != "n1#1" {
		t.Fatalf("after refused cancel: %s held by %s", got.State, got.Node)
	}
	if _, err := s.Cancel(ctx, "nope"); !errors.Is(err, ErrNotFound) {
		t.Fatalf("cancel unknown: %v", err)
	}
}

func TestClaimOnlyWhenDue(t *testing.T) {
	s := newStore(t)
	ctx := context.Background()
	// An hour ahead: not claimable however slow the machine is.
	later := mustCreate(t, s, Request{Queue: "sales", Number: "+12025550124", EarliestAt: time.Now().Add(time.Hour)})
	if got, err := s.Claim(ctx, "n1", time.Minute, 10); err != nil || len(got) != 0 {
		t.Fatalf("claimed before due: %v %v", got, err)
	}
	if next, ok, _ := s.NextDue(ctx); !ok || !next.Equal(later.Due) {
		t.Fatalf("next due %v %v, want %v", next, ok, later.Due)
	}
	// Due a moment ahead: claimed once Redis TIME has passed it, and the
	// one an hour ahead still not.
	cb := mustCreate(t, s, Request{Queue: "sales", Number: "+12025550123", EarliestAt: time.Now().Add(20 * time.Millisecond)})
	if next, ok, _ := s.NextDue(ctx); !ok || !next.Equal(cb.Due) {
		t.Fatalf("next due %v %v, want %v", next, ok, cb.Due)
	}
	waitRedisPast(t, s, cb.Due)
	claimed, err := s.Claim(ctx, "n1", time.Minute, 10)
	if err != nil || len(claimed) != 1 {
		t.Fatalf("claimed %v %v, want only the due one", claimed, err)
	}
	got := claimed[0]
	if got.ID != cb.ID || got.State != StateDialing || got.Node != "n1#1" || got.LeaseExpires.Before(time.Now()) {
		t.Fatalf("claimed %+v", got)
	}
}

func TestClaimExpiresCallbacksPastTheirWindow(t *testing.T) {
	s := newStore(t)
	ctx := context.Background()
	cb := mustCreate(t, s, Request{Queue: "sales", Number: "+12025550123", WindowEnd: time.Now().Add(50 * time.Millisecond)})
	waitRedisPast(t, s, cb.WindowEnd)
	if got, _ := s.Claim(ctx, "n1", time.Minute, 10); len(got) != 0 {
		t.Fatalf("claimed past its window: %v", got)
	}
	if got := mustGet(t, s, cb.ID); got.State != StateExpired {
		t.Fatalf("state %s", got.State)
	}
}

func TestConcurrentClaimersTakeEachCallbackOnce(t *testing.T) {
	s := newStore(t)
	ctx := context.Background()
	const n = 500
	for i := range n {
		mustCreate(t, s, Request{Queue: "sales", Number: fmt.Sprintf("+1202555%04d", i)})
	}
	var mu sync.Mutex
	seen := map[string]string{}
	var wg sync.WaitGroup
	for g := range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			node := fmt.Sprintf("n%d", g)
			for {
				got, err := s.Claim(ctx, node, time.Minute, 7)
				if err != nil {
					t.Error(err)
					return
				}
				if len(got) == 0 {
					return
				}
				mu.Lock()
				for _, cb := range got {
					if prev, dup := seen[cb.ID]; dup {
						t.Errorf("%s claimed by %s and %s", cb.ID, prev, node)
					}
					seen[cb.ID] = node
					if cb.Node != node+"#1" {
						t.Errorf("%s returned to %s held by %s", cb.ID, node, cb.Node)
					}
				}
				mu.Unlock()
			}
		}()
	}
	wg.Wait()
	if len(seen) != n {
		t.Fatalf("claimed %d of %d", len(seen), n)
	}
}

func TestLeaseExtendAndLost(t *testing.T) {
	s := newStore(t)
	ctx := context.Background()
	cb := mustCreate(t, s, Request{Queue: "sales", Number: "+12025550123"})
	claimed := claimOne(t, s, "n1", 100*time.Millisecond)
	until, err := s.Extend(ctx, cb.ID, holder(t, s, cb.ID, "n1"), time.Minute)
	if err != nil || !until.After(claimed.LeaseExpires) {
		t.Fatalf("extend: %v %v", until, err)
	}
	if _, err := s.Extend(ctx, cb.ID, holder(t, s, cb.ID, "n2"), time.Minute); !errors.Is(err, ErrLeaseLost) {
		t.Fatalf("extend by another node: %v", err)
	}
	// Extended: nothing to reclaim after the first lease would have ended.
	waitRedisPast(t, s, claimed.LeaseExpires)
	if ids, _ := s.Reclaim(ctx, 10); len(ids) != 0 {
		t.Fatalf("reclaimed an extended lease: %v", ids)
	}
	if _, err := s.Lapse(ctx, cb.ID, holder(t, s, cb.ID, "n2"), 0); !errors.Is(err, ErrLeaseLost) {
		t.Fatalf("lapse by another node: %v", err)
	}
	if _, err := s.Lapse(ctx, cb.ID, holder(t, s, cb.ID, "n1"), -time.Second); err == nil {
		t.Fatal("lapse into the future accepted")
	}
	// Let it lapse and be reclaimed and claimed by n2: n1 has lost it.
	lapse(t, s, cb.ID, "n1", time.Millisecond)
	if ids, _ := s.Reclaim(ctx, 10); len(ids) != 1 {
		t.Fatalf("reclaimed %v", ids)
	}
	claimOne(t, s, "n2", time.Minute)
	for name, err := range map[string]error{
		"extend": func() error { _, err := s.Extend(ctx, cb.ID, holder(t, s, cb.ID, "n1"), time.Minute); return err }(),
		"start": func() error {
			_, err := s.StartDial(ctx, cb.ID, holder(t, s, cb.ID, "n1"), "leg-n1", "app-n1")
			return err
		}(),
		"complete": func() error {
			_, err := s.Complete(ctx, cb.ID, holder(t, s, cb.ID, "n1"), OutcomeAnswered)
			return err
		}(),
	} {
		if !errors.Is(err, ErrLeaseLost) {
			t.Errorf("%s by the old holder: %v", name, err)
		}
	}
	if got := mustGet(t, s, cb.ID); got.State != StateDialing || !strings.HasPrefix(got.Node, "n2#") {
		t.Fatalf("after the old holder's calls: %s %s", got.State, got.Node)
	}
}

func TestCompleteAnsweredIsDone(t *testing.T) {
	s := newStore(t)
	ctx := context.Background()
	cb := mustCreate(t, s, Request{Queue: "sales", Number: "+12025550123"})
	claimOne(t, s, "n1", time.Minute)
	if n, err := s.StartDial(ctx, cb.ID, holder(t, s, cb.ID, "n1"), "leg-n1", "app-n1"); err != nil || n != 1 {
		t.Fatalf("start: %d %v", n, err)
	}
	if _, err := s.StartDial(ctx, cb.ID, holder(t, s, cb.ID, "n1"), "leg-n1", "app-n1"); !errors.Is(err, ErrDialStarted) {
		t.Fatalf("second start of attempt 1: %v", err)
	}
	if _, err := s.Complete(ctx, cb.ID, holder(t, s, cb.ID, "n1"), "hung_up"); err == nil {
		t.Fatal("unknown outcome accepted")
	}
	if _, err := s.Complete(ctx, cb.ID, holder(t, s, cb.ID, "n1"), OutcomeAnswered); err != nil {
		t.Fatal(err)
	}
	got := mustGet(t, s, cb.ID)
	if got.State != StateDone || len(got.Attempts) != 1 || got.Attempts[0].Outcome != OutcomeAnswered ||
		got.Attempts[0].Node != "n1" || got.Ended.IsZero() || got.Node != "" || got.DialStarted != 0 {
		t.Fatalf("done: %+v", got)
	}
	if _, err := s.Complete(ctx, cb.ID, holder(t, s, cb.ID, "n1"), OutcomeAnswered); !errors.Is(err, ErrLeaseLost) {
		t.Fatalf("complete twice: %v", err)
	}
	if _, err := s.Cancel(ctx, cb.ID); !errors.Is(err, ErrIllegalTransition) || !strings.Contains(err.Error(), "done") {
		t.Fatalf("cancel done: %v", err)
	}
}

func TestRetriesUntilFailedRecordingEveryAttempt(t *testing.T) {
	s := newStore(t)
	ctx := context.Background()
	cb := mustCreate(t, s, Request{Queue: "sales", Number: "+12025550123", MaxAttempts: 3, RetryDelay: time.Hour})
	outcomes := []Outcome{OutcomeNoAnswer, OutcomeBusy, OutcomeAgentFailed}
	for i, o := range outcomes {
		c := claimOne(t, s, "n1", time.Minute)
		if n, err := s.StartDial(ctx, c.ID, holder(t, s, c.ID, "n1"), "leg-n1", "app-n1"); err != nil || n != i+1 {
			t.Fatalf("attempt %d started as %d: %v", i+1, n, err)
		}
		got, err := s.Complete(ctx, cb.ID, holder(t, s, cb.ID, "n1"), o)
		if err != nil {
			t.Fatal(err)
		}
		if i < len(outcomes)-1 {
			if got.State != StatePending || got.Due.Sub(got.Attempts[i].At) != time.Hour {
				t.Fatalf("after attempt %d: %s due %v at %v", i+1, got.State, got.Due, got.Attempts[i].At)
			}
			if c, _ := s.Claim(ctx, "n1", time.Minute, 1); len(c) != 0 {
				t.Fatalf("claimed before the retry delay")
			}
			// The delay is checked on the record above; DueNow stands in
			// for the hour, so no step races the machine's load.
			if _, err := s.DueNow(ctx, cb.ID); err != nil {
				t.Fatal(err)
			}
		}
	}
	got := mustGet(t, s, cb.ID)
	if got.State != StateFailed || len(got.Attempts) != 3 {
		t.Fatalf("final %s with %d attempts", got.State, len(got.Attempts))
	}
	for i, a := range got.Attempts {
		if a.Outcome != outcomes[i] || a.Node != "n1" {
			t.Errorf("attempt %d: %+v", i+1, a)
		}
	}
	if c, _ := s.Claim(ctx, "n1", time.Minute, 1); len(c) != 0 {
		t.Fatal("failed callback claimed")
	}
}

func TestReclaimAfterLeaseExpiry(t *testing.T) {
	s := newStore(t)
	ctx := context.Background()
	cb := mustCreate(t, s, Request{Queue: "sales", Number: "+12025550123", MaxAttempts: 2, RetryDelay: time.Hour})

	// n1 dies before starting a dial: back to pending, no attempt counted.
	claimOne(t, s, "n1", time.Minute)
	if ids, _ := s.Reclaim(ctx, 10); len(ids) != 0 {
		t.Fatalf("reclaimed a live lease: %v", ids)
	}
	lapse(t, s, cb.ID, "n1", time.Millisecond)
	if ids, err := s.Reclaim(ctx, 10); err != nil || len(ids) != 1 || ids[0] != cb.ID {
		t.Fatalf("reclaim: %v %v", ids, err)
	}
	if got := mustGet(t, s, cb.ID); got.State != StatePending || len(got.Attempts) != 0 || got.Node != "" {
		t.Fatalf("after reclaim without a dial: %+v", got)
	}

	// n2 attaches an interaction, starts attempt 1 and dies: the
	// callback is due again at once, keeping the started attempt and its
	// leg for the next claimer to take over; no attempt is counted and the
	// attempt can never be started a second time.
	claimOne(t, s, "n2", time.Minute)
	if err := s.Attach(ctx, cb.ID, holder(t, s, cb.ID, "n2"), "conn-1", "agent-leg-1"); err != nil {
		t.Fatal(err)
	}
	if n, _ := s.StartDial(ctx, cb.ID, holder(t, s, cb.ID, "n2"), "leg-n2", "app-n2"); n != 1 {
		t.Fatalf("started attempt %d", n)
	}
	if ids, _ := s.Reclaim(ctx, 10); len(ids) != 0 {
		t.Fatalf("reclaimed a live lease with a dial started: %v", ids)
	}
	lapse(t, s, cb.ID, "n2", time.Millisecond)
	if ids, _ := s.Reclaim(ctx, 10); len(ids) != 1 {
		t.Fatalf("reclaim: %v", ids)
	}
	got := mustGet(t, s, cb.ID)
	if got.State != StatePending || len(got.Attempts) != 0 || got.DialStarted != 1 || got.DialLeg != "leg-n2" ||
		got.DialOwner != "app-n2" || got.Conn != "conn-1" || got.AgentLeg != "agent-leg-1" {
		t.Fatalf("after reclaim of a started dial: %+v", got)
	}
	taken := claimOne(t, s, "n3", time.Minute) // due now, not after RetryDelay
	if taken.DialStarted != 1 || taken.DialLeg != "leg-n2" || taken.DialOwner != "app-n2" {
		t.Fatalf("claimed without the started dial: %+v", taken)
	}
	if _, err := s.StartDial(ctx, cb.ID, holder(t, s, cb.ID, "n3"), "leg-n3", "app-n3"); !errors.Is(err, ErrDialStarted) {
		t.Fatalf("taker dialled the started attempt again: %v", err)
	}
	if _, err := s.Release(ctx, cb.ID, holder(t, s, cb.ID, "n3"), 0); !errors.Is(err, ErrDialStarted) {
		t.Fatalf("released with a dial started: %v", err)
	}
	// n3 finds the leg unanswered: that is attempt 1's outcome, recorded
	// as n3's; attempt 2 is a new dial.
	if got, err := s.Complete(ctx, cb.ID, holder(t, s, cb.ID, "n3"), OutcomeNoAnswer); err != nil || got.State != StatePending ||
		len(got.Attempts) != 1 || got.DialStarted != 0 || got.DialLeg != "" || got.Conn != "" {
		t.Fatalf("complete the taken-over attempt: %+v %v", got, err)
	}
}

func TestReleaseGivesBackWithoutAnAttempt(t *testing.T) {
	s := newStore(t)
	ctx := context.Background()
	cb := mustCreate(t, s, Request{Queue: "sales", Number: "+12025550123", Kind: KindCourtesy, Score: 42})
	claimOne(t, s, "n1", time.Minute)
	if err := s.Attach(ctx, cb.ID, holder(t, s, cb.ID, "n2"), "conn", ""); !errors.Is(err, ErrLeaseLost) {
		t.Fatalf("attach by a non-holder: %v", err)
	}
	if _, err := s.Release(ctx, cb.ID, holder(t, s, cb.ID, "n2"), 0); !errors.Is(err, ErrLeaseLost) {
		t.Fatalf("release by a non-holder: %v", err)
	}
	before := time.Now()
	got, err := s.Release(ctx, cb.ID, holder(t, s, cb.ID, "n1"), time.Hour)
	if err != nil || got.State != StatePending || len(got.Attempts) != 0 || got.Node != "" || got.Score != 42 ||
		got.Due.Before(before.Add(time.Hour-time.Second)) {
		t.Fatalf("release: %+v %v", got, err)
	}
	if c, _ := s.Claim(ctx, "n1", time.Minute, 1); len(c) != 0 {
		t.Fatal("claimed before the release delay")
	}
	if w, _ := s.Waiting(ctx, "sales"); len(w) != 1 || w[0].ID != cb.ID {
		t.Fatalf("released callback not back in its place: %+v", w)
	}
	// DueNow stands in for the hour (the delay is checked on the record).
	if _, err := s.DueNow(ctx, cb.ID); err != nil {
		t.Fatal(err)
	}
	claimOne(t, s, "n1", time.Minute)
}

func TestWaitingKeepsCourtesyCallbacksInPlace(t *testing.T) {
	s := newStore(t)
	ctx := context.Background()
	// Scores as the queue gives them (earlier calls lower). The web request
	// comes last but a courtesy callback of an older call goes before it.
	late := mustCreate(t, s, Request{Queue: "sales", Number: "+12025550101", Kind: KindWeb})
	c2 := mustCreate(t, s, Request{Queue: "sales", Number: "+12025550102", Kind: KindCourtesy, Score: 2000})
	c1 := mustCreate(t, s, Request{Queue: "sales", Number: "+12025550103", Kind: KindCourtesy, Score: 1000})
	mustCreate(t, s, Request{Queue: "support", Number: "+12025550104", Kind: KindCourtesy, Score: 1})
	w, err := s.Waiting(ctx, "sales")
	if err != nil {
		t.Fatal(err)
	}
	var ids []string
	for _, cb := range w {
		ids = append(ids, cb.ID)
	}
	if want := []string{c1.ID, c2.ID, late.ID}; fmt.Sprint(ids) != fmt.Sprint(want) {
		t.Fatalf("waiting %v, want %v", ids, want)
	}
	// Claimed they leave the list; c1 retried comes back in its old place,
	// ahead of the callbacks created before it.
	// All four: they are due in the same millisecond or so, and a claim of
	// three could take the support one and leave a sales one.
	claimed, err := s.Claim(ctx, "n1", time.Minute, 4)
	if err != nil || len(claimed) != 4 {
		t.Fatalf("claim: %d %v", len(claimed), err)
	}
	if w, _ := s.Waiting(ctx, "sales"); len(w) != 0 {
		t.Fatalf("claimed callbacks still waiting: %d", len(w))
	}
	if _, err := s.Complete(ctx, c2.ID, holder(t, s, c2.ID, "n1"), OutcomeBusy); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Complete(ctx, c1.ID, holder(t, s, c1.ID, "n1"), OutcomeBusy); err != nil {
		t.Fatal(err)
	}
	if w, _ := s.Waiting(ctx, "sales"); len(w) != 2 || w[0].ID != c1.ID || w[0].Score != 1000 || w[1].ID != c2.ID {
		t.Fatalf("retried courtesy callbacks not in their places: %+v", w)
	}
}

// TestStaleClaimOnTheSameNodeIsFenced: a node that claims a callback
// again after its own earlier claim was reclaimed gets a new holder token;
// the earlier claim's token (a stalled actor) can do nothing any more.
func TestStaleClaimOnTheSameNodeIsFenced(t *testing.T) {
	s := newStore(t)
	ctx := context.Background()
	cb := mustCreate(t, s, Request{Queue: "sales", Number: "+12025550123"})
	old := claimOne(t, s, "n1", time.Minute).Node
	lapse(t, s, cb.ID, "n1", time.Millisecond)
	if ids, _ := s.Reclaim(ctx, 10); len(ids) != 1 {
		t.Fatalf("reclaim: %v", ids)
	}
	cur := claimOne(t, s, "n1", time.Minute).Node
	if old != "n1#1" || cur != "n1#2" {
		t.Fatalf("tokens %q then %q", old, cur)
	}
	for name, err := range map[string]error{
		"extend":   func() error { _, err := s.Extend(ctx, cb.ID, old, time.Minute); return err }(),
		"attach":   s.Attach(ctx, cb.ID, old, "conn", ""),
		"start":    func() error { _, err := s.StartDial(ctx, cb.ID, old, "leg", "app"); return err }(),
		"complete": func() error { _, err := s.Complete(ctx, cb.ID, old, OutcomeAnswered); return err }(),
		"release":  func() error { _, err := s.Release(ctx, cb.ID, old, 0); return err }(),
	} {
		if !errors.Is(err, ErrLeaseLost) {
			t.Errorf("%s with the stale token: %v", name, err)
		}
	}
	if _, err := s.StartDial(ctx, cb.ID, cur, "leg", "app"); err != nil {
		t.Fatal(err)
	}
	if got, err := s.Complete(ctx, cb.ID, cur, OutcomeAnswered); err != nil || got.Attempts[0].Node != "n1" {
		t.Fatalf("complete with the current token: %+v %v", got, err)
	}
}

// TestStartedDialsOfADeadOwnerGoToOneNode: the started dials a dead node
// left are never cancelled nor expired before they are taken over, and
// all of one dead owner's go to the node that took the first (one socket
// per Stasis application).
func TestStartedDialsOfADeadOwnerGoToOneNode(t *testing.T) {
	s := newStore(t)
	ctx := context.Background()
	// a's window ends a second ahead: claimed inside it (a second is the
	// room the steps below get), past it by the reclaim.
	a := mustCreate(t, s, Request{Queue: "sales", Number: "+12025550131", WindowEnd: time.Now().Add(time.Second)})
	b := mustCreate(t, s, Request{Queue: "sales", Number: "+12025550132"})
	got, err := s.Claim(ctx, "dead", time.Minute, 2)
	if err != nil || len(got) != 2 {
		t.Fatalf("claim: %d %v", len(got), err)
	}
	for _, cb := range got {
		if _, err := s.StartDial(ctx, cb.ID, cb.Node, cb.ID+"-c1", "app-dead"); err != nil {
			t.Fatal(err)
		}
	}
	for _, cb := range got { // leases over, a's window too
		lapse(t, s, cb.ID, "dead", time.Millisecond)
	}
	waitRedisPast(t, s, a.WindowEnd)
	if ids, _ := s.Reclaim(ctx, 10); len(ids) != 2 {
		t.Fatalf("reclaim: %v", ids)
	}
	if _, err := s.Cancel(ctx, a.ID); !errors.Is(err, ErrIllegalTransition) || !strings.Contains(err.Error(), "dialing") {
		t.Fatalf("cancel of a started dial waiting to be taken over: %v", err)
	}
	first, err := s.Claim(ctx, "n2", time.Minute, 1)
	if err != nil || len(first) != 1 || first[0].DialOwner != "app-dead" {
		t.Fatalf("n2 claims: %+v %v", first, err)
	}
	if other, _ := s.Claim(ctx, "n3", time.Minute, 10); len(other) != 0 {
		t.Fatalf("n3 took a dial of the owner n2 is taking over: %+v", other)
	}
	second, err := s.Claim(ctx, "n2", time.Minute, 10)
	if err != nil || len(second) != 1 {
		t.Fatalf("n2 claims the other: %+v %v", second, err)
	}
	ids := map[string]bool{first[0].ID: true, second[0].ID: true}
	if !ids[a.ID] || !ids[b.ID] {
		t.Fatalf("claimed %v", ids)
	}
	if got := mustGet(t, s, a.ID); got.State != StateDialing || got.DialLeg != a.ID+"-c1" {
		t.Fatalf("a past its window: %+v", got)
	}
}

func TestDueNowMakesAHeldCallbackDue(t *testing.T) {
	s := newStore(t)
	ctx := context.Background()
	cb := mustCreate(t, s, Request{Queue: "sales", Number: "+12025550123", Kind: KindCourtesy, Score: 7, EarliestAt: time.Now().Add(time.Hour)})
	if c, _ := s.Claim(ctx, "n1", time.Minute, 1); len(c) != 0 {
		t.Fatal("a held callback was claimed")
	}
	got, err := s.DueNow(ctx, cb.ID)
	if err != nil || !got.Due.Before(time.Now().Add(time.Second)) {
		t.Fatalf("due now: %+v %v", got, err)
	}
	claimOne(t, s, "n1", time.Minute)
	if _, err := s.DueNow(ctx, cb.ID); !errors.Is(err, ErrIllegalTransition) {
		t.Fatalf("due now of a claimed callback: %v", err)
	}
}

// TestReclaimLeavesAStartedDialToALiveNode: a lapsed lease whose node
// still beats is not reclaimed while a dial is in flight (taking it over
// would stop that node at the PBX), unless it lapsed ten leases ago; once
// the node stops beating it is reclaimed. A lapsed lease without a dial
// is reclaimed whatever the heartbeat.
func TestReclaimLeavesAStartedDialToALiveNode(t *testing.T) {
	s := newStore(t)
	ctx := context.Background()
	dialled := mustCreate(t, s, Request{Queue: "sales", Number: "+12025550141"})
	queued := mustCreate(t, s, Request{Queue: "sales", Number: "+12025550142"})
	if err := s.Heartbeat(ctx, "n1", time.Minute); err != nil {
		t.Fatal(err)
	}
	got, err := s.Claim(ctx, "n1", time.Minute, 2)
	if err != nil || len(got) != 2 {
		t.Fatalf("claim: %d %v", len(got), err)
	}
	if _, err := s.StartDial(ctx, dialled.ID, holder(t, s, dialled.ID, "n1"), "leg", "app-n1"); err != nil {
		t.Fatal(err)
	}
	// Both lapsed a moment ago, far less than ten leases.
	lapse(t, s, dialled.ID, "n1", time.Millisecond)
	lapse(t, s, queued.ID, "n1", time.Millisecond)
	ids, err := s.Reclaim(ctx, 10)
	if err != nil || len(ids) != 1 || ids[0] != queued.ID {
		t.Fatalf("reclaimed %v (%v), want only the callback without a dial", ids, err)
	}
	if err := s.Stopped(ctx, "n1"); err != nil {
		t.Fatal(err)
	}
	if ids, _ := s.Reclaim(ctx, 10); len(ids) != 1 || ids[0] != dialled.ID {
		t.Fatalf("after the node stopped beating: %v", ids)
	}
	// Beating but lapsed ten leases ago: reclaimed all the same.
	late := mustCreate(t, s, Request{Queue: "sales", Number: "+12025550143"})
	if err := s.Heartbeat(ctx, "n2", time.Minute); err != nil {
		t.Fatal(err)
	}
	c, _ := s.Claim(ctx, "n2", time.Second, 10)
	for _, cb := range c {
		if cb.ID == late.ID {
			if _, err := s.StartDial(ctx, cb.ID, cb.Node, "leg", "app-n2"); err != nil {
				t.Fatal(err)
			}
		}
	}
	lapse(t, s, late.ID, "n2", 11*time.Second) // eleven one-second leases ago
	ids, _ = s.Reclaim(ctx, 10)
	if !slices.Contains(ids, late.ID) {
		t.Fatalf("a dial lapsed ten leases ago was left: %v", ids)
	}
}

// TestLiveListsTheCallbacksNotOverOldestFirst: a queue's live callbacks
// are the pending and the dialing ones, oldest request first; a
// cancelled one, and another queue's, are not among them.
func TestLiveListsTheCallbacksNotOverOldestFirst(t *testing.T) {
	s := newStore(t)
	ctx := context.Background()
	var made []Callback
	for _, n := range []string{"+12025550101", "+12025550102", "+12025550103"} {
		cb := mustCreate(t, s, Request{Queue: "sales", Number: n})
		made = append(made, cb)
		waitRedisPast(t, s, cb.Created) // the next one is strictly younger
	}
	mustCreate(t, s, Request{Queue: "support", Number: "+12025550104"})
	// A request for a number the queue has a live callback for is merged:
	// still three.
	if _, merged, err := s.Create(ctx, Request{Queue: "sales", Number: "+12025550103"}); err != nil || !merged {
		t.Fatalf("merge: %v %v", merged, err)
	}
	if got := claimOne(t, s, "n1", time.Minute); got.ID != made[0].ID {
		t.Fatalf("claimed %s, want the oldest, %s", got.ID, made[0].ID)
	}
	if _, err := s.Cancel(ctx, made[1].ID); err != nil {
		t.Fatal(err)
	}

	live, err := s.Live(ctx, []string{"sales"}, MaxBatch)
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, cb := range live {
		got = append(got, cb.ID+" "+cb.Status())
	}
	want := []string{made[0].ID + " queued", made[2].ID + " pending"}
	if !slices.Equal(got, want) {
		t.Errorf("live callbacks of sales %q, want %q", got, want)
	}
	for q, want := range map[string]int64{"sales": 2, "support": 1, "nobody": 0} {
		if n, err := s.LiveCount(ctx, q); err != nil || n != want {
			t.Errorf("live count of %s: %d %v, want %d", q, n, err, want)
		}
	}
	if live, err := s.Live(ctx, []string{"nobody"}, MaxBatch); err != nil || len(live) != 0 {
		t.Errorf("live callbacks of a queue without any: %v %v", live, err)
	}
}
