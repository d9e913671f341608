package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"regexp"
	"strings"
	"time"

	"github.com/spf13/pflag"

	"github.com/tandem-cc/tandem/config"
	"github.com/tandem-cc/tandem/internal/bench"
	"github.com/tandem-cc/tandem/internal/httpserver"
	"github.com/tandem-cc/tandem/pbxsim"
)

// simCmd serves the ARI simulator on its own, so a `tandem serve` can be
// pointed at it by hand. Phones given with --phone answer; --call-every
// places scripted callers into whichever Stasis applications are connected.
func simCmd(ctx context.Context, args []string, stderr io.Writer) error {
	fs := pflag.NewFlagSet("tandem sim", pflag.ContinueOnError)
	listen := fs.String("listen", "127.0.0.1:8088", "address to serve ARI on (host:port); the API is under /ari")
	user := fs.String("user", "", "ARI user a client must present (required)")
	password := fs.String("password", "", "ARI password a client must present (required)")
	phones := fs.StringArray("phone", nil, "an endpoint whose phone answers, e.g. PJSIP/1001 (repeatable); other endpoints fail like unknown ones")
	ringFor := fs.Duration("ring-for", time.Second, "how long the --phone phones ring before answering")
	every := fs.Duration("call-every", 0, "place a caller this often (0: none); calls go round-robin to the connected applications")
	dnis := fs.String("dnis", "5551000", "number the callers dial (first Stasis argument after inbound)")
	patience := fs.Duration("patience", 30*time.Second, "how long a caller waits for an agent before hanging up")
	talk := fs.Duration("talk-for", 5*time.Second, "how long a caller talks once bridged to an agent")
	// What a caller brings besides its number, to try secure variables and
	// the IVR by hand.
	callerVars := fs.StringArray("caller-var", nil, "a channel variable every caller carries into Stasis, NAME=VALUE (repeatable), e.g. CARD_NUMBER=4111111111111111 (see ari.attached_vars)")
	callerDTMF := fs.String("caller-dtmf", "", "digits every caller presses once answered, 0-9 A-D * #; w waits 0.5s and W 1s between them, e.g. 1W1234#")
	dtmfAfter := fs.Duration("caller-dtmf-after", time.Second, "how long after the answer a caller starts pressing the --caller-dtmf digits")
	logLevel := fs.String("log-level", "info", "debug, info, warn or error")
	// For `tandem bench`: many phones, quick answers, a control API and a
	// profile, none of which changes what the ARI side does.
	phoneFormat := fs.String("phone-format", "", "with --phone-count: a printf pattern of answering endpoints, e.g. PJSIP/bench-%d (numbered from 1)")
	phoneCount := fs.Int("phone-count", 0, "how many --phone-format endpoints answer")
	settle := fs.Duration("answer-settle", 0, "shortest time a phone takes to answer (0: the simulator's default, 20ms)")
	controlAddr := fs.String("control", "", "serve the load tool's control API (POST /calls, GET /stats) on this host:port; empty: none")
	pprofAddr := fs.String("pprof-listen", "", "serve Go profiles (/debug/pprof/) on this host:port; empty: none")
	fs.Usage = func() {
		_, _ = fmt.Fprintf(stderr, "Usage: tandem sim --user U --password P [flags]\n\nServes the Asterisk ARI simulator (REST and the /ari/events WebSocket).\n\n%s", fs.FlagUsages())
	}
	if err := parse(fs, args, stderr); err != nil {
		return err
	}
	if *user == "" || *password == "" {
		return usageError{errors.New("--user and --password are required")}
	}
	log, err := newLogger(stderr, *logLevel, "text")
	if err != nil {
		return usageError{err}
	}

	if *phoneCount < 0 || (*phoneCount > 0) != (*phoneFormat != "") {
		return usageError{errors.New("--phone-format and --phone-count go together (count ≥ 1)")}
	}
	script, err := newCallerScript(*callerVars, *callerDTMF, *dtmfAfter)
	if err != nil {
		return usageError{err}
	}
	if *every <= 0 && (len(script.vars) > 0 || script.dtmf != "") {
		return usageError{errors.New("--caller-var and --caller-dtmf apply to the callers --call-every places: give --call-every too")}
	}

	sim := pbxsim.New(pbxsim.Options{Username: *user, Password: *password, Logger: log,
		Timing: pbxsim.Timing{AnswerSettle: *settle}})
	for _, ep := range *phones {
		sim.SetPhone(ep, pbxsim.Phone{Mode: pbxsim.Answer, RingFor: *ringFor})
	}
	for i := 1; i <= *phoneCount; i++ {
		sim.SetPhone(fmt.Sprintf(*phoneFormat, i), pbxsim.Phone{Mode: pbxsim.Answer, RingFor: *ringFor})
	}
	for _, side := range []struct {
		addr string
		h    func() http.Handler
		what string
	}{
		{*controlAddr, func() http.Handler { return bench.ControlHandler(sim) }, "control API"},
		{*pprofAddr, bench.PprofHandler, "profiles"},
	} {
		if side.addr == "" {
			continue
		}
		s, err := bench.Listen(side.addr, side.h())
		if err != nil {
			sim.Close()
			return fmt.Errorf("%s: %w", side.what, err)
		}
		defer func() { _ = s.Close() }()
		log.Info("listening", "what", side.what, "addr", s.Addr)
	}
	// The same server as the API's (header and idle timeouts, a cap on
	// connections), so a stray client cannot hold the simulator either.
	srv, ln, err := httpserver.Listen(*listen, sim.Handler(), httpserver.Options{HTTP: config.Default().HTTP, Logger: log})
	if err != nil {
		sim.Close()
		return fmt.Errorf("listen: %w", err)
	}
	served := make(chan error, 1)
	go func() { served <- srv.Serve(ln) }()
	log.Info("ARI simulator listening", "url", "http://"+ln.Addr().String()+"/ari", "phones", *phones)

	var tick <-chan time.Time
	if *every > 0 {
		t := time.NewTicker(*every)
		defer t.Stop()
		tick = t.C
	}
	n := 0
	for stop := false; !stop; {
		select {
		case <-ctx.Done():
			stop = true
		case err := <-served:
			sim.Close()
			return fmt.Errorf("serve: %w", err)
		case <-tick:
			n++
			leg, err := sim.Call(pbxsim.Caller{
				ANI: fmt.Sprintf("+1555%07d", n), DNIS: *dnis, Patience: *patience, TalkFor: *talk,
				Vars: script.vars, Digits: script.dtmf, DigitsAfter: script.dtmfAfter,
			})
			if err != nil {
				// What Asterisk does too: Stasis() fails, the dialplan goes on.
				log.Info("call not taken: no application connected", "err", err)
				continue
			}
			log.Info("call placed", "channel", leg, "dnis", *dnis)
		}
	}
	// Close the simulator first: it drops the event WebSockets, which
	// Shutdown would neither wait for nor close.
	sim.Close()
	sctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), shutdownGrace)
	defer cancel()
	if err := srv.Shutdown(sctx); err != nil {
		return fmt.Errorf("shutdown: %w", err)
	}
	if err := <-served; err != nil && !errors.Is(err, http.ErrServerClosed) {
		return fmt.Errorf("serve: %w", err)
	}
	log.Info("stopped", "stats", fmt.Sprintf("%+v", sim.Stats()))
	return nil
}

