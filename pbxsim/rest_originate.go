package pbxsim

import (
	"net/http"
	"regexp"
	"strings"
	"time"
)

var callerIDRe = regexp.MustCompile(`^\s*"?([^"<]*?)"?\s*<([^>]*)>\s*$`)

// parseCallerID splits `"Name" <number>`, `Name <number>` or `number`.
func parseCallerID(v string) (name, num string) {
	if m := callerIDRe.FindStringSubmatch(v); m != nil {
		return strings.TrimSpace(m[1]), m[2]
	}
	return "", strings.TrimSpace(v)
}

// allocFailed is the one ARI error with an "error" key (trace 12).
var allocFailed = reply{status: http.StatusInternalServerError, body: obj{{"error", "Allocation failed"}}}

// channelTech says whether an endpoint can be dialled: Local always (the
// dialplan decides), anything registered with SetPhone, nothing else.
func (s *Sim) canDial(endpoint string) bool {
	tech, res := splitEndpoint(endpoint)
	if _, ok := s.phones[endpoint]; ok {
		return true
	}
	return strings.EqualFold(tech, "Local") && res != ""
}

// restOriginate is POST /channels and POST /channels/{id}.
func (s *Sim) restOriginate(args []string, p params) reply {
	endpoint := p.get("endpoint")
	if endpoint == "" {
		return fail(http.StatusBadRequest, "Endpoint must be specified")
	}
	originator, formats := p.get("originator"), p.get("formats")
	if originator != "" && formats != "" {
		// res/ari/resource_channels.c refuses the pair before anything
		// else; /channels/create does not (it prefers the originator).
		return fail(http.StatusBadRequest, "Originator and formats can't both be specified")
	}
	app, ext := p.get("app"), p.get("extension")
	if app == "" && ext == "" {
		return fail(http.StatusBadRequest, "Application or extension must be specified")
	}
	if originator != "" && s.liveChannel(originator) == nil {
		return fail(http.StatusBadRequest, "Provided originator channel was not found")
	}
	if formats != "" {
		if bad, ok := unknownFormat(formats); ok {
			return fail(http.StatusBadRequest, "Provided format ("+bad+") was not found")
		}
	}
	id, other := p.get("channelId"), p.get("otherChannelId")
	if len(args) > 0 {
		id = args[0]
	}
	if s.idTaken(id) || s.idTaken(other) {
		return fail(http.StatusConflict, "Channel with given unique ID already exists")
	}
	if !s.canDial(endpoint) {
		return allocFailed
	}
	timeout := p.int("timeout", 30)
	if timeout <= 0 {
		timeout = 30 // Asterisk silently accepts nonsense here
	}
	s.countOriginate(endpoint, p.vars)
	a, b := s.allocLeg(endpoint, id, other, p)
	s.recordOriginate(a, "originate", originator, formats)
	a.dial = &dialState{
		dialstring: dialString(endpoint),
		app:        app,
		appArgs:    parseArgs(p.get("appArgs")),
		context:    p.get("context"),
		exten:      ext,
		priority:   p.int("priority", 1),
	}
	if app != "" {
		if s.apps[app] == nil {
			// The app does not exist: the subscription fails and the
			// leg dies at once (trace 14 C3), though the request is 200.
			resp := a.json()
			s.after(s.timing.StasisFail, a, func() { s.hangup(a, 16, byDialplan) })
			return ok(resp)
		}
		a.subs[app] = true
		if b != nil {
			b.subs[app] = true
		}
	}
	if o := s.liveChannel(p.get("originator")); o != nil && app != "" {
		o.subs[app] = true
	}
	resp := a.json()
	s.startDial(a, b, endpoint)
	a.dial.timeout = s.after(time.Duration(timeout)*s.timing.Second, a, func() { s.originateTimeout(a) })
	return ok(resp)
}

func (s *Sim) idTaken(id string) bool {
	if id == "" {
		return false
	}
	_, live := s.channels[id]
	return live
}

