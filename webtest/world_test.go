package webtest

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/tandem-cc/tandem/internal/redistest"
	"github.com/tandem-cc/tandem/internal/replicaproc"
	"github.com/tandem-cc/tandem/pbxsim"
)

// The world's fixed names. Agents 1001..1004 sign in with AgentToken(id)
// at the endpoint PJSIP/<id>; the supervisor's token is SupervisorToken.
const (
	prefix          = "tandem"
	ariUser         = "tandem"
	ariPass         = "webtest-ari-secret"
	SupervisorToken = "webtest-supervisor-token"
	SupervisorName  = "sam"
	// SalesDNIS and SupportDNIS are the numbers callers dial for the two
	// queues; CallerANI is the number they call from.
	SalesDNIS   = "5551000"
	SupportDNIS = "5552000"
	CallerANI   = "+12025550147"
	// CallbackCallerID is what a callback shows the customer.
	CallbackCallerID = "+18005550100"
	replicaCount     = 2
	// waitBound bounds every wait of the world.
	waitBound = 15 * time.Second
)

// Agents are the agents the configuration knows.
var Agents = []string{"1001", "1002", "1003", "1004"}

// AgentToken is the bearer token of agent id.
func AgentToken(id string) string { return "webtest-agent-" + id + "-token" }

// AgentEndpoint is the endpoint agent id signs in with (its phone).
func AgentEndpoint(id string) string { return "PJSIP/" + id }

// OutsideEndpoint is the PBX endpoint Tandem dials for an outside number
// (dial.endpoint), where a test sets a phone with World.Sim.SetPhone.
func OutsideEndpoint(number string) string { return "PJSIP/" + number }

// tandemBin is the tandem binary TestMain builds once for the package,
// before any test runs; tests only read it.
var tandemBin string

func TestMain(m *testing.M) {
	os.Exit(runTests(m))
}

func runTests(m *testing.M) int {
	dir, err := os.MkdirTemp("", "tandem-webtest-")
	if err != nil {
		fmt.Fprintln(os.Stderr, "webtest:", err)
		return 1
	}
	defer func() { _ = os.RemoveAll(dir) }()
	// The replicas run the binary a deployment runs, with its embedded
	// pages. TANDEM_WEBTEST_RACE=1 builds it with -race.
	tandemBin, err = replicaproc.Build(dir, os.Getenv("TANDEM_WEBTEST_RACE") == "1")
	if err != nil {
		fmt.Fprintln(os.Stderr, "webtest:", err)
		return 1
	}
	return m.Run()
}

// Options shape a World; the zero value is the usual one.
type Options struct {
	// RingTimeout is how long an agent's phone rings before RONA
	// (default 30s: the tests answer by hand, after looking at the page).
	RingTimeout time.Duration
	// WrapupTimeout is the after-call work time (default 60s).
	WrapupTimeout time.Duration
}

// World is one Redis, the ARI simulator served by the test process on
// loopback, and two `tandem serve` replicas r1 and r2 as processes. Every
// agent phone rings until the test answers it (AnswerAgentPhone).
type World struct {
	t        *testing.T
	opts     Options
	dir      string
	ariURL   string
	http     *http.Client
	Sim      *pbxsim.Sim
	Replicas []*Replica
}

