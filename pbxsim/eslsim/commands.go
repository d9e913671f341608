package eslsim

import (
	"context"
	"fmt"
	"strings"
)

// api runs one api command as FreeSWITCH's mod_commands would, with its
// reply texts (traces 02–10). Commands of the protocol half (status,
// version, ...) never reach here; an unknown one gets FreeSWITCH's error.
func (s *Sim) api(ctx context.Context, cmd, arg string) string {
	cmd = strings.ToLower(strings.TrimSpace(cmd))
	arg = strings.TrimSpace(arg)
	if s.opts.BeforeAPI != nil {
		s.opts.BeforeAPI(cmd, arg)
	}
	if cmd == "originate" {
		return s.originate(ctx, arg)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return "-ERR closed\n"
	}
	args := strings.Fields(arg)
	switch cmd {
	case "show":
		return s.show(arg)
	case "uuid_exists":
		if len(args) > 0 && s.liveChannel(args[0]) != nil {
			return "true"
		}
		return "false"
	case "uuid_hold":
		return s.uuidHold(args)
	case "uuid_record":
		return s.uuidRecord(args)
	case "uuid_send_dtmf", "uuid_recv_dtmf":
		return s.uuidDTMF(cmd, args)
	case "uuid_bridge":
		return s.uuidBridge(args)
	case "uuid_answer":
		if len(args) == 0 || s.liveChannel(args[0]) == nil {
			return "-ERROR\n"
		}
		if c := s.liveChannel(args[0]); c.answered.IsZero() {
			s.markAnswered(c)
		}
		return "+OK\n"
	case "uuid_broadcast":
		if len(args) < 2 || s.liveChannel(args[0]) == nil {
			return "-ERR invalid uuid\n"
		}
		s.startPlay(s.liveChannel(args[0]), args[1], s.newUUID(), nil, s.broadcastCommand(args[1]))
		return "+OK Message sent\n"
	}
	if !channelCommand(cmd) {
		return "-ERR " + cmd + " Command not found!\n"
	}
	if len(args) == 0 {
		return "-USAGE: " + channelUsage[cmd] + "\n"
	}
	c := s.liveChannel(args[0])
	if c == nil {
		return "-ERR No such channel!\n"
	}
	switch cmd {
	case "uuid_kill":
		cause := "NORMAL_CLEARING"
		if len(args) > 1 && causeName(args[1]) != "" {
			cause = causeName(args[1])
		}
		s.hangup(c, cause)
	case "uuid_park":
		s.uuidPark(c)
	case "uuid_transfer":
		return s.uuidTransfer(c, args[1:])
	case "uuid_break":
		s.breakPlayback(c, len(args) > 1 && args[1] == "all")
	case "uuid_getvar":
		if len(args) < 2 {
			return "-USAGE: <uuid> <var>\n"
		}
		if v, ok := c.vars[args[1]]; ok {
			return v
		}
		return "_undef_"
	case "uuid_setvar":
		if len(args) < 2 {
			return "-USAGE: <uuid> <var> [value]\n"
		}
		if len(args) == 2 {
			c.unsetVar(args[1])
		} else {
			c.setVar(args[1], strings.Join(args[2:], " "))
		}
	case "uuid_dump":
		format := ""
		if len(args) > 1 {
			format = args[1]
		}
		return s.dump(c, format)
	}
	return "+OK\n"
}

// channelUsage are mod_commands' syntax texts, sent as "-USAGE: <text>"
// when a command has no argument (uuid_kill and uuid_transfer as trace 10
// shows them; the others from mod_commands' syntax strings).
var channelUsage = map[string]string{
	"uuid_kill":     "<uuid> [cause]",
	"uuid_transfer": "<uuid> [-bleg|-both] <dest-exten> [<dialplan>] [<context>]",
	"uuid_park":     "<uuid>",
	"uuid_break":    "<uuid> [all]",
	"uuid_getvar":   "<uuid> <var>",
	"uuid_setvar":   "<uuid> <var> [value]",
	"uuid_dump":     "<uuid> [format]",
}

