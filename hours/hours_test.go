package hours

import (
	"errors"
	"math/rand/v2"
	"strings"
	"testing"
	"time"
	_ "time/tzdata" // the tests do not depend on the machine's zoneinfo
)

// utc reads an instant written in UTC ("2026-03-29 01:00:00", with an
// optional fraction), so each case states the exact instant and its name
// the wall clock it is in the zone.
func utc(t *testing.T, s string) time.Time {
	t.Helper()
	at, err := time.Parse("2006-01-02 15:04:05", s)
	if err != nil {
		t.Fatal(err)
	}
	return at
}

var weekdays = []string{"mon", "tue", "wed", "thu", "fri"}

// paris is an office open Monday to Friday 09:00-17:00 in Paris, closed
// on Christmas (a Friday in 2026).
var paris = Hours{
	TimeZone: "Europe/Paris",
	Weekly:   []Window{{Days: weekdays, From: "09:00", To: "17:00"}},
	Holidays: []string{"2026-12-25"},
}

var newYork = Hours{
	TimeZone: "America/New_York",
	Weekly:   []Window{{Days: weekdays, From: "09:00", To: "17:00"}},
}

// sunday opens one window on Sundays, to put window edges inside the
// daylight-saving changes (which happen on Sunday nights in both zones).
func sunday(zone, from, to string) Hours {
	return Hours{TimeZone: zone, Weekly: []Window{{Days: []string{"sun"}, From: from, To: to}}}
}

