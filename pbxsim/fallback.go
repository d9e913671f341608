package pbxsim

import (
	"errors"
	"fmt"
	"strings"
)

// CallFallback places an inbound call through the dialplan the README
// documents for several replicas: Stasis() into each application of apps
// in turn, each followed by GotoIf(${STASISSTATUS} != FAILED ? done), and
// after the last one Answer(), Playback(ss-noservice), Hangup().
//
// It is what Asterisk does with one channel (trace 14, part c): Stasis()
// into an application without a WebSocket fails at once (no StasisStart,
// nothing on any socket), sets STASISSTATUS=FAILED, and the dialplan goes
// on at the next priority, so the same channel enters the next replica's
// application. A call no application takes counts once in
// Stats.CallsFailed and is hung up, and CallFallback returns ErrNoApp. A
// channel later sent back with /continue finds STASISSTATUS not FAILED and
// goes to Hangup(), as with Call.
func (s *Sim) CallFallback(cl Caller, apps []string) (string, error) {
	if len(apps) == 0 {
		return "", errors.New("pbxsim: CallFallback needs at least one application")
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return "", errors.New("pbxsim: closed")
	}
	s.stats.CallsPlaced++
	c, args := s.newCaller(cl)
	for i, app := range apps {
		// Stasis() of the i-th application; a priority past 4 makes a
		// continue end in Hangup() in the lab's [acd-inbound], which is
		// where the README's "done" label leads too.
		c.priority, c.appName, c.appData = 4+2*i, "Stasis", strings.Join(append([]string{app}, args...), ",")
		if s.enterStasis(c, app, args, viaDialplan) {
			return c.id, nil
		}
		s.setVar(c, "STASISSTATUS", "FAILED")
	}
	// No replica took it: the announcement and Hangup() the caller hears
	// are not seen by any application.
	s.stats.CallsFailed++
	c.script = nil
	s.hangup(c, 16, byDialplan)
	return "", fmt.Errorf("call %s→%s apps %v: %w", cl.ANI, cl.DNIS, apps, ErrNoApp)
}
