// Package lab assembles a whole Tandem world in one process: a Redis (a
// private redis-server unless one is given), a simulated PBX (Asterisk by
// default, Options.PBX), and N Tandem replicas, each with its own
// application (owner) and driver, sharing queues and agents through
// Redis. End-to-end tests and `tandem demo` both run on it.
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
	"github.com/tandem-cc/tandem/internal/keyspace"
	"github.com/tandem-cc/tandem/internal/luascript"
	"github.com/tandem-cc/tandem/internal/redisserver"
	"github.com/tandem-cc/tandem/metrics"
	"github.com/tandem-cc/tandem/pbxsim"
	"github.com/tandem-cc/tandem/pbxsim/eslsim"
)

// Options shape a lab.
type Options struct {
	// PBX is the kind of PBX simulated, and so the driver the replicas
	// run (default Asterisk).
	PBX      PBXKind
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
	// WrapSim, if set, wraps the ARI simulator's HTTP handler (Asterisk
	// only) (tests hold an
	// ARI request there, as a starved Asterisk does, past the drivers'
	// request timeout and then let it through).
	WrapSim func(http.Handler) http.Handler
	// HostSeats makes each replica host the seats of replicas that are
	// gone (acd.SeatHost); off, a replica only ever holds its own seat.
	HostSeats bool
	// Lease is the seats' lease duration (default acd.DefaultLease), Poll
	// how often a replica looks for lapsed seats (default Lease/2),
	// DrainTimeout bounds a drain in place (default 30s).
	Lease        time.Duration
	Poll         time.Duration
	DrainTimeout time.Duration
	// Outbound (FreeSWITCH only) runs the lab in outbound mode: the
	// simulator's dialplan hands each call to the socket application at
	// each replica's address in replica order (the next on failure, or
	// when the connection ends while the call still waits in it), and
	// each replica's home driver listens on a 127.0.0.1 port of its own
	// (Replica.OutboundAddr). The list follows AddReplica and
	// RestartEngine (a restarted replica listens on a new port).
	Outbound bool

	// Sentinel, when set, connects the lab and its replicas through Redis
	// Sentinel instead of RedisAddr: go-redis's universal client with a
	// master name, as `tandem serve` does with redis.master_name.
	Sentinel *Sentinel
}

// Sentinel names the Sentinels to ask for a master's primary.
type Sentinel struct {
	MasterName string
	Addrs      []string // host:port of the Sentinels
}

// Replica is one Tandem instance of the lab.
type Replica struct {
	Node   string
	App    string
	Store  *acd.Store
	Engine *acd.Engine
	// PBX is the driver of the replica's home seat, whatever the kind;
	// Driver the same driver on Asterisk (nil on other kinds), for the
	// Asterisk-only tests.
	PBX    acd.PBX
	Driver *ari.Driver
	// OutboundAddr is where the replica takes the socket application's
	// calls (Options.Outbound), "" otherwise.
	OutboundAddr string
	// connected says whether the home seat's driver is connected.
	connected func() bool
	// Metrics are the replica's own registry (served at /metrics).
	Metrics *metrics.Metrics
	// rdb is the replica's own Redis client, so that its Redis errors and
	// script latencies are counted in its own registry.
	rdb redis.UniversalClient

	// sweeps counts the engine's finished sweep passes; swept is closed
	// and replaced at each (WaitSweeps).
	sweepMu sync.Mutex
	sweeps  int
	swept   chan struct{}

	// Host runs the replica's seats: its own (Engine) and, with
	// Options.HostSeats, those of replicas that are gone.
	Host *acd.SeatHost

	// seatEvents are the host's reports, in order; seatCh is closed and
	// replaced at each (WaitSeat).
	seatMu     sync.Mutex
	seatEvents []acd.SeatEvent
	seatCh     chan struct{}
	// hostedDrivers are the drivers of the seats hosted (by node), the
	// latest of each.
	hostedDrivers map[string]seatDriver

	cancel context.CancelFunc
	done   chan error
	// exited is closed when the seat host's Run returned, by itself or
	// stopped.
	exited   chan struct{}
	stopOnce sync.Once
	stopErr  error
}

