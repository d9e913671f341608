// Command tandem is the Tandem contact-center control plane.
//
//	tandem serve   run a replica against a real Asterisk and Redis
//	tandem demo    run a whole contact center in one process and report
//	tandem sim     run the Asterisk (ARI) simulator on its own
//	tandem bench   measure throughput and cost under load (BENCHMARKS.md)
//	tandem token-digest  print the SHA-256 digest of a token read on stdin
//
// This file and its siblings only wire packages together; the logic lives
// in acd, ari, api, config, pbxsim and internal/demo.
package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/signal"
	"syscall"
	_ "time/tzdata" // queue hours need zones even where the OS has no database

	"github.com/spf13/pflag"

	"github.com/tandem-cc/tandem/internal/bench"
)

const usage = `Tandem: an ACD control plane for Asterisk.

Usage:
  tandem serve [flags]   run a replica (configuration: --config file, TANDEM_* env, flags)
  tandem demo  [flags]   start a private Redis, the ARI simulator and replicas,
                         run synthetic agents and callers, and print a report
  tandem sim   [flags]   serve the ARI simulator alone, to point a replica at
  tandem bench [flags]   start a private Redis, the simulator and replicas as
                         processes, route calls and report throughput and cost
  tandem token-digest    read a bearer token on stdin, print its SHA-256 digest
                         (for auth.*.token_sha256)

Run "tandem <command> --help" for a command's flags.
`

// Exit codes.
const (
	exitOK    = 0
	exitError = 1
	exitUsage = 2
)

func main() {
	os.Exit(run(os.Args[1:], os.Stdout, os.Stderr))
}

// run dispatches to a subcommand and returns the exit code. SIGINT and
// SIGTERM end the context every command runs under, which is how each of
// them stops gracefully.
func run(args []string, stdout, stderr io.Writer) int {
	if len(args) == 0 {
		_, _ = fmt.Fprint(stderr, usage)
		return exitUsage
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()

	var err error
	switch cmd, rest := args[0], args[1:]; cmd {
	case "serve":
		err = serve(ctx, rest, stderr)
	case "demo":
		err = demoCmd(ctx, rest, stdout, stderr)
	case "sim":
		err = simCmd(ctx, rest, stderr)
	case "bench":
		err = benchCmd(ctx, rest, stdout, stderr)
	case "token-digest":
		err = tokenDigestCmd(rest, os.Stdin, stdout, stderr)
	case bench.ReplicaCommand: // hidden: run by `tandem bench` only
		err = benchReplica(ctx, rest, stderr)
	case "help", "-h", "--help":
		_, _ = fmt.Fprint(stdout, usage)
		return exitOK
	default:
		_, _ = fmt.Fprintf(stderr, "tandem: unknown command %q\n\n%s", cmd, usage)
		return exitUsage
	}
	var ue usageError
	switch {
	case err == nil:
		return exitOK
	case errors.Is(err, pflag.ErrHelp):
		return exitOK
	case errors.As(err, &ue):
		_, _ = fmt.Fprintf(stderr, "tandem %s: %v\n", args[0], err)
		return exitUsage
	default:
		_, _ = fmt.Fprintf(stderr, "tandem %s: %v\n", args[0], err)
		return exitError
	}
}

// usageError is a bad command line (exit code 2, not 1).
type usageError struct{ err error }

func (e usageError) Error() string { return e.err.Error() }
func (e usageError) Unwrap() error { return e.err }

// parse parses a subcommand's flags; errors are usage errors, --help is
// pflag.ErrHelp (the usage has been printed).
func parse(fs *pflag.FlagSet, args []string, stderr io.Writer) error {
	fs.SetOutput(stderr)
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, pflag.ErrHelp) {
			return err
		}
		return usageError{err}
	}
	if fs.NArg() > 0 {
		return usageError{fmt.Errorf("unexpected argument %q", fs.Arg(0))}
	}
	return nil
}
