package chaos

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/tandem-cc/tandem/acd"
	"github.com/tandem-cc/tandem/callbacks"
	"github.com/tandem-cc/tandem/internal/keyspace"
	"github.com/tandem-cc/tandem/internal/redistest"
	"github.com/tandem-cc/tandem/internal/replicaproc"
	"github.com/tandem-cc/tandem/pbxsim"
	"github.com/tandem-cc/tandem/pbxsim/eslsim"
)

// The world's fixed names: one key prefix, the two PBX nodes (an Asterisk
// and a FreeSWITCH) with their credentials, the supervisor token every API
// call carries (a supervisor acts for any agent), and the numbers the
// callers dial.
const (
	prefix  = "tandem"
	astNode = "ast1"
	fsNode  = "fs1"
	ariUser = "tandem"
	ariPass = "chaos-ari-secret"
	eslPass = "chaos-esl-secret"
	// The trunks: what ast1 dials to ring an agent on fs1, and back.
	trunkToFS       = "PJSIP/{exten}@" + fsNode
	trunkToAst      = "sofia/gateway/" + astNode + "/{exten}"
	supervisorToken = "chaos-supervisor-token"
	salesDNIS       = "5551000"
	supportDNIS     = "5552000"
	callerID        = "+18005550100"
	replicaCount    = 3
)

// buildTandem builds ./cmd/tandem once into dir: the replicas run the
// same binary a deployment does. TANDEM_CHAOS_RACE=1 builds it with -race.
func buildTandem(t *testing.T, dir string) string {
	t.Helper()
	bin, err := replicaproc.Build(dir, os.Getenv("TANDEM_CHAOS_RACE") == "1")
	if err != nil {
		t.Fatal(err)
	}
	return bin
}

// world is one Redis, two PBX nodes served by the test process (the ARI
// simulator over HTTP as ast1, the event-socket simulator over TCP as
// fs1, joined by a trunk each way), and three `tandem serve` processes
// r1..r3, each driving both nodes.
type world struct {
	t      *testing.T
	bin    string
	dir    string
	rdb    *redis.Client
	keys   keyspace.Keys
	store  *acd.Store // read-only: the test reads interactions and agents through it
	cbs    *callbacks.Store
	sim    *pbxsim.Sim // ast1
	ariURL string
	fs     *eslsim.Sim // fs1
	fsAddr string
	http   *http.Client
	reps   []*replica
}

// newWorld starts Redis, both simulators and the three replicas, and
// waits until each replica is ready (holds its application, reaches Redis,
// both its drivers connected).
func newWorld(t *testing.T, bin string) *world {
	t.Helper()
	// With TANDEM_CHAOS_LOGDIR the replicas' whole logs (and configs) are
	// kept after the test, beside the simulators' (ariLog, simLogger).
	dir := replicaproc.Dir(t, "TANDEM_CHAOS_LOGDIR")
	w := &world{t: t, bin: bin, dir: dir, keys: keyspace.New(prefix),
		// Every request is bounded: a paused replica never answers.
		http: &http.Client{Timeout: 5 * time.Second}}
	addr := redistest.Start(t)
	w.rdb = redis.NewClient(&redis.Options{Addr: addr, ContextTimeoutEnabled: true})
	t.Cleanup(func() { _ = w.rdb.Close() })
	w.store = acd.NewStore(w.rdb, prefix, "chaos-observer")
	w.cbs = callbacks.NewStore(w.rdb, prefix)

	// SystemName keeps the Asterisk's channel ids apart from the
	// FreeSWITCH's uuids, as a real pair's are.
	w.sim = pbxsim.New(pbxsim.Options{Username: ariUser, Password: ariPass, SystemName: astNode, Logger: w.simLogger(astNode)})
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	w.ariURL = "http://" + ln.Addr().String() + "/ari"
	srv := &http.Server{Handler: w.ariLog(w.sim.Handler()), ReadHeaderTimeout: 5 * time.Second}
	served := make(chan struct{})
	go func() {
		defer close(served)
		_ = srv.Serve(ln)
	}()
	t.Cleanup(func() {
		// The replicas are gone by now (their cleanup ran first).
		w.sim.Close()
		_ = srv.Close()
		<-served
	})
	w.startFreeSWITCH()

	for i := 1; i <= replicaCount; i++ {
		r := &replica{w: w, node: fmt.Sprintf("r%d", i), app: fmt.Sprintf("tandem-r%d", i)}
		r.api = "http://" + replicaproc.FreeAddr(t)
		cfg := filepath.Join(w.dir, r.node+".yaml")
		r.proc = replicaproc.New(replicaproc.Spec{
			Name: r.node, Bin: w.bin, Config: cfg, Log: filepath.Join(w.dir, r.node+".log"),
			URL: r.api, Starter: "chaos",
		})
		if err := os.WriteFile(cfg, []byte(r.config(addr)), 0o600); err != nil {
			t.Fatal(err)
		}
		w.reps = append(w.reps, r)
	}
	t.Cleanup(w.killAll)
	for _, r := range w.reps {
		if err := r.start(); err != nil {
			t.Fatal(err)
		}
	}
	for _, r := range w.reps {
		if err := r.waitReady(30 * time.Second); err != nil {
			t.Fatal(err)
		}
	}
	return w
}

