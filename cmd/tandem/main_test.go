package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"github.com/tandem-cc/tandem/internal/syncbuf"
	"io"
	"maps"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"

	"github.com/tandem-cc/tandem/internal/demo"
	"github.com/tandem-cc/tandem/internal/redisserver"
	"github.com/tandem-cc/tandem/internal/redistest"
	"github.com/tandem-cc/tandem/pbxsim"
)

func TestCommandLineExitCodes(t *testing.T) {
	for _, tc := range []struct {
		args []string
		code int
		out  string // expected in stdout+stderr
	}{
		{nil, exitUsage, "Usage:"},
		{[]string{"help"}, exitOK, "tandem demo"},
		{[]string{"frobnicate"}, exitUsage, `unknown command "frobnicate"`},
		{[]string{"demo", "--report", "xml"}, exitUsage, "must be table or json"},
		{[]string{"demo", "--ring", "2s-1s"}, exitUsage, "MIN ≤ MAX"},
		{[]string{"demo", "--help"}, exitOK, "--patience"},
		{[]string{"demo", "extra"}, exitUsage, `unexpected argument "extra"`},
		{[]string{"demo", "--pbx", "yate"}, exitUsage, `--pbx "yate": must be asterisk, freeswitch or mixed`},
		{[]string{"demo", "--pbx", ""}, exitUsage, `--pbx "": must be asterisk, freeswitch or mixed`},
		{[]string{"demo", "--help"}, exitOK, "--pbx"},
		{[]string{"sim"}, exitUsage, "--user and --password are required"},
		{[]string{"serve", "--log-level", "loud"}, exitError, "log.level"},
	} {
		t.Run(strings.Join(tc.args, " "), func(t *testing.T) {
			t.Setenv("TANDEM_REDIS_ADDR", "")
			var out bytes.Buffer
			if code := run(tc.args, &out, &out); code != tc.code {
				t.Errorf("exit code %d, want %d; output:\n%s", code, tc.code, out.String())
			}
			if !strings.Contains(out.String(), tc.out) {
				t.Errorf("output does not mention %q:\n%s", tc.out, out.String())
			}
		})
	}
}

func TestSpanFlag(t *testing.T) {
	for _, tc := range []struct {
		in       string
		min, max time.Duration
		bad      bool
	}{
		{in: "300ms-2s", min: 300 * time.Millisecond, max: 2 * time.Second},
		{in: "1s", min: time.Second, max: time.Second},
		{in: " 1s - 4s ", min: time.Second, max: 4 * time.Second},
		{in: "4s-1s", bad: true},
		{in: "soon", bad: true},
		{in: "1s-", bad: true},
	} {
		var s spanFlag
		err := s.Set(tc.in)
		if tc.bad {
			if err == nil {
				t.Errorf("%q accepted as %v", tc.in, s.String())
			}
			continue
		}
		if err != nil || s.Min != tc.min || s.Max != tc.max {
			t.Errorf("%q → %v, %v (err %v)", tc.in, s.Min, s.Max, err)
		}
	}
}

func TestDemoCommandPrintsJSONReport(t *testing.T) {
	var stdout, stderr bytes.Buffer
	code := run([]string{"demo", "--replicas", "2", "--agents", "3", "--calls", "8", "--rate", "40",
		"--ring", "20ms-80ms", "--talk", "50ms-150ms", "--patience", "30s-40s", "--ring-timeout", "3s",
		"--rona-recovery", "100ms", "--no-answer", "0", "--seed", "7", "--report", "json", "--progress", "0",
		"--metrics-addr", "127.0.0.1:0"}, // a free port: a default one may be taken
		&stdout, &stderr)
	if code != exitOK {
		t.Fatalf("exit %d\nstdout:\n%s\nstderr:\n%s", code, stdout.String(), stderr.String())
	}
	if !strings.Contains(stderr.String(), "metrics: http://127.0.0.1:") {
		t.Errorf("the /metrics URL is not printed at start:\n%s", stderr.String())
	}
	var r demo.Report
	if err := json.Unmarshal(stdout.Bytes(), &r); err != nil {
		t.Fatalf("stdout is not one JSON report: %v\n%s", err, stdout.String())
	}
	if !r.OK || r.Calls.Arrived != 8 || r.Calls.Answered != 8 || r.AgentsNeverAnswering != 0 || r.Seed != 7 {
		t.Fatalf("report %+v", r)
	}
}

