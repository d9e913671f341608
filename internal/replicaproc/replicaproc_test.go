package replicaproc

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

// The tests run this test binary itself as the "replica": with
// helperEnv=1 in its environment it is a tiny stand-in for `tandem serve`
// (see runHelper) instead of the tests. That keeps the process helpers'
// tests real (a child process, its signals, its exit, its log) and fast
// (no build of cmd/tandem); TestBuild builds the real one once.
const helperEnv = "REPLICAPROC_TEST_HELPER"

// bound bounds every wait of these tests.
const bound = 10 * time.Second

func TestMain(m *testing.M) {
	if os.Getenv(helperEnv) == "1" {
		os.Exit(runHelper(os.Args[1:]))
	}
	os.Exit(m.Run())
}

// runHelper is the stand-in replica, run as `<bin> serve --config FILE`.
// FILE holds key=value lines: listen (the address of its HTTP listener),
// ready (the status /readyz answers, default 200), exit (exit at once
// with this status instead of serving). It writes its arguments and
// TANDEM_* environment to stdout, serves until SIGTERM, and then exits 0.
func runHelper(args []string) int {
	if len(args) != 3 || args[0] != "serve" || args[1] != "--config" {
		fmt.Fprintf(os.Stderr, "helper: want serve --config FILE, got %q\n", args)
		return 2
	}
	cfg, err := readHelperConfig(args[2])
	if err != nil {
		fmt.Fprintln(os.Stderr, "helper:", err)
		return 2
	}
	var tandemEnv []string
	for _, kv := range os.Environ() {
		if strings.HasPrefix(kv, "TANDEM_") {
			tandemEnv = append(tandemEnv, kv)
		}
	}
	fmt.Printf("helper: serving %s env %v\n", cfg["listen"], tandemEnv)
	if code := cfg["exit"]; code != "" {
		fmt.Fprintln(os.Stderr, "helper: exiting with", code)
		n, err := strconv.Atoi(code)
		if err != nil {
			return 2
		}
		return n
	}
	status := http.StatusOK
	if s := cfg["ready"]; s != "" {
		if status, err = strconv.Atoi(s); err != nil {
			fmt.Fprintln(os.Stderr, "helper: ready:", err)
			return 2
		}
	}
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM)
	defer stop()
	ln, err := net.Listen("tcp", cfg["listen"])
	if err != nil {
		fmt.Fprintln(os.Stderr, "helper:", err)
		return 1
	}
	mux := http.NewServeMux()
	mux.HandleFunc("GET /readyz", func(w http.ResponseWriter, _ *http.Request) { w.WriteHeader(status) })
	srv := &http.Server{Handler: mux, ReadHeaderTimeout: 5 * time.Second}
	served := make(chan struct{})
	go func() {
		defer close(served)
		_ = srv.Serve(ln)
	}()
	<-ctx.Done()
	_ = srv.Close()
	<-served
	fmt.Println("helper: stopped by SIGTERM")
	return 0
}

func readHelperConfig(path string) (map[string]string, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("config: %w", err)
	}
	defer func() { _ = f.Close() }()
	cfg := map[string]string{}
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		k, v, ok := strings.Cut(sc.Text(), "=")
		if !ok {
			return nil, fmt.Errorf("config: line %q is not key=value", sc.Text())
		}
		cfg[k] = v
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("config: %w", err)
	}
	return cfg, nil
}

// newHelper returns a replica whose binary is this test binary, with
// config lines cfg (the listen address is added) in a fresh directory,
// killed at the end of the test.
func newHelper(t *testing.T, cfg ...string) *Proc {
	t.Helper()
	bin, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	addr := FreeAddr(t)
	spec := Spec{
		Name: "r1", Bin: bin, Starter: "replicaproc-test",
		Config: filepath.Join(dir, "r1.conf"), Log: filepath.Join(dir, "r1.log"), URL: "http://" + addr,
	}
	body := strings.Join(append([]string{"listen=" + addr}, cfg...), "\n") + "\n"
	if err := os.WriteFile(spec.Config, []byte(body), 0o600); err != nil {
		t.Fatal(err)
	}
	p := New(spec)
	t.Cleanup(func() {
		if p.Running() {
			_ = p.Signal(syscall.SIGKILL)
			_ = p.WaitExit(bound)
		}
	})
	return p
}

// helperEnvOnly is Env plus the switch that makes the child the helper.
func helperEnvOnly(extra ...string) []string {
	return Env(append([]string{helperEnv + "=1"}, extra...)...)
}