// ariLog, with TANDEM_CHAOS_LOGDIR, writes every ARI request the
// Asterisk node answers (time, client, method, path, status) to
// ast1-ari.log beside the replicas' logs: which process asked what of the
// PBX, and when.
func (w *world) ariLog(h http.Handler) http.Handler {
	if os.Getenv("TANDEM_CHAOS_LOGDIR") == "" {
		return h
	}
	f, err := os.OpenFile(filepath.Join(w.dir, astNode+"-ari.log"), os.O_CREATE|os.O_APPEND|os.O_WRONLY, 0o600)
	if err != nil {
		w.t.Fatal(err)
	}
	var mu sync.Mutex
	w.t.Cleanup(func() { _ = f.Close() })
	return http.HandlerFunc(func(rw http.ResponseWriter, r *http.Request) {
		sw := &statusWriter{ResponseWriter: rw, status: http.StatusOK}
		// What an application holds is what a replica's resync reads.
		if r.Method == http.MethodGet && strings.HasPrefix(r.URL.Path, "/ari/applications/") {
			sw.body = &strings.Builder{}
		}
		h.ServeHTTP(sw, r)
		mu.Lock()
		defer mu.Unlock()
		_, _ = fmt.Fprintf(f, "%s %s %s %s %d", time.Now().Format(time.RFC3339Nano), r.RemoteAddr, r.Method, r.URL.RequestURI(), sw.status)
		if sw.body != nil {
			_, _ = fmt.Fprintf(f, " %s", sw.body.String())
		}
		_, _ = fmt.Fprintln(f)
	})
}

// statusWriter remembers the status a handler wrote (and the body, for
// the reads of an application). It passes Hijack on:
// the events socket is a WebSocket upgrade.
type statusWriter struct {
	http.ResponseWriter
	status int
	body   *strings.Builder // the body is kept too when set
}

func (s *statusWriter) Write(b []byte) (int, error) {
	if s.body != nil {
		s.body.Write(b)
	}
	n, err := s.ResponseWriter.Write(b)
	if err != nil {
		return n, fmt.Errorf("ari log: write: %w", err)
	}
	return n, nil
}

func (s *statusWriter) WriteHeader(code int) {
	s.status = code
	s.ResponseWriter.WriteHeader(code)
}

func (s *statusWriter) Hijack() (net.Conn, *bufio.ReadWriter, error) {
	h, ok := s.ResponseWriter.(http.Hijacker)
	if !ok {
		return nil, nil, errors.New("ari log: the response writer cannot be hijacked")
	}
	s.status = http.StatusSwitchingProtocols
	c, rw, err := h.Hijack()
	if err != nil {
		return nil, nil, fmt.Errorf("ari log: hijack: %w", err)
	}
	return c, rw, nil
}