// Lab is a running world.
type Lab struct {
	RDB *redis.Client
	// PBX is the simulated PBX the portable scenarios act on, whatever
	// its kind.
	PBX PBXSim
	// Sim and ARIURL are the ARI simulator and its URL on Asterisk (nil
	// and "" on other kinds, the mixed one included: its PBX is a
	// *MixedSim), for the tests about ARI itself (bridges by id,
	// applications, the WebSocket).
	Sim      *pbxsim.Sim
	ARIURL   string
	Replicas []*Replica
	opts     Options

	redis *redisserver.Server
	rig   pbxRig

	// leftoversMu guards leftoversWhy: why this lab's test may end with
	// calls not over or objects left at the PBX (AllowLeftovers).
	leftoversMu  sync.Mutex
	leftoversWhy string
}

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
	if opts.PBX, err = ParseKind(string(opts.PBX)); err != nil {
		return nil, err
	}
	if opts.Outbound && opts.PBX != FreeSWITCH {
		return nil, fmt.Errorf("lab: Outbound is FreeSWITCH's socket application; the lab's PBX is %s", opts.PBX)
	}
	l = &Lab{opts: opts}
	// built, not l: an error return sets l to nil before this runs.
	built := l
	defer func() {
		if err != nil {
			built.Close()
		}
	}()
	addr := opts.RedisAddr
	if s := opts.Sentinel; s != nil {
		addr = fmt.Sprintf("master %s through Sentinels %v", s.MasterName, s.Addrs)
		l.RDB = redis.NewFailoverClient(&redis.FailoverOptions{
			MasterName: s.MasterName, SentinelAddrs: s.Addrs, PoolSize: 64, ContextTimeoutEnabled: true,
		})
	} else {
		if addr == "" {
			if l.redis, err = redisserver.Start(ctx); err != nil {
				return nil, err
			}
			addr = l.redis.Addr
		}
		l.opts.RedisAddr = addr // the replicas' clients connect there
		l.RDB = redis.NewClient(&redis.Options{Addr: addr, PoolSize: 64, ContextTimeoutEnabled: true})
	}
	if err := l.RDB.Ping(ctx).Err(); err != nil {
		return nil, fmt.Errorf("redis %s: %w", addr, err)
	}

	if l.rig, err = startRig(l, opts); err != nil {
		return nil, err
	}
	l.PBX = l.rig.sim()

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
	r, err := l.startReplica(node)
	if err != nil {
		return nil, err
	}
	l.Replicas = append(l.Replicas, r)
	l.setOutbound()
	if err := r.waitHome(ctx); err != nil {
		return nil, err
	}
	return r, nil
}

// RestartEngine stops replica i the way a crash would (its engine and
// driver end: the event socket goes, nothing is hung up; see
// Replica.Stop, which also releases its seat), then starts a new engine and
// driver for the same node and Stasis application in its place, as a
// restarted process would. The new engine takes its seat and rebuilds the
// node's calls (acd/reconcile.go); Engine.Reconciled, if set in the lab's
// options, says when that is done. Stopped already (Stop), the replica is
// only started again: a test acts on the PBX in between to stage what
// happens while no replica runs. It does not wait for the new socket.
func (l *Lab) RestartEngine(i int) *Replica {
	old := l.Replicas[i]
	_ = old.Stop()
	_ = old.rdb.Close()
	r, err := l.startReplica(old.Node)
	if err != nil {
		// newSeatEngine fails only on a PBX configuration the lab builds
		// itself (the mixed lab's mux), the same every time: a replica
		// that cannot be built again is a bug of the lab.
		panic(fmt.Sprintf("lab: restart %s: %v", old.Node, err))
	}
	l.Replicas[i] = r
	l.setOutbound()
	return r
}

// setOutbound gives the simulator's outbound dialplan the replicas'
// addresses, in replica order (Options.Outbound).
func (l *Lab) setOutbound() {
	s, ok := l.PBX.(*eslsim.Sim)
	if !l.opts.Outbound || !ok {
		return
	}
	var addrs []string
	for _, r := range l.Replicas {
		if r.OutboundAddr != "" {
			addrs = append(addrs, r.OutboundAddr)
		}
	}
	s.SetOutbound(addrs)
}

