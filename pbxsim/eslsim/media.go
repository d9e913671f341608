package eslsim

import (
	"os"
	"path/filepath"
	"slices"
	"strings"

	"github.com/tandem-cc/tandem/pbxsim"
)

// play is a playback running on a channel (uuid_broadcast or sendmsg
// execute playback).
type play struct {
	path, appUUID string
	timer         *simTimer
	then          func() // after it ends on its own
	// cmd is the COMMAND event of a uuid_broadcast (its core headers
	// stamped when it was queued): FreeSWITCH fires it, with the
	// PRIVATE_COMMAND headers appended, once the playback it ran ends.
	cmd []Header
}

func isStream(path string) bool { return strings.HasPrefix(path, "local_stream://") }

// fileExists says whether playback finds path (Options.SoundsDir).
func (s *Sim) fileExists(path string) bool {
	if isStream(path) || strings.HasPrefix(path, "tone_stream://") || strings.HasPrefix(path, "silence_stream://") || s.recorded[path] {
		return true
	}
	if s.opts.SoundsDir == "" {
		return true
	}
	if !filepath.IsAbs(path) {
		path = filepath.Join(s.opts.SoundsDir, path)
	}
	_, err := os.Stat(path)
	return err == nil
}

// startPlay runs playback of path on c: CHANNEL_EXECUTE playback,
// PLAYBACK_START; a file ends after Timing.Playback per file_string item
// with PLAYBACK_STOP and CHANNEL_EXECUTE_COMPLETE FILE PLAYED; a
// local_stream plays until broken. A missing file: CHANNEL_EXECUTE then
// CHANNEL_EXECUTE_COMPLETE "FILE NOT FOUND". Callers hold s.mu.
func (s *Sim) startPlay(c *channel, path, appUUID string, then func(), cmd []Header) {
	if c.playing != nil {
		c.playQ = append(c.playQ, &play{path: path, appUUID: appUUID, then: then, cmd: cmd})
		return
	}
	s.emitExecute(c, "playback", path, appUUID)
	items := strings.Split(strings.TrimPrefix(path, "file_string://"), "!")
	for _, it := range items {
		if !s.fileExists(it) {
			s.emitExecuteComplete(c, "playback", path, "FILE NOT FOUND", appUUID)
			s.logMedia(c.uuid, pbxsim.MediaEntry{Kind: "playback_end", MediaURI: path, PlaybackID: appUUID, State: "failed"})
			s.emitCommandDone(c, cmd)
			if then != nil {
				then()
			}
			s.nextPlay(c)
			return
		}
	}
	p := &play{path: path, appUUID: appUUID, then: then, cmd: cmd}
	c.playing = p
	s.emit(c, "PLAYBACK_START", evOpt{post: playbackHeaders(path), file: "switch_ivr_play_say.c", fn: "switch_ivr_play_file"})
	if isStream(path) {
		s.logMedia(c.uuid, pbxsim.MediaEntry{Kind: "moh_start", Class: strings.TrimPrefix(path, "local_stream://"), MediaURI: path})
		return
	}
	s.logMedia(c.uuid, pbxsim.MediaEntry{Kind: "playback_start", MediaURI: path, PlaybackID: appUUID})
	p.timer = s.after(s.timing.Playback*timeN(len(items)), c, func() {
		if c.playing != p {
			return
		}
		s.stopPlayback(c, "FILE PLAYED", "done", false)
		if p.then != nil {
			p.then()
		}
		s.nextPlay(c)
	})
}

// playbackHeaders are PLAYBACK_START/STOP's own headers: a stream names its
// type first (trace 05: Playback-File-Type local_stream).
func playbackHeaders(path string) []Header {
	if typ, _, ok := strings.Cut(path, "://"); ok && isStream(path) {
		return []Header{{"Playback-File-Type", typ}, {"Playback-File-Path", path}}
	}
	return []Header{{"Playback-File-Path", path}}
}