// simLogger is a simulator's logger: with TANDEM_CHAOS_LOGDIR its warnings
// (an agent dialled while their phone has a live leg, a connection offered
// twice) go to <node>-sim.log beside the replicas' logs; else nowhere.
func (w *world) simLogger(node string) *slog.Logger {
	if os.Getenv("TANDEM_CHAOS_LOGDIR") == "" {
		return slog.New(slog.DiscardHandler)
	}
	f, err := os.OpenFile(filepath.Join(w.dir, node+"-sim.log"), os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o600)
	if err != nil {
		w.t.Fatal(err)
	}
	w.t.Cleanup(func() { _ = f.Close() })
	return slog.New(slog.NewTextHandler(f, &slog.HandlerOptions{Level: slog.LevelWarn}))
}

// startFreeSWITCH serves the event-socket simulator on a loopback port
// until the test ends (after the replicas, whose cleanup runs first).
func (w *world) startFreeSWITCH() {
	t := w.t
	w.fs = eslsim.New(eslsim.Options{Password: eslPass, Logger: w.simLogger(fsNode)})
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	w.fsAddr = ln.Addr().String()
	ctx, cancel := context.WithCancel(context.Background())
	served := make(chan struct{})
	go func() {
		defer close(served)
		_ = w.fs.Serve(ctx, ln)
	}()
	t.Cleanup(func() {
		cancel()
		w.fs.Close()
		_ = ln.Close()
		<-served
	})
}

// replica is one seat's home process, restarted as the chaos says.
type replica struct {
	w         *world
	node, app string
	api       string // http://127.0.0.1:port, the same across restarts
	proc      *replicaproc.Proc

	// mu guards paused, which the chaos reads to tell a paused replica
	// from a running one; it is changed together with the signal (or the
	// start) that makes it so.
	mu     sync.Mutex
	paused bool // SIGSTOPped and not yet continued
}

// config is the replica's YAML: its own node, application and API port,
// the same Redis, PBX nodes and trunks, queues and dial plan as the
// others. Outside numbers (callbacks) are dialled on the Asterisk.
func (r *replica) config(redisAddr string) string {
	return fmt.Sprintf(`node_id: %s
redis: {addr: %q, prefix: %s}
pbx:
  app: %s
  nodes:
    - name: %s
      kind: asterisk
      url: %q
      username: %s
      password: %s
      request_timeout: 3s
      ping_interval: 2s
      pong_timeout: 5s
      reconnect_backoff: 50ms
      reconnect_backoff_max: 500ms
    - name: %s
      kind: freeswitch
      addr: %q
      password: %s
      request_timeout: 3s
      reconnect_backoff: 50ms
      reconnect_backoff_max: 500ms
  trunks:
    - {from: %s, to: %s, dial: %q}
    - {from: %s, to: %s, dial: %q}
http: {listen: %q}
auth:
  supervisors: [%s]
routing:
  default_queue: sales
  dnis: {"%s": sales, "%s": support}
  ring_timeout: 4s
  sweep_interval: 500ms
  callback_lease: 5s
  blind_transfer_no_answer: requeue
queues:
  sales:
    moh_class: default
    callback: &cb
      digit: "1"
      prompt: sound:callback-enter-number
      confirm: sound:callback-registered
      caller_id: %q
      max_attempts: 2
      retry_delay: 1s
  support:
    moh_class: default
    callback: *cb
agents:
  wrapup: {timeout: 500ms}
dial:
  endpoint: %s/PJSIP/{number}
  default_region: US
  caller_id: %q
  ring_timeout: 5s
log: {level: %s, format: text}
`, r.node, redisAddr, prefix, r.app, astNode, r.w.ariURL, ariUser, ariPass, fsNode, r.w.fsAddr, eslPass,
		astNode, fsNode, trunkToFS, fsNode, astNode, trunkToAst,
		strings.TrimPrefix(r.api, "http://"), supervisorToken, salesDNIS, supportDNIS, callerID, astNode, callerID, logLevel())
}

// logLevel is the replicas' log level: warn, or TANDEM_CHAOS_LOGLEVEL.
func logLevel() string {
	if l := os.Getenv("TANDEM_CHAOS_LOGLEVEL"); l != "" {
		return l
	}
	return "warn"
}

