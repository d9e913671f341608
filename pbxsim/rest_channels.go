package pbxsim

import (
	"net/http"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"
)

var errNotInStasis = fail(http.StatusConflict, "Channel not in Stasis application")

// stasisChannel finds a live channel that must be in Stasis for the request.
func (s *Sim) stasisChannel(id string) (*channel, reply, bool) {
	c := s.channels[id]
	if !c.live() || c.hangingUp {
		return nil, fail(http.StatusNotFound, "Channel not found"), false
	}
	if !c.inStasis {
		return nil, errNotInStasis, false
	}
	return c, reply{}, true
}

func (s *Sim) liveChannel(id string) *channel {
	c := s.channels[id]
	if !c.live() || c.hangingUp {
		return nil
	}
	return c
}

func (s *Sim) restChannelList(_ []string, _ params) reply {
	cs := make([]*channel, 0, len(s.channels))
	for _, c := range s.channels {
		if !c.hangingUp {
			cs = append(cs, c)
		}
	}
	slices.SortFunc(cs, func(a, b *channel) int { return a.seq - b.seq })
	out := make([]obj, 0, len(cs))
	for _, c := range cs {
		out = append(out, c.json())
	}
	return ok(out)
}

func (s *Sim) restChannelGet(args []string, _ params) reply {
	c := s.liveChannel(args[0])
	if c == nil {
		return fail(http.StatusNotFound, "Channel not found")
	}
	return ok(c.json())
}

// hangupReasons maps DELETE's reason names to causes.
var hangupReasons = map[string]int{
	"normal": 16, "busy": 17, "congestion": 34, "no_answer": 19, "timeout": 19,
	"rejected": 21, "unallocated": 1, "normal_unspecified": 31,
	"number_incomplete": 28, "codec_mismatch": 58, "interworking": 127,
	"failure": 38, "answered_elsewhere": 26,
}

func (s *Sim) restHangup(args []string, p params) reply {
	cause := 16
	if p.has("reason_code") {
		n, err := strconv.Atoi(p.get("reason_code"))
		if err != nil {
			return fail(http.StatusBadRequest, "Invalid reason for hangup reason code provided")
		}
		cause = n
	} else if p.has("reason") {
		n, known := hangupReasons[p.get("reason")]
		if !known {
			return fail(http.StatusBadRequest, "Invalid reason for hangup reason provided")
		}
		cause = n
	}
	c := s.liveChannel(args[0])
	if c == nil {
		return fail(http.StatusNotFound, "Channel not found")
	}
	s.hangup(c, cause, byAPI)
	return noContent()
}

func (s *Sim) restAnswer(args []string, _ params) reply {
	c, rp, found := s.stasisChannel(args[0])
	if !found {
		return rp
	}
	s.answer(c)
	return noContent()
}

// answer answers a channel in Stasis; answering an Up channel is a no-op.
func (s *Sim) answer(c *channel) {
	if c.state == "Up" {
		return
	}
	if c.half == 2 {
		s.answerLocal(c)
	} else {
		s.setState(c, "Up")
	}
	if c.script != nil {
		s.scriptAnswered(c)
	}
}

func (s *Sim) restRing(args []string, _ params) reply {
	c, rp, found := s.stasisChannel(args[0])
	if !found {
		return rp
	}
	c.ringing = true
	if c.half == 2 && c.state != "Up" {
		s.localRinging(c)
	}
	return noContent()
}

func (s *Sim) restRingStop(args []string, _ params) reply {
	c, rp, found := s.stasisChannel(args[0])
	if !found {
		return rp
	}
	c.ringing = false
	return noContent()
}

// restHold: Asterisk indicates hold to the channel driver; no ARI event
// follows (ChannelHold only comes from a far end's re-INVITE, trace 07).
func (s *Sim) restHold(args []string, _ params) reply {
	c, rp, found := s.stasisChannel(args[0])
	if !found {
		return rp
	}
	c.holding = true
	return noContent()
}

func (s *Sim) restUnhold(args []string, _ params) reply {
	c, rp, found := s.stasisChannel(args[0])
	if !found {
		return rp
	}
	c.holding = false
	return noContent()
}

// restMOH starts music on hold. An unknown class is accepted (204, only a
// log warning in Asterisk).
func (s *Sim) restMOH(args []string, p params) reply {
	c, rp, found := s.stasisChannel(args[0])
	if !found {
		return rp
	}
	s.startMOH(c, p.get("mohClass"))
	return noContent()
}

func (s *Sim) restMOHStop(args []string, _ params) reply {
	c, rp, found := s.stasisChannel(args[0])
	if !found {
		return rp
	}
	s.stopMOH(c)
	return noContent()
}