// NewWorld starts the world and waits until both replicas are ready.
func NewWorld(t *testing.T, opts Options) *World {
	t.Helper()
	if opts.RingTimeout == 0 {
		opts.RingTimeout = 30 * time.Second
	}
	if opts.WrapupTimeout == 0 {
		opts.WrapupTimeout = 60 * time.Second
	}
	dir := replicaproc.Dir(t, "TANDEM_WEBTEST_LOGDIR")
	w := &World{t: t, opts: opts, dir: dir, http: &http.Client{Timeout: 5 * time.Second}}
	redisAddr := redistest.Start(t)

	w.Sim = pbxsim.New(pbxsim.Options{Username: ariUser, Password: ariPass, Logger: slog.New(slog.DiscardHandler)})
	for _, a := range Agents {
		w.Sim.SetPhone(AgentEndpoint(a), pbxsim.Phone{Mode: pbxsim.NoAnswer})
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	w.ariURL = "http://" + ln.Addr().String() + "/ari"
	srv := &http.Server{Handler: w.Sim.Handler(), ReadHeaderTimeout: 5 * time.Second}
	served := make(chan struct{})
	go func() {
		defer close(served)
		_ = srv.Serve(ln)
	}()
	t.Cleanup(func() {
		// The replicas are gone by now (their cleanup runs first).
		w.Sim.Close()
		_ = srv.Close()
		<-served
	})

	for i := 1; i <= replicaCount; i++ {
		r := &Replica{w: w, Node: fmt.Sprintf("r%d", i), App: fmt.Sprintf("tandem-r%d", i)}
		r.URL = "http://" + replicaproc.FreeAddr(t)
		r.cfg = filepath.Join(dir, r.Node+".yaml")
		r.proc = replicaproc.New(replicaproc.Spec{
			Name: r.Node, Bin: tandemBin, Config: r.cfg, Log: filepath.Join(dir, r.Node+".log"),
			URL: r.URL, Starter: "webtest",
		})
		w.Replicas = append(w.Replicas, r)
	}
	for _, r := range w.Replicas {
		if err := os.WriteFile(r.cfg, []byte(w.config(r, redisAddr)), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	t.Cleanup(func() {
		w.killAll()
		if t.Failed() {
			for _, r := range w.Replicas {
				t.Logf("log of %s (last lines):\n%s", r.Node, r.proc.Tail(40))
			}
		}
	})
	for _, r := range w.Replicas {
		if err := r.proc.Start(w.env()); err != nil {
			t.Fatal(err)
		}
	}
	for _, r := range w.Replicas {
		if err := r.proc.WaitReady(30 * time.Second); err != nil {
			t.Fatal(err)
		}
	}
	return w
}

// URLs are the replicas' base URLs (http://127.0.0.1:port), r1 first.
func (w *World) URLs() []string {
	out := make([]string, len(w.Replicas))
	for i, r := range w.Replicas {
		out[i] = r.URL
	}
	return out
}

// Replica returns the replica whose base URL is base (as a page's footer
// names it), failing the test if there is none.
func (w *World) Replica(base string) *Replica {
	w.t.Helper()
	base = strings.TrimSuffix(base, "/")
	for _, r := range w.Replicas {
		if r.URL == base {
			return r
		}
	}
	w.t.Fatalf("no replica at %q (replicas: %v)", base, w.URLs())
	return nil
}

// config is a replica's YAML: its own node, application and port, the
// same Redis, queues, agents and tokens as the other.
//
// The settings of the web pages' backend (http.allowed_origins,
// web.replicas, wallboard.sample_interval) are given as environment
// variables instead (env), which a binary without them ignores while
// one with them reads them just as from the file.
func (w *World) config(r *Replica, redisAddr string) string {
	var agents strings.Builder
	for _, a := range Agents {
		fmt.Fprintf(&agents, "    - {agent: %q, token: %q}\n", a, AgentToken(a))
	}
	return fmt.Sprintf(`node_id: %s
redis: {addr: %q, prefix: %s}
ari:
  url: %q
  username: %s
  password: %s
  app: %s
  request_timeout: 3s
  ping_interval: 1s
  pong_timeout: 2s
  reconnect_backoff: 50ms
  reconnect_backoff_max: 500ms
http:
  listen: %q
  # The pages of several tests share the agents' tokens.
  rate_limit:
    agent: {per_second: 50, burst: 100}
auth:
  agents:
%s  supervisors:
    - {name: %s, token: %q}
routing:
  default_queue: sales
  dnis: {"%s": sales, "%s": support}
  ring_timeout: %s
  sweep_interval: 500ms
  callback_lease: 5s
replicas:
  lease: 2s
queues:
  sales:
    moh_class: default
    record: true
    variables:
      - {name: CUSTOMER_ID, label: Customer, type: string, order: 1, popup: true}
      - {name: LANGUAGE, label: Language, type: string, order: 2, popup: true}
      - {name: BALANCE, label: Balance, type: number, editable: true, order: 3, popup: true}
      - {name: CARD_NUMBER, label: Card number, type: string, secure: true, order: 4, popup: true}
      - {name: NOTE, label: Note, type: text, editable: true, order: 5}
    callback:
      digit: "1"
      prompt: sound:callback-enter-number
      confirm: sound:callback-registered
      caller_id: %q
      accept: agent
      max_attempts: 2
      retry_delay: 1m
  support:
    moh_class: default
agents:
  idle_reasons: [break, lunch, meeting, training]
  wrapup:
    timeout: %s
    codes: [resolved, follow-up, escalated, no-resolution]
    default_code: resolved
dial:
  endpoint: PJSIP/{number}
  default_region: US
  caller_id: %q
  ring_timeout: 20s
  policy:
    internal_numbers: ["1000-1999"]
log: {level: %s, format: text}
`, r.Node, redisAddr, prefix, w.ariURL, ariUser, ariPass, r.App,
		strings.TrimPrefix(r.URL, "http://"), agents.String(), SupervisorName, SupervisorToken,
		SalesDNIS, SupportDNIS, w.opts.RingTimeout, CallbackCallerID, w.opts.WrapupTimeout,
		CallbackCallerID, logLevel())
}

// env is a replica's environment: the test's without TANDEM_* (the
// replica's configuration is its file) plus the web settings.
func (w *World) env() []string {
	urls := strings.Join(w.URLs(), ",")
	return replicaproc.Env(
		"TANDEM_HTTP_ALLOWED_ORIGINS="+urls,
		"TANDEM_WEB_REPLICAS="+urls,
		"TANDEM_WALLBOARD_SAMPLE_INTERVAL=1s",
	)
}

// logLevel is the replicas' log level: info, or TANDEM_WEBTEST_LOGLEVEL.
func logLevel() string {
	if l := os.Getenv("TANDEM_WEBTEST_LOGLEVEL"); l != "" {
		return l
	}
	return "info"
}

// Replica is one `tandem serve` process.
type Replica struct {
	w    *World
	Node string // r1, r2
	App  string // its Stasis application
	URL  string // http://127.0.0.1:port, the same across restarts

	cfg  string // its YAML file
	proc *replicaproc.Proc
}

// Running says whether the replica's process runs.
func (r *Replica) Running() bool { return r.proc.Running() }

// Kill ends the replica with SIGKILL, as a crash would (no drain, no
// close handshake on its sockets), and waits for the process to be gone.
func (w *World) Kill(r *Replica) {
	w.t.Helper()
	if err := r.proc.Signal(syscall.SIGKILL); err != nil {
		w.t.Fatal(err)
	}
	if err := r.proc.WaitExit(10 * time.Second); err != nil {
		w.t.Fatal(err)
	}
}

// Restart starts a killed replica again and waits until it is ready.
func (w *World) Restart(r *Replica) {
	w.t.Helper()
	if err := r.proc.Start(w.env()); err != nil {
		w.t.Fatal(err)
	}
	if err := r.proc.WaitReady(30 * time.Second); err != nil {
		w.t.Fatal(err)
	}
}

// killAll is the cleanup: no process outlives the test.
func (w *World) killAll() {
	for _, r := range w.Replicas {
		if r.Running() {
			_ = r.proc.Signal(syscall.SIGKILL)
			_ = r.proc.WaitExit(10 * time.Second)
		}
	}
}

// Caller is one inbound call placed by PlaceCall.
type Caller struct {
	w  *World
	ID string // the caller's channel in the simulator
}

// PlaceCall places a call to the sales queue from CallerANI carrying vars
// as channel variables (CUSTOMER_ID, LANGUAGE, BALANCE, CARD_NUMBER,
// NOTE), into whichever replica's application the simulator picks.
func (w *World) PlaceCall(vars map[string]string) *Caller {
	w.t.Helper()
	return w.PlaceCallTo(nil, vars)
}

// PlaceCallTo is PlaceCall into replica r's application (nil: any).
func (w *World) PlaceCallTo(r *Replica, vars map[string]string) *Caller {
	w.t.Helper()
	cl := pbxsim.Caller{ANI: CallerANI, DNIS: SalesDNIS, Vars: vars}
	if r != nil {
		cl.App = r.App
	}
	id, err := w.Sim.Call(cl)
	if err != nil {
		w.t.Fatalf("place a call: %v", err)
	}
	return &Caller{w: w, ID: id}
}

// HangUp is the caller putting the phone down.
func (c *Caller) HangUp() {
	c.w.t.Helper()
	if err := c.w.Sim.HangUp(c.ID); err != nil {
		c.w.t.Fatalf("caller hangs up: %v", err)
	}
}

// WaitRinging waits until agent's phone rings and returns the ringing
// leg's channel id.
func (w *World) WaitRinging(agent string) string {
	w.t.Helper()
	var leg string
	w.WaitUntil("the phone of "+agent+" rings", func() bool {
		for _, id := range w.Sim.LiveLegs(AgentEndpoint(agent)) {
			if v, ok := w.Sim.Channel(id); ok && v.State == "Ringing" {
				leg = id
				return true
			}
		}
		return false
	})
	return leg
}

// AnswerAgentPhone waits until agent's phone rings and picks it up.
func (w *World) AnswerAgentPhone(agent string) {
	w.t.Helper()
	leg := w.WaitRinging(agent)
	if err := w.Sim.AnswerPhone(leg); err != nil {
		w.t.Fatalf("answer the phone of %s: %v", agent, err)
	}
}

// AgentHangsUp is agent putting their phone down on every live leg.
func (w *World) AgentHangsUp(agent string) {
	w.t.Helper()
	legs := w.Sim.LiveLegs(AgentEndpoint(agent))
	if len(legs) == 0 {
		w.t.Fatalf("agent %s has no live leg to hang up", agent)
	}
	for _, id := range legs {
		if err := w.Sim.HangUp(id); err != nil {
			w.t.Fatalf("agent %s hangs up: %v", agent, err)
		}
	}
}

// WaitUntil polls ok until it holds, at most waitBound.
func (w *World) WaitUntil(what string, ok func() bool) {
	w.t.Helper()
	deadline := time.Now().Add(waitBound)
	for !ok() {
		if time.Now().After(deadline) {
			w.t.Fatalf("not within %v: %s", waitBound, what)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// Do sends one API request with token to the first running replica and
// returns the status and body; body (if not nil) is sent as JSON.
func (w *World) Do(token, method, path string, body any) (int, []byte) {
	w.t.Helper()
	var rd io.Reader
	if body != nil {
		b, err := json.Marshal(body)
		if err != nil {
			w.t.Fatal(err)
		}
		rd = bytes.NewReader(b)
	}
	for _, r := range w.Replicas {
		if !r.Running() {
			continue
		}
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		req, err := http.NewRequestWithContext(ctx, method, r.URL+path, rd)
		if err != nil {
			cancel()
			w.t.Fatal(err)
		}
		req.Header.Set("Authorization", "Bearer "+token)
		if body != nil {
			req.Header.Set("Content-Type", "application/json")
		}
		resp, err := w.http.Do(req)
		if err != nil {
			cancel()
			w.t.Fatalf("%s %s on %s: %v", method, path, r.Node, err)
		}
		out, err := io.ReadAll(resp.Body)
		_ = resp.Body.Close()
		cancel()
		if err != nil {
			w.t.Fatalf("%s %s on %s: %v", method, path, r.Node, err)
		}
		return resp.StatusCode, out
	}
	w.t.Fatalf("%s %s: no replica running", method, path)
	return 0, nil
}

// MustDo is Do failing the test unless the answer is 2xx; it decodes a
// JSON answer into out when out is not nil.
func (w *World) MustDo(token, method, path string, body, out any) {
	w.t.Helper()
	status, b := w.Do(token, method, path, body)
	if status < 200 || status > 299 {
		w.t.Fatalf("%s %s: %d %s", method, path, status, b)
	}
	if out != nil {
		if err := json.Unmarshal(b, out); err != nil {
			w.t.Fatalf("%s %s: %v in %s", method, path, err, b)
		}
	}
}

// AgentView is what GET /v1/agents/{id} tells.
type AgentView struct {
	ID           string   `json:"id"`
	State        string   `json:"state"`
	Reason       string   `json:"reason"`
	Queues       []string `json:"queues"`
	Endpoint     string   `json:"endpoint"`
	ConnectionID string   `json:"connection_id"`
}

// Agent reads agent's state through the API.
func (w *World) Agent(agent string) AgentView {
	w.t.Helper()
	var a AgentView
	w.MustDo(AgentToken(agent), http.MethodGet, "/v1/agents/"+agent, nil, &a)
	return a
}

// WaitAgentState waits until agent is in state.
func (w *World) WaitAgentState(agent, state string) AgentView {
	w.t.Helper()
	var a AgentView
	w.WaitUntil("agent "+agent+" is "+state, func() bool {
		a = w.Agent(agent)
		return a.State == state
	})
	return a
}

// SignIn logs agent in from Go at its endpoint into queues (default
// sales) and makes it available: the agents a test needs besides the one
// it drives through the desktop (a consult's target).
func (w *World) SignIn(agent string, queues ...string) {
	w.t.Helper()
	if len(queues) == 0 {
		queues = []string{"sales"}
	}
	w.MustDo(AgentToken(agent), http.MethodPost, "/v1/agents/"+agent+"/login",
		map[string]any{"endpoint": AgentEndpoint(agent), "queues": queues}, nil)
	w.MustDo(AgentToken(agent), http.MethodPost, "/v1/agents/"+agent+"/available", nil, nil)
	w.WaitAgentState(agent, "available")
}