func channelCommand(cmd string) bool {
	switch cmd {
	case "uuid_kill", "uuid_park", "uuid_transfer", "uuid_break", "uuid_getvar", "uuid_setvar", "uuid_dump":
		return true
	}
	return false
}

// uuidBridge is `uuid_bridge <a> <b>` (trace 04): both legs leave what
// they were in, only a gets CHANNEL_BRIDGE, the reply names b.
func (s *Sim) uuidBridge(args []string) string {
	if len(args) < 2 {
		return "-USAGE: <uuid> <other_uuid>\n"
	}
	a, b := s.liveChannel(args[0]), s.liveChannel(args[1])
	if a == nil || b == nil || a == b {
		return "-ERR Invalid uuid\n"
	}
	for _, x := range []*channel{a, b} {
		s.breakPlayback(x, true)
		if x.threeWay != nil {
			s.leaveThreeWay(x)
		}
		if x.peer != nil && x.peer != a && x.peer != b {
			s.unbridge(x)
		}
	}
	if a.peer == b {
		return "+OK " + b.uuid + "\n"
	}
	a.peer, b.peer, a.leader, b.leader = b, a, true, false
	a.otherLeg, b.otherLeg, a.otherLeader, b.otherLeader = b, a, true, false
	for _, x := range []*channel{a, b} {
		s.unpark(x)
		other := b
		if x == b {
			other = a
		}
		x.transferred = true
		x.transferSource = fmt.Sprintf("%d:%s:uuid_br:%s", s.clock.Now().Unix(), s.newUUID(), other.uuid)
		s.emitState(x, "CS_HIBERNATE")
		s.emitState(x, "CS_RESET")
		s.emitState(x, "CS_SOFT_EXECUTE")
	}
	s.emitExecute(a, "uuid_bridge", b.uuid, s.newUUID())
	s.emitExecute(b, "uuid_bridge", a.uuid, s.newUUID())
	a.setVar("bridge_uuid", b.uuid)
	b.setVar("bridge_uuid", a.uuid)
	s.emitBridgeEvent(a, "CHANNEL_BRIDGE")
	s.emitState(b, "CS_EXCHANGE_MEDIA")
	a.shared[b.uuid], b.shared[a.uuid] = true, true
	s.scriptBridged(a)
	s.scriptBridged(b)
	return "+OK " + b.uuid + "\n"
}

// uuidPark takes c out of its bridge or three_way and parks it (CS_PARK,
// no CHANNEL_EXECUTE, trace 05).
func (s *Sim) uuidPark(c *channel) {
	if c.threeWay != nil {
		s.leaveThreeWay(c)
	}
	s.unbridge(c)
	if c.parked {
		return
	}
	s.parkState(c)
}

// uuidTransfer is `uuid_transfer <uuid> [-bleg|-both] <dest> [XML <ctx>]`;
// `three_way:<uuid>[,park] inline` joins that leg's call as a third party
// (an inline dialplan: what follows three_way runs once it ends).
func (s *Sim) uuidTransfer(c *channel, rest []string) string {
	if len(rest) > 0 && strings.HasPrefix(rest[0], "-") {
		rest = rest[1:]
	}
	if len(rest) == 0 {
		return "-USAGE: <uuid> [-bleg|-both] <dest-exten> [<dialplan>] [<context>]\n"
	}
	if apps, ok := strings.CutPrefix(rest[0], "three_way:"); ok && len(rest) > 1 && rest[1] == "inline" {
		target, then, _ := strings.Cut(apps, ",")
		t := s.liveChannel(target)
		if t == nil || t == c {
			return "-ERR No such channel!\n"
		}
		s.joinThreeWay(c, t)
		c.twThen = then
		return "+OK\n"
	}
	s.breakPlayback(c, true)
	if c.threeWay != nil {
		s.leaveThreeWay(c)
	}
	s.unbridge(c)
	s.unpark(c)
	ctx := "default"
	if len(rest) > 2 {
		ctx = rest[2]
	}
	s.runDialplan(c, rest[0], ctx)
	return "+OK\n"
}

