// Package lab assembles a whole Tandem world in one process: a Redis (a
// private redis-server unless one is given), the Asterisk simulator, and N
// Tandem replicas, each with its own Stasis application and ARI driver,
// sharing queues and agents through Redis. End-to-end tests and `tandem
// demo` both run on it.
package lab

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"sync"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/tandem-cc/tandem/acd"
	"github.com/tandem-cc/tandem/ari"
	"github.com/tandem-cc/tandem/internal/luascript"
	"github.com/tandem-cc/tandem/internal/redisserver"
	"github.com/tandem-cc/tandem/metrics"
	"github.com/tandem-cc/tandem/pbxsim"
)

// Options shape a lab.
type Options struct {
	Replicas int // default 1
	// RedisAddr uses an existing Redis; empty starts a private redis-server.
	RedisAddr string
	Prefix    string // key prefix; default "tandem"
	Queues    map[string]acd.QueueSettings
	DNIS      map[string]string
	// DefaultQueue takes calls nothing else routes.
	DefaultQueue string
	// SimTiming tunes the simulator's scripted delays.
	SimTiming pbxsim.Timing
	// RequestTimeout bounds each ARI REST call (default 5s).
	RequestTimeout time.Duration
	// SweepInterval is the engines' safety-net period (default 1s).
	SweepInterval time.Duration
	Logger        *slog.Logger
	// Engine sets the engines' call-control rules (wrap-up, dial plan,
	// recording...); its Store, PBX, Queues, DNIS, DefaultQueue,
	// SweepInterval and Logger are filled in by the lab.
	Engine acd.Options
	// WrapPBX, if set, wraps each replica's PBX port (tests hold a command
	// there to stage a race deterministically).
	WrapPBX func(node string, pbx acd.PBX) acd.PBX
}

// Replica is one Tandem instance of the lab.
type Replica struct {
	Node   string
	App    string
	Store  *acd.Store
	Engine *acd.Engine
	Driver *ari.Driver
	// Metrics are the replica's own registry (served at /metrics).
	Metrics *metrics.Metrics
	// rdb is the replica's own Redis client, so that its Redis errors and
	// script latencies are counted in its own registry.
	rdb *redis.Client

	// sweeps counts the engine's finished sweep passes; swept is closed
	// and replaced at each (WaitSweeps).
	sweepMu sync.Mutex
	sweeps  int
	swept   chan struct{}

	cancel   context.CancelFunc
	done     chan error
	stopOnce sync.Once
	stopErr  error
}

// Lab is a running world.
type Lab struct {
	RDB      *redis.Client
	Sim      *pbxsim.Sim
	ARIURL   string
	Replicas []*Replica
	opts     Options

	redis  *redisserver.Server
	server *http.Server
	wg     sync.WaitGroup
}

const ariUser, ariPass = "tandem", "tandem-secret"

// Start builds and starts a lab; Close stops it.
func Start(ctx context.Context, opts Options) (l *Lab, err error) {
	if opts.Replicas <= 0 {
		opts.Replicas = 1
	}
	if opts.Prefix == "" {
		opts.Prefix = "tandem"
	}
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.DiscardHandler)
	}
	if opts.RequestTimeout <= 0 {
		opts.RequestTimeout = 5 * time.Second
	}
	l = &Lab{opts: opts}
	defer func() {
		if err != nil {
			l.Close()
		}
	}()
	addr := opts.RedisAddr
	if addr == "" {
		if l.redis, err = redisserver.Start(ctx); err != nil {
			return nil, err
		}
		addr = l.redis.Addr
	}
	l.RDB = redis.NewClient(&redis.Options{Addr: addr, PoolSize: 64, ContextTimeoutEnabled: true})
	if err := l.RDB.Ping(ctx).Err(); err != nil {
		return nil, fmt.Errorf("redis %s: %w", addr, err)
	}

	l.Sim = pbxsim.New(pbxsim.Options{Username: ariUser, Password: ariPass, Logger: opts.Logger, Timing: opts.SimTiming})
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, fmt.Errorf("listen for the simulator: %w", err)
	}
	l.ARIURL = "http://" + ln.Addr().String() + "/ari"
	l.server = &http.Server{Handler: l.Sim.Handler(), ReadHeaderTimeout: 5 * time.Second}
	l.wg.Add(1)
	go func() {
		defer l.wg.Done()
		_ = l.server.Serve(ln)
	}()

	for i := 1; i <= opts.Replicas; i++ {
		if _, err := l.AddReplica(ctx, fmt.Sprintf("r%d", i)); err != nil {
			return nil, err
		}
	}
	return l, nil
}

// AddReplica starts one more Tandem replica with node id node and Stasis
// application tandem-<node>, and waits until its event socket is up.
func (l *Lab) AddReplica(ctx context.Context, node string) (*Replica, error) {
	r := l.startReplica(node)
	l.Replicas = append(l.Replicas, r)
	if err := l.waitApp(ctx, r.App); err != nil {
		return nil, err
	}
	return r, nil
}