func dialString(endpoint string) string {
	_, res := splitEndpoint(endpoint)
	return res
}

// allocLeg creates the channel(s) of an outgoing call: a Local pair, or one
// channel for a registered phone. Originate variables are set on the first
// channel and inherited by the ;2 half when it starts.
func (s *Sim) allocLeg(endpoint, id, other string, p params) (*channel, *channel) {
	tech, res := splitEndpoint(endpoint)
	name, num := parseCallerID(p.get("callerId"))
	var a, b *channel
	if strings.EqualFold(tech, "Local") {
		a, b = s.localPair(res, id, other)
	} else {
		a = s.newChannel(id, tech+"/"+res+"-"+s.newLocalSuffix(), tech)
		a.context, a.exten, a.appName, a.appData = "default", "s", "AppDial2", "(Outgoing Line)"
	}
	a.endpoint = endpoint
	s.indexEndpoint(a, endpoint)
	a.callerName, a.callerNum = name, num
	a.connName, a.connNum = name, num
	for k, v := range p.vars {
		a.vars[k] = v
	}
	s.indexConn(a, a.vars[connVar])
	if ph, ok := s.phones[endpoint]; ok {
		a.phone = &ph
	}
	return a, b
}

// startDial begins ringing the leg: the ;2 half inherits the variables and
// caller id, Dial "" is reported, and the far end (dialplan or phone) runs.
func (s *Sim) startDial(a, b *channel, endpoint string) {
	if b != nil {
		for k, v := range a.vars {
			s.setVar(b, k, v)
		}
		if a.callerNum != "" || a.callerName != "" {
			b.callerName, b.callerNum = a.callerName, a.callerNum
			s.evCallerID(b)
			b.connName, b.connNum = a.callerName, a.callerNum
			s.evChannel("ChannelConnectedLine", b)
		}
	}
	if b != nil && a.phone == nil && !knownContext(b.context) {
		// The Local channel cannot be called: both halves vanish without
		// a Dial or a hangup request (trace 12, Local/123@no-such-context).
		s.after(0, a, func() {
			a.dial.done = true
			a.hangingUp, b.hangingUp = true, true
			s.destroy(b, 0)
			s.destroy(a, 0)
		})
		return
	}
	s.evDial(a, "", a.dial.dialstring)
	switch {
	case b != nil && a.phone != nil:
		b.runsPBX = true
		s.runPhoneOnLocal(b, *a.phone)
	case b != nil:
		s.runDialplan(b, b.context, b.exten, 1)
	default:
		s.startPhone(a, nil, *a.phone)
	}
}

// countOriginate keeps the invariant counters Tandem's tests check.
func (s *Sim) countOriginate(endpoint string, vars map[string]string) {
	s.stats.Originates++
	s.stats.OriginatesByEndpoint[endpoint]++
	conn := vars[connVar]
	two, double := s.originateConflicts(endpoint, conn)
	if two {
		s.stats.AgentsWithTwoCalls++
		s.log.Warn("agent endpoint dialled while it has a live leg", "endpoint", endpoint)
	}
	if double {
		s.stats.DoubleOffers++
		s.log.Warn("connection offered twice", "connection_id", conn, "endpoint", endpoint)
	}
}

