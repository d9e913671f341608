package hours

import (
	"fmt"
	"time"
)

// Hours are weekly opening windows and holidays in a time zone: what a
// queue's opening hours say, before Compile.
type Hours struct {
	TimeZone string   // IANA, e.g. "Europe/Paris"; empty is UTC
	Weekly   []Window // empty = always open (but on holidays)
	Holidays []string // "2026-12-25" (HolidayLayout), in TimeZone
}

// Window is one opening window on some days ("mon".."sun"), "09:00"-"17:30"
// (To may be EndOfDay).
type Window struct {
	Days []string
	From string
	To   string
}

// HolidayLayout is how a holiday is written ("2026-12-25"), in the
// hours' own time zone.
const HolidayLayout = "2006-01-02"

// EndOfDay is the one "to" that is not a clock time: "24:00" closes a
// window at midnight, which "23:59" would miss by a minute.
const EndOfDay = "24:00"

// dayNames are the day names of Window.Days, in time.Weekday order.
var dayNames = []string{"sun", "mon", "tue", "wed", "thu", "fri", "sat"}

// ParseWeekday reads a day of Window.Days ("mon".."sun"). The
// configuration validates with it, so what it accepts is what Compile runs.
func ParseWeekday(s string) (time.Weekday, bool) {
	for i, d := range dayNames {
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
