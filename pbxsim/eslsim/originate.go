package eslsim

import (
	"context"
	"strconv"
	"strings"
	"time"

	"github.com/tandem-cc/tandem/pbxsim"
)

// originateJob is an originate waiting for its outcome.
type originateJob struct {
	done   chan string
	result string
}

// resolve delivers the job's result once the events queued so far are
// published, so a BACKGROUND_JOB never overtakes the events that caused it.
// Callers hold s.mu.
func (s *Sim) resolve(c *channel, result string) {
	j := c.job
	if j == nil || j.result != "" {
		return
	}
	j.result = result
	s.queueFunc(func() { j.done <- result })
}

// originate runs `originate {vars}<dial string> <&app(arg) | ext [XML ctx]>`
// and blocks until the leg answers or fails, as FreeSWITCH does (bgapi runs
// it in a job): `+OK <uuid>\n` or `-ERR <CAUSE>\n` (trace 04).
func (s *Sim) originate(ctx context.Context, arg string) string {
	vars, order, dial, rest, ok := parseOriginate(arg)
	if !ok {
		return "-USAGE: <call url> <exten>|&<application_name>(<app_args>) [<dialplan>] [<context>] [<cid_name>] [<cid_num>] [<timeout_sec>]\n"
	}
	s.mu.Lock()
	phone, known := s.phones[dial]
	if !known {
		s.mu.Unlock()
		return "-ERR SUBSCRIBER_ABSENT\n"
	}
	uuid := vars["origination_uuid"]
	if uuid != "" && s.channels[uuid] != nil {
		s.mu.Unlock()
		return "-ERR DESTINATION_OUT_OF_ORDER\n"
	}
	s.countOriginate(dial, vars["TANDEM_CONNECTION_ID"])
	c := s.newChannel(uuid, dial, "outbound")
	s.originates = append(s.originates, pbxsim.Originate{Kind: "originate", Channel: c.uuid, Endpoint: dial})
	_, res, _ := strings.Cut(dial, "/")
	c.endpoint, c.dest, c.context = dial, res, "default"
	c.cidNum, c.cidName = vars["origination_caller_id_number"], vars["origination_caller_id_name"]
	if c.cidNum == "" {
		c.cidNum = "0000000000"
	}
	c.setVar("is_outbound", "true")
	for _, k := range order {
		c.setVar(k, vars[k])
	}
	c.setVar("originate_endpoint", strings.SplitN(dial, "/", 2)[0])
	p := phone
	c.phone = &p
	c.job = &originateJob{done: make(chan string, 1)}
	job := c.job
	c.state = "CS_NONE"
	s.emit(c, "CHANNEL_UUID", evOpt{pre: []Header{{"Old-Unique-ID", s.newUUID()}}, file: "switch_core_session.c", fn: "switch_core_session_set_uuid"})
	s.emit(c, "CHANNEL_OUTGOING", evOpt{file: "switch_core_session.c", fn: "switch_core_session_outgoing_channel"})
	s.emitState(c, "CS_INIT")
	s.emit(c, "CHANNEL_CREATE", evOpt{file: "switch_core_state_machine.c", fn: "switch_core_session_run"})
	s.emit(c, "CHANNEL_ORIGINATE", evOpt{file: "switch_core_session.c", fn: "switch_core_session_outgoing_channel"})
	s.emitState(c, "CS_ROUTING")
	s.emitState(c, "CS_CONSUME_MEDIA")
	secs := 60
	if n, err := strconv.Atoi(vars["originate_timeout"]); err == nil && n > 0 {
		secs = n
	}
	s.after(time.Duration(secs)*s.timing.Second, c, func() {
		if c.live() && c.answered.IsZero() {
			s.hangup(c, "NO_ANSWER")
		}
	})
	c.afterAnswer = rest
	s.startPhone(c, phone)
	s.mu.Unlock()
	select {
	case r := <-job.done:
		return r
	case <-ctx.Done():
		return "-ERR " + ctx.Err().Error() + "\n"
	}
}

// countOriginate updates the originate statistics. Callers hold s.mu.
func (s *Sim) countOriginate(dial, connID string) {
	s.stats.Originates++
	s.stats.OriginatesByEndpoint[dial]++
	double, busy := false, false
	for _, o := range s.channels {
		if !o.live() {
			continue
		}
		if connID != "" && o.vars["TANDEM_CONNECTION_ID"] == connID {
			double = true
		}
		if o.endpoint == dial {
			busy = true
		}
	}
	if double {
		s.stats.DoubleOffers++
		s.log.Warn("connection offered twice", "connection_id", connID, "dial", dial)
	}
	if busy {
		s.stats.AgentsWithTwoCalls++
		s.log.Warn("agent endpoint dialled while it has a live leg", "dial", dial)
	}
}