// `tandem demo --pbx` runs the same demo, with the same report, on the
// FreeSWITCH simulator and on one simulator of each kind.
func TestDemoCommandRunsOnEveryPBX(t *testing.T) {
	for _, kind := range []string{"freeswitch", "mixed"} {
		t.Run(kind, func(t *testing.T) {
			var stdout, stderr bytes.Buffer
			code := run([]string{"demo", "--pbx", kind, "--replicas", "2", "--agents", "4", "--calls", "8", "--rate", "40",
				"--ring", "20ms-80ms", "--talk", "50ms-150ms", "--patience", "30s-40s", "--ring-timeout", "3s",
				"--rona-recovery", "100ms", "--no-answer", "0", "--seed", "7", "--report", "json", "--progress", "0",
				"--metrics-addr", ""}, &stdout, &stderr)
			if code != exitOK {
				t.Fatalf("exit %d\nstdout:\n%s\nstderr:\n%s", code, stdout.String(), stderr.String())
			}
			var r demo.Report
			if err := json.Unmarshal(stdout.Bytes(), &r); err != nil {
				t.Fatalf("stdout is not one JSON report: %v\n%s", err, stdout.String())
			}
			if string(r.PBXKind) != kind || !r.OK || r.Calls.Arrived != 8 || r.Calls.Answered != 8 || len(r.Invariants.Violations()) != 0 {
				t.Fatalf("report %+v", r)
			}
			if !strings.Contains(stderr.String(), "event-socket (FreeSWITCH) simulator") {
				t.Errorf("stderr does not say which simulator starts:\n%s", stderr.String())
			}
		})
	}
}

// replica is a `tandem serve` running against the simulator and a
// private Redis, wired exactly as production does.
type replica struct {
	api  string // http://host:port
	sim  *pbxsim.Sim
	logs *syncBuffer
	stop func() error // ends serve and returns its error
}

// startServe runs `tandem serve` with logYAML as its log section and one
// agent (1001, token agent-token) logged in and available.
func startServe(t *testing.T, logYAML string) *replica {
	t.Helper()
	return startServeOn(t, redistest.Start(t), nil, logYAML, nil)
}

// startServeOn is startServe against the Redis at redisAddr, with the
// simulator's handler wrapped by wrap (when not nil), and beforeApp (when
// not nil) called once the API answers, before waiting for the Stasis
// application.
func startServeOn(t *testing.T, redisAddr string, wrap func(http.Handler) http.Handler, logYAML string, beforeApp func(*replica)) *replica {
	t.Helper()
	for _, kv := range os.Environ() {
		if k, _, _ := strings.Cut(kv, "="); strings.HasPrefix(k, "TANDEM_") {
			t.Setenv(k, "")
			_ = os.Unsetenv(k)
		}
	}
	sim := pbxsim.New(pbxsim.Options{Username: "tandem", Password: "pw"})
	h := sim.Handler()
	if wrap != nil {
		h = wrap(h)
	}
	ari := httptest.NewServer(h)
	t.Cleanup(func() { sim.Close(); ari.Close() })
	sim.SetPhone("PJSIP/1001", pbxsim.Phone{Mode: pbxsim.Answer, RingFor: 50 * time.Millisecond})

	listen := freeAddr(t)
	cfg := filepath.Join(t.TempDir(), "tandem.yaml")
	yaml := fmt.Sprintf(`node_id: r1
redis: {addr: %q}
ari: {url: %q, username: tandem, password: pw, app: tandem-r1}
http: {listen: %q}
auth:
  agents: [{agent: "1001", token: agent-token}]
routing: {default_queue: sales, dnis: {"5551000": sales}, ring_timeout: 2s}
queues: {sales: {moh_class: default}}
%s
`, redisAddr, ari.URL+"/ari", listen, logYAML)
	if err := os.WriteFile(cfg, []byte(yaml), 0o600); err != nil {
		t.Fatal(err)
	}

	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(cancel)
	r := &replica{api: "http://" + listen, sim: sim, logs: &syncBuffer{}}
	done := make(chan error, 1)
	go func() { done <- serve(ctx, []string{"--config", cfg}, r.logs) }()
	r.stop = func() error {
		cancel()
		select {
		case err := <-done:
			return err
		case <-time.After(15 * time.Second):
			return fmt.Errorf("serve did not stop")
		}
	}

	waitFor(t, "the API", func() bool {
		resp, err := http.Get(r.api + "/healthz")
		if err == nil {
			_ = resp.Body.Close()
		}
		return err == nil && resp.StatusCode == http.StatusOK
	})
	if beforeApp != nil {
		beforeApp(r)
	}
	waitFor(t, "the Stasis application", func() bool { return activeApp(t, ari.URL, "tandem-r1") })
	post(t, r.api+"/v1/agents/1001/login", `{"endpoint":"PJSIP/1001","queues":["sales"]}`)
	post(t, r.api+"/v1/agents/1001/available", "")
	return r
}

