// Package hours answers whether a queue is open: Hours are weekly
// wall-clock windows and whole-day holidays in one IANA time zone.
//
// Everything is computed on the wall clock of that zone, never by adding
// hours to an instant, so a window "09:00"-"17:00" opens at 09:00 local
// time on both sides of a daylight-saving change. A wall-clock time that
// does not exist (skipped by a spring-forward change) is passed over:
// the window opens with the first instant after the gap that lies in it.
// One that exists twice (autumn) is in a window both times.
//
// The package is pure: no clock, no I/O but the time-zone database, read
// once by Compile. Compile once per queue at start and ask the Schedule;
// Open and NextOpen compile on every call and suit tests and rare uses.
package hours

import (
	"errors"
	"fmt"
	"time"
)

// Horizon bounds how far NextOpen looks ahead: two weeks covers any
// weekly schedule and a run of holidays, and keeps the search bounded
// for a schedule that never opens.
const Horizon = 14 * 24 * time.Hour

// ErrInvalid is wrapped by the errors of hours the configuration's
// validation would refuse.
var ErrInvalid = errors.New("invalid hours")

// Schedule is compiled Hours. It is immutable, so one Schedule may
// be shared by any number of goroutines.
type Schedule struct {
	loc *time.Location
	// week holds the opening windows of each weekday, as offsets from
	// local midnight: [from, to).
	week [7][]span
	// holidays are the closed local dates.
	holidays map[date]bool
	// always: no weekly windows, open whenever it is not a holiday.
	always bool
}

type span struct{ from, to time.Duration }

type date struct {
	y int
	m time.Month
	d int
}

// Compile checks and compiles h. An empty time zone is UTC.
func Compile(h Hours) (*Schedule, error) {
	loc, err := time.LoadLocation(h.TimeZone)
	if err != nil {
		return nil, fmt.Errorf("%w: time zone %q: %v", ErrInvalid, h.TimeZone, err)
	}
	s := &Schedule{loc: loc, holidays: map[date]bool{}, always: len(h.Weekly) == 0}
	for i, w := range h.Weekly {
		from, err := ParseClock(w.From)
		if err != nil || w.From == EndOfDay {
			return nil, fmt.Errorf("%w: weekly[%d].from %q", ErrInvalid, i, w.From)
		}
		to, err := ParseClock(w.To)
		if err != nil || to <= from {
			return nil, fmt.Errorf("%w: weekly[%d].to %q", ErrInvalid, i, w.To)
		}
		if len(w.Days) == 0 {
			return nil, fmt.Errorf("%w: weekly[%d] has no days", ErrInvalid, i)
		}
		for _, d := range w.Days {
			wd, ok := ParseWeekday(d)
			if !ok {
				return nil, fmt.Errorf("%w: weekly[%d] day %q", ErrInvalid, i, d)
			}
			s.week[wd] = append(s.week[wd], span{from, to})
		}
	}
	for _, d := range h.Holidays {
		t, err := time.Parse(HolidayLayout, d)
		if err != nil {
			return nil, fmt.Errorf("%w: holiday %q", ErrInvalid, d)
		}
		s.holidays[dateOf(t)] = true
	}
	return s, nil
}

// Open reports whether h is open at the instant at.
func Open(h Hours, at time.Time) (bool, error) {
	s, err := Compile(h)
	if err != nil {
		return false, err
	}
	return s.Open(at), nil
}

// NextOpen returns the first instant at or after after at which h is
// open (after itself when open then), and false when it does not open
// within Horizon or h is invalid.
func NextOpen(h Hours, after time.Time) (time.Time, bool) {
	s, err := Compile(h)
	if err != nil {
		return time.Time{}, false
	}
	return s.NextOpen(after)
}

// Location is the schedule's time zone, for saying when it opens.
func (s *Schedule) Location() *time.Location { return s.loc }

// Open reports whether the schedule is open at the instant at.
func (s *Schedule) Open(at time.Time) bool {
	local := at.In(s.loc)
	if s.holidays[dateOf(local)] {
		return false
	}
	if s.always {
		return true
	}
	sod := sinceMidnight(local)
	for _, w := range s.week[local.Weekday()] {
		if w.from <= sod && sod < w.to {
			return true
		}
	}
	return false
}

// NextOpen returns the first instant at or after after at which the
// schedule is open (after itself when open then), and false when it does
// not open within Horizon.
//
// It hops between the instants where being open can change: a window's
// edge, local midnight (a new weekday, a holiday starting or ending) and
// the time zone's offset changes. Between two of them the wall clock
// runs at the same pace as real time and crosses no edge, so the answer
// is constant there and checking each hop is exact, with a few hops a
// day instead of a scan.
func (s *Schedule) NextOpen(after time.Time) (time.Time, bool) {
	end := after.Add(Horizon)
	for t := after; !t.After(end); {
		if s.Open(t) {
			return t, true
		}
		t = s.nextEdge(t)
	}
	return time.Time{}, false
}

// nextEdge returns the first instant after t where Open may change.
func (s *Schedule) nextEdge(t time.Time) time.Time {
	local := t.In(s.loc)
	sod := sinceMidnight(local)
	// Local midnight is at most 24h of wall clock away.
	next := 24 * time.Hour
	for _, w := range s.week[local.Weekday()] {
		for _, edge := range []time.Duration{w.from, w.to} {
			if edge > sod && edge < next {
				next = edge
			}
		}
	}
	// Wall clock and real time advance together until the offset changes,
	// and the offset change is itself an edge. ZoneBounds' end is zero
	// for a zone with no further change.
	edge := t.Add(next - sod)
	if _, zoneEnd := local.ZoneBounds(); !zoneEnd.IsZero() && zoneEnd.After(t) && zoneEnd.Before(edge) {
		edge = zoneEnd
	}
	return edge
}

// sinceMidnight is the wall-clock time of day of local, to the nanosecond.
func sinceMidnight(local time.Time) time.Duration {
	h, m, sec := local.Clock()
	return time.Duration(h)*time.Hour + time.Duration(m)*time.Minute +
		time.Duration(sec)*time.Second + time.Duration(local.Nanosecond())
}

func dateOf(t time.Time) date {
	y, m, d := t.Date()
	return date{y, m, d}
}
