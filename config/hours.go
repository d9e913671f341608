package config

import (
	"fmt"
	"time"
)

// HolidayLayout is how a holiday is written ("2026-12-25"), in the
// hours' own time zone.
const HolidayLayout = "2006-01-02"

// EndOfDay is the one "to" that is not a clock time: "24:00" closes a
// window at midnight, which "23:59" would miss by a minute.
const EndOfDay = "24:00"

// weekdays are the day names of Window.Days, in time.Weekday order.
var weekdays = []string{"sun", "mon", "tue", "wed", "thu", "fri", "sat"}

// ParseWeekday reads a day of Window.Days ("mon".."sun"). The hours
// package parses with it, so what Validate accepts is what it runs.
func ParseWeekday(s string) (time.Weekday, bool) {
	for i, d := range weekdays {
		if d == s {
			return time.Weekday(i), true
		}
	}
	return 0, false
}

// ParseClock reads a wall-clock time "HH:MM" (00:00 to 23:59, or 24:00)
// as the time since midnight. Exactly two digits each side: "9:00" is
// refused rather than guessed.
func ParseClock(s string) (time.Duration, error) {
	if len(s) != 5 || s[2] != ':' || !isDigits(s[:2]) || !isDigits(s[3:]) {
		return 0, fmt.Errorf("%q is not HH:MM", s)
	}
	if s == EndOfDay {
		return 24 * time.Hour, nil
	}
	h := int(s[0]-'0')*10 + int(s[1]-'0')
	m := int(s[3]-'0')*10 + int(s[4]-'0')
	if h > 23 || m > 59 {
		return 0, fmt.Errorf("%q is not a time of day (00:00 to 23:59, or 24:00)", s)
	}
	return time.Duration(h)*time.Hour + time.Duration(m)*time.Minute, nil
}

func isDigits(s string) bool {
	for _, r := range s {
		if r < '0' || r > '9' {
			return false
		}
	}
	return true
}

// checkHours checks a queue's opening hours; key is "queues.<name>.hours".
func checkHours(bad badFunc, c Config, queue, key string, h Hours) {
	// "" is what a hand-built Config has; LoadLocation reads it as UTC,
	// like the default.
	if _, err := time.LoadLocation(h.TimeZone); err != nil {
		bad(key+".time_zone", "unknown time zone %q (an IANA name such as Europe/Paris)", h.TimeZone)
	}
	for i, w := range h.Weekly {
		k := fmt.Sprintf("%s.weekly[%d]", key, i)
		if len(w.Days) == 0 {
			bad(k+".days", "must list at least one of mon, tue, wed, thu, fri, sat, sun")
		}
		for j, d := range w.Days {
			if _, ok := ParseWeekday(d); !ok {
				bad(fmt.Sprintf("%s.days[%d]", k, j), "%q is not one of mon, tue, wed, thu, fri, sat, sun", d)
			}
		}
		from, errFrom := ParseClock(w.From)
		if errFrom == nil && w.From == EndOfDay {
			errFrom = fmt.Errorf("24:00 can only end a window")
		}
		if errFrom != nil {
			bad(k+".from", "%v", errFrom)
		}
		to, errTo := ParseClock(w.To)
		if errTo != nil {
			bad(k+".to", "%v", errTo)
		}
		if errFrom == nil && errTo == nil && from >= to {
			// A window over midnight is two windows (22:00-24:00 and
			// 00:00-06:00 the next day): it keeps "which day" unambiguous
			// for days and holidays.
			bad(k+".to", "must be after from (split a window over midnight in two)")
		}
	}
	for i, d := range h.Holidays {
		if _, err := time.Parse(HolidayLayout, d); err != nil {
			bad(fmt.Sprintf("%s.holidays[%d]", key, i), "%q is not a date YYYY-MM-DD", d)
		}
	}
	if (len(h.Weekly) > 0 || len(h.Holidays) > 0) && h.Closed.Type == ActionNone {
		bad(key+".closed.type", "must say what happens to a call when the queue is closed (queue, callback or message)")
	}
	checkAction(bad, c, queue, key+".closed", h.Closed)
}