// stopPlayback ends c's playback: PLAYBACK_STOP with Playback-Status
// status, CHANNEL_EXECUTE_COMPLETE with resp and, for a uuid_broadcast, its
// COMMAND frame (trace 05). broken marks it stopped in the media log.
func (s *Sim) stopPlayback(c *channel, resp, status string, broken bool) {
	p := c.playing
	if p == nil {
		return
	}
	c.playing = nil
	s.cancelTimer(p.timer)
	s.emit(c, "PLAYBACK_STOP", evOpt{post: append(playbackHeaders(p.path), Header{"Playback-Status", status}), file: "switch_ivr_play_say.c", fn: "switch_ivr_play_file"})
	s.emitExecuteComplete(c, "playback", p.path, resp, p.appUUID)
	if c.parkApp {
		c.parkResp = resp
	}
	s.emitCommandDone(c, p.cmd)
	if isStream(p.path) {
		s.logMedia(c.uuid, pbxsim.MediaEntry{Kind: "moh_stop", Class: strings.TrimPrefix(p.path, "local_stream://"), MediaURI: p.path})
	} else {
		state := "done"
		if broken {
			state = "stopped"
		}
		s.logMedia(c.uuid, pbxsim.MediaEntry{Kind: "playback_end", MediaURI: p.path, PlaybackID: p.appUUID, State: state})
	}
}

// broadcastCommand is the COMMAND event uuid_broadcast queues to the
// session (trace 05), stamped now.
func (s *Sim) broadcastCommand(path string) []Header {
	h := s.coreHeaders("COMMAND", "switch_ivr_async.c", "switch_ivr_broadcast", 5731)
	return append(h, Header{"call-command", "execute"}, Header{"execute-app-name", "playback"},
		Header{"execute-app-arg", path}, Header{"event-lock", "true"}, Header{"lead-frames", "5"})
}

// emitCommandDone fires a broadcast's COMMAND event once its playback
// ended: one frame whose first headers are the COMMAND's (Event-Name
// COMMAND, its own Event-Sequence) followed by a second Event-Name,
// PRIVATE_COMMAND, its core headers and the channel's data without
// variables, exactly as trace 05 shows it.
func (s *Sim) emitCommandDone(c *channel, cmd []Header) {
	if cmd == nil {
		return
	}
	h := append(slices.Clone(cmd), s.coreHeaders("PRIVATE_COMMAND", "switch_ivr.c", "switch_ivr_parse_next_event", 804)...)
	h = append(h, s.channelHeaders(c, false)...)
	s.queue(Event{Headers: h})
}

func (s *Sim) nextPlay(c *channel) {
	if len(c.playQ) == 0 || !c.live() {
		return
	}
	n := c.playQ[0]
	c.playQ = c.playQ[1:]
	s.startPlay(c, n.path, n.appUUID, n.then, n.cmd)
}

// breakPlayback is uuid_break [all]: stop the playback, and with all the
// queued ones too.
func (s *Sim) breakPlayback(c *channel, all bool) {
	if all {
		c.playQ = nil
	}
	if c.playing == nil {
		return
	}
	fromCommand := c.playing.cmd != nil
	if c.parked && !c.parkApp {
		// A leg parked outside the park application (uuid_park, a bridge
		// peer leaving) has no application loop to return to: the break
		// ends the playback as an error (trace 08; in the park application
		// it is FILE PLAYED with status break, trace 05).
		s.stopPlayback(c, "PLAYBACK ERROR", "done", true)
	} else {
		s.stopPlayback(c, "FILE PLAYED", "break", true)
	}
	if !fromCommand {
		s.emit(c, "PRIVATE_COMMAND", evOpt{file: "switch_ivr.c", fn: "switch_ivr_parse_event"})
	}
	s.nextPlay(c)
}

func (s *Sim) logMedia(key string, e pbxsim.MediaEntry) {
	e.Time = s.clock.Now()
	s.media[key] = append(s.media[key], e)
}
