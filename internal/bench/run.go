package bench

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"github.com/redis/go-redis/v9"
	"golang.org/x/sync/errgroup"

	"github.com/tandem-cc/tandem/internal/keyspace"
	"github.com/tandem-cc/tandem/internal/redisserver"
	"github.com/tandem-cc/tandem/metrics"
)

// What the generated world is made of.
const (
	queueName       = "bench"
	dnis            = "5551000"
	keyPrefix       = "bench"
	ariUser         = "bench"
	ariPassword     = "bench-ari-password"
	supervisorToken = "bench-supervisor-token"
	phoneFormat     = "PJSIP/bench-%d"
	// answerSettle is how long an agent's phone takes to answer: the
	// simulator's shortest, so the routing phase measures Tandem, not
	// ringing.
	answerSettle = time.Millisecond
	// workers bound the concurrent API requests of logins and
	// availability changes.
	workers = 16
	// stopGrace is how long a child has to exit after SIGTERM.
	stopGrace = 10 * time.Second
)

// world is everything one run started.
type world struct {
	opts     Options
	dir      string
	redis    *redisserver.Server
	rdb      *redis.Client
	redisPID int
	sim      *child
	simCtl   simClient
	simPprof string // host:port, "" without profiling
	replicas []*replica
	hc       *http.Client
	placed   int // callers placed so far
}

type replica struct {
	*child
	node  string
	api   string // http://host:port
	pprof string // host:port, "" without profiling
}

// Run starts a world, runs both phases and returns the report. The error
// says which step failed; the children's logs stay in the run's
// directory then (named in the error).
func Run(ctx context.Context, opts Options) (Report, error) {
	opts = opts.withDefaults()
	if err := opts.validate(); err != nil {
		return Report{}, err
	}
	w := &world{opts: opts, hc: &http.Client{Timeout: 30 * time.Second, Transport: &http.Transport{MaxIdleConnsPerHost: workers * 2}}}
	defer w.hc.CloseIdleConnections()
	dir, keep := opts.Dir, true
	if dir == "" {
		d, err := os.MkdirTemp("", "tandem-bench-")
		if err != nil {
			return Report{}, fmt.Errorf("bench: %w", err)
		}
		dir, keep = d, false
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return Report{}, fmt.Errorf("bench: %w", err)
	}
	w.dir = dir
	defer w.close()

	r, err := w.run(ctx)
	if err != nil {
		return r, fmt.Errorf("%w (logs in %s)", err, dir)
	}
	if !keep {
		w.close()
		_ = os.RemoveAll(dir)
	}
	return r, nil
}

func (w *world) logf(format string, args ...any) {
	_, _ = fmt.Fprintf(w.opts.Progress, format+"\n", args...)
}

