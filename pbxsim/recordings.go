package pbxsim

import (
	"fmt"
	"net/http"
	"slices"
	"strings"
	"time"
)

// recording is a live recording of a channel or a bridge. No audio is
// written; the simulator keeps the timing (paused time is not recorded) and
// the name, so stored recordings can be listed, copied and deleted.
type recording struct {
	name, format, targetURI string
	state                   string // queued, recording, paused, done, failed
	ch                      *channel
	br                      *bridge
	recorder                string // the Recorder/ARI-… participant of a bridge recording
	terminateOn             string
	started                 time.Time
	pausedAt                time.Time
	paused                  time.Duration
	maxTimer                *simTimer
	silenceTimer            *simTimer
	maxSilence              int
}

func (r *recording) json() obj {
	return obj{{"name", r.name}, {"format", r.format}, {"state", r.state}, {"target_uri", r.targetURI}}
}

// recordFormats are the formats Asterisk 22 can write.
var recordFormats = map[string]bool{
	"wav": true, "wav16": true, "WAV": true, "wav49": true, "gsm": true, "ulaw": true, "alaw": true, "g722": true,
	"g729": true, "ogg": true, "sln": true, "sln12": true, "sln16": true, "sln24": true, "sln32": true, "sln44": true,
	"sln48": true, "sln96": true, "sln192": true,
}

// recordChecks validates the parameters both record operations share, in
// Asterisk's order (trace 12).
func (s *Sim) recordChecks(p params) (reply, bool) {
	if p.int("maxDurationSeconds", 0) < 0 {
		return fail(http.StatusBadRequest, "max_duration_seconds cannot be negative"), false
	}
	if p.int("maxSilenceSeconds", 0) < 0 {
		return fail(http.StatusBadRequest, "max_silence_seconds cannot be negative"), false
	}
	switch p.get("ifExists") {
	case "", "fail", "overwrite", "append":
	default:
		return fail(http.StatusBadRequest, "ifExists invalid"), false
	}
	name := p.get("name")
	if name == "" {
		return fail(http.StatusInternalServerError, "Error parsing request"), false
	}
	if _, live := s.liveRecs[name]; live {
		return fail(http.StatusConflict, fmt.Sprintf("Recording '%s' already exists and can not be overwritten", name)), false
	}
	if _, stored := s.stored[name]; stored && (p.get("ifExists") == "" || p.get("ifExists") == "fail") {
		return fail(http.StatusConflict, fmt.Sprintf("Recording '%s' already exists and can not be overwritten", name)), false
	}
	return reply{}, true
}

func (s *Sim) restChannelRecord(args []string, p params) reply {
	c, rp, found := s.stasisChannel(args[0])
	if !found {
		return rp
	}
	if !recordFormats[p.get("format")] {
		return fail(http.StatusUnprocessableEntity, "specified format is unknown on this system")
	}
	if rp, valid := s.recordChecks(p); !valid {
		return rp
	}
	r := &recording{name: p.get("name"), format: p.get("format"), targetURI: "channel:" + c.id, state: "queued", ch: c}
	resp := r.json()
	if c.bridge != nil {
		r.state = "failed"
		s.emit(s.chanApps(c), obj{{"type", "RecordingFailed"}, {"timestamp", now()}, {"recording", r.json().set("cause", "Cannot record channel while in bridge")}})
		return reply{status: http.StatusCreated, body: resp, loc: "/ari/recordings/live/" + r.name}
	}
	s.startRecording(r, p)
	return reply{status: http.StatusCreated, body: resp, loc: "/ari/recordings/live/" + r.name}
}