// call places one call from ani and waits until it was bridged and ended.
func (r *replica) call(t *testing.T, ani string) {
	t.Helper()
	if _, err := r.sim.Call(pbxsim.Caller{ANI: ani, DNIS: "5551000", TalkFor: 100 * time.Millisecond}); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "the call to be bridged and end", func() bool {
		st := r.sim.Stats()
		return st.CallsBridged == 1 && r.sim.WaitIdle(0)
	})
}

// TestServeRoutesACallThroughTheSimulator wires `tandem serve` exactly as
// production does, against the simulator and a private Redis: an agent
// logs in through the API, a call arrives and is bridged to them, and the
// replica stops cleanly when its context ends.
func TestServeRoutesACallThroughTheSimulator(t *testing.T) {
	r := startServe(t, "log: {level: debug, format: text}")
	r.call(t, "+15550001")

	// /metrics is served on the API port, without a token.
	fams := scrapeMetrics(t, r.api+"/metrics")
	for name, want := range map[string]float64{
		"tandem_answered_total":          1,
		"tandem_offers_total":            1,
		"tandem_offer_to_answer_seconds": 1, // samples
	} {
		if got := metricValue(fams[name]); got != want {
			t.Errorf("%s = %v, want %v", name, got, want)
		}
	}
	if fams["tandem_pbx_command_seconds"] == nil || fams["tandem_lua_script_seconds"] == nil || fams["tandem_agents"] == nil {
		t.Errorf("PBX, script or agent metrics missing: %v", slices.Collect(maps.Keys(fams)))
	}

	if err := r.stop(); err != nil {
		t.Fatalf("serve: %v\n%s", err, r.logs.String())
	}
	if st := r.sim.Stats(); st.DoubleOffers != 0 || st.AgentsWithTwoCalls != 0 {
		t.Fatalf("sim stats %+v", st)
	}
}

// TestReadyzFollowsTheApplicationAndRedis: /readyz (no token) is 503
// naming "pbx" until the events socket connects and again after the
// simulator drops it (redials refused meanwhile), 200 once connected, and
// 503 naming "redis" once Redis is stopped.
func TestReadyzFollowsTheApplicationAndRedis(t *testing.T) {
	rs, err := redisserver.Start(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	stopRedis := sync.OnceFunc(rs.Stop) // Stop may be called once only
	t.Cleanup(stopRedis)
	// While refuse is set, the simulator answers the events socket's
	// upgrade with 503: the replica cannot (re)connect its application.
	var refuse atomic.Bool
	refuse.Store(true)
	gate := func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if refuse.Load() && strings.HasSuffix(r.URL.Path, "/ari/events") {
				http.Error(w, "refused by the test", http.StatusServiceUnavailable)
				return
			}
			next.ServeHTTP(w, r)
		})
	}
	r := startServeOn(t, rs.Addr, gate, "", func(r *replica) {
		// "seat" too until the home seat's lease is taken, a moment after
		// the API answers; the socket stays refused meanwhile.
		waitReadyz(t, r.api, http.StatusServiceUnavailable, `{"ready":false,"not_ready":["pbx"]}`)
		refuse.Store(false)
	})
	waitReadyz(t, r.api, http.StatusOK, `{"ready":true}`)

	refuse.Store(true)
	r.sim.DropWebSockets("tandem-r1")
	waitReadyz(t, r.api, http.StatusServiceUnavailable, `{"ready":false,"not_ready":["pbx"]}`)
	refuse.Store(false)
	waitReadyz(t, r.api, http.StatusOK, `{"ready":true}`)

	stopRedis()
	waitReadyz(t, r.api, http.StatusServiceUnavailable, `{"ready":false,"not_ready":["redis"]}`)
	if err := r.stop(); err != nil {
		t.Logf("serve after Redis stopped: %v", err)
	}
}

