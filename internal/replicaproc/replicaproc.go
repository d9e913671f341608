// Package replicaproc runs `tandem serve` replicas as child processes for
// the test worlds that need real processes (the browser tests in webtest,
// the chaos test): it builds the binary, picks the directory for the
// replicas' configs and logs, starts a replica from its config file,
// signals it, waits for its exit or its readiness with a bound, and reads
// the end of its log.
//
// Real processes, not goroutines, because those worlds test what only a
// process shows: a crash (SIGKILL) drops sockets without a close
// handshake, a pause (SIGSTOP) freezes a replica that still holds its
// leases, and the binary served is the one a deployment runs, with its
// embedded pages. What a world does with its replicas (how many, their
// config, when to kill or pause them) stays in the world.
package replicaproc

import (
	"bufio"
	"context"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// Build builds ./cmd/tandem into dir and returns the binary's path; race
// builds it with -race. A world builds once and starts every replica (and
// every restart) from that one binary, so a restart costs a process start,
// not a compile.
func Build(dir string, race bool) (string, error) {
	bin := filepath.Join(dir, "tandem")
	args := []string{"build", "-o", bin}
	if race {
		args = append(args, "-race")
	}
	args = append(args, "github.com/tandem-cc/tandem/cmd/tandem")
	out, err := exec.Command("go", args...).CombinedOutput()
	if err != nil {
		return "", fmt.Errorf("go build ./cmd/tandem: %w\n%s", err, out)
	}
	return bin, nil
}

// Env is the test's environment without its TANDEM_* variables, plus
// extra (KEY=value). A replica's configuration must be its file (and
// what the world passes in extra), not whatever TANDEM_* the person
// running the tests has set: those name the tests' own knobs, and
// `tandem serve` reads TANDEM_* as configuration.
func Env(extra ...string) []string {
	var env []string
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, "TANDEM_") {
			env = append(env, kv)
		}
	}
	return append(env, extra...)
}

// FreeAddr returns a loopback address (127.0.0.1:port) that was free a
// moment ago, for a replica's HTTP listener. Another process may take the
// port before the replica binds it; the replica then fails to start and
// WaitReady says so with its log. A world picks the address once, so a
// restarted replica comes back at the same URL.
func FreeAddr(t testing.TB) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatalf("find a free loopback port: %v", err)
	}
	defer func() { _ = l.Close() }()
	return l.Addr().String()
}

// Dir is the directory for a world's replica files (configs, logs): the
// test's own temporary directory, removed after it; or, when the
// environment variable keepEnv names a directory, one directory per test
// inside it, kept, so that the whole logs of a run that failed (or of one
// being studied) can be read afterwards.
func Dir(t testing.TB, keepEnv string) string {
	t.Helper()
	keep := os.Getenv(keepEnv)
	if keep == "" {
		return t.TempDir()
	}
	dir := filepath.Join(keep, strings.ReplaceAll(t.Name(), "/", "_"))
	if err := os.MkdirAll(dir, 0o700); err != nil {
		t.Fatalf("%s: %v", keepEnv, err)
	}
	return dir
}

// Spec names one replica's files; they stay the same across restarts.
type Spec struct {
	Name   string // the replica's name in errors and start lines (r1)
	Bin    string // the tandem binary (Build)
	Config string // its YAML file, given as `serve --config`
	Log    string // the file its stdout and stderr are appended to
	URL    string // the base URL of its HTTP listener (http://127.0.0.1:port), for /readyz
	// Starter is who starts it ("webtest", "chaos"), written in the line
	// each start appends to the log, so a reader of a log that spans
	// restarts sees where each process began.
	Starter string
}

// Proc is one replica: at most one process at a time, restarted as the
// world says. Its methods are safe for concurrent use.
type Proc struct {
	spec Spec

	mu      sync.Mutex
	cmd     *exec.Cmd     // the current (or last) process; nil before the first Start
	exited  chan struct{} // closed when the current process has exited
	exitErr error         // what Wait said of the last process that exited
	starts  int
}

// New returns the replica of spec, not started.
func New(spec Spec) *Proc { return &Proc{spec: spec} }

// Name is the replica's name.
func (p *Proc) Name() string { return p.spec.Name }