// restBridgeRecord records a bridge. Without format the request crashes
// Asterisk 22.10.1; the simulator refuses it instead.
func (s *Sim) restBridgeRecord(args []string, p params) reply {
	b := s.bridges[args[0]]
	if b == nil {
		return fail(http.StatusNotFound, "Bridge not found")
	}
	if p.get("format") == "" {
		return fail(http.StatusBadRequest, "Missing parameter format")
	}
	if !recordFormats[p.get("format")] {
		return fail(http.StatusUnprocessableEntity, "specified format is unknown on this system")
	}
	// Asterisk bridges its Recorder channel in before it validates the
	// rest, so even refused requests show up in BRIDGEPEER (trace 12).
	recorder := "Recorder/ARI-" + s.newLocalSuffix() + ";2"
	s.addHidden(b, recorder)
	if rp, valid := s.recordChecks(p); !valid {
		s.removeHidden(b, recorder)
		return rp
	}
	r := &recording{name: p.get("name"), format: p.get("format"), targetURI: "bridge:" + b.id, state: "queued", br: b, recorder: recorder}
	resp := r.json()
	if len(b.channels) == 0 {
		// An empty bridge: 201, then no event and no live recording, but
		// a stored file appears (trace 12).
		s.removeHidden(b, recorder)
		s.stored[r.name] = r.format
		return reply{status: http.StatusCreated, body: resp, loc: "/ari/recordings/live/" + r.name}
	}
	s.startRecording(r, p)
	return reply{status: http.StatusCreated, body: resp, loc: "/ari/recordings/live/" + r.name}
}

func (s *Sim) recApps(r *recording) map[string]bool {
	if r.ch != nil {
		return s.chanApps(r.ch)
	}
	return s.bridgeApps(r.br, nil)
}

func (s *Sim) startRecording(r *recording, p params) {
	s.liveRecs[r.name] = r
	r.state = "recording"
	r.started = s.clock.Now()
	r.terminateOn = p.get("terminateOn")
	r.maxSilence = p.int("maxSilenceSeconds", 0)
	s.emit(s.recApps(r), obj{{"type", "RecordingStarted"}, {"timestamp", now()}, {"recording", r.json()}})
	if max := p.int("maxDurationSeconds", 0); max > 0 {
		r.maxTimer = s.after(time.Duration(max)*s.timing.Second, r.ch, func() { s.finishRecording(r, true) })
	}
	s.checkSilence(r)
}

// checkSilence arms maxSilenceSeconds when everything recorded is muted: the
// simulator has no audio, so muted inbound audio is its only silence.
func (s *Sim) checkSilence(r *recording) {
	if r.maxSilence <= 0 || r.silenceTimer != nil {
		return
	}
	quiet := true
	if r.ch != nil {
		quiet = r.ch.mutedIn
	} else {
		for _, c := range r.br.channels {
			quiet = quiet && c.mutedIn
		}
	}
	if quiet {
		r.silenceTimer = s.after(time.Duration(r.maxSilence)*s.timing.Second, r.ch, func() { s.finishRecording(r, true) })
	}
}

// finishRecording ends a live recording with RecordingFinished; keep says
// whether the file is stored (a DELETE of the live recording discards it).
func (s *Sim) finishRecording(r *recording, keep bool) {
	if s.liveRecs[r.name] != r {
		return
	}
	delete(s.liveRecs, r.name)
	s.cancel(r.maxTimer)
	s.cancel(r.silenceTimer)
	if r.state == "paused" {
		r.paused += s.clock.Now().Sub(r.pausedAt)
	}
	recorded := s.clock.Now().Sub(r.started) - r.paused
	r.state = "done"
	secs := int(recorded / s.timing.Second)
	s.emit(s.recApps(r), obj{{"type", "RecordingFinished"}, {"timestamp", now()}, {"recording", r.json().set("duration", secs)}})
	if keep {
		s.stored[r.name] = r.format
	}
	if r.br != nil && r.recorder != "" {
		s.removeHidden(r.br, r.recorder)
	}
}

// recordingsOf returns the live recordings of a channel or bridge.
func (s *Sim) recordingsOf(c *channel, b *bridge) []*recording {
	var out []*recording
	for _, r := range s.liveRecs {
		if (c != nil && r.ch == c) || (b != nil && r.br == b) {
			out = append(out, r)
		}
	}
	return out
}

// recordingDTMF stops recordings whose terminateOn matches a digit.
func (s *Sim) recordingDTMF(c *channel, digit string) {
	for _, r := range s.recordingsOf(c, nil) {
		if r.terminateOn == "any" || (r.terminateOn != "none" && strings.Contains(r.terminateOn, digit)) {
			s.finishRecording(r, true)
		}
	}
}

