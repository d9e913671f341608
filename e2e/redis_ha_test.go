package e2e

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/tandem-cc/tandem/acd"
	"github.com/tandem-cc/tandem/agents"
	"github.com/tandem-cc/tandem/callbacks"
	"github.com/tandem-cc/tandem/internal/lab"
	"github.com/tandem-cc/tandem/internal/redisserver"
	"github.com/tandem-cc/tandem/pbxsim"
)

// High availability of Redis, with real servers from Debian's packages:
// a Sentinel failover of the primary while calls flow, and a restart of a
// Redis with AOF persistence. docs/REDIS.md is what these tests back.

// haWait bounds every wait of these tests: generous, since CI shares two
// cores among a primary, a replica, three Sentinels, the simulator and
// the replicas.
const haWait = 2 * time.Minute

// haStep logs when a stage of a test is reached, so that a slow run shows
// where its time went.
func haStep(t *testing.T, what string) {
	t.Helper()
	t.Logf("%s: %s", time.Now().Format("15:04:05.000"), what)
}

func haLogger() *slog.Logger {
	if os.Getenv("TANDEM_TEST_LOG") != "" {
		return slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelDebug}))
	}
	return slog.New(slog.DiscardHandler)
}

func startRedis(t *testing.T, cfg redisserver.Config) *redisserver.Server {
	t.Helper()
	s, err := redisserver.StartWith(context.Background(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(s.Stop)
	return s
}

// redisClient is a plain client to one server (not through Sentinel), to
// look at that server itself.
func redisClient(t *testing.T, addr string) *redis.Client {
	t.Helper()
	c := redis.NewClient(&redis.Options{Addr: addr, MaxRetries: -1})
	t.Cleanup(func() { _ = c.Close() })
	return c
}

// infoField reads one field of INFO <section> ("" when absent or on error).
func infoField(c *redis.Client, section, field string) string {
	info, err := c.Info(context.Background(), section).Result()
	if err != nil {
		return ""
	}
	for _, line := range strings.Split(info, "\r\n") {
		if v, ok := strings.CutPrefix(line, field+":"); ok {
			return v
		}
	}
	return ""
}

// haAgents logs agents in through every replica, with phones that answer,
// and a supervisor who puts any agent in RONA back (a ring can time out
// while Redis is switching over); stop ends the supervisor.
func haAgents(t *testing.T, l *lab.Lab, n int) (stop func()) {
	t.Helper()
	for i := 0; i < n; i++ {
		phone := pbxsim.Phone{Mode: pbxsim.Answer, RingFor: time.Duration(20+10*i) * time.Millisecond,
			TalkFor: time.Duration(100+20*i) * time.Millisecond}
		login(t, l, i%len(l.Replicas), fmt.Sprintf("agent%02d", i), l.Endpoint(fmt.Sprint(1000+i)), phone, "sales")
	}
	return putRONABack(l, n)
}

// waitAllEnded waits until the lab holds want interactions, every one of
// them ended (answered and finished: none failed, none abandoned, since
// the callers wait as long as it takes), and every agent is available
// again.
func waitAllEnded(t *testing.T, l *lab.Lab, want, agentsN int) {
	t.Helper()
	var last []string
	waitFor(t, haWait, fmt.Sprintf("%d interactions ended", want), func() bool {
		all := interactions(t, l)
		last = last[:0]
		for _, ix := range all {
			if ix.State != acd.StateEnded {
				last = append(last, ix.ConnectionID+":"+ix.State)
			}
		}
		return len(all) == want && len(last) == 0
	})
	if t.Failed() {
		t.Logf("not ended: %v", last)
	}
	for i := 0; i < agentsN; i++ {
		waitAgent(t, l, fmt.Sprintf("agent%02d", i), agents.Available)
	}
	if !l.PBX.WaitIdle(haWait) {
		t.Fatalf("channels left on the PBX: %d", len(l.PBX.Channels()))
	}
	st := l.PBX.Stats()
	if st.DoubleOffers != 0 || st.AgentsWithTwoCalls != 0 || st.CallsFailed != 0 || st.CallsAbandoned != 0 {
		t.Fatalf("PBX saw %+v", st)
	}
	checkHistory(t, l)
}

// haRedis is a primary, its replica and three Sentinels (quorum 2)
// monitoring it as master, with plain clients to each server.
type haRedis struct {
	primary, replica *redisserver.Server
	pc, rc           *redis.Client
	replicaPort      string
	addrs            []string // the Sentinels'
	sentinels        []*redis.SentinelClient
}

// startSentinels starts a haRedis whose Sentinels think the primary down
// after downAfter (0: their 30 s default) and waits until each knows the
// replica and the other two.
func startSentinels(t *testing.T, master string, downAfter time.Duration) haRedis {
	t.Helper()
	ctx := context.Background()
	var hs haRedis
	hs.primary = startRedis(t, redisserver.Config{})
	hs.replica = startRedis(t, redisserver.Config{ReplicaOf: hs.primary.Addr})
	hs.pc, hs.rc = redisClient(t, hs.primary.Addr), redisClient(t, hs.replica.Addr)
	waitFor(t, haWait, "the replica in sync", func() bool { return infoField(hs.rc, "replication", "master_link_status") == "up" })
	haStep(t, "the replica in sync")
	for i := 0; i < 3; i++ {
		s, err := redisserver.StartSentinel(ctx, redisserver.SentinelConfig{MasterName: master, Primary: hs.primary.Addr, Quorum: 2, DownAfter: downAfter})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(s.Stop)
		hs.addrs = append(hs.addrs, s.Addr)
		sc := redis.NewSentinelClient(&redis.Options{Addr: s.Addr, MaxRetries: -1})
		t.Cleanup(func() { _ = sc.Close() })
		hs.sentinels = append(hs.sentinels, sc)
	}
	// A Sentinel learns the replica from the primary's INFO, and the
	// other Sentinels from their hello messages; it can promote nobody
	// before.
	_, hs.replicaPort, _ = strings.Cut(hs.replica.Addr, ":")
	waitFor(t, haWait, "every Sentinel knows the replica and the other Sentinels", func() bool {
		for _, sc := range hs.sentinels {
			m, err := sc.Master(ctx, master).Result()
			if err != nil || m["num-slaves"] != "1" || m["num-other-sentinels"] != "2" {
				return false
			}
			rs, err := sc.Replicas(ctx, master).Result()
			if err != nil || len(rs) != 1 || rs[0]["port"] != hs.replicaPort || strings.Contains(rs[0]["flags"], "down") ||
				rs[0]["master-link-status"] != "ok" {
				return false
			}
		}
		return true
	})
	haStep(t, "every Sentinel knows the replica and the other Sentinels")
	return hs
}

// waitPromoted waits until every Sentinel names the replica as master's
// primary.
func (hs haRedis) waitPromoted(t *testing.T, master string) {
	t.Helper()
	waitFor(t, haWait, "every Sentinel to name the replica as the primary", func() bool {
		for _, sc := range hs.sentinels {
			addr, err := sc.GetMasterAddrByName(context.Background(), master).Result()
			if err != nil || len(addr) != 2 || addr[1] != hs.replicaPort {
				return false
			}
		}
		return true
	})
	haStep(t, "every Sentinel names the replica as the primary")
}

// TestSentinelFailoverDuringTraffic runs two replicas connected through
// Redis Sentinel (go-redis's universal client with a master name, as
// `tandem serve` with redis.master_name) while callers arrive and agents
// answer, and switches the primary over to its replica in the middle.
// Every call must still be routed, answered and finished, every agent
// freed, and the whole history must be on the new primary.
//
// Three Sentinels with a quorum of two, as in production: a majority must
// agree before one of them may fail the primary over, so one Sentinel cut
// off from the others can not promote a replica on its own. (One Sentinel
// with quorum 1 would do for SENTINEL FAILOVER, which needs no agreement,
// but would not test that the clients follow a failover another Sentinel
// made.) The Sentinels keep their default down-after of 30 s: the
// failover is the one the test asks for, never one a loaded machine's
// stall would set off.
//
// The switch-over is the planned one of docs/REDIS.md: writes paused on
// the primary (CLIENT PAUSE WRITE) until the replica has every write, then
// SENTINEL FAILOVER. Replication is asynchronous, so an unplanned failover
// (the primary's host dies) can lose the writes of its last moments;
// nothing on the client side can make that lossless, and the test does
// not pretend to.
func TestSentinelFailoverDuringTraffic(t *testing.T) {
	forEachPBX(t, func(t *testing.T, pbx lab.PBXKind) {
		if testing.Short() {
			t.Skip("starts a primary, a replica and three Sentinels")
		}
		const master = "tandem-ha"
		const calls, agentsN = 90, 8
		ctx := context.Background()

		hs := startSentinels(t, master, 0)
		replica, pc, rc := hs.replica, hs.pc, hs.rc

		l := startLabWith(t, lab.Options{
			PBX:           pbx,
			Replicas:      2,
			Sentinel:      &lab.Sentinel{MasterName: master, Addrs: hs.addrs},
			Queues:        map[string]acd.QueueSettings{"sales": {MOHClass: "default", RingTimeout: 10 * time.Second}},
			DNIS:          map[string]string{"800": "sales"},
			SweepInterval: 500 * time.Millisecond,
			Logger:        haLogger(),
		})
		requireCodecsOnEveryOriginate(t, l)
		stopSupervisor := haAgents(t, l, agentsN)
		defer stopSupervisor()

		// Callers arrive in three waves of a third each, 20 ms apart: before
		// the switch-over, while it happens (from just before the writes are
		// paused), and after it.
		place := func(from, n int) error {
			for i := from; i < from+n; i++ {
				if _, err := l.PBX.Call(pbxsim.Caller{ANI: fmt.Sprintf("555%04d", i), DNIS: "800", Patience: time.Hour}); err != nil {
					return fmt.Errorf("call %d: %w", i, err)
				}
				time.Sleep(20 * time.Millisecond)
			}
			return nil
		}
		const wave = calls / 3
		if err := place(0, wave); err != nil {
			t.Fatal(err)
		}
		// Some calls were answered and finished on the old primary.
		waitFor(t, haWait, "calls served before the failover", func() bool {
			n := 0
			for _, ix := range interactions(t, l) {
				if ix.State == acd.StateEnded {
					n++
				}
			}
			return n >= agentsN
		})
		haStep(t, "calls served before the failover")
		during := make(chan error, 1)
		go func() { during <- place(wave, wave) }()

		// The planned switch-over.
		if err := pc.Do(ctx, "CLIENT", "PAUSE", "120000", "WRITE").Err(); err != nil {
			t.Fatalf("pause writes on the primary: %v", err)
		}
		waitFor(t, haWait, "the replica to have every write", func() bool {
			p, _ := strconv.ParseInt(infoField(pc, "replication", "master_repl_offset"), 10, 64)
			r, _ := strconv.ParseInt(infoField(rc, "replication", "slave_repl_offset"), 10, 64)
			return p > 0 && r >= p
		})
		haStep(t, "the replica to have every write")
		// Through the last Sentinel: go-redis's clients subscribe to the
		// first one that answers, which thus learns of the switch from the
		// others, as it would if the failover had been decided elsewhere.
		if err := hs.sentinels[len(hs.sentinels)-1].Failover(ctx, master).Err(); err != nil {
			t.Fatalf("SENTINEL FAILOVER: %v", err)
		}
		hs.waitPromoted(t, master)
		// The Sentinels would turn the old primary into a replica of the new
		// one only after the pause (their commands wait behind their own
		// paused PUBLISH), and a client still on it could then write what
		// the new primary never sees. So the operator demotes it while it is
		// still paused: commands waiting there then fail READONLY, which
		// go-redis retries on the new primary.
		host, port, _ := strings.Cut(replica.Addr, ":")
		if err := pc.SlaveOf(ctx, host, port).Err(); err != nil {
			t.Fatalf("REPLICAOF on the old primary: %v", err)
		}
		waitFor(t, haWait, "the old primary to become a replica", func() bool {
			return infoField(pc, "replication", "role") == "slave"
		})
		haStep(t, "the old primary to become a replica")
		if err := pc.Do(ctx, "CLIENT", "UNPAUSE").Err(); err != nil {
			t.Fatalf("unpause: %v", err)
		}

		if err := <-during; err != nil {
			t.Fatal(err)
		}
		if err := place(2*wave, calls-2*wave); err != nil {
			t.Fatal(err)
		}
		waitAllEnded(t, l, calls, agentsN)

		// The whole state is on the new primary, read there directly.
		if role := infoField(rc, "replication", "role"); role != "master" {
			t.Fatalf("the replica's role after the failover: %q", role)
		}
		keys, err := rc.Keys(ctx, l.Replicas[0].Store.Keys().Interaction("*")).Result()
		if err != nil {
			t.Fatal(err)
		}
		n := 0
		for _, k := range keys {
			if !strings.Contains(strings.TrimPrefix(k, l.Replicas[0].Store.Keys().Interaction("")), ":") {
				n++
			}
		}
		if n != calls {
			t.Fatalf("the new primary holds %d interactions, want %d", n, calls)
		}
		for i := 0; i < agentsN; i++ {
			st, err := rc.HGet(ctx, l.Replicas[0].Store.Keys().Agent(fmt.Sprintf("agent%02d", i)), "state").Result()
			if err != nil || st != string(agents.Available) {
				t.Fatalf("agent%02d on the new primary: %q %v", i, st, err)
			}
		}
	})
}

// TestSentinelFailoverAfterPrimaryCrash kills the primary (SIGKILL) while
// calls wait in the queue and agents are logged in, and lets the
// Sentinels fail it over on their own: two of three must find it down
// (down-after 2 s) and elect a leader, which promotes the replica. The
// replicas, connected through Sentinel, go on with the new primary by
// themselves: the waiting calls and a call arriving afterwards are all
// served. The state was on the replica before the kill (the test waits
// for it): what an unplanned failover loses when it was not is
// docs/REDIS.md's business, not something a test can make lossless.
func TestSentinelFailoverAfterPrimaryCrash(t *testing.T) {
	forEachPBX(t, func(t *testing.T, pbx lab.PBXKind) {
		if testing.Short() {
			t.Skip("starts a primary, a replica and three Sentinels")
		}
		const master = "tandem-crash"
		ctx := context.Background()
		hs := startSentinels(t, master, 2*time.Second)
		l := startLabWith(t, lab.Options{
			PBX:           pbx,
			Replicas:      2,
			Sentinel:      &lab.Sentinel{MasterName: master, Addrs: hs.addrs},
			Queues:        map[string]acd.QueueSettings{"sales": {MOHClass: "default", RingTimeout: 10 * time.Second}},
			DNIS:          map[string]string{"800": "sales"},
			SweepInterval: 500 * time.Millisecond,
			Logger:        haLogger(),
		})
		requireCodecsOnEveryOriginate(t, l)

		// Two agents logged in, idle: the calls wait.
		ids := []string{"agent00", "agent01"}
		for i, id := range ids {
			l.PBX.SetPhone(l.Endpoint(fmt.Sprint(1000+i)), pbxsim.Phone{Mode: pbxsim.Answer, RingFor: 30 * time.Millisecond, TalkFor: 100 * time.Millisecond})
			if _, err := l.Replicas[i].Engine.Login(ctx, id, l.Endpoint(fmt.Sprint(1000+i)), []string{"sales"}, nil); err != nil {
				t.Fatal(err)
			}
		}
		var conns []string
		queue := func(ani string) {
			t.Helper()
			leg, err := l.PBX.Call(pbxsim.Caller{ANI: ani, DNIS: "800", Patience: time.Hour})
			if err != nil {
				t.Fatal(err)
			}
			conns = append(conns, waitState(t, l, interactionOf(t, l, leg).ConnectionID, acd.StateQueued).ConnectionID)
		}
		for i := 0; i < 4; i++ {
			queue(fmt.Sprintf("555%04d", i))
		}
		waitFor(t, haWait, "the replica to have every write", func() bool {
			p, _ := strconv.ParseInt(infoField(hs.pc, "replication", "master_repl_offset"), 10, 64)
			r, _ := strconv.ParseInt(infoField(hs.rc, "replication", "slave_repl_offset"), 10, 64)
			return p > 0 && r >= p
		})

		hs.primary.Kill()
		haStep(t, "primary killed")
		hs.waitPromoted(t, master)
		// A replica's client may still fail for up to a second after the
		// switch: after as many failed dials as its pool has connections,
		// go-redis's pool answers every dial with the last error and retries
		// only once a second (docs/REDIS.md). A call arriving in that second
		// fails; wait for each replica to reach the new primary first.
		for _, r := range l.Replicas {
			waitFor(t, haWait, r.Node+" to reach the new primary", func() bool {
				_, err := r.Engine.Agent(ctx, "agent00")
				return err == nil
			})
		}
		haStep(t, "both replicas reach the new primary")

		queue("5550099")
		for i, id := range ids {
			if _, err := l.Replicas[i].Engine.SetAvailable(ctx, id); err != nil {
				t.Fatalf("%s available after the failover: %v", id, err)
			}
		}
		for _, conn := range conns {
			waitFor(t, haWait, "call "+conn+" ended", func() bool { return interaction(t, l, conn).State == acd.StateEnded })
		}
		for _, id := range ids {
			waitAgent(t, l, id, agents.Available)
		}
		if !l.PBX.WaitIdle(haWait) {
			t.Fatalf("channels left on the PBX: %d", len(l.PBX.Channels()))
		}
		if st := l.PBX.Stats(); st.DoubleOffers != 0 || st.AgentsWithTwoCalls != 0 || st.CallsFailed != 0 {
			t.Fatalf("PBX saw %+v", st)
		}
		checkHistory(t, l)
	})
}

// TestRedisRestartWithAOFKeepsState stops a Redis that persists with AOF
// (appendonly yes, appendfsync everysec, docs/REDIS.md's recommendation)
// while it holds queued calls, a pending callback and agents' states,
// starts it again on the same port and directory, and checks that
// everything came back and that the running replicas carried on with it
// by themselves: the go-redis client reconnects, nobody restarts Tandem.
func TestRedisRestartWithAOFKeepsState(t *testing.T) {
	forEachPBX(t, func(t *testing.T, pbx lab.PBXKind) {
		ctx := context.Background()
		srv := startRedis(t, redisserver.Config{AppendOnly: true, Fsync: "everysec"})
		sales := salesWithCallbacks()
		sales.RingTimeout = 10 * time.Second
		l := startLabWith(t, lab.Options{
			PBX:           pbx,
			Replicas:      2,
			RedisAddr:     srv.Addr,
			Queues:        map[string]acd.QueueSettings{"sales": sales},
			DNIS:          map[string]string{"800": "sales"},
			SweepInterval: 500 * time.Millisecond,
			Logger:        haLogger(),
			Engine: acd.Options{
				Dial:         acd.DialSettings{Endpoint: pbx.Endpoint("{number}"), DefaultRegion: "US", CallerID: "+18005550100", RingTimeout: 5 * time.Second},
				CallbackPoll: 50 * time.Millisecond,
			},
		})
		requireCodecsOnEveryOriginate(t, l)

		// Two agents logged in but idle: the calls wait in the queue.
		e := l.Replicas[0].Engine
		for i, id := range []string{"agent00", "agent01"} {
			l.PBX.SetPhone(l.Endpoint(fmt.Sprint(1000+i)), pbxsim.Phone{Mode: pbxsim.Answer, RingFor: 30 * time.Millisecond, TalkFor: 100 * time.Millisecond})
			if _, err := l.Replicas[i].Engine.Login(ctx, id, l.Endpoint(fmt.Sprint(1000+i)), []string{"sales"}, nil); err != nil {
				t.Fatal(err)
			}
		}
		var legs []string
		for i := 0; i < 4; i++ {
			leg, err := l.PBX.Call(pbxsim.Caller{ANI: fmt.Sprintf("555%04d", i), DNIS: "800", Patience: time.Hour})
			if err != nil {
				t.Fatal(err)
			}
			legs = append(legs, leg)
		}
		const number = "+12025550123"
		l.PBX.SetPhone(customer(l, number), pbxsim.Phone{Mode: pbxsim.Answer, RingFor: 30 * time.Millisecond, TalkFor: 100 * time.Millisecond})
		cb, _, err := e.RequestCallback(ctx, acd.CallbackRequest{Queue: "sales", Number: "(202) 555-0123", Name: "Ann"})
		if err != nil {
			t.Fatal(err)
		}
		var conns []string
		for _, leg := range legs {
			conns = append(conns, waitState(t, l, interactionOf(t, l, leg).ConnectionID, acd.StateQueued).ConnectionID)
		}
		callbackInteraction(t, l, cb.ID, acd.StateQueued)
		cbBefore := getCallback(t, l, cb.ID) // claimed under a replica's lease, its interaction queued
		before := map[string]acd.Interaction{}
		for _, ix := range interactions(t, l) {
			before[ix.ConnectionID] = ix
		}
		waiting, err := e.Queue(ctx, "sales")
		if err != nil {
			t.Fatal(err)
		}

		if err := srv.Shutdown(ctx); err != nil {
			t.Fatal(err)
		}
		if err := srv.Restart(ctx); err != nil {
			t.Fatal(err)
		}

		// Everything is back, as it was.
		for _, ix := range interactions(t, l) {
			if b, ok := before[ix.ConnectionID]; !ok || b.State != ix.State || b.Queue != ix.Queue || b.CallerLeg != ix.CallerLeg {
				t.Fatalf("after the restart %+v, before %+v", ix, b)
			}
			delete(before, ix.ConnectionID)
		}
		if len(before) != 0 {
			t.Fatalf("lost in the restart: %v", before)
		}
		if got := getCallback(t, l, cb.ID); got.State != cbBefore.State || got.Node != cbBefore.Node || got.Conn != cbBefore.Conn {
			t.Fatalf("callback after the restart: %+v, before %+v", got, cbBefore)
		}
		after, err := e.Queue(ctx, "sales")
		if err != nil {
			t.Fatal(err)
		}
		if len(after.Waiting) != len(waiting.Waiting) {
			t.Fatalf("waiting after the restart %d, before %d", len(after.Waiting), len(waiting.Waiting))
		}
		for i := range after.Waiting {
			if after.Waiting[i].ConnectionID != waiting.Waiting[i].ConnectionID {
				t.Fatalf("queue order changed in the restart: %v, before %v", after.Waiting, waiting.Waiting)
			}
		}
		for _, id := range []string{"agent00", "agent01"} {
			if st := agentState(t, l, id); st != agents.Idle {
				t.Fatalf("%s after the restart: %s", id, st)
			}
		}

		// The replicas carry on by themselves: a new call arrives, and the
		// agents take every call, old and new.
		leg, err := l.PBX.Call(pbxsim.Caller{ANI: "5550099", DNIS: "800", Patience: time.Hour})
		if err != nil {
			t.Fatal(err)
		}
		conns = append(conns, waitState(t, l, interactionOf(t, l, leg).ConnectionID, acd.StateQueued).ConnectionID)
		for i, id := range []string{"agent00", "agent01"} {
			if _, err := l.Replicas[i].Engine.SetAvailable(ctx, id); err != nil {
				t.Fatalf("%s available after the restart: %v", id, err)
			}
		}
		for _, conn := range conns {
			waitFor(t, haWait, "call "+conn+" ended", func() bool { return interaction(t, l, conn).State == acd.StateEnded })
		}
		waitFor(t, haWait, "the callback done", func() bool { return getCallback(t, l, cb.ID).State == callbacks.StateDone })
		for _, id := range []string{"agent00", "agent01"} {
			waitAgent(t, l, id, agents.Available)
		}
		if !l.PBX.WaitIdle(haWait) {
			t.Fatalf("channels left on the PBX: %d", len(l.PBX.Channels()))
		}
		checkHistory(t, l)
	})
}
