package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"
	"time"

	"github.com/spf13/pflag"

	"github.com/tandem-cc/tandem/internal/demo"
	"github.com/tandem-cc/tandem/internal/lab"
)

// demoCmd runs internal/demo with flags over its embedded defaults. The
// report goes to stdout, progress and logs to stderr, so
// `tandem demo --report json > report.json` keeps a clean document.
func demoCmd(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	d := demo.Defaults()
	fs := pflag.NewFlagSet("tandem demo", pflag.ContinueOnError)
	pbx := fs.String("pbx", string(d.PBX), "simulated PBX: asterisk (ARI), freeswitch (event socket), or mixed (one of each, agents and callers on both, trunks between them)")
	fs.IntVar(&d.Replicas, "replicas", d.Replicas, "Tandem replicas (one Stasis application each)")
	fs.IntVar(&d.Agents, "agents", d.Agents, "synthetic agents, logged in round-robin through the replicas")
	fs.IntVar(&d.Calls, "calls", d.Calls, "synthetic callers to place")
	fs.Float64Var(&d.Rate, "rate", d.Rate, "callers arriving per second")
	fs.Float64Var(&d.NoAnswerShare, "no-answer", d.NoAnswerShare, "fraction of agents whose phone never answers (0 to 1)")
	fs.Float64Var(&d.CallbackShare, "callback-share", d.CallbackShare, "fraction of callers who ask for a callback if they have to wait (0 to 1)")
	fs.Var((*spanFlag)(&d.Ring), "ring", "how long an answering phone rings, MIN-MAX")
	fs.Var((*spanFlag)(&d.Talk), "talk", "how long an agent talks, MIN-MAX")
	fs.Var((*spanFlag)(&d.Patience), "patience", "how long a caller waits for an agent, MIN-MAX")
	fs.DurationVar(&d.RingTimeout, "ring-timeout", d.RingTimeout, "queue ring timeout (RONA after it)")
	fs.DurationVar(&d.RONARecovery, "rona-recovery", d.RONARecovery, "how long a RONA'd agent stays out before the supervisor makes them available")
	fs.DurationVar(&d.DrainTimeout, "drain-timeout", d.DrainTimeout, "after the last call, how long to wait for every interaction to end")
	fs.DurationVar(&d.Progress, "progress", d.Progress, "period of the progress lines on stderr (0 for none)")
	maxDuration := fs.Duration("max-duration", 10*time.Minute, "stop the whole run after this long (0 for no limit)")
	fs.StringVar(&d.RedisAddr, "redis-addr", os.Getenv("TANDEM_REDIS_ADDR"), "use this Redis (host:port) instead of a private redis-server (default $TANDEM_REDIS_ADDR)")
	prefix := fs.String("prefix", "", "Redis key prefix (default tandem with a private Redis, tandem-demo-<time> with --redis-addr)")
	fs.Uint64Var(&d.Seed, "seed", 0, "random seed; 0 picks one (the report shows it)")
	fs.StringVar(&d.MetricsAddr, "metrics-addr", "127.0.0.1:9464", "serve the replicas' Prometheus metrics at http://ADDR/metrics while the demo runs (empty: off)")
	reportFormat := fs.String("report", "table", "report format: table or json")
	logLevel := fs.String("log-level", "warn", "replica and simulator log level: debug, info, warn or error")
	fs.Usage = func() {
		_, _ = fmt.Fprintf(stderr, "Usage: tandem demo [flags]\n\nRuns a whole contact center in one process (Redis, a simulated PBX,\nTandem replicas), synthetic agents and callers, and prints a report.\nExits 1 if any invariant is not zero.\n\n%s", fs.FlagUsages())
	}
	if err := parse(fs, args, stderr); err != nil {
		return err
	}
	kind, err := lab.ParseKind(*pbx)
	if err != nil || *pbx == "" {
		return usageError{fmt.Errorf("--pbx %q: must be %s", *pbx, kindNames())}
	}
	d.PBX = kind
	if *reportFormat != "table" && *reportFormat != "json" {
		return usageError{fmt.Errorf("--report %q: must be table or json", *reportFormat)}
	}
	// demo.Options reads zero as "use the default"; on the command line
	// 0 means none.
	if d.Progress == 0 {
		d.Progress = -1
	}
	if d.NoAnswerShare == 0 {
		d.NoAnswerShare = -1
	}
	if d.CallbackShare == 0 {
		d.CallbackShare = -1
	}
	log, err := newLogger(stderr, *logLevel, "text")
	if err != nil {
		return usageError{err}
	}
	d.Logger = log

	switch {
	case *prefix != "":
		d.Prefix = *prefix
	case d.RedisAddr != "":
		// A shared Redis may hold another run's (or a real replica's)
		// keys: keep this run's apart.
		d.Prefix = fmt.Sprintf("tandem-demo-%d", time.Now().Unix())
	}
	if d.RedisAddr == "" {
		if err := demo.EnsureRedisServer(ctx, stderr); err != nil {
			return err
		}
		_, _ = fmt.Fprintln(stderr, "starting a private redis-server, the", simName(d.PBX), "and", d.Replicas, "replicas")
	} else {
		_, _ = fmt.Fprintf(stderr, "using Redis at %s, key prefix %q\n", d.RedisAddr, d.Prefix)
	}

	if *maxDuration > 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeoutCause(ctx, *maxDuration, fmt.Errorf("--max-duration %v reached", *maxDuration))
		defer cancel()
	}
	r, runErr := demo.Run(ctx, d, stderr)
	if r.Replicas > 0 { // the run got far enough to measure something
		var werr error
		if *reportFormat == "json" {
			werr = r.WriteJSON(stdout)
		} else {
			werr = r.WriteTable(stdout)
		}
		if werr != nil && runErr == nil {
			runErr = fmt.Errorf("write report: %w", werr)
		}
	}
	return runErr
}

// kindNames lists the --pbx values: "asterisk, freeswitch or mixed".
func kindNames() string {
	ks := lab.Kinds()
	names := make([]string, len(ks))
	for i, k := range ks {
		names[i] = string(k)
	}
	return strings.Join(names[:len(names)-1], ", ") + " or " + names[len(names)-1]
}

// simName says which simulator a demo on kind starts.
func simName(kind lab.PBXKind) string {
	switch kind {
	case lab.FreeSWITCH:
		return "event-socket (FreeSWITCH) simulator"
	case lab.Mixed:
		return "ARI (Asterisk) and event-socket (FreeSWITCH) simulators"
	default:
		return "ARI (Asterisk) simulator"
	}
}

// spanFlag reads a demo.Span as "MIN-MAX" ("300ms-2s") or one duration.
type spanFlag demo.Span

func (s *spanFlag) String() string {
	if s.Min == s.Max {
		return s.Min.String()
	}
	return s.Min.String() + "-" + s.Max.String()
}

func (s *spanFlag) Set(v string) error {
	// Durations are never negative here, so "-" can only separate them.
	lo, hi, ranged := strings.Cut(v, "-")
	from, err := time.ParseDuration(strings.TrimSpace(lo))
	if err != nil {
		return err
	}
	to := from
	if ranged {
		if to, err = time.ParseDuration(strings.TrimSpace(hi)); err != nil {
			return err
		}
	}
	if from < 0 || to < from {
		return errors.New("want MIN-MAX with 0 ≤ MIN ≤ MAX")
	}
	*s = spanFlag{Min: from, Max: to}
	return nil
}

func (s *spanFlag) Type() string { return "range" }
