package eslsim

import (
	"errors"
	"maps"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/tandem-cc/tandem/pbxsim"
)

// callerScript is the running script of an inbound call.
type callerScript struct {
	c        pbxsim.Caller
	patience *simTimer
	bridged  bool
	answered bool
}

// Call places an inbound customer call: the leg runs Tandem's inbound
// dialplan (set tandem_app, tandem_inbound, tandem_dnis, [tandem_queue],
// park_after_bridge, then park) and waits parked, unanswered (trace 03's B
// leg). Caller.App "" takes the owners with a connection filtering on
// variable_tandem_app round-robin; with none, tandem_app stays empty and
// the call waits parked anyway, as a real dialplan would. Caller.Args !=
// nil is a dialplan that is not Tandem's: no tandem_inbound (a stray).
// With Options.Outbound, the leg is handed to the socket application
// instead of parking.
func (s *Sim) Call(cl pbxsim.Caller) (string, error) {
	owners := s.proto.owners()
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return "", errors.New("eslsim: closed")
	}
	s.stats.CallsPlaced++
	app := cl.App
	if app == "" && len(owners) > 0 {
		owners = slices.Sorted(slices.Values(owners))
		s.rr++
		app = owners[s.rr%len(owners)]
	}
	c := s.newChannel("", "loopback/"+cl.ANI+"-b", "inbound")
	c.cidNum, c.cidName, c.dest, c.context = cl.ANI, cl.ANI, cl.DNIS, "public"
	c.script = &callerScript{c: cl}
	c.state = "CS_NONE"
	s.emitCodecs(c)
	s.emitState(c, "CS_INIT")
	s.emit(c, "CHANNEL_CREATE", evOpt{file: "switch_core_state_machine.c", fn: "switch_core_session_run"})
	c.state = "CS_ROUTING"
	s.emitCallState(c, "RINGING")
	s.emitState(c, "CS_ROUTING")
	s.emitState(c, "CS_EXECUTE")
	set := func(k, v string) {
		s.runApp(c, "set", k+"="+v)
		c.setVar(k, v)
	}
	for _, k := range slices.Sorted(maps.Keys(cl.Vars)) {
		set(k, cl.Vars[k])
	}
	outbound := len(s.opts.Outbound) > 0
	// An outbound-mode dialplan names no owner: the replica the socket
	// reaches sets tandem_app (and tandem_inbound, park_after_bridge);
	// Caller.App, when given, is a dialplan that names it all the same.
	if !outbound || cl.App != "" {
		set("tandem_app", app)
	}
	switch {
	case cl.Args != nil && outbound:
		set("tandem_inbound", "false") // not Tandem's: the replica leaves it so
	case cl.Args == nil && !outbound:
		set("tandem_inbound", "true")
	}
	set("tandem_dnis", cl.DNIS)
	if cl.Queue != "" {
		set("tandem_queue", cl.Queue)
	}
	if !outbound {
		set("park_after_bridge", "true")
	}
	if cl.Patience > 0 {
		sc := c.script
		sc.patience = s.after(cl.Patience, c, func() {
			s.stats.CallsAbandoned++
			s.hangup(c, "NORMAL_CLEARING")
		})
	}
	if outbound {
		c.sockets = slices.Clone(s.opts.Outbound)
		s.nextSocket(c)
		return c.uuid, nil
	}
	s.parkApp(c)
	return c.uuid, nil
}

// nextSocket runs the outbound dialplan's next action: `socket <addr>
// async full` for the next address of Options.Outbound, or, with none
// left, the `hangup` that ends the extension. The socket application
// connects first; once connected it parks the channel (CHANNEL_PARK is
// the first event the connection sees, trace 09) and waits for the client.
// When the connection fails, or ends while the application still runs
// (socketClosed), the application completes and the dialplan goes on with
// the next action, as FreeSWITCH's does. Callers hold s.mu.
func (s *Sim) nextSocket(c *channel) {
	if !c.live() {
		return
	}
	if len(c.sockets) == 0 {
		id := s.newUUID()
		s.emitExecute(c, "hangup", "", id)
		s.hangup(c, "NORMAL_CLEARING")
		return
	}
	addr := c.sockets[0]
	c.sockets = c.sockets[1:]
	c.outSock = true
	c.sockID, c.sockData = s.newUUID(), addr+" async full"
	s.emitExecute(c, "socket", c.sockData, c.sockID)
	uuid := c.uuid
	s.queueFunc(func() {
		nc, err := s.proto.dialSocket(s.ctx, addr)
		s.mu.Lock()
		defer s.mu.Unlock()
		if err != nil {
			s.log.Info("outbound socket failed; the dialplan goes on", "uuid", uuid, "addr", addr, "err", err)
			if c.live() {
				s.emitExecuteComplete(c, "socket", c.sockData, "_none_", c.sockID)
				s.nextSocket(c)
			}
			return
		}
		if !c.live() {
			_ = nc.Close()
			return
		}
		s.unbridge(c)
		c.parked, c.parkApp, c.parkID, c.sockRunning = true, false, c.sockID, true
		s.emit(c, "CHANNEL_PARK", evOpt{file: "switch_ivr.c", fn: "switch_ivr_park"})
		s.queueFunc(func() { s.proto.startConn(s.proto.ctx, nc, true, uuid) })
	})
}