func (s *Sim) restSimple(args []string, _ params) reply {
	_, rp, found := s.stasisChannel(args[0])
	if !found {
		return rp
	}
	return noContent()
}

func (s *Sim) restMute(args []string, p params) reply {
	c, rp, found := s.stasisChannel(args[0])
	if !found {
		return rp
	}
	switch dir := p.get("direction"); dir {
	case "both", "in", "out":
		if dir != "out" {
			c.mutedIn = p.method == "POST"
		}
		// Muting a bridged channel re-evaluates the bridge: Asterisk
		// sets every BRIDGEPEER again (trace 07).
		if b := c.bridge; b != nil && b.typ == "mixing" && len(b.channels)+len(b.hidden) > 1 {
			for _, x := range b.channels {
				if v := x.vars["BRIDGEPEER"]; v != "" {
					s.setVar(x, "BRIDGEPEER", v)
				}
			}
		}
		for _, r := range s.liveRecs {
			s.checkSilence(r)
		}
		return noContent()
	case "":
		return fail(http.StatusBadRequest, "Direction is required")
	}
	return fail(http.StatusBadRequest, "Invalid direction specified")
}

func (s *Sim) restChannelPlay(args []string, p params) reply {
	c, rp, found := s.stasisChannel(args[0])
	if !found {
		return rp
	}
	id := p.get("playbackId")
	if len(args) > 1 {
		id = args[1]
	}
	return s.play(c, nil, id, p)
}

// play queues a playback on a channel or bridge; media is a comma-separated
// list in the query string or a JSON array. A JSON string is one media,
// commas and all, as in Asterisk (res_ari_channels.c splits only the query
// string): such a "list" is one file that does not exist.
func (s *Sim) play(c *channel, b *bridge, id string, p params) reply {
	media := splitMedia(p.get("media"))
	if p.jsonString["media"] && p.get("media") != "" {
		media = []string{p.get("media")}
	}
	if len(media) == 0 {
		return fail(http.StatusInternalServerError, "Failed to queue media for playback")
	}
	if id == "" {
		id = s.newUUID()
	}
	pb := &playback{id: id, media: media, state: "queued", ch: c, br: b}
	if c != nil {
		pb.targetURI = "channel:" + c.id
	} else {
		pb.targetURI = "bridge:" + b.id
	}
	body := pb.json() // the response shows the playback as queued
	s.queuePlayback(pb)
	return reply{status: http.StatusCreated, body: body, loc: "/ari/playbacks/" + id}
}

func splitMedia(v string) []string {
	var out []string
	for m := range strings.SplitSeq(v, ",") {
		if m = strings.TrimSpace(m); m != "" {
			out = append(out, m)
		}
	}
	return out
}

// channelFunc evaluates the dialplan functions an ACD reads.
func channelFunc(c *channel, name string) (string, bool) {
	switch name {
	case "CALLERID(num)":
		return c.callerNum, true
	case "CALLERID(name)":
		return c.callerName, true
	case "CONNECTEDLINE(num)":
		return c.connNum, true
	case "CONNECTEDLINE(name)":
		return c.connName, true
	case "CHANNEL(state)":
		return c.state, true
	case "CHANNEL(linkedid)":
		return c.linkedid, true
	case "CHANNEL(uniqueid)":
		return c.id, true
	case "CHANNEL(name)":
		return c.name, true
	case "CHANNEL(language)":
		return "en", true
	}
	v, ok := c.vars[name]
	return v, ok
}

func (s *Sim) restVarGet(args []string, p params) reply {
	name := p.get("variable")
	if name == "" {
		return fail(http.StatusBadRequest, "Variable name is required")
	}
	c := s.liveChannel(args[0])
	if c == nil {
		return fail(http.StatusNotFound, "Provided channel was not found")
	}
	v, found := channelFunc(c, name)
	if !found {
		return fail(http.StatusNotFound, "Provided variable was not found")
	}
	return ok(obj{{"value", v}})
}

func (s *Sim) restVarSet(args []string, p params) reply {
	name := p.get("variable")
	if name == "" {
		return fail(http.StatusBadRequest, "Variable name is required")
	}
	c, rp, found := s.stasisChannel(args[0])
	if !found {
		return rp
	}
	if !p.has("value") {
		// No value unsets the variable: nothing to report.
		delete(c.vars, name)
		return noContent()
	}
	value := p.get("value")
	switch name {
	case "CALLERID(name)", "CALLERID(num)":
		if name == "CALLERID(name)" {
			c.callerName = value
		} else {
			c.callerNum = value
		}
		s.evCallerID(c)
		return noContent()
	}
	s.setVar(c, name, value)
	return noContent()
}

var dtmfOK = regexp.MustCompile(`^[0-9A-Da-d*#]$`)