// startReplica builds one replica (its seat host, with its home engine and
// driver) and starts it.
func (l *Lab) startReplica(node string) (*Replica, error) {
	r := &Replica{Node: node, App: "tandem-" + node, done: make(chan error, 1), Metrics: metrics.New(), swept: make(chan struct{}),
		seatCh: make(chan struct{}), hostedDrivers: map[string]seatDriver{}, exited: make(chan struct{})}
	r.rdb = l.newRedisClient()
	r.rdb.AddHook(r.Metrics.RedisHook())
	r.rdb.AddHook(luascript.Hook(r.Metrics.ObserveScript))
	r.Store = acd.NewStore(r.rdb, l.opts.Prefix, node)
	log := l.opts.Logger.With("replica", node)
	var err error
	var home seatDriver
	if r.Engine, home, err = l.newSeatEngine(r, acd.Seat{Node: node, App: r.App}, r.Store, r.Metrics, log, true); err != nil {
		return nil, err
	}
	r.PBX, r.Driver, r.connected = home.pbx, home.ari, home.connected
	ho := acd.HostOptions{
		RDB: r.rdb, Prefix: l.opts.Prefix, Home: acd.Seat{Node: node, App: r.App}, Engine: r.Engine,
		Lease: l.opts.Lease, Poll: l.opts.Poll, DrainTimeout: l.opts.DrainTimeout, Logger: log,
		Observe: r.seatEvent,
	}
	if l.opts.HostSeats {
		ho.Host = func(seat acd.Seat) (*acd.Engine, error) {
			hlog := log.With("hosted_seat", seat.Node)
			e, d, err := l.newSeatEngine(r, seat, acd.NewStore(r.rdb, l.opts.Prefix, seat.Node), metrics.New(), hlog, false)
			if err != nil {
				return nil, err
			}
			r.seatMu.Lock()
			r.hostedDrivers[seat.Node] = d
			r.seatMu.Unlock()
			return e, nil
		}
	}
	r.Host = acd.NewSeatHost(ho)
	var outLn net.Listener
	if l.opts.Outbound && home.esl != nil {
		if outLn, err = net.Listen("tcp", "127.0.0.1:0"); err != nil {
			return nil, fmt.Errorf("lab: outbound listener of %s: %w", node, err)
		}
		r.OutboundAddr = outLn.Addr().String()
	}
	rctx, cancel := context.WithCancel(context.Background())
	r.cancel = cancel
	go func() {
		var serving sync.WaitGroup
		if outLn != nil {
			serving.Add(1)
			go func() {
				defer serving.Done()
				if err := home.esl.ServeOutbound(rctx, outLn); err != nil {
					log.Error("outbound listener", "err", err)
				}
			}()
		}
		err := r.Host.Run(rctx)
		cancel() // the listener goes with the seats
		serving.Wait()
		close(r.exited)
		r.done <- err
	}()
	return r, nil
}

// newSeatEngine builds the engine and driver of one seat run by r: its
// home seat (home: sweeps counted for WaitSweeps) or one it hosts.
func (l *Lab) newSeatEngine(r *Replica, seat acd.Seat, store *acd.Store, m *metrics.Metrics, log *slog.Logger, home bool) (*acd.Engine, seatDriver, error) {
	d, err := l.rig.driver(seat, log)
	if err != nil {
		return nil, seatDriver{}, err
	}
	eo := l.opts.Engine
	eo.Store, eo.PBX, eo.Queues, eo.DNIS = store, d.pbx, l.opts.Queues, l.opts.DNIS
	if eo.PBXNodes == nil {
		// As tandem serve passes its pbx.nodes: on several nodes a login
		// must name its node.
		eo.PBXNodes = l.rig.nodes()
	}
	if l.opts.WrapPBX != nil {
		eo.PBX = l.opts.WrapPBX(seat.Node, d.pbx)
	}
	eo.DefaultQueue, eo.SweepInterval, eo.Logger = l.opts.DefaultQueue, l.opts.SweepInterval, log
	eo.Metrics = m
	if home {
		swept := eo.Swept
		eo.Swept = func() {
			r.sweepDone()
			if swept != nil {
				swept()
			}
		}
	}
	return acd.NewEngine(eo), d, nil
}

func (r *Replica) seatEvent(ev acd.SeatEvent) {
	r.seatMu.Lock()
	defer r.seatMu.Unlock()
	r.seatEvents = append(r.seatEvents, ev)
	close(r.seatCh)
	r.seatCh = make(chan struct{})
}

// SeatEvents returns what the replica's seat host reported so far.
func (r *Replica) SeatEvents() []acd.SeatEvent {
	r.seatMu.Lock()
	defer r.seatMu.Unlock()
	return append([]acd.SeatEvent(nil), r.seatEvents...)
}

