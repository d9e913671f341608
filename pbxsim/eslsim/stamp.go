package eslsim

import (
	"fmt"
	"strconv"
	"sync/atomic"
	"time"

	"github.com/tandem-cc/tandem/pbxsim"
)

// stamper adds FreeSWITCH's core event headers; the protocol uses its own
// only when the switch passes none (unit tests).
type stamper struct {
	clock pbxsim.Clock
	core  string
	seq   atomic.Uint64
}

func newStamper(c pbxsim.Clock) *stamper { return &stamper{clock: c, core: newUUID()} }

func (s *stamper) stamp(ev *Event, file, function string, line int) {
	now := s.clock.Now()
	ev.Headers = append(ev.Headers, coreHeaders(s.core, now, file, function, line, s.seq.Add(1))...)
}

// coreHeaders are the headers FreeSWITCH appends to every event it fires,
// in its order. The identity is the recorded lab's (hostname vm,
// documentation addresses).
func coreHeaders(core string, now time.Time, file, function string, line int, seq uint64) []Header {
	return []Header{
		{Name: "Core-UUID", Value: core},
		{Name: "FreeSWITCH-Hostname", Value: "vm"},
		{Name: "FreeSWITCH-Switchname", Value: "vm"},
		{Name: "FreeSWITCH-IPv4", Value: "192.0.2.2"},
		{Name: "FreeSWITCH-IPv6", Value: "fd00::2"},
		{Name: "Event-Date-Local", Value: now.Local().Format("2006-01-02 15:04:05")},
		{Name: "Event-Date-GMT", Value: now.UTC().Format("Mon, 02 Jan 2006 15:04:05 GMT")},
		{Name: "Event-Date-Timestamp", Value: strconv.FormatInt(now.UnixMicro(), 10)},
		{Name: "Event-Calling-File", Value: file},
		{Name: "Event-Calling-Function", Value: function},
		{Name: "Event-Calling-Line-Number", Value: strconv.Itoa(line)},
		{Name: "Event-Sequence", Value: strconv.FormatUint(seq, 10)},
	}
}

// upTime renders d as FreeSWITCH's status and HEARTBEAT do.
func upTime(d time.Duration) string {
	us := d.Microseconds()
	days := us / (86400 * 1e6)
	years := days / 365
	days %= 365
	return fmt.Sprintf("%d years, %d days, %d hours, %d minutes, %d seconds, %d milliseconds, %d microseconds",
		years, days, us/(3600*1e6)%24, us/(60*1e6)%60, us/1e6%60, us/1000%1000, us%1000)
}