func (w *world) run(ctx context.Context) (Report, error) {
	o := w.opts
	rep := Report{Replicas: o.Replicas, Agents: o.Agents, Waiting: o.Waiting}
	if err := w.start(ctx); err != nil {
		return rep, err
	}
	w.logf("logging %d agents in", o.Agents)
	if err := w.forAgents(ctx, func(i int, r *replica) error {
		body := fmt.Sprintf(`{"endpoint":%q,"queues":[%q]}`, fmt.Sprintf(phoneFormat, i), queueName)
		return w.post(ctx, r, fmt.Sprintf("/v1/agents/bench-%d/login", i), body)
	}); err != nil {
		return rep, err
	}

	// Phase 1: W callers wait, nobody available. Memory is measured as
	// the slope between a fifth of W waiting and all W, so what the first
	// call creates once (the queue's keys, the scripts Redis caches, the
	// event stream) does not count as the cost of a waiting call.
	began := time.Now()
	first := max(o.Waiting/5, 1)
	if first == o.Waiting {
		first = 0 // too few callers for a slope: measure from none
	}
	var low redisSample
	if first > 0 {
		if err := w.fillQueue(ctx, first); err != nil {
			return rep, err
		}
	}
	low, err := w.settledSample(ctx)
	if err != nil {
		return rep, err
	}
	if err := w.fillQueue(ctx, o.Waiting); err != nil {
		return rep, err
	}
	rep.ArrivalSeconds = time.Since(began).Seconds()
	filled, err := w.settledSample(ctx)
	if err != nil {
		return rep, err
	}
	grew := filled.UsedMemory - low.UsedMemory
	n := float64(o.Waiting - first)
	rep.MemoryPerWaitingCall = float64(grew) / n
	rep.DatasetPerWaitingCall = float64(filled.Dataset-low.Dataset) / n
	rep.KeysPerWaitingCall = float64(filled.Keys-low.Keys) / n
	w.logf("%d callers waiting after %.1fs; Redis used_memory +%d bytes from %d to %d waiting (%.0f per waiting call; dataset %.0f; keys %.1f)",
		o.Waiting, rep.ArrivalSeconds, grew, first, o.Waiting, rep.MemoryPerWaitingCall, rep.DatasetPerWaitingCall, rep.KeysPerWaitingCall)

	// Phase 2: routing.
	s0, err := w.snapshot(ctx, true)
	if err != nil {
		return rep, err
	}
	profiles := w.startProfiles(ctx)
	began = time.Now()
	w.logf("making %d agents available; routing %d calls", o.Agents, o.Route)
	if err := w.forAgentsPaced(ctx, o.AvailableRate, func(i int, r *replica) error {
		return w.post(ctx, r, fmt.Sprintf("/v1/agents/bench-%d/available", i), "")
	}); err != nil {
		return rep, err
	}
	if err := w.waitBridged(ctx, s0.sim.CallsBridged+o.Route, began); err != nil {
		return rep, err
	}
	elapsed := time.Since(began)
	s1, err := w.snapshot(ctx, false)
	if err != nil {
		return rep, err
	}
	if err := profiles(); err != nil {
		return rep, err
	}
	if o.Audit > 0 {
		if rep.Audit, err = w.audit(ctx, s0.sim.CallsBridged+o.Waiting, o.Audit); err != nil {
			return rep, err
		}
	}
	rep.fill(s0, s1, elapsed)
	rep.Placed = w.placed
	rep.Checks = w.checks(s1)
	return rep, nil
}

// start brings up Redis, the simulator and the replicas, and waits until
// every replica holds its Stasis application.
func (w *world) start(ctx context.Context) error {
	o := w.opts
	w.logf("starting redis-server, the simulator and %d replica(s) in %s", o.Replicas, w.dir)
	var err error
	if w.redis, err = redisserver.Start(ctx); err != nil {
		return fmt.Errorf("bench: %w", err)
	}
	w.rdb = redis.NewClient(&redis.Options{Addr: w.redis.Addr})
	if w.redisPID, err = redisPID(ctx, w.rdb); err != nil {
		return err
	}

	ariAddr, err1 := freeAddr()
	ctlAddr, err2 := freeAddr()
	if err := errors.Join(err1, err2); err != nil {
		return err
	}
	args := []string{"sim", "--listen", ariAddr, "--control", ctlAddr, "--user", ariUser, "--password", ariPassword,
		"--phone-format", phoneFormat, "--phone-count", fmt.Sprint(o.Agents), "--ring-for", "0",
		"--answer-settle", answerSettle.String(), "--log-level", "warn"}
	if o.ProfileDir != "" {
		if w.simPprof, err = freeAddr(); err != nil {
			return err
		}
		args = append(args, "--pprof-listen", w.simPprof)
	}
	if w.sim, err = startChild(w.dir, "sim", o.Binary, args...); err != nil {
		return err
	}
	w.simCtl = simClient{base: "http://" + ctlAddr, hc: w.hc}
	if err := w.waitFor(ctx, "the simulator's control API", w.sim, func() bool {
		_, err := w.simCtl.stats(ctx)
		return err == nil
	}); err != nil {
		return err
	}

	for i := 1; i <= o.Replicas; i++ {
		r, err := w.startReplica(i, "http://"+ariAddr+"/ari")
		if err != nil {
			return err
		}
		w.replicas = append(w.replicas, r)
	}
	for _, r := range w.replicas {
		// /readyz is 200 once the replica holds its application and
		// Redis answers.
		if err := w.waitFor(ctx, r.node+" ready", r.child, func() bool { return w.get(ctx, r.api+"/readyz") == nil }); err != nil {
			return err
		}
	}
	return nil
}

