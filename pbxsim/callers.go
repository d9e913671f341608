package pbxsim

import (
	"errors"
	"fmt"
	"maps"
	"slices"
	"strings"
	"time"
)

// ErrNoApp is returned by Call when no Stasis application can take the call.
var ErrNoApp = errors.New("pbxsim: no active stasis application for the call")

// Caller scripts an inbound customer call.
type Caller struct {
	// App is the Stasis application; "" spreads calls round-robin over the
	// apps that have a WebSocket, as a dialplan with several would.
	App   string
	ANI   string // caller number
	DNIS  string // dialled number, the first Stasis argument after "inbound"
	Queue string // optional extra Stasis argument
	// Args, when not nil, are the Stasis arguments instead of
	// inbound,<DNIS>[,<Queue>]: a dialplan that is not Tandem's
	// (Stasis(app) is Args: []string{}, Stasis(app,agent) is {"agent"}).
	Args []string
	// Vars are set on the channel before Stasis and shown as channelvars.
	Vars map[string]string
	// Patience hangs the caller up if not bridged with another channel in
	// time; 0 waits forever.
	Patience time.Duration
	// TalkFor hangs the caller up this long after it is first bridged with
	// another channel; 0 waits for the other side.
	TalkFor time.Duration
	// Digits are pressed DigitsAfter the call is answered, Timing.DTMFGap
	// apart; as in Asterisk's SendDTMF(), 'w' in them waits half a second
	// and 'W' a second, so that one script can answer several prompts.
	Digits      string
	DigitsAfter time.Duration
}

// callerScript is the running script of one inbound call.
type callerScript struct {
	c        Caller
	patience *simTimer
	bridged  bool // ever bridged with another channel
	abandon  bool // the caller gave up
	answered bool
}

// Call places an inbound call: a PJSIP trunk channel runs
// Stasis(<app>,inbound,<DNIS>[,<Queue>]) in state Ring. It returns the
// channel id. Like Asterisk, a call to an app without a WebSocket fails: the
// channel is gone at once and no StasisStart is sent.
func (s *Sim) Call(cl Caller) (string, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return "", errors.New("pbxsim: closed")
	}
	s.stats.CallsPlaced++
	appName := cl.App
	if appName == "" {
		appName = s.nextApp()
	}
	c, args := s.newCaller(cl)
	// Priority 4 is Stasis() in [acd-inbound]: a continue with no location
	// goes on to its Hangup() at 5, as in trace 13.
	c.priority, c.appName, c.appData = 4, "Stasis", strings.Join(append([]string{appName}, args...), ",")
	if appName == "" || !s.enterStasis(c, appName, args, viaDialplan) {
		// Stasis() failed; the dialplan falls through to Hangup().
		s.stats.CallsFailed++
		c.script = nil
		s.hangup(c, 16, byDialplan)
		return "", fmt.Errorf("call %s→%s app %q: %w", cl.ANI, cl.DNIS, appName, ErrNoApp)
	}
	return c.id, nil
}

// newCaller creates the trunk channel of an inbound call in state Ring,
// with its script, and returns it with its Stasis arguments. Callers hold
// s.mu.
func (s *Sim) newCaller(cl Caller) (*channel, []string) {
	c := s.newChannel("", "PJSIP/pstn-"+s.newLocalSuffix(), "PJSIP")
	c.state = "Ring"
	c.callerNum, c.callerName = cl.ANI, ""
	c.connNum, c.connName = "", ""
	c.context, c.exten = "acd-inbound", cl.DNIS
	c.showVars = true
	maps.Copy(c.vars, cl.Vars)
	c.runsPBX = true
	c.script = &callerScript{c: cl}
	args := []string{"inbound", cl.DNIS}
	if cl.Queue != "" {
		args = append(args, cl.Queue)
	}
	if cl.Args != nil {
		args = slices.Clone(cl.Args)
	}
	return c, args
}

// nextApp picks the next app with a live WebSocket, round-robin by name.
func (s *Sim) nextApp() string {
	var live []string
	for n, a := range s.apps {
		if a.active() {
			live = append(live, n)
		}
	}
	if len(live) == 0 {
		return ""
	}
	slices.Sort(live)
	s.rr++
	return live[s.rr%len(live)]
}

func (s *Sim) scriptEnteredStasis(c *channel) {
	sc := c.script
	if sc.c.Patience > 0 && !sc.bridged && sc.patience == nil {
		sc.patience = s.after(sc.c.Patience, c, func() {
			sc.abandon = true
			s.stats.CallsAbandoned++
			s.hangup(c, 16, byFarEnd)
		})
	}
}

func (s *Sim) scriptAnswered(c *channel) {
	sc := c.script
	if sc.answered {
		return
	}
	sc.answered = true
	if sc.c.Digits != "" {
		s.after(sc.c.DigitsAfter, c, func() { s.pressDigits(c, sc.c.Digits) })
	}
}

// pressDigits sends a scripted caller's digits: each run of digits as
// sendDigits does, the runs apart by their pauses ('w' 500 ms, 'W' 1 s, in
// simulated time like every other delay). Callers hold s.mu.
func (s *Sim) pressDigits(c *channel, digits string) {
	const durationMS = 100
	gapMS := int(s.timing.DTMFGap / time.Millisecond)
	atMS, run := 0, ""
	flush := func() {
		s.sendDigits(c, run, durationMS, atMS, gapMS, nil)
		atMS += len(run) * (durationMS + gapMS)
		run = ""
	}
	for _, r := range digits {
		switch r {
		case 'w':
			flush()
			atMS += 500
		case 'W':
			flush()
			atMS += 1000
		default:
			run += string(r)
		}
	}
	flush()
}

// scriptBridgeChanged runs when a bridge the caller is in changes: the first
// time another channel shares it, the call counts as bridged, patience ends
// and the talk timer starts.
func (s *Sim) scriptBridgeChanged(c *channel) {
	sc := c.script
	if sc.bridged || c.bridge == nil || c.hangingUp {
		return
	}
	other := false
	for _, x := range c.bridge.channels {
		if x != c {
			other = true
		}
	}
	if !other {
		return
	}
	sc.bridged = true
	s.stats.CallsBridged++
	s.cancel(sc.patience)
	if sc.c.TalkFor > 0 {
		s.after(sc.c.TalkFor, c, func() { s.hangup(c, 16, byFarEnd) })
	}
}

// InjectDTMF makes the far end of a channel press digits: one
// ChannelDtmfReceived per digit, Timing.DTMFGap apart.
func (s *Sim) InjectDTMF(channelID, digits string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	c := s.liveChannel(channelID)
	if c == nil {
		return fmt.Errorf("inject dtmf %s: channel not found", channelID)
	}
	s.sendDigits(c, digits, 100, 0, int(s.timing.DTMFGap/time.Millisecond), nil)
	return nil
}

// EmitVarsetBurst emits n ChannelVarset events for a channel back to back
// (variable SIM_BURST, values "1".."n"), to prove a client loses none.
func (s *Sim) EmitVarsetBurst(channelID string, n int) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	c := s.liveChannel(channelID)
	if c == nil {
		return fmt.Errorf("varset burst %s: channel not found", channelID)
	}
	for i := 1; i <= n; i++ {
		s.setVar(c, "SIM_BURST", fmt.Sprint(i))
	}
	return nil
}
