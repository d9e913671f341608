package config

import (
	"fmt"
	"time"

	"github.com/tandem-cc/tandem/hours"
)

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
			if _, ok := hours.ParseWeekday(d); !ok {
				bad(fmt.Sprintf("%s.days[%d]", k, j), "%q is not one of mon, tue, wed, thu, fri, sat, sun", d)
			}
		}
		from, errFrom := hours.ParseClock(w.From)
		if errFrom == nil && w.From == hours.EndOfDay {
			errFrom = fmt.Errorf("24:00 can only end a window")
		}
		if errFrom != nil {
			bad(k+".from", "%v", errFrom)
		}
		to, errTo := hours.ParseClock(w.To)
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
		if _, err := time.Parse(hours.HolidayLayout, d); err != nil {
			bad(fmt.Sprintf("%s.holidays[%d]", key, i), "%q is not a date YYYY-MM-DD", d)
		}
	}
	if (len(h.Weekly) > 0 || len(h.Holidays) > 0) && h.Closed.Type == ActionNone {
		bad(key+".closed.type", "must say what happens to a call when the queue is closed (queue, callback or message)")
	}
	checkAction(bad, c, queue, key+".closed", h.Closed)
}