// start runs a new process for the replica; its output goes to its log
// file, appended across restarts. A new process is not paused.
func (r *replica) start() error {
	r.mu.Lock()
	defer r.mu.Unlock()
	// The replica's configuration is its file, nothing else.
	if err := r.proc.Start(replicaproc.Env()); err != nil {
		return err
	}
	r.paused = false
	return nil
}

// signal sends sig to the running process, and notes a pause (SIGSTOP)
// or its end (SIGCONT).
func (r *replica) signal(sig syscall.Signal) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	if err := r.proc.Signal(sig); err != nil {
		return err
	}
	switch sig {
	case syscall.SIGSTOP:
		r.paused = true
	case syscall.SIGCONT:
		r.paused = false
	}
	return nil
}

// waitExit waits for the current process to end, at most bound.
func (r *replica) waitExit(bound time.Duration) error { return r.proc.WaitExit(bound) }

// serving says whether the process runs and is not paused: a replica the
// test may send API requests to.
func (r *replica) serving() bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	return !r.paused && r.proc.Running()
}

// waitReady polls /readyz until it answers 200 (the replica holds its
// application and reaches Redis), at most bound.
func (r *replica) waitReady(bound time.Duration) error { return r.proc.WaitReady(bound) }

// tail returns the last n lines of the replica's log.
func (r *replica) tail(n int) string { return r.proc.Tail(n) }

// stopAll ends every replica with SIGTERM (continuing a paused one
// first), as a deployment would, and reports those that had to be killed.
func (w *world) stopAll(bound time.Duration) []string {
	var slow []string
	for _, r := range w.reps {
		if !r.running() {
			continue
		}
		_ = r.signal(syscall.SIGCONT)
		_ = r.signal(syscall.SIGTERM)
	}
	for _, r := range w.reps {
		if err := r.waitExit(bound); err != nil {
			slow = append(slow, r.node)
			_ = r.signal(syscall.SIGKILL)
			_ = r.waitExit(10 * time.Second)
		}
	}
	return slow
}

// running says whether a process was started and has not exited.
func (r *replica) running() bool { return r.proc.Running() }

// killAll is the cleanup: no process outlives the test.
func (w *world) killAll() {
	for _, r := range w.reps {
		if r.running() {
			_ = r.signal(syscall.SIGCONT)
			_ = r.signal(syscall.SIGKILL)
			_ = r.waitExit(10 * time.Second)
		}
	}
}

// serving lists the replicas the test may talk to now.
func (w *world) serving() []*replica {
	var out []*replica
	for _, r := range w.reps {
		if r.serving() {
			out = append(out, r)
		}
	}
	return out
}

// apiCall sends one API request with the supervisor token and returns the
// status; body may be "".
func (w *world) apiCall(ctx context.Context, r *replica, method, path, body string) (int, error) {
	var rd io.Reader
	if body != "" {
		rd = strings.NewReader(body)
	}
	req, err := http.NewRequestWithContext(ctx, method, r.api+path, rd)
	if err != nil {
		return 0, fmt.Errorf("%s %s: %w", method, path, err)
	}
	req.Header.Set("Authorization", "Bearer "+supervisorToken)
	if body != "" {
		req.Header.Set("Content-Type", "application/json")
	}
	resp, err := w.http.Do(req)
	if err != nil {
		return 0, fmt.Errorf("%s %s on %s: %w", method, path, r.node, err)
	}
	_, _ = io.Copy(io.Discard, resp.Body)
	_ = resp.Body.Close()
	return resp.StatusCode, nil
}

// ariGet reads a list from the simulator over ARI, as an operator would
// ask Asterisk (GET /ari/channels, /ari/bridges).
func (w *world) ariGet(ctx context.Context, path string) ([]byte, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, w.ariURL+path, nil)
	if err != nil {
		return nil, fmt.Errorf("ari %s: %w", path, err)
	}
	req.SetBasicAuth(ariUser, ariPass)
	resp, err := w.http.Do(req)
	if err != nil {
		return nil, fmt.Errorf("ari %s: %w", path, err)
	}
	defer func() { _ = resp.Body.Close() }()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		return nil, fmt.Errorf("ari %s: %w", path, err)
	}
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("ari %s: %s", path, resp.Status)
	}
	return b, nil
}
