package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"strings"
	"time"

	"github.com/redis/go-redis/v9"
	"github.com/spf13/pflag"
	"golang.org/x/sync/errgroup"

	"github.com/tandem-cc/tandem/acd"
	"github.com/tandem-cc/tandem/api"
	"github.com/tandem-cc/tandem/config"
	"github.com/tandem-cc/tandem/internal/httpserver"
	"github.com/tandem-cc/tandem/internal/luascript"
	"github.com/tandem-cc/tandem/internal/pii"
	"github.com/tandem-cc/tandem/metrics"
	"github.com/tandem-cc/tandem/web"
)

// shutdownGrace bounds how long in-flight API requests may finish after
// SIGINT/SIGTERM.
const shutdownGrace = 10 * time.Second

// readyRedisTimeout bounds the PING of a readiness probe: a Redis slower
// than this is as good as absent to the calls this replica would take.
const readyRedisTimeout = time.Second

// serve runs one production replica: the PBX drivers (one per node, pbx.go)
// and ACD engine for its application, and the agent/supervisor HTTP API, until ctx ends.
func serve(ctx context.Context, args []string, stderr io.Writer) error {
	fs := pflag.NewFlagSet("tandem serve", pflag.ContinueOnError)
	config.RegisterFlags(fs)
	fs.Usage = func() {
		_, _ = fmt.Fprintf(stderr, "Usage: tandem serve [flags]\n\nRuns one replica. Every key can also come from a YAML file or TANDEM_* environment variables; see config/REFERENCE.md.\n\n%s", fs.FlagUsages())
	}
	if err := parse(fs, args, stderr); err != nil {
		return err
	}
	cfg, err := config.Load(fs)
	if err != nil {
		return err
	}
	log, err := newLogger(stderr, cfg.Log.Level, cfg.Log.Format)
	if err != nil {
		return err
	}
	if len(cfg.Redis.Addresses()) == 0 {
		return errors.New("redis.addr is empty: set --redis-addr or TANDEM_REDIS_ADDR, or redis.addrs (only `tandem demo` starts its own Redis)")
	}
	// Before anything connects: a PBX setup serve cannot drive stops
	// the start, naming its key.
	pbxs, err := newPBXFactory(cfg)
	if err != nil {
		return err
	}
	log.Info("starting replica", "config", cfg)
	if len(cfg.Queues) == 0 {
		log.Warn("no queues configured: every call will be refused")
	}

	// The universal client is a plain client for one address, and a
	// Sentinel-backed failover client when redis.master_name is set (Validate
	// refuses the Cluster case: several addresses without a master name).
	rdb := redis.NewUniversalClient(&redis.UniversalOptions{
		Addrs: cfg.Redis.Addresses(), MasterName: cfg.Redis.MasterName,
		SentinelPassword: cfg.Redis.SentinelPassword,
		Password:         cfg.Redis.Password, DB: cfg.Redis.DB,
		// Without it a context deadline never reaches the socket.
		ContextTimeoutEnabled: true,
	})
	defer func() { _ = rdb.Close() }()
	// The replica's instruments, served at /metrics on the API port; the
	// hooks count Redis errors and time the Lua scripts.
	m := metrics.New()
	rdb.AddHook(m.RedisHook())
	rdb.AddHook(luascript.Hook(m.ObserveScript))
	pctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	err = rdb.Ping(pctx).Err()
	cancel()
	if err != nil {
		return fmt.Errorf("redis %s: %w", strings.Join(cfg.Redis.Addresses(), ","), err)
	}

	// The dialling policy and the agent endpoint patterns, compiled once
	// for every seat (Validate has checked they compile).
	dial, err := cfg.Dial.Engine()
	if err != nil {
		return err
	}
	endpoints, err := cfg.AgentEndpointPolicy()
	if err != nil {
		return fmt.Errorf("dial.agent_endpoints: %w", err)
	}
	// newEngine builds the engine of one seat: this replica's own, or the
	// seat of a replica that is gone, hosted here until it comes back.
	newEngine := func(seat acd.Seat, pbx acd.PBX, m *metrics.Metrics, log *slog.Logger) *acd.Engine {
		return acd.NewEngine(acd.Options{
			Store:         acd.NewStore(rdb, cfg.Redis.Prefix, seat.Node),
			PBX:           pbx,
			Queues:        cfg.EngineQueues(),
			DNIS:          cfg.Routing.DNIS,
			DefaultQueue:  cfg.Routing.DefaultQueue,
			SweepInterval: cfg.Routing.SweepInterval,
			Logger:        log,
			Policy:        acd.Policy{WrapUp: cfg.Agents.WrapUp.Timeout, MaxConcurrentCalls: cfg.Routing.MaxConcurrentCalls, LoggedOutTTL: cfg.Retention.LoggedOutAgents, SecureRetention: cfg.Retention.SecureValues},
			WrapUpCodes:   cfg.Agents.WrapUp.Codes, DefaultWrapUpCode: cfg.Agents.WrapUp.DefaultCode,
			IdleReasons:           cfg.Agents.IdleReasons,
			Dial:                  dial,
			Endpoints:             endpoints,
			PBXNodes:              cfg.PBXNodeNames(),
			PrivacyShield:         cfg.Recording.PrivacyShield,
			BlindTransferNoAnswer: cfg.Routing.BlindTransferNoAnswer,
			BusyMessage:           cfg.Routing.BusyMessage,
			CallbackLease:         cfg.Routing.CallbackLease,
			IVR:                   cfg.IVR.Engine(),
			Metrics:               m,
			CallerNumberLog:       pii.NumberMode(cfg.Log.CallerNumber),
			SampleInterval:        cfg.Wallboard.SampleInterval,
		})
	}
	home := acd.Seat{Node: cfg.NodeID, App: cfg.PBXApp()}
	pbx, outbound, err := pbxs.build(home.App, log)
	if err != nil {
		return err
	}
	// Outbound-mode nodes: listen before anything runs, so a busy port
	// fails the start.
	outLns := make([]net.Listener, len(outbound))
	for i, o := range outbound {
		ln, err := net.Listen("tcp", o.listen)
		if err != nil {
			for _, l := range outLns[:i] {
				_ = l.Close()
			}
			return fmt.Errorf("pbx node %s listen: %w", o.name, err)
		}
		outLns[i] = ln
	}
	engine := newEngine(home, pbx, m, log)
	ho := acd.HostOptions{
		RDB: rdb, Prefix: cfg.Redis.Prefix, Home: home, Engine: engine,
		Lease: cfg.Replicas.Lease, DrainTimeout: cfg.Replicas.DrainTimeout, Logger: log,
	}
	if cfg.Replicas.HostSeats {
		ho.Host = func(seat acd.Seat) (*acd.Engine, error) {
			hlog := log.With("hosted_seat", seat.Node)
			// The process's registry: /metrics counts every call this
			// process runs, its own seat's and the hosted ones'.
			spbx, _, err := pbxs.build(seat.App, hlog)
			if err != nil {
				return nil, err
			}
			return newEngine(seat, spbx, m, hlog), nil
		}
	}
	host := acd.NewSeatHost(ho)

	// The seats and the API outlive ctx (SIGTERM): the seats drain first,
	// and agents keep using the API while their calls are drained; then
	// run ends and stops the API.
	runCtx, stopRun := context.WithCancel(context.WithoutCancel(ctx))
	defer stopRun()
	g, gctx := errgroup.WithContext(runCtx)
	for i, o := range outbound {
		// New calls stop coming here at the stop request (FreeSWITCH's
		// dialplan tries the next replica's socket); the seats drain the
		// calls taken.
		octx, ostop := context.WithCancel(gctx)
		context.AfterFunc(ctx, ostop)
		g.Go(func() error {
			defer ostop()
			if err := o.d.ServeOutbound(octx, outLns[i]); err != nil {
				return fmt.Errorf("pbx node %s: %w", o.name, err)
			}
			return nil
		})
	}
	g.Go(func() error {
		defer stopRun()
		err := host.Run(gctx)
		if err == nil && gctx.Err() == nil && ctx.Err() == nil {
			// The seats only stop early on a fatal condition (for example a
			// later process of this node took the seat); stop the API too.
			err = errors.New("engine stopped")
		}
		if err != nil {
			return fmt.Errorf("engine: %w", err)
		}
		return nil
	})
	// The wallboard's queue history: this replica samples every queue
	// each wallboard.sample_interval, as every replica does (one sample
	// per slot is kept). It needs no seat, and stops with the run.
	g.Go(func() error { return engine.RunQueueHistory(gctx) })
	g.Go(func() error {
		select {
		case <-ctx.Done():
			log.Info("stop requested: draining the seats")
			host.Drain()
		case <-gctx.Done():
		}
		return nil
	})
	if cfg.HTTP.Listen != "" {
		// Listen before anything is served, so a busy port fails the start.
		// The server bounds headers, idle connections and their number;
		// the API bounds each request and limits each token's writes.
		handler := api.New(engine, cfg.Auth, log, api.WithMetrics(m.Handler()),
			api.WithReadiness(readiness(pbx, host, rdb, log)), api.WithLimits(cfg.HTTP),
			api.WithAllowedOrigins(cfg.HTTP.AllowedOrigins), api.WithReplicas(cfg.Web.ReplicaBases()),
			api.WithWeb(webPages(cfg)))
		srv, ln, err := httpserver.Listen(cfg.HTTP.Listen, handler, httpserver.Options{
			HTTP: cfg.HTTP,
			// Agent WebSockets end with the replica: Shutdown neither waits
			// for nor closes upgraded connections, their request context does.
			BaseContext: gctx, Logger: log,
		})
		if err != nil {
			return fmt.Errorf("http.listen: %w", err)
		}
		g.Go(func() error {
			log.Info("api listening", "addr", ln.Addr().String())
			if err := srv.Serve(ln); !errors.Is(err, http.ErrServerClosed) {
				return fmt.Errorf("api: %w", err)
			}
			return nil
		})
		g.Go(func() error {
			<-gctx.Done()
			sctx, cancel := context.WithTimeout(context.WithoutCancel(gctx), shutdownGrace)
			defer cancel()
			if err := srv.Shutdown(sctx); err != nil {
				return fmt.Errorf("api shutdown: %w", err)
			}
			return nil
		})
	}
	err = g.Wait()
	if ctx.Err() != nil && err == nil {
		log.Info("stopped")
	}
	return err
}