// restCreate is POST /channels/create: the channel enters Stasis at once in
// state Down and rings only when /dial is called (trace 02-B).
func (s *Sim) restCreate(_ []string, p params) reply {
	endpoint := p.get("endpoint")
	if endpoint == "" {
		return fail(http.StatusBadRequest, "Endpoint must be specified")
	}
	id, other := p.get("channelId"), p.get("otherChannelId")
	if s.idTaken(id) || s.idTaken(other) || !s.canDial(endpoint) {
		// Asterisk reports an unknown technology with this misleading
		// message (trace 12).
		return fail(http.StatusConflict, "Channel with given unique ID already exists")
	}
	app := p.get("app")
	s.countOriginate(endpoint, p.vars)
	a, b := s.allocLeg(endpoint, id, other, p)
	s.recordOriginate(a, "create", p.get("originator"), p.get("formats"))
	a.pendingB = b
	if b != nil {
		// The ;2 half only comes to life when dialled.
		delete(s.channels, b.id)
		a.peer = nil
	}
	if app != "" && s.apps[app] != nil {
		a.subs[app] = true
	}
	if o := s.liveChannel(p.get("originator")); o != nil && app != "" {
		o.subs[app] = true
	}
	for k, v := range p.vars {
		s.evVarset(a, k, v)
	}
	args := parseArgs(p.get("appArgs"))
	data := app
	if len(args) > 0 {
		data += "," + strings.Join(args, ",")
	}
	a.appName, a.appData = "Stasis", data
	s.evDialplan(a, "Stasis", data)
	resp := a.json()
	if !s.enterStasis(a, app, args, viaCreate) {
		// "Stasis app '(null)' doesn't exist": 200, then the channel dies.
		s.after(s.timing.StasisFail, a, func() { s.hangup(a, 16, byDialplan) })
	}
	return ok(resp)
}

// restDial is POST /channels/{id}/dial on a created channel.
func (s *Sim) restDial(args []string, p params) reply {
	a := s.liveChannel(args[0])
	if a == nil {
		return fail(http.StatusNotFound, "Channel not found")
	}
	if !a.inStasis {
		return errNotInStasis
	}
	if a.state != "Down" || a.dial != nil {
		return fail(http.StatusConflict, "Channel is not in the 'Down' state")
	}
	if caller := s.liveChannel(p.get("caller")); caller != nil {
		for app := range s.chanApps(a) {
			caller.subs[app] = true
		}
		a.connName, a.connNum = caller.callerName, caller.callerNum
		s.evChannel("ChannelConnectedLine", a)
	}
	a.dial = &dialState{dialstring: dialString(a.endpoint), viaCreate: true}
	b := a.pendingB
	a.pendingB = nil
	if b != nil {
		s.channels[b.id] = b
		b.created = time.Now()
		a.peer, b.peer = b, a
	}
	s.startDial(a, b, a.endpoint)
	if t := p.int("timeout", 0); t > 0 {
		a.dial.timeout = s.after(time.Duration(t)*s.timing.Second, a, func() { s.dialTimeout(a) })
	}
	return noContent()
}

// knownFormats are the format names Asterisk 22's format cache holds
// (`core show codecs`); any other name in formats= is refused.
var knownFormats = map[string]bool{
	"ulaw": true, "alaw": true, "gsm": true, "g722": true, "g719": true, "g723": true,
	"g726": true, "g726aal2": true, "g729": true, "ilbc": true, "lpc10": true, "adpcm": true,
	"speex": true, "speex16": true, "speex32": true, "opus": true, "silk8": true, "silk12": true,
	"silk16": true, "silk24": true, "siren7": true, "siren14": true, "codec2": true, "testlaw": true,
	"slin": true, "slin12": true, "slin16": true, "slin24": true, "slin32": true, "slin44": true,
	"slin48": true, "slin96": true, "slin192": true,
	"h261": true, "h263": true, "h263p": true, "h264": true, "h265": true, "mpeg4": true,
	"vp8": true, "vp9": true, "jpeg": true, "png": true, "t140": true, "t140red": true,
}

// unknownFormat returns the first name in a comma-separated formats list
// that Asterisk would not find. Like Asterisk (strsep + ast_strip), an
// empty item, e.g. after a trailing comma, is a name that is not found.
func unknownFormat(formats string) (string, bool) {
	for _, f := range strings.Split(formats, ",") {
		f = strings.TrimSpace(f)
		if !knownFormats[f] {
			return f, true
		}
	}
	return "", false
}

// recordOriginate keeps what an accepted originate or create carried.
func (s *Sim) recordOriginate(a *channel, kind, originator, formats string) {
	s.originates = append(s.originates, Originate{
		Kind: kind, Channel: a.id, Endpoint: a.endpoint, Originator: originator, Formats: formats,
	})
}