func TestStartWaitReadyKillAndRestartAppendToOneLog(t *testing.T) {
	p := newHelper(t)
	if p.Running() {
		t.Fatal("running before Start")
	}
	if err := p.Start(helperEnvOnly()); err != nil {
		t.Fatal(err)
	}
	if err := p.WaitReady(bound); err != nil {
		t.Fatal(err)
	}
	if !p.Running() {
		t.Fatal("not running after it was ready")
	}
	if err := p.Start(helperEnvOnly()); err == nil || !strings.Contains(err.Error(), "already running") {
		t.Fatalf("a second Start while running: %v, want already running", err)
	}

	if err := p.Signal(syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	if err := p.WaitExit(bound); err != nil {
		t.Fatal(err)
	}
	if p.Running() {
		t.Fatal("running after SIGKILL and its exit")
	}
	var exit *exec.ExitError
	if err := p.ExitErr(); !errors.As(err, &exit) || exit.Sys().(syscall.WaitStatus).Signal() != syscall.SIGKILL {
		t.Fatalf("exit of a killed process: %v, want killed by SIGKILL", err)
	}

	if err := p.Start(helperEnvOnly()); err != nil {
		t.Fatal(err)
	}
	if err := p.WaitReady(bound); err != nil {
		t.Fatal(err)
	}
	log := p.Tail(100)
	for _, want := range []string{"---- replicaproc-test: start #1 of r1 at ", "---- replicaproc-test: start #2 of r1 at "} {
		if !strings.Contains(log, want) {
			t.Errorf("log lacks %q:\n%s", want, log)
		}
	}
	if n := strings.Count(log, "helper: serving "); n != 2 {
		t.Errorf("log holds %d starts of the helper, want 2 (one per process):\n%s", n, log)
	}
}

func TestSigtermStopsTheProcessCleanly(t *testing.T) {
	p := newHelper(t)
	if err := p.Start(helperEnvOnly()); err != nil {
		t.Fatal(err)
	}
	if err := p.WaitReady(bound); err != nil {
		t.Fatal(err)
	}
	if err := p.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	if err := p.WaitExit(bound); err != nil {
		t.Fatal(err)
	}
	if err := p.ExitErr(); err != nil {
		t.Fatalf("exit after SIGTERM: %v, want status 0", err)
	}
	if log := p.Tail(1); log != "helper: stopped by SIGTERM" {
		t.Fatalf("last log line %q, want the helper's own after SIGTERM", log)
	}
}

func TestWaitReadyReportsAProcessThatExitsWithItsLog(t *testing.T) {
	p := newHelper(t, "exit=3")
	if err := p.Start(helperEnvOnly()); err != nil {
		t.Fatal(err)
	}
	// The bound is far longer than the test takes: WaitReady must give up
	// because the process is gone, not because time ran out.
	err := p.WaitReady(time.Hour)
	if err == nil {
		t.Fatal("ready, but the process exited")
	}
	for _, want := range []string{"r1 exited before it was ready", "exit status 3", "helper: exiting with 3"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error lacks %q: %v", want, err)
		}
	}
}

func TestWaitReadyIsBounded(t *testing.T) {
	p := newHelper(t, "ready=503")
	if err := p.Start(helperEnvOnly()); err != nil {
		t.Fatal(err)
	}
	err := p.WaitReady(300 * time.Millisecond)
	if err == nil || !strings.Contains(err.Error(), "r1 not ready within 300ms") {
		t.Fatalf("WaitReady of a replica answering 503: %v, want not ready within 300ms", err)
	}
	if !p.Running() {
		t.Fatal("WaitReady's bound is not the process's end: it still runs")
	}
}

func TestAReplicaNeverStarted(t *testing.T) {
	p := newHelper(t)
	if err := p.Signal(syscall.SIGTERM); err == nil || !strings.Contains(err.Error(), "signal r1: not started") {
		t.Fatalf("Signal before Start: %v, want not started", err)
	}
	if err := p.WaitExit(bound); err != nil {
		t.Fatalf("WaitExit before Start: %v, want nothing to wait for", err)
	}
	if err := p.WaitReady(bound); err == nil || !strings.Contains(err.Error(), "exited before it was ready") {
		t.Fatalf("WaitReady before Start: %v, want an error at once", err)
	}
	if p.Name() != "r1" {
		t.Fatalf("Name %q, want r1", p.Name())
	}
}