func (s *Sim) restLiveRecording(args []string, _ params) (*recording, reply, bool) {
	r := s.liveRecs[args[0]]
	if r == nil {
		return nil, fail(http.StatusNotFound, "Recording not found"), false
	}
	return r, reply{}, true
}

func (s *Sim) restLiveRecGet(args []string, p params) reply {
	r, rp, found := s.restLiveRecording(args, p)
	if !found {
		return rp
	}
	return ok(r.json())
}

func (s *Sim) restLiveRecCancel(args []string, p params) reply {
	r, rp, found := s.restLiveRecording(args, p)
	if !found {
		return rp
	}
	s.finishRecording(r, false)
	return noContent()
}

func (s *Sim) restLiveRecStop(args []string, p params) reply {
	r, rp, found := s.restLiveRecording(args, p)
	if !found {
		return rp
	}
	s.finishRecording(r, true)
	return noContent()
}

func (s *Sim) restLiveRecPause(args []string, p params) reply {
	r, rp, found := s.restLiveRecording(args, p)
	if !found {
		return rp
	}
	if r.state == "recording" {
		r.state, r.pausedAt = "paused", s.clock.Now()
	}
	return noContent()
}

func (s *Sim) restLiveRecUnpause(args []string, p params) reply {
	r, rp, found := s.restLiveRecording(args, p)
	if !found {
		return rp
	}
	if r.state == "paused" {
		r.paused += s.clock.Now().Sub(r.pausedAt)
		r.state = "recording"
	}
	return noContent()
}

func (s *Sim) restLiveRecMute(args []string, p params) reply {
	_, rp, found := s.restLiveRecording(args, p)
	if !found {
		return rp
	}
	return noContent()
}

func (s *Sim) restStoredList(_ []string, _ params) reply {
	names := slices.Sorted(mapKeys(s.stored))
	out := make([]obj, 0, len(names))
	for _, n := range names {
		out = append(out, obj{{"name", n}, {"format", s.stored[n]}})
	}
	return ok(out)
}

func (s *Sim) restStoredGet(args []string, _ params) reply {
	f, found := s.stored[args[0]]
	if !found {
		return fail(http.StatusNotFound, "Recording not found")
	}
	return ok(obj{{"name", args[0]}, {"format", f}})
}

func (s *Sim) restStoredDelete(args []string, _ params) reply {
	if _, found := s.stored[args[0]]; !found {
		return fail(http.StatusNotFound, "Recording not found")
	}
	delete(s.stored, args[0])
	return noContent()
}

func (s *Sim) restStoredCopy(args []string, p params) reply {
	f, found := s.stored[args[0]]
	if !found {
		return fail(http.StatusNotFound, "Recording not found")
	}
	dst := p.get("destinationRecordingName")
	if dst == "" {
		return fail(http.StatusBadRequest, "Invalid destination recording name")
	}
	if _, exists := s.stored[dst]; exists {
		return fail(http.StatusConflict, "A recording with the same name already exists on the system")
	}
	s.stored[dst] = f
	return ok(obj{{"name", dst}, {"format", f}})
}

// restStoredFile returns a silent WAV header: enough for a client that
// downloads and checks the type.
func (s *Sim) restStoredFile(args []string, _ params) reply {
	if _, found := s.stored[args[0]]; !found {
		return fail(http.StatusNotFound, "Recording not found")
	}
	return reply{status: http.StatusOK, raw: silentWAV, contentType: "audio/wav"}
}

var silentWAV = []byte("RIFF$\x00\x00\x00WAVEfmt \x10\x00\x00\x00\x01\x00\x01\x00@\x1f\x00\x00\x80>\x00\x00\x02\x00\x10\x00data\x00\x00\x00\x00")

func mapKeys[K comparable, V any](m map[K]V) func(func(K) bool) {
	return func(yield func(K) bool) {
		for k := range m {
			if !yield(k) {
				return
			}
		}
	}
}