// RestartEngine stops replica i the way a crash would (its engine and
// driver end: the event socket goes, nothing is hung up or released; see
// Replica.Stop), then starts a new engine and driver for the same node and
// Stasis application in its place, as a restarted process would. The new
// engine rebuilds the node's calls (acd/reconcile.go); Engine.Reconciled,
// if set in the lab's options, says when that is done. Stopped already
// (Stop), the replica is only started again: a test acts on the PBX in
// between to stage what happens while no replica runs.
func (l *Lab) RestartEngine(i int) *Replica {
	old := l.Replicas[i]
	_ = old.Stop()
	_ = old.rdb.Close()
	r := l.startReplica(old.Node)
	l.Replicas[i] = r
	return r
}

// startReplica builds and starts one replica's engine and driver.
func (l *Lab) startReplica(node string) *Replica {
	r := &Replica{Node: node, App: "tandem-" + node, done: make(chan error, 1), Metrics: metrics.New(), swept: make(chan struct{})}
	r.rdb = redis.NewClient(&redis.Options{Addr: l.RDB.Options().Addr, PoolSize: 64, ContextTimeoutEnabled: true})
	r.rdb.AddHook(r.Metrics.RedisHook())
	r.rdb.AddHook(luascript.Hook(r.Metrics.ObserveScript))
	r.Store = acd.NewStore(r.rdb, l.opts.Prefix, node)
	log := l.opts.Logger.With("replica", node)
	r.Driver = ari.New(ari.Options{
		URL: l.ARIURL, Username: ariUser, Password: ariPass, App: r.App,
		RequestTimeout: l.opts.RequestTimeout, Logger: log,
	})
	eo := l.opts.Engine
	eo.Store, eo.PBX, eo.Queues, eo.DNIS = r.Store, r.Driver, l.opts.Queues, l.opts.DNIS
	if l.opts.WrapPBX != nil {
		eo.PBX = l.opts.WrapPBX(node, r.Driver)
	}
	eo.DefaultQueue, eo.SweepInterval, eo.Logger = l.opts.DefaultQueue, l.opts.SweepInterval, log
	eo.Metrics = r.Metrics
	swept := eo.Swept
	eo.Swept = func() {
		r.sweepDone()
		if swept != nil {
			swept()
		}
	}
	r.Engine = acd.NewEngine(eo)
	rctx, cancel := context.WithCancel(context.Background())
	r.cancel = cancel
	go func() { r.done <- r.Engine.Run(rctx) }()
	return r
}

func (r *Replica) sweepDone() {
	r.sweepMu.Lock()
	defer r.sweepMu.Unlock()
	r.sweeps++
	close(r.swept)
	r.swept = make(chan struct{})
}

// WaitSweeps waits until the replica's engine has run n whole sweep passes
// that began after the call (a pass under way when it is called does not
// count), so a test can assert that the safety net changed nothing
// instead of sleeping for "a while".
func (r *Replica) WaitSweeps(ctx context.Context, n int) error {
	r.sweepMu.Lock()
	want := r.sweeps + n + 1
	r.sweepMu.Unlock()
	for {
		r.sweepMu.Lock()
		got, ch := r.sweeps, r.swept
		r.sweepMu.Unlock()
		if got >= want {
			return nil
		}
		select {
		case <-ch:
		case <-ctx.Done():
			return fmt.Errorf("wait for %d sweeps of %s: %w", n, r.Node, ctx.Err())
		}
	}
}

// Stop stops one replica (as a crash would, from Asterisk's point of view:
// its event socket goes away).
func (r *Replica) Stop() error {
	r.stopOnce.Do(func() {
		r.cancel()
		r.stopErr = <-r.done
	})
	return r.stopErr
}

// waitApp polls ARI until the application is registered (its socket is up).
func (l *Lab) waitApp(ctx context.Context, app string) error {
	deadline := time.Now().Add(10 * time.Second)
	for time.Now().Before(deadline) {
		req, _ := http.NewRequestWithContext(ctx, http.MethodGet, l.ARIURL+"/applications/"+app, nil)
		req.SetBasicAuth(ariUser, ariPass)
		resp, err := http.DefaultClient.Do(req)
		if err == nil {
			_ = resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return nil
			}
		}
		if ctx.Err() != nil {
			return ctx.Err()
		}
		time.Sleep(10 * time.Millisecond)
	}
	return errors.New("application " + app + " never connected")
}

// Close stops every replica, the simulator and the private Redis.
func (l *Lab) Close() {
	for _, r := range l.Replicas {
		_ = r.Stop()
		_ = r.rdb.Close()
	}
	if l.Sim != nil {
		l.Sim.Close()
	}
	if l.server != nil {
		_ = l.server.Close()
	}
	l.wg.Wait()
	if l.RDB != nil {
		_ = l.RDB.Close()
	}
	if l.redis != nil {
		l.redis.Stop()
	}
}