// answerOriginated is the far end answering: CHANNEL_ANSWER, CALLSTATE
// ACTIVE, CALL_UPDATE, the job's +OK, then the application (trace 04:
// CHANNEL_STATE CS_EXECUTE, CHANNEL_EXECUTE park, CHANNEL_PARK).
func (s *Sim) answerOriginated(c *channel) {
	if !c.live() || !c.answered.IsZero() {
		return
	}
	s.markAnswered(c)
	s.emit(c, "CALL_UPDATE", evOpt{pre: []Header{{"Direction", "RECV"}}, file: "switch_channel.c", fn: "switch_channel_flip_cid"})
	s.resolve(c, "+OK "+c.uuid+"\n")
	if c.phone != nil && c.phone.TalkFor > 0 {
		s.after(c.phone.TalkFor, c, func() { s.hangup(c, "NORMAL_CLEARING") })
	}
	rest := strings.TrimSpace(c.afterAnswer)
	if app, ok := strings.CutPrefix(rest, "&"); ok {
		name, data, _ := strings.Cut(strings.TrimSuffix(app, ")"), "(")
		s.emitState(c, "CS_EXECUTE")
		s.runOriginateApp(c, name, data)
		return
	}
	f := strings.Fields(rest)
	ext, dp := "", "default"
	if len(f) > 0 {
		ext = f[0]
	}
	if len(f) > 2 {
		dp = f[2]
	}
	s.runDialplan(c, ext, dp)
}

// markAnswered answers c: CHANNEL_ANSWER then CHANNEL_CALLSTATE ACTIVE.
func (s *Sim) markAnswered(c *channel) {
	c.answered = s.clock.Now()
	c.answerState = "answered"
	s.emit(c, "CHANNEL_ANSWER", evOpt{file: "switch_channel.c", fn: "switch_channel_perform_mark_answered"})
	s.emitCallState(c, "ACTIVE")
	s.scriptAnswered(c)
}

// runOriginateApp runs the &app() of an originate: park waits; playback
// plays then hangs up; anything else completes and hangs up.
func (s *Sim) runOriginateApp(c *channel, name, data string) {
	switch name {
	case "park", "":
		s.parkApp(c)
	case "playback":
		s.startPlay(c, data, s.newUUID(), func() { s.hangup(c, "NORMAL_CLEARING") }, nil)
	default:
		s.runApp(c, name, data)
		s.hangup(c, "NORMAL_CLEARING")
	}
}

// runDialplan routes c to extension ext of context: the simulated XML
// dialplan has one action for every extension, park (DIVERGENCES.md), so a
// transferred or dialplan-originated leg waits parked for its controller.
func (s *Sim) runDialplan(c *channel, ext, context string) {
	if ext != "" {
		c.dest = ext
	}
	c.context = context
	s.reroute(c)
	s.parkApp(c)
}

// reroute is a leg going through routing again (a new dialplan, or a
// transfer): an answered leg's call state drops to RINGING while it routes
// and comes back ACTIVE as it executes (trace 08, both uuid_transfer forms).
func (s *Sim) reroute(c *channel) {
	if c.answered.IsZero() {
		s.emitState(c, "CS_ROUTING")
		s.emitState(c, "CS_EXECUTE")
		return
	}
	c.state = "CS_ROUTING"
	s.emitCallState(c, "RINGING")
	s.emitState(c, "CS_ROUTING")
	c.state = "CS_EXECUTE"
	s.emitCallState(c, "ACTIVE")
	s.emitState(c, "CS_EXECUTE")
}

// parseOriginate splits `{a=1,b='x y'}dial rest` into its variables (in
// order), dial string and the rest.
func parseOriginate(arg string) (vars map[string]string, order []string, dial, rest string, ok bool) {
	arg = strings.TrimSpace(arg)
	vars = map[string]string{}
	if strings.HasPrefix(arg, "{") {
		end := closingBrace(arg)
		if end < 0 {
			return nil, nil, "", "", false
		}
		for _, kv := range splitVars(arg[1:end]) {
			k, v, _ := strings.Cut(kv, "=")
			k = strings.TrimSpace(k)
			if k == "" {
				continue
			}
			v = strings.Trim(v, "'")
			if _, seen := vars[k]; !seen {
				order = append(order, k)
			}
			vars[k] = v
		}
		arg = arg[end+1:]
	}
	dial, rest, _ = strings.Cut(arg, " ")
	if dial == "" || strings.TrimSpace(rest) == "" {
		return nil, nil, "", "", false
	}
	return vars, order, dial, rest, true
}

func closingBrace(s string) int {
	quoted := false
	for i := 1; i < len(s); i++ {
		switch s[i] {
		case '\\':
			i++
		case '\'':
			quoted = !quoted
		case '}':
			if !quoted {
				return i
			}
		}
	}
	return -1
}

// splitVars splits on commas outside quotes and not escaped as \,.
func splitVars(s string) []string {
	var out []string
	var cur strings.Builder
	quoted := false
	for i := 0; i < len(s); i++ {
		ch := s[i]
		switch {
		case ch == '\\' && i+1 < len(s):
			i++
			cur.WriteByte(s[i])
		case ch == '\'':
			quoted = !quoted
			cur.WriteByte(ch)
		case ch == ',' && !quoted:
			out = append(out, cur.String())
			cur.Reset()
		default:
			cur.WriteByte(ch)
		}
	}
	return append(out, cur.String())
}
