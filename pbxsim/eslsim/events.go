package eslsim

import (
	"fmt"
	"strconv"
	"time"
)

// Event headers are built in FreeSWITCH's order (traces 03–08): the core
// headers with Event-Sequence from one global counter, headers some events
// put before the channel's (Original-Channel-Call-State, Bridge-A/B), the
// channel's Channel-* headers (Hangup-Cause after Answer-State once hung
// up), codecs, Caller-*, Other-Type/Other-Leg-* once bridged, variable_*,
// then the event's own trailing headers (Application*, DTMF-*, ...).

// stateNumbers are FreeSWITCH's switch_channel_state_t values.
var stateNumbers = map[string]int{
	"CS_NEW": 0, "CS_INIT": 1, "CS_ROUTING": 2, "CS_SOFT_EXECUTE": 3, "CS_EXECUTE": 4,
	"CS_EXCHANGE_MEDIA": 5, "CS_PARK": 6, "CS_CONSUME_MEDIA": 7, "CS_HIBERNATE": 8,
	"CS_RESET": 9, "CS_HANGUP": 10, "CS_REPORTING": 11, "CS_DESTROY": 12, "CS_NONE": 13,
}

// stateNumber is Channel-State-Number: a leg not yet running reports
// CS_NONE with number 1 (0 on its CODEC events), traces 03–08.
func stateNumber(state string) string {
	if state == "CS_NONE" {
		return "1"
	}
	return strconv.Itoa(stateNumbers[state])
}

var callStateNumbers = map[string]int{"DOWN": 0, "DIALING": 1, "RINGING": 2, "EARLY": 3, "ACTIVE": 4, "HELD": 5, "RING_WAIT": 6, "HANGUP": 7}

// coreHeaders are the headers every event starts with: its name, then
// the core headers every FreeSWITCH event carries (stamp.go), numbered from
// the one Event-Sequence counter the protocol's own events share.
func (s *Sim) coreHeaders(name, file, fn string, line int) []Header {
	return append([]Header{{"Event-Name", name}}, coreHeaders(s.coreUUID, s.clock.Now(), file, fn, line, s.nextSeq())...)
}

// nextSeq returns the next Event-Sequence. FreeSWITCH numbers events no
// event-socket subscriber ever gets too, so even a connection subscribed
// to ALL sees gaps (57 missing numbers in the first 1,791 events of trace
// 11, 3 %): every 32nd number is skipped the same way. Lock-free: the
// protocol stamps its own events while holding its locks.
func (s *Sim) nextSeq() uint64 {
	n := s.seq.Add(1)
	if n%32 == 0 {
		n = s.seq.Add(1)
	}
	return n
}

// stamp adds the core headers to an event the protocol creates itself
// (BACKGROUND_JOB, API, HEARTBEAT, sendevent). It takes no lock: the
// protocol may call it while holding its own.
func (s *Sim) stamp(ev *Event, file, function string, line int) {
	ev.Headers = append(ev.Headers, coreHeaders(s.coreUUID, s.clock.Now(), file, function, line, s.nextSeq())...)
}

// channelHeaders are the channel's data, as switch_channel_event_set_data
// writes them (without the variables when vars is false).
func (s *Sim) channelHeaders(c *channel, vars bool) []Header {
	stateNum := c.state
	h := []Header{
		{"Channel-State", c.state},
		{"Channel-Call-State", c.callState},
		{"Channel-State-Number", stateNumber(stateNum)},
		{"Channel-Name", c.name},
		{"Unique-ID", c.uuid},
		{"Call-Direction", c.direction},
		{"Presence-Call-Direction", c.direction},
		{"Channel-HIT-Dialplan", strconv.FormatBool(c.direction == "inbound" || c.state != "CS_NONE")},
		{"Channel-Call-UUID", c.uuid},
		{"Answer-State", c.answerState},
	}
	if c.cause != "" {
		h = append(h, Header{"Hangup-Cause", c.cause})
	}
	h = append(h,
		Header{"Channel-Read-Codec-Name", "L16"}, Header{"Channel-Read-Codec-Rate", "8000"},
		Header{"Channel-Read-Codec-Bit-Rate", "128000"}, Header{"Channel-Write-Codec-Name", "L16"},
		Header{"Channel-Write-Codec-Rate", "8000"}, Header{"Channel-Write-Codec-Bit-Rate", "128000"})
	h = append(h, callerHeaders("Caller", c)...)
	// The other leg's profile stays once a bridge ended (FreeSWITCH keeps
	// it in the caller profile): Other-Leg-Unique-ID names the last peer,
	// not necessarily a current one (traces 04, 05, 08).
	if p := c.otherLeg; p != nil {
		h = append(h, Header{"Other-Type", map[bool]string{true: "originatee", false: "originator"}[c.otherLeader]})
		h = append(h, callerHeaders("Other-Leg", p)...)
	}
	if vars {
		for _, k := range c.varOrder {
			h = append(h, Header{"variable_" + k, c.vars[k]})
		}
	}
	return h
}