func (w *world) startReplica(i int, ariURL string) (*replica, error) {
	listen, err := freeAddr()
	if err != nil {
		return nil, err
	}
	r := &replica{node: fmt.Sprintf("r%d", i), api: "http://" + listen}
	// Wrap-up 0: no after-call work, an agent is free, and handed the
	// next call, the moment its call ends (no wrap-up timer either). The
	// tool drives every agent through one supervisor token: its rate
	// limit is off, so the run measures the engine, not the limiter.
	cfg := fmt.Sprintf(`node_id: %s
redis: {addr: %q, prefix: %s}
ari: {url: %q, username: %s, password: %s, app: tandem-%s}
http: {listen: %q, rate_limit: {supervisor: {per_second: 0}}}
auth: {supervisors: [%s]}
routing: {default_queue: %s, dnis: {%q: %s}, ring_timeout: 15s}
queues: {%s: {moh_class: default}}
agents: {wrapup: {timeout: 0s}}
log: {level: warn, format: text}
`, r.node, w.redis.Addr, keyPrefix, ariURL, ariUser, ariPassword, r.node, listen, supervisorToken,
		queueName, dnis, queueName, queueName)
	path := filepath.Join(w.dir, r.node+".yaml")
	if err := os.WriteFile(path, []byte(cfg), 0o600); err != nil {
		return nil, fmt.Errorf("bench: write %s: %w", path, err)
	}
	args := []string{"serve", "--config", path}
	if w.opts.ProfileDir != "" && i == 1 {
		if r.pprof, err = freeAddr(); err != nil {
			return nil, err
		}
		// The hidden wrapper serves Go profiles, then runs serve.
		args = append([]string{ReplicaCommand, r.pprof}, args[1:]...)
	}
	if r.child, err = startChild(w.dir, r.node, w.opts.Binary, args...); err != nil {
		return nil, err
	}
	return r, nil
}

// ReplicaCommand is the hidden subcommand that runs `tandem serve` with
// Go profiles served on the address given as its first argument.
const ReplicaCommand = "bench-replica"

// waitFor polls ok until it holds, the child exits, or the phase times out.
func (w *world) waitFor(ctx context.Context, what string, c *child, ok func() bool) error {
	deadline := time.Now().Add(min(w.opts.Timeout, time.Minute))
	for !ok() {
		if gone, err := c.exited(); gone {
			return fmt.Errorf("bench: %s exited (%v) waiting for %s:\n%s", c.name, err, what, c.tail())
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("bench: timed out waiting for %s", what)
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("bench: waiting for %s: %w", what, ctx.Err())
		case <-time.After(20 * time.Millisecond):
		}
	}
	return nil
}

// forAgents runs f for agents 1..Agents, agent i on replica i mod R, a
// few at a time.
func (w *world) forAgents(ctx context.Context, f func(i int, r *replica) error) error {
	return w.forAgentsPaced(ctx, 0, f)
}

// forAgentsPaced is forAgents starting at most rate calls of f a second
// (0: as fast as the workers go).
func (w *world) forAgentsPaced(ctx context.Context, rate float64, f func(i int, r *replica) error) error {
	g, gctx := errgroup.WithContext(ctx)
	g.SetLimit(workers)
	start := time.Now()
	for i := 1; i <= w.opts.Agents; i++ {
		if rate > 0 {
			due := start.Add(time.Duration(float64(i-1) / rate * float64(time.Second)))
			select {
			case <-gctx.Done():
			case <-time.After(time.Until(due)):
			}
		}
		if gctx.Err() != nil {
			break
		}
		r := w.replicas[i%len(w.replicas)]
		g.Go(func() error { return f(i, r) })
	}
	if err := g.Wait(); err != nil {
		return fmt.Errorf("bench: %w", err)
	}
	return nil
}

func (w *world) post(ctx context.Context, r *replica, path, body string) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, r.api+path, strings.NewReader(body))
	if err != nil {
		return fmt.Errorf("POST %s: %w", path, err)
	}
	req.Header.Set("Authorization", "Bearer "+supervisorToken)
	if body != "" {
		req.Header.Set("Content-Type", "application/json")
	}
	return w.do(req)
}

func (w *world) get(ctx context.Context, url string) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return fmt.Errorf("GET %s: %w", url, err)
	}
	return w.do(req)
}

func (w *world) do(req *http.Request) error {
	resp, err := w.hc.Do(req)
	if err != nil {
		return fmt.Errorf("%s %s: %w", req.Method, req.URL.Path, err)
	}
	defer func() { _ = resp.Body.Close() }()
	b, _ := io.ReadAll(io.LimitReader(resp.Body, 4096))
	if resp.StatusCode/100 != 2 {
		return fmt.Errorf("%s %s: %s: %s", req.Method, req.URL.Path, resp.Status, strings.TrimSpace(string(b)))
	}
	return nil
}