// Start runs a new process for the replica with environment env (see
// Env). Its output is appended to the log file, after a line saying which
// start this is, so one file tells the story of every restart. It refuses
// while the previous process still runs: two processes of one replica
// would fight over its port and its leases.
func (p *Proc) Start(env []string) error {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.cmd != nil {
		select {
		case <-p.exited:
		default:
			return fmt.Errorf("start %s: already running", p.spec.Name)
		}
	}
	lf, err := os.OpenFile(p.spec.Log, os.O_CREATE|os.O_APPEND|os.O_WRONLY, 0o600)
	if err != nil {
		return fmt.Errorf("start %s: %w", p.spec.Name, err)
	}
	p.starts++
	_, _ = fmt.Fprintf(lf, "---- %s: start #%d of %s at %s\n", p.spec.Starter, p.starts, p.spec.Name, time.Now().Format(time.RFC3339Nano))
	cmd := exec.Command(p.spec.Bin, "serve", "--config", p.spec.Config)
	cmd.Env = env
	cmd.Stdout, cmd.Stderr = lf, lf
	if err := cmd.Start(); err != nil {
		_ = lf.Close()
		return fmt.Errorf("start %s: %w", p.spec.Name, err)
	}
	exited := make(chan struct{})
	p.cmd, p.exited = cmd, exited
	// The waiter owns the process: it ends when the process does, which
	// the world guarantees at cleanup (SIGKILL, then WaitExit).
	go func() {
		err := cmd.Wait()
		_ = lf.Close()
		p.mu.Lock()
		p.exitErr = err
		p.mu.Unlock()
		close(exited)
	}()
	return nil
}

// Signal sends sig to the current process (SIGKILL for a crash, SIGTERM
// for a deployment's stop, SIGSTOP and SIGCONT for a pause).
func (p *Proc) Signal(sig syscall.Signal) error {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.cmd == nil || p.cmd.Process == nil {
		return fmt.Errorf("signal %s: not started", p.spec.Name)
	}
	if err := p.cmd.Process.Signal(sig); err != nil {
		return fmt.Errorf("signal %v to %s: %w", sig, p.spec.Name, err)
	}
	return nil
}

// WaitExit waits for the current process to end, at most bound; a
// replica never started has nothing to wait for.
func (p *Proc) WaitExit(bound time.Duration) error {
	p.mu.Lock()
	exited := p.exited
	p.mu.Unlock()
	if exited == nil {
		return nil
	}
	t := time.NewTimer(bound)
	defer t.Stop()
	select {
	case <-exited:
		return nil
	case <-t.C:
		return fmt.Errorf("%s did not exit within %v", p.spec.Name, bound)
	}
}

// Running says whether a process was started and has not exited (a
// paused process runs).
func (p *Proc) Running() bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.cmd == nil {
		return false
	}
	select {
	case <-p.exited:
		return false
	default:
		return true
	}
}

// ExitErr is how the last process that exited ended (nil: status 0, or
// none has exited yet).
func (p *Proc) ExitErr() error {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.exitErr
}

const (
	// readyPoll is how often WaitReady asks /readyz: often enough that a
	// world's start is not slowed by it, rare enough not to load two cores.
	readyPoll = 25 * time.Millisecond
	// readyRequestBound bounds one /readyz request.
	readyRequestBound = 5 * time.Second
)

// WaitReady polls the replica's /readyz until it answers 200 (the replica
// holds its application and reaches Redis), at most bound. It gives up at
// once when the process has exited, with its exit status and the end of
// its log: a replica that cannot start (a bad config, a port taken) says
// why instead of timing out.
func (p *Proc) WaitReady(bound time.Duration) error {
	ctx, cancel := context.WithTimeout(context.Background(), bound)
	defer cancel()
	tick := time.NewTicker(readyPoll)
	defer tick.Stop()
	// Each request is bounded on its own too: a replica that accepted the
	// connection but is stuck (or paused) must not eat the whole bound in
	// one request.
	client := &http.Client{Timeout: readyRequestBound}
	for {
		if p.ready(ctx, client) {
			return nil
		}
		if !p.Running() {
			return fmt.Errorf("%s exited before it was ready (%v); log:\n%s", p.spec.Name, p.ExitErr(), p.Tail(30))
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("%s not ready within %v; log:\n%s", p.spec.Name, bound, p.Tail(30))
		case <-tick.C:
		}
	}
}

// ready asks /readyz once, bounded by ctx.
func (p *Proc) ready(ctx context.Context, client *http.Client) bool {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, p.spec.URL+"/readyz", nil)
	if err != nil {
		return false
	}
	resp, err := client.Do(req)
	if err != nil {
		return false
	}
	_ = resp.Body.Close()
	return resp.StatusCode == http.StatusOK
}

// Tail returns the last n lines of the replica's log (across restarts),
// for a failing test's message; if the log cannot be read, why.
func (p *Proc) Tail(n int) string {
	f, err := os.Open(p.spec.Log)
	if err != nil {
		return err.Error()
	}
	defer func() { _ = f.Close() }()
	var lines []string
	sc := bufio.NewScanner(f)
	// A replica's JSON log line can be long (a call's variables); a line
	// past 1 MiB ends the tail there rather than failing the message.
	sc.Buffer(make([]byte, 0, 64<<10), 1<<20)
	for sc.Scan() {
		lines = append(lines, sc.Text())
		if len(lines) > n {
			lines = lines[1:]
		}
	}
	return strings.Join(lines, "\n")
}