func TestOpen(t *testing.T) {
	// Paris changes on 2026-03-29 at 01:00 UTC (02:00 CET → 03:00 CEST)
	// and 2026-10-25 at 01:00 UTC (03:00 CEST → 02:00 CET); New York on
	// 2026-03-08 at 07:00 UTC (02:00 EST → 03:00 EDT) and 2026-11-01 at
	// 06:00 UTC (02:00 EDT → 01:00 EST).
	lunch := Hours{Weekly: []Window{{Days: []string{"wed"}, From: "11:30", To: "14:00"}}} // UTC
	nights := Hours{TimeZone: "Europe/Paris", Weekly: []Window{
		{Days: []string{"fri"}, From: "22:00", To: "24:00"},
		{Days: []string{"sat"}, From: "00:00", To: "24:00"},
		{Days: []string{"sun"}, From: "00:00", To: "06:00"},
	}}
	always := Hours{TimeZone: "Europe/Paris", Holidays: []string{"2026-12-25"}}
	for _, tc := range []struct {
		name string
		h    Hours
		at   string // UTC
		open bool
	}{
		// The same 09:00 local opening is 08:00 UTC in winter and 07:00 in summer.
		{"paris winter friday 08:59:59 CET", paris, "2026-03-27 07:59:59", false},
		{"paris winter friday 09:00 CET", paris, "2026-03-27 08:00:00", true},
		{"paris summer monday 08:59:59 CEST", paris, "2026-03-30 06:59:59", false},
		{"paris summer monday 09:00 CEST", paris, "2026-03-30 07:00:00", true},
		{"paris summer monday 16:59:59 CEST", paris, "2026-03-30 14:59:59", true},
		{"paris summer monday 17:00 CEST (to is excluded)", paris, "2026-03-30 15:00:00", false},
		{"paris friday before the autumn change 09:00 CEST", paris, "2026-10-23 07:00:00", true},
		{"paris monday after the autumn change 08:00 CET", paris, "2026-10-26 07:00:00", false},
		{"paris monday after the autumn change 09:00 CET", paris, "2026-10-26 08:00:00", true},
		{"paris monday 16:30 CET", paris, "2026-10-26 15:30:00", true},
		{"paris saturday noon", paris, "2026-10-24 10:00:00", false},
		{"paris christmas 10:00 (holiday)", paris, "2026-12-25 09:00:00", false},
		{"paris christmas eve 10:00", paris, "2026-12-24 09:00:00", true},
		{"new york winter 09:00 EST", newYork, "2026-03-06 14:00:00", true},
		{"new york winter 08:59 EST", newYork, "2026-03-06 13:59:00", false},
		{"new york summer 09:00 EDT", newYork, "2026-03-09 13:00:00", true},
		{"new york summer 08:59 EDT", newYork, "2026-03-09 12:59:00", false},
		{"new york after the autumn change 09:00 EST", newYork, "2026-11-02 14:00:00", true},
		{"new york after the autumn change 08:00 EST", newYork, "2026-11-02 13:00:00", false},

		// A window across noon, in UTC (empty time zone).
		{"lunch 11:29:59", lunch, "2026-06-03 11:29:59", false},
		{"lunch 11:30", lunch, "2026-06-03 11:30:00", true},
		{"lunch 12:00", lunch, "2026-06-03 12:00:00", true},
		{"lunch 13:59:59.999", lunch, "2026-06-03 13:59:59.999", true},
		{"lunch 14:00", lunch, "2026-06-03 14:00:00", false},
		{"lunch another day", lunch, "2026-06-04 12:00:00", false},

		// Midnight edges: Friday 22:00 to Sunday 06:00 as three windows.
		{"nights friday 21:59:59", nights, "2026-06-05 19:59:59", false},
		{"nights friday 22:00", nights, "2026-06-05 20:00:00", true},
		{"nights friday 23:59:59.999", nights, "2026-06-05 21:59:59.999", true},
		{"nights saturday 00:00", nights, "2026-06-05 22:00:00", true},
		{"nights sunday 00:00", nights, "2026-06-06 22:00:00", true},
		{"nights sunday 05:59:59", nights, "2026-06-07 03:59:59", true},
		{"nights sunday 06:00", nights, "2026-06-07 04:00:00", false},

		// A holiday is a day of the schedule's zone, not of UTC.
		{"always christmas eve 23:59:59 CET", always, "2026-12-24 22:59:59", true},
		{"always christmas 00:00 CET", always, "2026-12-24 23:00:00", false},
		{"always christmas 23:59:59 CET", always, "2026-12-25 22:59:59", false},
		{"always boxing day 00:00 CET", always, "2026-12-25 23:00:00", true},
		{"always any time", Hours{}, "2026-02-28 03:04:05", true},

		// Windows inside the daylight-saving changes.
		{"paris 02:30-04:00 at 01:59:59 CET, just before the gap", sunday("Europe/Paris", "02:30", "04:00"), "2026-03-29 00:59:59", false},
		{"paris 02:30-04:00 at 03:00 CEST, just after the gap", sunday("Europe/Paris", "02:30", "04:00"), "2026-03-29 01:00:00", true},
		{"paris 02:00-02:30 first 02:15 CEST", sunday("Europe/Paris", "02:00", "02:30"), "2026-10-25 00:15:00", true},
		{"paris 02:00-02:30 02:45 CEST", sunday("Europe/Paris", "02:00", "02:30"), "2026-10-25 00:45:00", false},
		{"paris 02:00-02:30 second 02:15 CET", sunday("Europe/Paris", "02:00", "02:30"), "2026-10-25 01:15:00", true},
		{"new york 01:00-01:30 first 01:10 EDT", sunday("America/New_York", "01:00", "01:30"), "2026-11-01 05:10:00", true},
		{"new york 01:00-01:30 01:40 EDT", sunday("America/New_York", "01:00", "01:30"), "2026-11-01 05:40:00", false},
		{"new york 01:00-01:30 second 01:10 EST", sunday("America/New_York", "01:00", "01:30"), "2026-11-01 06:10:00", true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			at := utc(t, tc.at) // fractions of a second are read too
			open, err := Open(tc.h, at)
			if err != nil {
				t.Fatal(err)
			}
			if open != tc.open {
				t.Errorf("Open(%s = %s) = %v, want %v", tc.at, at.In(mustLoad(t, tc.h.TimeZone)).Format("Mon 15:04:05 MST"), open, tc.open)
			}
		})
	}
}

func mustLoad(t *testing.T, zone string) *time.Location {
	t.Helper()
	loc, err := time.LoadLocation(zone)
	if err != nil {
		t.Fatal(err)
	}
	return loc
}