// settle is how long the waiting phase lets the replicas finish what an
// arrival does after queueing the call (music on hold, events) before
// Redis memory is read.
const settle = time.Second

func (w *world) settledSample(ctx context.Context) (redisSample, error) {
	select {
	case <-ctx.Done():
		return redisSample{}, fmt.Errorf("bench: %w", ctx.Err())
	case <-time.After(settle):
	}
	return sampleRedis(ctx, w.rdb)
}

// fillQueue places callers who wait forever until target of them wait in
// the queue, at most Window of them arriving at once.
func (w *world) fillQueue(ctx context.Context, target int) error {
	o := w.opts
	waiting := keyspace.New(keyPrefix).Waiting(queueName)
	deadline := time.Now().Add(o.Timeout)
	lastLine := time.Now()
	for {
		queued, err := w.rdb.ZCard(ctx, waiting).Result()
		if err != nil {
			return fmt.Errorf("bench: count waiting calls: %w", err)
		}
		if int(queued) >= target {
			return nil
		}
		placed := w.placed
		if n := min(o.Window-(placed-int(queued)), target-placed); n > 0 {
			res, err := w.simCtl.place(ctx, CallsRequest{N: n, DNIS: dnis, TalkFor: Duration(o.Talk)})
			if err != nil {
				return fmt.Errorf("bench: %w", err)
			}
			if res.Refused > 0 {
				return fmt.Errorf("bench: %d calls refused: no Stasis application connected", res.Refused)
			}
			w.placed += res.Placed
		}
		if time.Since(lastLine) >= time.Second {
			lastLine = time.Now()
			w.logf("  placed %d, waiting %d", placed, queued)
		}
		if err := w.alive(); err != nil {
			return err
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("bench: timed out filling the queue: %d of %d waiting", queued, target)
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("bench: %w", ctx.Err())
		case <-time.After(10 * time.Millisecond):
		}
	}
}

// waitBridged waits until the simulator has bridged target calls in all.
func (w *world) waitBridged(ctx context.Context, target int, began time.Time) error {
	deadline := began.Add(w.opts.Timeout)
	lastLine := time.Now()
	for {
		st, err := w.simCtl.stats(ctx)
		switch {
		case err != nil && ctx.Err() == nil && time.Now().Before(deadline):
			// A simulator busy with thousands of channels can be slower
			// than the client's timeout; it is not broken for that.
			w.logf("  simulator slow to answer: %v", err)
		case err != nil:
			return fmt.Errorf("bench: %w", err)
		case st.CallsBridged >= target:
			return nil
		}
		if err == nil && time.Since(lastLine) >= time.Second {
			lastLine = time.Now()
			w.logf("  %5.1fs bridged %d (target %d), abandoned %d", time.Since(began).Seconds(), st.CallsBridged, target, st.CallsAbandoned)
		}
		if err := w.alive(); err != nil {
			return err
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("bench: timed out routing: %d of %d bridged", st.CallsBridged, target)
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("bench: %w", ctx.Err())
		case <-time.After(20 * time.Millisecond):
		}
	}
}

// alive fails when a child process has exited.
func (w *world) alive() error {
	cs := []*child{w.sim}
	for _, r := range w.replicas {
		cs = append(cs, r.child)
	}
	for _, c := range cs {
		if gone, err := c.exited(); gone {
			return fmt.Errorf("bench: %s exited (%v):\n%s", c.name, err, c.tail())
		}
	}
	return nil
}

// snap is every figure at one moment.
type snap struct {
	at       time.Time
	redis    redisSample
	cpuRedis float64
	cpuSim   float64
	cpuRep   []float64
	metrics  families
	sim      SimStats
}