func (s *Sim) restDTMF(args []string, p params) reply {
	digits := p.get("dtmf")
	if digits == "" {
		return fail(http.StatusBadRequest, "DTMF is required")
	}
	c, rp, found := s.stasisChannel(args[0])
	if !found {
		return rp
	}
	duration := p.int("duration", 100)
	if duration <= 0 {
		duration = 100
	}
	between := max(p.int("between", 100), 0)
	before := max(p.int("before", 0), 0)
	// DTMF sent on a channel is heard by the far end: the other half of a
	// Local pair receives it (trace 09). A real phone or trunk just hears it.
	peer := c.peer
	if !peer.live() {
		return noContent()
	}
	s.sendDigits(peer, digits, duration, before, between, c)
	return noContent()
}

// sendDigits delivers ChannelDtmfReceived on to, one per valid digit, with
// Asterisk's timing. An Echo() on the receiving side sends each digit back.
func (s *Sim) sendDigits(to *channel, digits string, durationMS, beforeMS, betweenMS int, from *channel) {
	ms := func(n int) time.Duration { return time.Duration(n) * s.timing.Second / 1000 }
	at := ms(beforeMS)
	for _, r := range digits {
		d := string(r)
		if !dtmfOK.MatchString(d) {
			continue // Asterisk logs "Illegal DTMF character" and skips it
		}
		at += ms(durationMS)
		s.after(at, to, func() {
			s.evDTMF(to, strings.ToUpper(d), durationMS)
			s.recordingDTMF(to, strings.ToUpper(d))
			if to.pbxApp == "Echo" && from.live() {
				s.evDTMF(from, strings.ToUpper(d), durationMS)
			}
		})
		at += ms(betweenMS)
	}
}

func (s *Sim) restContinue(args []string, p params) reply {
	c, rp, found := s.stasisChannel(args[0])
	if !found {
		return rp
	}
	if p.get("label") != "" && p.get("label") != "answer" {
		return fail(http.StatusNotFound, "Requested label can not be found")
	}
	ctx, exten, prio := p.get("context"), p.get("extension"), p.int("priority", 0)
	if ctx == "" {
		ctx = c.context
	}
	if exten == "" {
		exten = c.exten
	}
	if prio == 0 {
		prio = c.priority + 1
	}
	if p.get("label") == "answer" {
		prio = 5
	}
	if c.bridge != nil {
		s.leaveBridge(c, false) // the app keeps the bridge (trace 13)
	}
	// StasisEnd now; STASISSTATUS only when the channel finally ends
	// (trace 13). Explicit subscriptions survive: an originated leg keeps
	// reporting its dialplan and its ChannelDestroyed.
	app := c.stasisApp
	c.inStasis = false
	c.deferStasisStatus = true
	s.evStasisEnd(c, app)
	s.after(0, c, func() { s.runDialplan(c, ctx, exten, prio) })
	return noContent()
}

func (s *Sim) restMove(args []string, p params) reply {
	target := p.get("app")
	if target == "" {
		// Asterisk 22.10.1 crashes on this request; never be more
		// forgiving than "no".
		return fail(http.StatusBadRequest, "Missing parameter app")
	}
	c, rp, found := s.stasisChannel(args[0])
	if !found {
		return rp
	}
	if !s.apps[target].active() {
		s.emit(map[string]bool{c.stasisApp: true}, obj{{"type", "ApplicationMoveFailed"}, {"timestamp", now()}, {"channel", c.json()}, {"destination", target}, {"args", parseArgs(p.get("appArgs"))}})
		return noContent()
	}
	old := c.stasisApp
	c.inStasis = false
	s.evStasisEnd(c, old)
	c.inStasis, c.stasisApp, c.stasisArgs = true, target, parseArgs(p.get("appArgs"))
	s.evStasisStart(c)
	return noContent()
}

func (s *Sim) restRedirect(args []string, p params) reply {
	ep := p.get("endpoint")
	if ep == "" {
		return fail(http.StatusBadRequest, "Required parameter 'endpoint' not provided")
	}
	c, rp, found := s.stasisChannel(args[0])
	if !found {
		return rp
	}
	tech, res := splitEndpoint(ep)
	if res == "" {
		return fail(http.StatusUnprocessableEntity, "Endpoint parameter '"+ep+"' does not contain tech/resource")
	}
	if !strings.EqualFold(tech, c.tech) {
		return fail(http.StatusUnprocessableEntity, "Endpoint technology '"+tech+"' does not match channel technology '"+c.tech+"'")
	}
	// A Local channel accepts the redirect and nothing happens (trace 13).
	return noContent()
}

func (s *Sim) restGlobalVarGet(_ []string, p params) reply {
	if p.get("variable") == "" {
		return fail(http.StatusBadRequest, "Variable name is required")
	}
	return ok(obj{{"value", ""}})
}