// callerHeaders is a caller profile under prefix (Caller or Other-Leg), as
// switch_caller_profile_event_set_data writes it (traces 03–08): the
// caller-id name headers only when a name is set, Profile-Index only in the
// leg's own profile.
func callerHeaders(prefix string, c *channel) []Header {
	us := func(t time.Time) string {
		if t.IsZero() {
			return "0"
		}
		return strconv.FormatInt(t.UnixMicro(), 10)
	}
	src := "mod_loopback"
	if c.direction == "outbound" {
		src = "src/switch_ivr_originate.c"
	}
	var h []Header
	p := func(n, v string) { h = append(h, Header{prefix + "-" + n, v}) }
	p("Direction", c.direction)
	p("Logical-Direction", c.direction)
	p("Dialplan", "xml")
	if c.cidName != "" {
		p("Caller-ID-Name", c.cidName)
	}
	p("Caller-ID-Number", c.cidNum)
	if c.cidName != "" {
		p("Orig-Caller-ID-Name", c.cidName)
	}
	p("Orig-Caller-ID-Number", c.cidNum)
	if !c.transferred {
		// uuid_bridge transfers the legs: the new caller profile has no
		// callee name, and names where it came from (traces 04, 05, 08).
		p("Callee-ID-Name", "Outbound Call")
	}
	p("Callee-ID-Number", c.dest)
	p("ANI", c.cidNum)
	p("Destination-Number", c.dest)
	p("Unique-ID", c.uuid)
	p("Source", src)
	if c.transferred && prefix == "Caller" {
		p("Transfer-Source", c.transferSource)
	}
	p("Context", c.context)
	p("Channel-Name", c.name)
	if prefix == "Caller" {
		p("Profile-Index", "1")
	}
	p("Profile-Created-Time", us(c.created))
	p("Channel-Created-Time", us(c.created))
	p("Channel-Answered-Time", us(c.answered))
	p("Channel-Progress-Time", "0")
	p("Channel-Progress-Media-Time", "0")
	p("Channel-Hangup-Time", "0")
	p("Channel-Transfer-Time", "0")
	p("Channel-Resurrect-Time", "0")
	p("Channel-Bridged-Time", "0")
	p("Channel-Last-Hold", "0")
	p("Channel-Hold-Accum", "0")
	p("Screen-Bit", "true")
	p("Privacy-Hide-Name", "false")
	p("Privacy-Hide-Number", "false")
	return h
}

// evOpt adds headers around the channel's.
type evOpt struct {
	pre, post []Header
	noVars    bool
	file, fn  string
}

// varless are the channel events FreeSWITCH fires without the channel's
// variables (traces 03–08): a `filter variable_<name> <value>` does not
// let them through.
var varless = map[string]bool{"CHANNEL_STATE": true, "CHANNEL_CALLSTATE": true, "CHANNEL_OUTGOING": true, "DTMF": true, "PRIVATE_COMMAND": true}

// emit builds a channel event and queues it. Callers hold s.mu.
func (s *Sim) emit(c *channel, name string, o evOpt) {
	file, fn := o.file, o.fn
	if file == "" {
		file, fn = "switch_channel.c", "switch_channel_perform_set_running_state"
	}
	h := s.coreHeaders(name, file, fn, 200)
	h = append(h, o.pre...)
	h = append(h, s.channelHeaders(c, !o.noVars && !varless[name])...)
	h = append(h, o.post...)
	s.queue(Event{Headers: h})
}

// emitCodecs sends the two CODEC events a new loopback leg fires before
// its CHANNEL_CREATE (traces 03–08): the read codec, then the write codec,
// each with the channel's state headers and FreeSWITCH's odd extra copies
// (lowercase read names, a mixed-case write bit rate). No caller profile,
// no variables.
func (s *Sim) emitCodecs(c *channel) {
	base := s.channelHeaders(c, false)[:10]
	base[2].Value = "0"
	read := []Header{{"Channel-Read-Codec-Name", "L16"}, {"Channel-Read-Codec-Rate", "8000"}, {"Channel-Read-Codec-Bit-Rate", "128000"}}
	write := []Header{{"Channel-Write-Codec-Name", "L16"}, {"Channel-Write-Codec-Rate", "8000"}, {"Channel-Write-Codec-Bit-Rate", "128000"}}
	h := s.coreHeaders("CODEC", "switch_core_codec.c", "switch_core_session_set_read_codec", 279)
	h = append(append(append(h, base...), read...),
		Header{"channel-read-codec-name", "L16"}, Header{"channel-read-codec-rate", "8000"}, Header{"channel-read-codec-bit-rate", "128000"})
	s.queue(Event{Headers: h})
	h = s.coreHeaders("CODEC", "switch_core_codec.c", "switch_core_session_set_write_codec", 450)
	h = append(append(append(append(h, base...), read...), write...),
		Header{"Channel-Write-Codec-Name", "L16"}, Header{"Channel-Write-Codec-Rate", "8000"}, Header{"Channel-Write-codec-bit-rate", "128000"})
	s.queue(Event{Headers: h})
}