// snapshot reads every figure. A /metrics scrape makes the replica read
// Redis (one HGET per call it holds and per agent: the state gauges), so
// the scrape is kept out of the measured window: before the counters at
// its start (scrapeFirst), after them at its end.
func (w *world) snapshot(ctx context.Context, scrapeFirst bool) (snap, error) {
	s := snap{metrics: families{}}
	scrapeAll := func() error {
		for _, r := range w.replicas {
			if err := scrape(ctx, w.hc, r.api+"/metrics", s.metrics); err != nil {
				return fmt.Errorf("bench: %w", err)
			}
		}
		return nil
	}
	if scrapeFirst {
		if err := scrapeAll(); err != nil {
			return s, err
		}
	}
	s.at = time.Now()
	var err error
	if s.cpuSim, err = cpuSeconds(w.sim.pid()); err != nil {
		return s, err
	}
	for _, r := range w.replicas {
		c, err := cpuSeconds(r.pid())
		if err != nil {
			return s, err
		}
		s.cpuRep = append(s.cpuRep, c)
	}
	if s.cpuRedis, err = cpuSeconds(w.redisPID); err != nil {
		return s, err
	}
	if s.redis, err = sampleRedis(ctx, w.rdb); err != nil {
		return s, err
	}
	if s.sim, err = w.simCtl.stats(ctx); err != nil {
		return s, fmt.Errorf("bench: %w", err)
	}
	if !scrapeFirst {
		if err := scrapeAll(); err != nil {
			return s, err
		}
	}
	return s, nil
}

// startProfiles starts CPU profiles of r1 and the simulator when asked;
// the returned function waits for them and writes them out.
func (w *world) startProfiles(ctx context.Context) func() error {
	if w.opts.ProfileDir == "" {
		return func() error { return nil }
	}
	if err := os.MkdirAll(w.opts.ProfileDir, 0o755); err != nil {
		return func() error { return fmt.Errorf("bench: profile dir: %w", err) }
	}
	var wg sync.WaitGroup
	errs := make([]error, 2)
	for i, p := range []struct{ addr, file string }{{w.replicas[0].pprof, "r1.pprof"}, {w.simPprof, "sim.pprof"}} {
		wg.Add(1)
		go func() {
			defer wg.Done()
			errs[i] = w.profile(ctx, p.addr, filepath.Join(w.opts.ProfileDir, p.file))
		}()
	}
	w.logf("profiling r1 and the simulator for %ds", w.opts.ProfileSeconds)
	return func() error {
		wg.Wait()
		return errors.Join(errs...)
	}
}

func (w *world) profile(ctx context.Context, addr, path string) error {
	url := fmt.Sprintf("http://%s/debug/pprof/profile?seconds=%d", addr, w.opts.ProfileSeconds)
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return fmt.Errorf("bench: profile: %w", err)
	}
	hc := &http.Client{Timeout: time.Duration(w.opts.ProfileSeconds)*time.Second + time.Minute}
	resp, err := hc.Do(req)
	if err != nil {
		return fmt.Errorf("bench: profile %s: %w", addr, err)
	}
	defer func() { _ = resp.Body.Close() }()
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("bench: profile %s: %s", addr, resp.Status)
	}
	f, err := os.Create(path)
	if err != nil {
		return fmt.Errorf("bench: profile: %w", err)
	}
	if _, err := io.Copy(f, resp.Body); err != nil {
		_ = f.Close()
		return fmt.Errorf("bench: profile %s: %w", path, err)
	}
	if err := f.Close(); err != nil {
		return fmt.Errorf("bench: profile %s: %w", path, err)
	}
	return nil
}

// checks are the invariants the simulator observed.
func (w *world) checks(s snap) Checks {
	return Checks{
		CallsRefused: s.sim.CallsFailed, CallsAbandoned: s.sim.CallsAbandoned,
		DoubleOffers: s.sim.DoubleOffers, AgentsWithTwoCalls: s.sim.AgentsWithTwoCalls,
		RedisIOErrors: int(s.metrics.sumWhere("tandem_redis_errors_total", "kind", "io")),
		PBXErrors:     int(s.metrics.sum("tandem_pbx_errors_total")),
	}
}

// close stops everything the run started; it may run twice.
func (w *world) close() {
	for _, r := range w.replicas {
		r.stop(stopGrace)
	}
	w.replicas = nil
	if w.sim != nil {
		w.sim.stop(stopGrace)
		w.sim = nil
	}
	if w.rdb != nil {
		_ = w.rdb.Close()
		w.rdb = nil
	}
	if w.redis != nil {
		w.redis.Stop()
		w.redis = nil
	}
}

// handoff reads the hand-off histogram every replica serves, merged.
func handoff(fs families) metrics.Summary {
	return metrics.HistogramSummary(fs.all(), metrics.HandoffName)
}