func TestNextOpen(t *testing.T) {
	mondays := Hours{TimeZone: "Europe/Paris", Weekly: []Window{{Days: []string{"mon"}, From: "10:00", To: "11:00"}},
		Holidays: []string{"2026-06-08", "2026-06-15"}}
	for _, tc := range []struct {
		name  string
		h     Hours
		after string // UTC
		want  string // UTC; "" = not within the horizon
	}{
		{"open now is now", paris, "2026-03-30 10:00:00", "2026-03-30 10:00:00"},
		// Friday 18:00 CET to Monday 09:00 CEST: 63 hours of wall clock
		// but 62 of real time. Adding days to the instant would say 08:00 UTC.
		{"over the weekend of the spring change", paris, "2026-03-27 17:00:00", "2026-03-30 07:00:00"},
		{"over the weekend of the autumn change", paris, "2026-10-23 16:00:00", "2026-10-26 08:00:00"},
		{"early morning", paris, "2026-03-30 02:00:00", "2026-03-30 07:00:00"},
		{"over a holiday and a weekend", paris, "2026-12-24 16:30:00", "2026-12-28 08:00:00"},
		{"new york over the spring change", newYork, "2026-03-06 22:00:00", "2026-03-09 13:00:00"},
		{"new york over the autumn change", newYork, "2026-10-30 22:00:00", "2026-11-02 14:00:00"},
		// A window starting in the spring gap opens when the gap ends.
		// time.Date would put 02:30 at 03:30 CEST in Paris but at 01:30
		// EST in New York: the schedule must not depend on that.
		{"paris window in the gap", sunday("Europe/Paris", "02:30", "04:00"), "2026-03-28 23:00:00", "2026-03-29 01:00:00"},
		{"new york window in the gap", sunday("America/New_York", "02:30", "04:00"), "2026-03-08 05:00:00", "2026-03-08 07:00:00"},
		// A window entirely in the gap never happens that Sunday.
		{"paris window lost in the gap", sunday("Europe/Paris", "02:00", "02:59"), "2026-03-28 23:00:00", "2026-04-05 00:00:00"},
		// The repeated hour in autumn: open again the second time round.
		{"paris second 02:00", sunday("Europe/Paris", "02:00", "02:30"), "2026-10-25 00:40:00", "2026-10-25 01:00:00"},
		{"new york second 01:00", sunday("America/New_York", "01:00", "01:30"), "2026-11-01 05:31:00", "2026-11-01 06:00:00"},
		// A holiday on an always-open schedule ends at local midnight.
		{"end of a holiday", Hours{TimeZone: "America/New_York", Holidays: []string{"2026-07-04"}}, "2026-07-04 12:00:00", "2026-07-05 04:00:00"},
		// Next two Mondays are holidays: the third is past the horizon.
		{"not within the horizon", mondays, "2026-06-02 10:00:00", ""},
		{"just within the horizon", Hours{TimeZone: "Europe/Paris", Weekly: mondays.Weekly, Holidays: mondays.Holidays[:1]},
			"2026-06-02 10:00:00", "2026-06-15 08:00:00"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, ok := NextOpen(tc.h, utc(t, tc.after))
			if tc.want == "" {
				if ok {
					t.Fatalf("NextOpen = %v, want none within %v", got, Horizon)
				}
				return
			}
			if want := utc(t, tc.want); !ok || !got.Equal(want) {
				loc := mustLoad(t, tc.h.TimeZone)
				t.Fatalf("NextOpen = %v (%v) %v, want %v (%v)", got.UTC(), got.In(loc), ok, want, want.In(loc))
			}
		})
	}
}

// TestNextOpenAgreesWithScan checks the hopping search against the
// obvious one, a minute-by-minute scan (exact for these zones: their
// offsets are whole minutes), on random schedules around the four
// daylight-saving changes of 2026.
func TestNextOpenAgreesWithScan(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	clock := func() string {
		m := rng.IntN(24 * 4) // quarter hours, so edges land on and near the changes
		return time.Time{}.Add(time.Duration(m) * 15 * time.Minute).Format("15:04")
	}
	days := []string{"sun", "mon", "tue", "wed", "thu", "fri", "sat"}
	changes := []string{"2026-03-29 01:00:00", "2026-10-25 01:00:00", "2026-03-08 07:00:00", "2026-11-01 06:00:00"}
	for i := range 200 {
		zone := []string{"Europe/Paris", "America/New_York"}[i%2]
		h := Hours{TimeZone: zone}
		for range 1 + rng.IntN(3) {
			from, to := clock(), clock()
			if from > to {
				from, to = to, from
			}
			if from == to {
				to = "24:00"
			}
			w := Window{From: from, To: to}
			for _, d := range days {
				if rng.IntN(3) == 0 {
					w.Days = append(w.Days, d)
				}
			}
			if len(w.Days) == 0 {
				w.Days = []string{"sun"}
			}
			h.Weekly = append(h.Weekly, w)
		}
		if rng.IntN(4) == 0 {
			h.Holidays = []string{"2026-03-29", "2026-11-01"}
		}
		s, err := Compile(h)
		if err != nil {
			t.Fatal(err)
		}
		change := utc(t, changes[(i/2)%2+2*(i%2)])
		after := change.Add(time.Duration(rng.IntN(48*60)-36*60) * time.Minute)
		got, ok := s.NextOpen(after)
		want, wantOK := scan(s, after)
		if ok != wantOK || !got.Equal(want) {
			t.Fatalf("%+v after %v: NextOpen = %v %v, scan = %v %v", h, after, got, ok, want, wantOK)
		}
	}
}