// socketClosed is the end of the outbound connection of uuid's socket
// application. While the application still runs (the channel waits in its
// park), it completes and the dialplan goes on with the next socket
// action; a channel that left it (bridged, transferred) or hung up is not
// affected.
func (s *Sim) socketClosed(uuid string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	c := s.liveChannel(uuid)
	if c == nil || !c.live() || !c.sockRunning {
		return
	}
	s.unpark(c)
	s.nextSocket(c)
}

// SetOutbound replaces the outbound dialplan's socket addresses (Options.
// Outbound) for calls placed from now on: a lab starts its replicas, each
// listening on a port of its own, after the simulator.
func (s *Sim) SetOutbound(addrs []string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.opts.Outbound = slices.Clone(addrs)
}

// scriptAnswered starts an answered caller's digits.
func (s *Sim) scriptAnswered(c *channel) {
	sc := c.script
	if sc == nil || sc.answered {
		return
	}
	sc.answered = true
	if sc.c.Digits != "" {
		s.after(sc.c.DigitsAfter, c, func() { s.pressDigits(c, sc.c.Digits) })
	}
}

// scriptBridged runs when the caller first shares media with another leg:
// patience ends, the talk timer starts.
func (s *Sim) scriptBridged(c *channel) {
	sc := c.script
	if sc == nil || sc.bridged {
		return
	}
	sc.bridged = true
	s.stats.CallsBridged++
	s.cancelTimer(sc.patience)
	if sc.c.TalkFor > 0 {
		s.after(sc.c.TalkFor, c, func() { s.hangup(c, "NORMAL_CLEARING") })
	}
}

// pressDigits sends a caller's scripted digits, 'w' pausing 500ms and 'W'
// a second, Timing.DTMFGap apart.
func (s *Sim) pressDigits(c *channel, digits string) {
	var items []dtmfItem
	var wait time.Duration
	for _, r := range digits {
		switch r {
		case 'w':
			wait += 500 * time.Millisecond
		case 'W':
			wait += time.Second
		default:
			items = append(items, dtmfItem{digit: r, samples: 2000, wait: wait})
			wait = 0
		}
	}
	s.queueDTMF(c, items)
}

// dtmfItem is one digit the far end of a channel has still to send.
type dtmfItem struct {
	digit   rune
	samples int           // DTMF-Duration, 8 kHz samples
	wait    time.Duration // a pause before it ('w', 'W' in a script)
}

// queueDTMF appends digits to the far end's DTMF queue. One timer at a
// time sends them, each scheduling the next, as FreeSWITCH's DTMF queue
// sends them in order: a timer per digit could fire out of order on a busy
// machine (each runs in its own goroutine), and the events' sequence would
// follow. Digits queue behind the ones still being sent (trace 06: "567"
// then "8@500" arrive in that order). Callers hold s.mu.
func (s *Sim) queueDTMF(c *channel, items []dtmfItem) {
	if len(items) == 0 {
		return
	}
	c.dtmfQ = append(c.dtmfQ, items...)
	if c.dtmfBusy {
		return
	}
	c.dtmfBusy = true
	s.nextDTMF(c, max(0, c.dtmfUntil.Sub(s.clock.Now())))
}

// nextDTMF sends the head of the queue after delay (and its own pause),
// then schedules the rest Timing.DTMFGap apart. Callers hold s.mu.
func (s *Sim) nextDTMF(c *channel, delay time.Duration) {
	it := c.dtmfQ[0]
	send := func() {
		c.dtmfQ = c.dtmfQ[1:]
		s.emitDTMF(c, it.digit, it.samples, "UNKNOWN")
		c.dtmfUntil = s.clock.Now().Add(s.timing.DTMFGap)
		if len(c.dtmfQ) == 0 {
			c.dtmfBusy = false
			return
		}
		s.nextDTMF(c, s.timing.DTMFGap)
	}
	if delay+it.wait == 0 {
		send()
		return
	}
	s.after(delay+it.wait, c, send)
}

// InjectDTMF makes the far end of uuid press digits: one DTMF event per
// digit (250 ms = 2000 samples, DTMF-Source UNKNOWN as in trace 06),
// Timing.DTMFGap apart. A trailing "@<ms>" sets every digit's duration, as
// in FreeSWITCH's send_dtmf ("*9@400": 3200 samples).

func (s *Sim) InjectDTMF(uuid, digits string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	c := s.liveChannel(uuid)
	if c == nil {
		return errors.New("inject dtmf " + uuid + ": no such channel")
	}
	digits, samples := dtmfDuration(digits)
	items := make([]dtmfItem, 0, len(digits))
	for _, r := range digits {
		items = append(items, dtmfItem{digit: r, samples: samples})
	}
	s.queueDTMF(c, items)
	return nil
}

// HangUp is the far end putting the receiver down (NORMAL_CLEARING).
func (s *Sim) HangUp(uuid string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	c := s.liveChannel(uuid)
	if c == nil {
		return errors.New("hang up " + uuid + ": no such channel")
	}
	s.hangup(c, "NORMAL_CLEARING")
	return nil
}

// dtmfDuration splits "digits[@ms]" into the digits and their duration in
// 8 kHz samples (default 250 ms).
func dtmfDuration(s string) (string, int) {
	digits, ms, _ := strings.Cut(s, "@")
	if n := atoiOr(ms, 0); n > 0 {
		return digits, n * 8
	}
	return digits, 2000
}

func itoa(n int) string { return strconv.Itoa(n) }