// emitReadCodec is the CODEC event of a running leg whose read codec is
// set again (the three_way application does it as it starts and as it
// ends, trace 08): the channel's data without variables, then the
// lowercase read-codec copies.
func (s *Sim) emitReadCodec(c *channel) {
	h := s.coreHeaders("CODEC", "switch_core_codec.c", "switch_core_session_set_read_codec", 279)
	h = append(h, s.channelHeaders(c, false)...)
	h = append(h, Header{"channel-read-codec-name", "L16"}, Header{"channel-read-codec-rate", "8000"}, Header{"channel-read-codec-bit-rate", "128000"})
	s.queue(Event{Headers: h})
}

// emitState moves c to state and sends CHANNEL_STATE.
func (s *Sim) emitState(c *channel, state string) {
	c.state = state
	s.emit(c, "CHANNEL_STATE", evOpt{})
}

// emitCallState moves c's call state and sends CHANNEL_CALLSTATE.
func (s *Sim) emitCallState(c *channel, cs string) {
	orig := c.callState
	c.callState = cs
	s.emit(c, "CHANNEL_CALLSTATE", evOpt{pre: []Header{
		{"Original-Channel-Call-State", orig},
		{"Channel-Call-State-Number", strconv.Itoa(callStateNumbers[cs])},
	}})
}

// emitExecute sends CHANNEL_EXECUTE of app on c.
func (s *Sim) emitExecute(c *channel, app, data, appUUID string) {
	c.app, c.appData = app, data
	c.setVar("current_application", app)
	if data != "" {
		c.setVar("current_application_data", data)
	}
	post := []Header{{"Application", app}}
	if data != "" {
		post = append(post, Header{"Application-Data", data})
	}
	post = append(post, Header{"Application-UUID", appUUID})
	s.emit(c, "CHANNEL_EXECUTE", evOpt{post: post, file: "switch_core_session.c", fn: "switch_core_session_exec"})
}

// emitExecuteComplete sends CHANNEL_EXECUTE_COMPLETE with the response.
func (s *Sim) emitExecuteComplete(c *channel, app, data, resp, appUUID string) {
	post := []Header{{"Application", app}}
	if data != "" {
		post = append(post, Header{"Application-Data", data})
	}
	post = append(post, Header{"Application-Response", resp}, Header{"Application-UUID", appUUID})
	s.emit(c, "CHANNEL_EXECUTE_COMPLETE", evOpt{post: post, file: "switch_core_session.c", fn: "switch_core_session_exec"})
}

// runApp is an application that completes at once (set, answer, ...).
func (s *Sim) runApp(c *channel, app, data string) {
	id := s.newUUID()
	s.emitExecute(c, app, data, id)
	s.emitExecuteComplete(c, app, data, "_none_", id)
}

// parkApp runs the park application: CHANNEL_EXECUTE park, CHANNEL_PARK
// in CS_EXECUTE (its completion comes when the park ends).
func (s *Sim) parkApp(c *channel) {
	c.parked, c.parkApp = true, true
	c.parkID, c.parkResp = s.newUUID(), ""
	s.emitExecute(c, "park", "", c.parkID)
	s.emit(c, "CHANNEL_PARK", evOpt{file: "switch_ivr.c", fn: "switch_ivr_park"})
}

// parkState parks c outside any application (uuid_park, park_after_bridge):
// CHANNEL_STATE CS_PARK then CHANNEL_PARK with Channel-State CS_PARK.
func (s *Sim) parkState(c *channel) {
	c.parked, c.parkApp = true, false
	c.app, c.appData = "", ""
	s.emitState(c, "CS_PARK")
	s.emit(c, "CHANNEL_PARK", evOpt{file: "switch_ivr.c", fn: "switch_ivr_park"})
}

// unpark ends a park: CHANNEL_UNPARK and, for the park application, its
// CHANNEL_EXECUTE_COMPLETE.
func (s *Sim) unpark(c *channel) {
	if !c.parked {
		return
	}
	c.parked = false
	s.emit(c, "CHANNEL_UNPARK", evOpt{file: "switch_ivr.c", fn: "switch_ivr_park"})
	if c.sockRunning {
		// The socket application's park ended: the application completes
		// (trace 09, after hangup; a bridge or transfer ends it too).
		c.sockRunning = false
		s.emitExecuteComplete(c, "socket", c.sockData, "_none_", c.sockID)
	}
	if c.parkApp {
		c.parkApp = false
		resp := c.parkResp
		if resp == "" {
			resp = "_none_"
		}
		s.emitExecuteComplete(c, "park", "", resp, c.parkID)
	}
}

// emitDTMF sends one DTMF event on c; duration in 8 kHz samples.
func (s *Sim) emitDTMF(c *channel, digit rune, samples int, source string) {
	s.emit(c, "DTMF", evOpt{noVars: true, file: "switch_channel.c", fn: "switch_channel_dequeue_dtmf", post: []Header{
		{"DTMF-Digit", string(digit)},
		{"DTMF-Duration", fmt.Sprint(samples)},
		{"DTMF-Source", source},
	}})
}
