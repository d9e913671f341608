package eslsim

import (
	"path"
	"strconv"
	"strings"
	"time"

	"github.com/tandem-cc/tandem/pbxsim"
)

// recording is a uuid_record session on a channel.
type recording struct {
	path   string
	paused bool
	limit  *simTimer
}

// uuidRecord is `uuid_record <uuid> start|stop|pause|resume|mask|unmask
// <path> [<limit>]` (trace 07): start/stop give RECORD_START/STOP plus
// MEDIA_BUG_START/STOP; mask, unmask, pause and resume give no events.
func (s *Sim) uuidRecord(args []string) string {
	if len(args) < 3 {
		return "-USAGE: <uuid> [start|stop|mask|unmask] <path> [<limit>] [<recording_vars>]\n"
	}
	c := s.liveChannel(args[0])
	if c == nil {
		return "-ERR Cannot locate session!\n"
	}
	path := args[2]
	r := c.recs[path]
	switch strings.ToLower(args[1]) {
	case "start":
		r = &recording{path: path}
		c.recs[path] = r
		s.emit(c, "RECORD_START", evOpt{post: []Header{{"Record-File-Path", path}}, file: "switch_ivr_async.c", fn: "record_callback"})
		s.emit(c, "MEDIA_BUG_START", evOpt{pre: []Header{{"Media-Bug-Function", "session_record"}, {"Media-Bug-Target", path}}, file: "switch_core_media_bug.c", fn: "switch_core_media_bug_add"})
		if len(args) > 3 {
			if n, err := strconv.Atoi(args[3]); err == nil && n > 0 {
				r.limit = s.after(time.Duration(n)*s.timing.Second, c, func() { s.stopRecording(c, r) })
			}
		}
		return "+OK Success\n"
	case "stop":
		if r == nil {
			return "-ERR Cannot stop record session!\n"
		}
		s.stopRecording(c, r)
	case "pause", "resume":
		if r == nil {
			return "-ERR Cannot " + strings.ToLower(args[1]) + " recording session!\n"
		}
		r.paused = strings.EqualFold(args[1], "pause")
	case "mask", "unmask":
		if r == nil {
			return "-ERR Cannot " + strings.ToLower(args[1]) + " recording session!\n"
		}
	default:
		return "-USAGE: <uuid> [start|stop|mask|unmask] <path> [<limit>] [<recording_vars>]\n"
	}
	return "+OK Success\n"
}

// stopRecording ends a recording: RECORD_STOP (Record-Completion-Cause
// success-maxtime even on an explicit stop, trace 07) and MEDIA_BUG_STOP.
func (s *Sim) stopRecording(c *channel, r *recording) {
	if c.recs[r.path] != r {
		return
	}
	delete(c.recs, r.path)
	s.cancelTimer(r.limit)
	s.recorded[r.path] = true
	s.emit(c, "RECORD_STOP", evOpt{post: []Header{{"Record-File-Path", r.path}, {"Record-Completion-Cause", "success-maxtime"}}, file: "switch_ivr_async.c", fn: "record_callback"})
	s.emit(c, "MEDIA_BUG_STOP", evOpt{pre: []Header{{"Media-Bug-Function", "session_record"}, {"Media-Bug-Target", r.path}}, file: "switch_core_media_bug.c", fn: "switch_core_media_bug_close"})
}

func (s *Sim) stopAllRecordings(c *channel) {
	for _, r := range c.recs {
		s.stopRecording(c, r)
	}
}

// liveRecordings lists the recordings under way for Leftovers. A
// recording's Name is its file's base name without the extension (what a
// client names a recording: Tandem's <dir>/<name>.<format>), as pbxsim's
// is the ARI recording name; Target is the channel recorded.
func (s *Sim) liveRecordings() []pbxsim.RecordingView {
	var out []pbxsim.RecordingView
	for _, c := range s.channels {
		for _, r := range c.recs {
			st := "recording"
			if r.paused {
				st = "paused"
			}
			name := path.Base(r.path)
			name = strings.TrimSuffix(name, path.Ext(name))
			out = append(out, pbxsim.RecordingView{Name: name, Target: "channel:" + c.uuid, State: st})
		}
	}
	return out
}

func timeN(n int) time.Duration { return time.Duration(n) }