// WaitSeat waits until the seat host reported an event matching ok (one
// already reported counts) and returns it.
func (r *Replica) WaitSeat(ctx context.Context, what string, ok func(acd.SeatEvent) bool) (acd.SeatEvent, error) {
	for {
		r.seatMu.Lock()
		evs, ch := r.seatEvents, r.seatCh
		r.seatMu.Unlock()
		for _, ev := range evs {
			if ok(ev) {
				return ev, nil
			}
		}
		select {
		case <-ch:
		case <-ctx.Done():
			return acd.SeatEvent{}, fmt.Errorf("%s: wait for %s: %w (seen %+v)", r.Node, what, ctx.Err(), evs)
		}
	}
}

// Exited is closed once the replica stopped running its seats, by itself
// (a fatal condition) or stopped.
func (r *Replica) Exited() <-chan struct{} { return r.exited }

// HostedConnected says whether r hosts seat node and that seat's driver
// (the latest one) is connected to the PBX, whatever the PBX's kind.
func (r *Replica) HostedConnected(node string) bool {
	r.seatMu.Lock()
	d, ok := r.hostedDrivers[node]
	r.seatMu.Unlock()
	return ok && d.connected()
}

// Connected says whether the driver of r's home seat is connected to the
// PBX, whatever the PBX's kind.
func (r *Replica) Connected() bool { return r.connected() }

// waitHome waits until the replica holds its home seat and its driver's
// socket for its application is up.
func (r *Replica) waitHome(ctx context.Context) error {
	ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	if _, err := r.WaitSeat(ctx, "home seat", func(ev acd.SeatEvent) bool { return ev.Kind == acd.SeatAcquired && !ev.Hosted }); err != nil {
		select {
		case err := <-r.done:
			r.done <- err
			return fmt.Errorf("replica %s stopped: %w", r.Node, err)
		default:
		}
		return err
	}
	for !r.connected() {
		select {
		case err := <-r.done:
			r.done <- err
			return fmt.Errorf("replica %s stopped: %w", r.Node, err)
		case <-ctx.Done():
			return errors.New("application " + r.App + " never connected")
		case <-time.After(5 * time.Millisecond):
		}
	}
	return nil
}

// newRedisClient is a replica's own client: go-redis's universal client,
// built as `tandem serve` builds it (a plain client for one address, a
// Sentinel-backed failover client with a master name).
func (l *Lab) newRedisClient() redis.UniversalClient {
	o := &redis.UniversalOptions{Addrs: []string{l.opts.RedisAddr}, PoolSize: 64, ContextTimeoutEnabled: true}
	if s := l.opts.Sentinel; s != nil {
		o.Addrs, o.MasterName = s.Addrs, s.MasterName
	}
	return redis.NewUniversalClient(o)
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
// its event socket goes away), then gives its home seat up, as a replica
// that stops cleanly but without draining: it is seen as gone at once.
func (r *Replica) Stop() error {
	r.stopOnce.Do(func() {
		r.cancel()
		r.stopErr = <-r.done
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		if err := r.Host.ReleaseHome(ctx); err != nil && r.stopErr == nil {
			r.stopErr = err
		}
	})
	return r.stopErr
}

// Crash stops one replica like kill -9: its engines and drivers stop with
// no clean-up and no seat released; then its home seat's lease is deleted,
// as if its TTL had run out (no waiting on real time). Seats it hosted keep
// their leases until they run out.
func (r *Replica) Crash(ctx context.Context, rdb *redis.Client, prefix string) error {
	r.stopOnce.Do(func() {
		r.cancel()
		r.stopErr = <-r.done
	})
	if err := rdb.Del(ctx, keyspace.New(prefix).ReplicaAlive(r.Node)).Err(); err != nil {
		return fmt.Errorf("expire %s's lease: %w", r.Node, err)
	}
	return nil
}

// Drain is what `tandem serve` does on SIGTERM: the replica drains its
// seats (handed over at once if another replica is alive, else drained in
// place) and stops; Drain returns when it has.
func (r *Replica) Drain() error {
	r.stopOnce.Do(func() {
		r.Host.Drain()
		r.stopErr = <-r.done
	})
	return r.stopErr
}

// Close stops every replica, the simulator and the private Redis.
func (l *Lab) Close() {
	for _, r := range l.Replicas {
		_ = r.Stop()
		_ = r.rdb.Close()
	}
	if l.rig != nil {
		l.rig.close()
	}
	if l.RDB != nil {
		_ = l.RDB.Close()
	}
	if l.redis != nil {
		l.redis.Stop()
	}
}