// joinThreeWay runs the three_way application on c against t: c leaves its
// bridge or park, CHANNEL_EXECUTE three_way on c, MEDIA_BUG_START on t
// (trace 08: the three_way app is an eavesdrop bug on t, targeting t); c shares media with t and t's bridge peer.
func (s *Sim) joinThreeWay(c, t *channel) {
	s.breakPlayback(c, true)
	if c.threeWay != nil {
		s.leaveThreeWay(c)
	}
	s.unbridge(c)
	s.unpark(c)
	s.reroute(c) // `uuid_transfer ... inline` routes the leg again
	c.twID = s.newUUID()
	s.emitExecute(c, "three_way", t.uuid, c.twID)
	s.emitReadCodec(c)
	c.threeWay = t
	t.guests = append(t.guests, c)
	s.emit(t, "MEDIA_BUG_START", evOpt{pre: []Header{{"Media-Bug-Function", "eavesdrop"}, {"Media-Bug-Target", t.uuid}}, file: "switch_core_media_bug.c", fn: "switch_core_media_bug_add"})
	c.shared[t.uuid], t.shared[c.uuid] = true, true
	if p := t.peer; p != nil {
		c.shared[p.uuid], p.shared[c.uuid] = true, true
	}
	s.scriptBridged(c)
}

// leaveThreeWay ends c's three_way: CHANNEL_EXECUTE_COMPLETE three_way on
// c and MEDIA_BUG_STOP on the target.
func (s *Sim) leaveThreeWay(c *channel) {
	t := c.threeWay
	if t == nil {
		return
	}
	c.threeWay = nil
	for i, g := range t.guests {
		if g == c {
			t.guests = append(t.guests[:i:i], t.guests[i+1:]...)
			break
		}
	}
	if c.live() {
		s.emitReadCodec(c)
	}
	s.emitExecuteComplete(c, "three_way", t.uuid, "_none_", c.twID)
	if t.live() {
		s.emit(t, "MEDIA_BUG_STOP", evOpt{pre: []Header{{"Media-Bug-Function", "eavesdrop"}, {"Media-Bug-Target", t.uuid}}, file: "switch_core_media_bug.c", fn: "switch_core_media_bug_close"})
	}
}

// uuidHold mimics uuid_hold on these legs (trace 05): +OK Success and
// CHANNEL_HOLD, but the leg never becomes held: `off` fails, toggle holds
// again, no CHANNEL_UNHOLD, and an unknown uuid also gets +OK Success.
func (s *Sim) uuidHold(args []string) string {
	off := len(args) > 0 && (args[0] == "off" || args[0] == "toggle")
	mode := ""
	if off {
		mode, args = args[0], args[1:]
	}
	if len(args) == 0 {
		return "-USAGE: [off|toggle] <uuid> [<display>]\n"
	}
	c := s.liveChannel(args[0])
	if c == nil {
		return "+OK Success\n"
	}
	if mode == "off" {
		return "-ERR Operation failed\n"
	}
	s.emit(c, "CHANNEL_HOLD", evOpt{file: "switch_channel.c", fn: "switch_channel_perform_mark_hold"})
	return "+OK Success\n"
}

