package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"

	"github.com/spf13/pflag"

	"github.com/tandem-cc/tandem/internal/bench"
)

// benchCmd runs the load tool: a private Redis, the simulator and replicas
// as separate processes of this same executable, and a report.
func benchCmd(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := pflag.NewFlagSet("tandem bench", pflag.ContinueOnError)
	var o bench.Options
	fs.IntVar(&o.Replicas, "replicas", 1, "replica processes (1-3)")
	fs.IntVar(&o.Agents, "agents", 100, "agents logged in")
	fs.IntVar(&o.Waiting, "waiting", 1000, "callers waiting in the queue before routing starts")
	fs.IntVar(&o.Route, "route", 0, "calls to route in the measured phase (0: all the waiting ones)")
	fs.IntVar(&o.Audit, "audit", 100, "calls then watched under Redis MONITOR to count round trips: the next ones routed, or new ones once the queue is empty (0: none)")
	fs.Float64Var(&o.AvailableRate, "available-rate", 0, "agents made available per second when routing starts (0: all at once)")
	fs.DurationVar(&o.Talk, "talk", 0, "how long a caller talks once bridged (default 10ms)")
	fs.IntVar(&o.Window, "window", 0, "callers arriving at once while the queue fills (default 200)")
	fs.StringVar(&o.ProfileDir, "cpuprofile-dir", "", "write CPU profiles of replica r1 and the simulator over the routing phase here (r1.pprof, sim.pprof)")
	fs.IntVar(&o.ProfileSeconds, "profile-seconds", 0, "length of those profiles (default 20)")
	fs.StringVar(&o.Dir, "dir", "", "keep the generated configurations and the processes' logs here (default: a temporary directory, removed after a good run)")
	fs.DurationVar(&o.Timeout, "timeout", 0, "bound on each phase (default 15m)")
	format := fs.String("report", "text", "text, json or row (one Markdown table row, BENCHMARKS.md's format)")
	fs.Usage = func() {
		_, _ = fmt.Fprintf(stderr, "Usage: tandem bench [flags]\n\nStarts a private redis-server, the ARI simulator and replicas (separate processes),\nqueues --waiting callers, then routes them to --agents agents and reports throughput,\nhand-off latency, Redis commands and CPU per call, and Redis memory per waiting call.\nSee BENCHMARKS.md.\n\n%s", fs.FlagUsages())
	}
	if err := parse(fs, args, stderr); err != nil {
		return err
	}
	switch *format {
	case "text", "json", "row":
	default:
		return usageError{fmt.Errorf("--report %q: must be text, json or row", *format)}
	}
	bin, err := os.Executable()
	if err != nil {
		return fmt.Errorf("find this executable: %w", err)
	}
	o.Binary, o.Progress = bin, stderr
	r, err := bench.Run(ctx, o)
	if err != nil {
		return err
	}
	switch *format {
	case "json":
		enc := json.NewEncoder(stdout)
		enc.SetIndent("", "  ")
		if err := enc.Encode(r); err != nil {
			return fmt.Errorf("write report: %w", err)
		}
	case "row":
		_, _ = fmt.Fprintln(stdout, r.Row())
	default:
		r.Write(stdout)
	}
	if v := r.Checks.Violations(); len(v) > 0 {
		return fmt.Errorf("checks not zero: %v", v)
	}
	return nil
}

// benchReplica is the hidden `tandem bench-replica <pprof-addr> <serve
// flags>`: `tandem serve` with Go profiles served on pprof-addr, so the
// load tool can profile a replica exactly as it runs.
func benchReplica(ctx context.Context, args []string, stderr io.Writer) error {
	if len(args) < 1 {
		return usageError{errors.New("usage: tandem " + bench.ReplicaCommand + " <pprof host:port> [serve flags]")}
	}
	s, err := bench.Listen(args[0], bench.PprofHandler())
	if err != nil {
		return fmt.Errorf("profiles: %w", err)
	}
	defer func() { _ = s.Close() }()
	return serve(ctx, args[1:], stderr)
}