func scan(s *Schedule, after time.Time) (time.Time, bool) {
	for t := after; !t.After(after.Add(Horizon)); t = t.Add(time.Minute) {
		if s.Open(t) {
			return t, true
		}
	}
	return time.Time{}, false
}

func TestInvalidHours(t *testing.T) {
	at := time.Date(2026, 6, 1, 12, 0, 0, 0, time.UTC)
	for _, h := range []Hours{
		{TimeZone: "Mars/Olympus"},
		{Weekly: []Window{{Days: []string{"mon"}, From: "9:00", To: "17:00"}}},
		{Weekly: []Window{{Days: []string{"mon"}, From: "17:00", To: "09:00"}}},
		{Weekly: []Window{{Days: []string{"monday"}, From: "09:00", To: "17:00"}}},
		{Weekly: []Window{{From: "09:00", To: "17:00"}}},
		{Holidays: []string{"2026-13-01"}},
	} {
		if _, err := Open(h, at); !errors.Is(err, ErrInvalid) {
			t.Errorf("Open(%+v) err = %v, want ErrInvalid", h, err)
		}
		if _, ok := NextOpen(h, at); ok {
			t.Errorf("NextOpen(%+v) ok", h)
		}
	}
}

// The schedule is immutable: shared by goroutines without locks.
func TestScheduleIsSafeForConcurrentUse(t *testing.T) {
	s, err := Compile(paris)
	if err != nil {
		t.Fatal(err)
	}
	at := time.Date(2026, 3, 27, 17, 0, 0, 0, time.UTC)
	done := make(chan time.Time)
	for range 4 {
		go func() {
			next, _ := s.NextOpen(at)
			_ = s.Open(at)
			done <- next
		}()
	}
	for range 4 {
		if next := <-done; !next.Equal(time.Date(2026, 3, 30, 7, 0, 0, 0, time.UTC)) {
			t.Errorf("next = %v", next)
		}
	}
}

func BenchmarkOpen(b *testing.B) {
	s, err := Compile(paris)
	if err != nil {
		b.Fatal(err)
	}
	at := time.Date(2026, 3, 30, 10, 0, 0, 0, time.UTC)
	for b.Loop() {
		s.Open(at)
	}
}

func BenchmarkNextOpenOverAWeekend(b *testing.B) {
	s, err := Compile(paris)
	if err != nil {
		b.Fatal(err)
	}
	at := time.Date(2026, 3, 27, 17, 0, 0, 0, time.UTC)
	for b.Loop() {
		s.NextOpen(at)
	}
}

func TestParseClock(t *testing.T) {
	for _, tc := range []struct {
		in   string
		want time.Duration
		ok   bool
	}{
		{"00:00", 0, true},
		{"09:05", 9*time.Hour + 5*time.Minute, true},
		{"23:59", 23*time.Hour + 59*time.Minute, true},
		{"24:00", 24 * time.Hour, true},
		{"24:01", 0, false},
		{"9:00", 0, false},
		{"09:0", 0, false},
		{"+9:00", 0, false},
		{"09-00", 0, false},
		{"12:60", 0, false},
		{"", 0, false},
	} {
		got, err := ParseClock(tc.in)
		if (err == nil) != tc.ok || got != tc.want {
			t.Errorf("ParseClock(%q) = %v, %v; want %v, ok %v", tc.in, got, err, tc.want, tc.ok)
		}
	}
	for _, d := range []string{"sun", "mon", "tue", "wed", "thu", "fri", "sat"} {
		w, ok := ParseWeekday(d)
		if !ok || !strings.EqualFold(w.String()[:3], d) {
			t.Errorf("ParseWeekday(%q) = %v, %v", d, w, ok)
		}
	}
	if _, ok := ParseWeekday("Mon"); ok {
		t.Error("ParseWeekday accepts Mon")
	}
}