// uuidDTMF is uuid_send_dtmf (the digits go to the far end: the bridge
// peer sees them as DTMF events) and uuid_recv_dtmf (DTMF events on the
// leg itself, DTMF-Source APP), trace 06. "d@ms" sets every digit's
// duration; the default is 250 ms (2000 samples).
func (s *Sim) uuidDTMF(cmd string, args []string) string {
	if len(args) < 2 {
		return "-USAGE: <uuid> <dtmf_data>\n"
	}
	c := s.liveChannel(args[0])
	if c == nil {
		return "-ERR Cannot locate session!\n"
	}
	digits, ms, _ := strings.Cut(args[1], "@")
	samples := 2000
	if n := atoiOr(ms, 0); n > 0 {
		samples = n * 8
	}
	if cmd == "uuid_recv_dtmf" {
		for _, d := range digits {
			s.emitDTMF(c, d, samples, "APP")
		}
		return "+OK " + c.uuid + " received DTMF " + args[1] + ".\n"
	}
	if p := c.peer; p != nil {
		for _, d := range digits {
			s.emitDTMF(p, d, samples, "UNKNOWN")
		}
	}
	return "+OK " + c.uuid + " sent DTMF " + args[1] + ".\n"
}

// sendmsg executes a sendmsg on channel uuid and returns the Reply-Text.
func (s *Sim) sendmsg(uuid string, headers []Header, body string) string {
	get := func(n string) string {
		for _, h := range headers {
			if strings.EqualFold(h.Name, n) {
				return h.Value
			}
		}
		return ""
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	c := s.liveChannel(uuid)
	if c == nil {
		return "-ERR invalid session id [" + uuid + "]"
	}
	switch strings.ToLower(get("call-command")) {
	case "execute":
		app, arg := get("execute-app-name"), get("execute-app-arg")
		if arg == "" && body != "" {
			arg = strings.TrimRight(body, "\r\n")
		}
		id := get("event-uuid")
		if id == "" {
			id = s.newUUID()
		}
		s.execute(c, app, arg, id)
	case "hangup":
		cause := causeName(get("hangup-cause"))
		if cause == "" {
			cause = "NORMAL_CLEARING"
		}
		s.hangup(c, cause)
	}
	return "+OK"
}

// execute runs one application on c for sendmsg.
func (s *Sim) execute(c *channel, app, arg, id string) {
	switch app {
	case "playback":
		s.startPlay(c, arg, id, nil, nil)
	case "park":
		if c.parked {
			s.emitExecute(c, "park", arg, id)
			s.emitExecuteComplete(c, "park", arg, "_none_", id)
			return
		}
		s.unbridge(c)
		c.parked, c.parkApp, c.parkID, c.parkResp = true, true, id, ""
		s.emitExecute(c, "park", "", id)
		s.emit(c, "CHANNEL_PARK", evOpt{file: "switch_ivr.c", fn: "switch_ivr_park"})
	case "answer":
		s.emitExecute(c, app, arg, id)
		if c.answered.IsZero() {
			s.markAnswered(c)
		}
		s.emitExecuteComplete(c, app, arg, "_none_", id)
	case "hangup":
		s.emitExecute(c, app, arg, id)
		cause := causeName(arg)
		if cause == "" {
			cause = "NORMAL_CLEARING"
		}
		s.hangup(c, cause)
	case "set":
		s.emitExecute(c, app, arg, id)
		k, v, _ := strings.Cut(arg, "=")
		c.setVar(k, v)
		s.emitExecuteComplete(c, app, arg, "_none_", id)
	default:
		s.emitExecute(c, app, arg, id)
		s.emitExecuteComplete(c, app, arg, "_none_", id)
	}
}

// channelData is the channel's data for an outbound connection's connect
// reply: Event-Name CHANNEL_DATA first, then the channel headers.
func (s *Sim) channelData(uuid string) ([]Header, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	c := s.liveChannel(uuid)
	if c == nil {
		return nil, false
	}
	return append([]Header{{"Event-Name", "CHANNEL_DATA"}}, s.channelHeaders(c, true)...), true
}

func atoiOr(s string, def int) int {
	n := 0
	if s == "" {
		return def
	}
	for _, r := range s {
		if r < '0' || r > '9' {
			return def
		}
		n = n*10 + int(r-'0')
	}
	return n
}