func TestEnvKeepsTheTestsTandemVariablesFromTheReplica(t *testing.T) {
	t.Setenv("TANDEM_REPLICAPROC_TEST_KNOB", "mine")
	env := Env("TANDEM_WEB_REPLICAS=http://a")
	if slices.Contains(env, "TANDEM_REPLICAPROC_TEST_KNOB=mine") {
		t.Fatal("Env passes on the test's own TANDEM_* variable")
	}
	if !slices.Contains(env, "TANDEM_WEB_REPLICAS=http://a") {
		t.Fatal("Env drops an extra variable the world passes on purpose")
	}
	if !slices.ContainsFunc(env, func(kv string) bool { return strings.HasPrefix(kv, "PATH=") }) {
		t.Fatal("Env drops the rest of the environment (PATH)")
	}

	// And the child sees exactly that.
	p := newHelper(t)
	if err := p.Start(helperEnvOnly("TANDEM_WEB_REPLICAS=http://a")); err != nil {
		t.Fatal(err)
	}
	if err := p.WaitReady(bound); err != nil {
		t.Fatal(err)
	}
	if log := p.Tail(1); !strings.HasSuffix(log, "env [TANDEM_WEB_REPLICAS=http://a]") {
		t.Fatalf("the replica's TANDEM_* environment, as it logged it: %q, want only TANDEM_WEB_REPLICAS", log)
	}
}

func TestTailKeepsTheLastLines(t *testing.T) {
	dir := t.TempDir()
	p := New(Spec{Name: "r1", Log: filepath.Join(dir, "r1.log")})
	if got := p.Tail(3); !strings.Contains(got, "no such file") {
		t.Fatalf("Tail of a missing log: %q, want why it cannot be read", got)
	}
	var b strings.Builder
	for i := 1; i <= 10; i++ {
		fmt.Fprintf(&b, "line %d\n", i)
	}
	if err := os.WriteFile(filepath.Join(dir, "r1.log"), []byte(b.String()), 0o600); err != nil {
		t.Fatal(err)
	}
	if got, want := p.Tail(3), "line 8\nline 9\nline 10"; got != want {
		t.Fatalf("Tail(3) = %q, want %q", got, want)
	}
	if got := p.Tail(50); !strings.HasPrefix(got, "line 1\n") || !strings.HasSuffix(got, "line 10") {
		t.Fatalf("Tail(50) of 10 lines = %q, want them all", got)
	}
}

func TestFreeAddrIsALoopbackPortOneCanBind(t *testing.T) {
	addr := FreeAddr(t)
	host, _, err := net.SplitHostPort(addr)
	if err != nil || host != "127.0.0.1" {
		t.Fatalf("FreeAddr = %q (%v), want 127.0.0.1:port", addr, err)
	}
	l, err := net.Listen("tcp", addr)
	if err != nil {
		t.Fatalf("listen on %s: %v", addr, err)
	}
	_ = l.Close()
}

// TestBuildMakesTheTandemBinary builds cmd/tandem (cached after the first
// time) and runs it: the binary the worlds start is the real one.
func TestBuildMakesTheTandemBinary(t *testing.T) {
	bin, err := Build(t.TempDir(), false)
	if err != nil {
		t.Fatal(err)
	}
	out, err := exec.Command(bin, "serve", "--help").CombinedOutput()
	if err != nil {
		t.Fatalf("%s serve --help: %v\n%s", bin, err, out)
	}
	if !strings.Contains(string(out), "--config") {
		t.Fatalf("%s serve --help does not name --config:\n%s", bin, out)
	}
}

func TestDirIsTemporaryUnlessKept(t *testing.T) {
	const keepEnv = "REPLICAPROC_TEST_LOGDIR"
	var temp string
	t.Run("temp", func(t *testing.T) {
		temp = Dir(t, keepEnv)
		if fi, err := os.Stat(temp); err != nil || !fi.IsDir() {
			t.Fatalf("Dir %s: %v, want a directory", temp, err)
		}
	})
	if _, err := os.Stat(temp); !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("the temporary dir %s after its test: %v, want removed", temp, err)
	}

	keep := t.TempDir()
	t.Setenv(keepEnv, keep)
	var kept string
	t.Run("kept/one", func(t *testing.T) {
		kept = Dir(t, keepEnv)
		if err := os.WriteFile(filepath.Join(kept, "r1.log"), []byte("a line\n"), 0o600); err != nil {
			t.Fatal(err)
		}
	})
	if want := filepath.Join(keep, "TestDirIsTemporaryUnlessKept_kept_one"); kept != want {
		t.Fatalf("kept Dir %s, want %s (one per test, no slashes)", kept, want)
	}
	if b, err := os.ReadFile(filepath.Join(kept, "r1.log")); err != nil || string(b) != "a line\n" {
		t.Fatalf("the kept log after its test: %q, %v", b, err)
	}
}