// callerScript is what every caller the sim places brings besides its
// number: channel variables (the PBX's, shown to Tandem in StasisStart)
// and digits pressed once the call is answered (an IVR's input).
type callerScript struct {
	vars      map[string]string
	dtmf      string
	dtmfAfter time.Duration
}

// Channel variable names as Asterisk's dialplan takes them (a leading _
// or __ makes one inherited); digits as SendDTMF() takes them, with its
// w / W pauses.
var (
	channelVarName = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_]*$`)
	callerDigits   = regexp.MustCompile(`^[0-9A-Da-d*#wW]+$`)
)

// newCallerScript checks --caller-var, --caller-dtmf and
// --caller-dtmf-after; an error names the flag and the bad value.
func newCallerScript(vars []string, dtmf string, after time.Duration) (callerScript, error) {
	sc := callerScript{dtmf: dtmf, dtmfAfter: after}
	for _, kv := range vars {
		name, value, ok := strings.Cut(kv, "=")
		switch {
		case !ok:
			return callerScript{}, fmt.Errorf("--caller-var %q: want NAME=VALUE", kv)
		case !channelVarName.MatchString(name):
			return callerScript{}, fmt.Errorf("--caller-var %q: the name must be letters, digits and _, not starting with a digit", kv)
		}
		if _, dup := sc.vars[name]; dup {
			return callerScript{}, fmt.Errorf("--caller-var %s: given twice", name)
		}
		if sc.vars == nil {
			sc.vars = map[string]string{}
		}
		sc.vars[name] = value
	}
	if dtmf != "" && !callerDigits.MatchString(dtmf) {
		return callerScript{}, fmt.Errorf("--caller-dtmf %q: only 0-9, A-D, *, # and the pauses w and W", dtmf)
	}
	if after < 0 {
		return callerScript{}, fmt.Errorf("--caller-dtmf-after %s: must not be negative", after)
	}
	return sc, nil
}
