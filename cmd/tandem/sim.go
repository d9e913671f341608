package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"time"

	"github.com/spf13/pflag"

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
	logLevel := fs.String("log-level", "info", "debug, info, warn or error")
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

	sim := pbxsim.New(pbxsim.Options{Username: *user, Password: *password, Logger: log})
	for _, ep := range *phones {
		sim.SetPhone(ep, pbxsim.Phone{Mode: pbxsim.Answer, RingFor: *ringFor})
	}
	ln, err := net.Listen("tcp", *listen)
	if err != nil {
		return fmt.Errorf("listen: %w", err)
	}
	srv := &http.Server{Handler: sim.Handler(), ReadHeaderTimeout: 10 * time.Second}
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