// readiness is /readyz's check: "seat" while this replica does not hold
// its home seat's lease or is draining, "pbx" while a node's driver is
// not connected (not yet, reconnecting, or replaced: an Asterisk's Stasis
// application, a FreeSWITCH's event socket; with several nodes, any one), "redis" while Redis does not answer PING within
// readyRedisTimeout.
func readiness(pbx interface{ Connected() bool }, seat interface{ Ready() bool }, rdb redis.UniversalClient, log *slog.Logger) func(context.Context) []string {
	return func(ctx context.Context) []string {
		var missing []string
		if !seat.Ready() {
			missing = append(missing, "seat")
		}
		if !pbx.Connected() {
			missing = append(missing, "pbx")
		}
		pctx, cancel := context.WithTimeout(ctx, readyRedisTimeout)
		defer cancel()
		if err := rdb.Ping(pctx).Err(); err != nil {
			// Debug: a probe runs every few seconds, and the engine logs
			// its own Redis failures.
			log.Debug("readiness: redis ping failed", "err", err)
			missing = append(missing, "redis")
		}
		return missing
	}
}

// webPages is the handler of the agent desktop and the wallboard (package
// web) when web.enabled, nil otherwise: api.WithWeb serves no pages then.
func webPages(cfg config.Config) http.Handler {
	if !cfg.Web.Enabled {
		return nil
	}
	// The replicas the pages may call besides this one widen the pages'
	// Content-Security-Policy (connect-src), nothing else.
	return web.Handler(web.Options{Replicas: cfg.Web.ReplicaBases()})
}