// waitReadyz waits (bounded) until /readyz answers code and body.
func waitReadyz(t *testing.T, api string, code int, body string) {
	t.Helper()
	var got int
	var b string
	waitFor(t, fmt.Sprintf("readyz %d %s", code, body), func() bool {
		got, b = getReadyz(t, api)
		return got == code && b == body
	})
}

func getReadyz(t *testing.T, api string) (int, string) {
	t.Helper()
	resp, err := http.Get(api + "/readyz")
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = resp.Body.Close() }()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return resp.StatusCode, strings.TrimSpace(string(b))
}

// The caller's number is personal data: with the default configuration
// no line carries it in full (the default level is info, and the number
// is masked); log.caller_number debug shows it on debug lines only.
func TestCallerNumberNeverLoggedInFullByDefault(t *testing.T) {
	const ani = "+15550009876"
	t.Run("default", func(t *testing.T) {
		r := startServe(t, "log: {format: json}")
		r.call(t, ani)
		if err := r.stop(); err != nil {
			t.Fatal(err)
		}
		logs := r.logs.String()
		if strings.Contains(logs, "0009876") {
			t.Fatalf("a log line carries the caller's number:\n%s", logs)
		}
		if !strings.Contains(logs, `"ani":"********9876"`) {
			t.Fatalf("the call's arrival is not logged with the masked number:\n%s", logs)
		}
	})
	t.Run("debug", func(t *testing.T) {
		r := startServe(t, "log: {level: debug, format: json, caller_number: debug}")
		r.call(t, ani)
		if err := r.stop(); err != nil {
			t.Fatal(err)
		}
		full := 0
		for _, line := range strings.Split(r.logs.String(), "\n") {
			if strings.Contains(line, "0009876") {
				full++
				if !strings.Contains(line, `"level":"DEBUG"`) {
					t.Errorf("the full number on a line above debug: %s", line)
				}
			}
		}
		if full == 0 {
			t.Fatal("no debug line carries the full number")
		}
	})
}

func freeAddr(t *testing.T) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = l.Close() }()
	return l.Addr().String()
}

func activeApp(t *testing.T, base, app string) bool {
	req, _ := http.NewRequest(http.MethodGet, base+"/ari/applications/"+app, nil)
	req.SetBasicAuth("tandem", "pw")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return false
	}
	_ = resp.Body.Close()
	return resp.StatusCode == http.StatusOK
}

func post(t *testing.T, url, body string) {
	t.Helper()
	req, _ := http.NewRequest(http.MethodPost, url, strings.NewReader(body))
	req.Header.Set("Authorization", "Bearer agent-token")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = resp.Body.Close() }()
	if resp.StatusCode != http.StatusOK {
		b, _ := io.ReadAll(resp.Body)
		t.Fatalf("POST %s: %d %s", url, resp.StatusCode, b)
	}
}

func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

type syncBuffer = syncbuf.Buffer

func scrapeMetrics(t *testing.T, url string) map[string]*dto.MetricFamily {
	t.Helper()
	resp, err := http.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = resp.Body.Close() }()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("GET %s: %s", url, resp.Status)
	}
	p := expfmt.NewTextParser(model.UTF8Validation)
	fams, err := p.TextToMetricFamilies(resp.Body)
	if err != nil {
		t.Fatalf("parse %s: %v", url, err)
	}
	return fams
}

// metricValue sums a family's series: counter and gauge values, histogram
// sample counts.
func metricValue(f *dto.MetricFamily) float64 {
	var sum float64
	for _, m := range f.GetMetric() {
		sum += m.GetCounter().GetValue() + m.GetGauge().GetValue() + float64(m.GetHistogram().GetSampleCount())
	}
	return sum
}
