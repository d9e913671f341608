// Package chaos is the chaos test of issue 10, with the FreeSWITCH of
// issue 12 in the mix: three Tandem replicas as separate `tandem serve`
// processes (built once from ./cmd/tandem), one real redis-server, and two
// PBX nodes served by the test, the ARI simulator over HTTP (ast1) and the
// event-socket simulator over TCP (fs1), joined by a trunk each way; every
// replica drives both. A few hundred calls come in on both nodes over the
// three replicas' applications (on the Asterisk through the README's
// dialplan fallback, on the FreeSWITCH parked with tandem_app set round
// robin), agents on both nodes log in and answer (through the trunk when
// the caller is on the other node), hold, resume and transfer through the
// API of any serving replica,
// callbacks are registered in queue and through the API; meanwhile
// replicas are killed (SIGKILL) and restarted, paused (SIGSTOP) past their
// lease and resumed, stopped (SIGTERM) and restarted, at moments drawn
// from a seeded random source. At the end every invariant is checked and
// the figures are printed.
//
// Run it from the repository root:
//
//	go test -race -count=1 -v ./chaos/                         # every scenario
//	TANDEM_CHAOS_SEED=42 go test -count=1 -v -run 'TestChaos/sigstop' ./chaos/
//
// TANDEM_CHAOS_SEED replays a run (its seed is printed first);
// TANDEM_CHAOS_RACE=1 also builds the replicas with -race;
// TANDEM_CHAOS_LOGS=1 prints the end of each replica's log after every
// scenario (they are also printed when a scenario fails);
// TANDEM_CHAOS_LOGDIR=dir keeps the whole logs there (appended to across
// runs: empty it first); TANDEM_CHAOS_LOGLEVEL=info logs more than warn.
package chaos

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"math/rand/v2"
	"os"
	"strconv"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/tandem-cc/tandem/acd"
)

// action is one kind of chaos.
type action string

const (
	sigkill action = "SIGKILL+restart"
	sigstop action = "SIGSTOP+SIGCONT"
	sigterm action = "SIGTERM+restart"
	// rolling is a rolling restart: every replica in turn, starting at a
	// random one, is stopped with SIGTERM (it hands its seat over at once
	// to a survivor) and restarted, and the next one only once it is back
	// and holds its seat again (ready), as a deploy does it.
	rolling action = "rolling restart"
)

// scenario is one row of the table: the traffic and the chaos.
type scenario struct {
	name    string
	calls   int
	rate    float64 // calls per second
	actions []action
}

var scenarios = []scenario{
	{name: "steady", calls: 100, rate: 9},
	{name: "sigkill-restart", calls: 100, rate: 9, actions: []action{sigkill, sigkill}},
	{name: "sigstop", calls: 100, rate: 9, actions: []action{sigstop}},
	{name: "sigterm", calls: 100, rate: 9, actions: []action{sigterm, sigterm}},
	{name: "rolling", calls: 100, rate: 9, actions: []action{rolling}},
	{name: "all", calls: 150, rate: 9, actions: []action{sigkill, sigstop, sigterm}},
}

// Bounds. None is a timing assertion: each bounds a wait for an event so
// that a broken run ends, and the checks then say what is left.
const (
	// pauseFor keeps a SIGSTOPped replica paused past its lease.
	pauseFor = acd.DefaultLivenessTTL + 2*time.Second
	// readyBound bounds a (re)started replica's wait for /readyz.
	readyBound = 30 * time.Second
	// termBound bounds a SIGTERMed replica's drain and exit.
	termBound = 30 * time.Second
	// recoverBound bounds the wait for a seat to be served again. Like
	// drainBound it detects a hang, not slowness: a busy 2-core CI machine
	// runs this beside the rest of the suite, so both are about twice the
	// slowest time seen there (19.5 s to recover, 34 s to rest after the
	// last call).
	recoverBound = 45 * time.Second
	// drainBound bounds the wait, once every call is placed, for the world
	// to come to rest (every caller has patience and a talk time).
	drainBound = 75 * time.Second
)

func TestChaos(t *testing.T) {
	seed := uint64(time.Now().UnixNano())
	if s := os.Getenv("TANDEM_CHAOS_SEED"); s != "" {
		v, err := strconv.ParseUint(s, 10, 64)
		if err != nil {
			t.Fatalf("TANDEM_CHAOS_SEED: %v", err)
		}
		seed = v
	}
	t.Logf("seed %d (TANDEM_CHAOS_SEED=%d replays it)", seed, seed)
	bin := buildTandem(t, t.TempDir())
	for i, sc := range scenarios {
		t.Run(sc.name, func(t *testing.T) {
			runScenario(t, bin, sc, seed, uint64(i))
		})
	}
}

// rngFor is scenario idx's own random source for one of its goroutines.
func rngFor(seed, idx, stream uint64) *rand.Rand {
	return rand.New(rand.NewPCG(seed, idx<<8|stream))
}

func runScenario(t *testing.T, bin string, sc scenario, seed, idx uint64) {
	w := newWorld(t, bin)
	began := time.Now()
	defer func() {
		if t.Failed() || os.Getenv("TANDEM_CHAOS_LOGS") == "1" {
			for _, r := range w.reps {
				t.Logf("---- end of %s's log:\n%s", r.node, r.tail(25))
			}
		}
	}()
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	tr := &traffic{w: w, sc: sc}
	if err := tr.login(ctx, rngFor(seed, idx, 1)); err != nil {
		t.Fatal(err)
	}

	leases := newLeaseWatch(w)
	ch := &chaos{w: w, leases: leases, legs: func() []string { _, legs, _ := tr.snapshot(); return legs }, unseen: map[string]bool{}}
	var wg sync.WaitGroup
	deskCtx, stopDesk := context.WithCancel(ctx)
	defer stopDesk()
	wg.Add(4)
	go func() { defer wg.Done(); tr.callers(ctx, rngFor(seed, idx, 2)) }()
	go func() { defer wg.Done(); tr.desk(deskCtx, rngFor(seed, idx, 3)) }()
	go func() { defer wg.Done(); leases.run(deskCtx) }()
	go func() { defer wg.Done(); ch.run(ctx, sc, rngFor(seed, idx, 4)) }()

	// Wait for rest: every call placed, every chaos action done, the world
	// settled (or the bound passed; the checks say what is left).
	traffic := time.Duration(float64(sc.calls) / sc.rate * float64(time.Second))
	deadline := time.Now().Add(traffic + drainBound)
	var why string
	for {
		ok, reason := false, "chaos actions still running"
		if ch.finished() {
			ok, reason = settled(ctx, w, tr)
		}
		if ok {
			why = ""
			break
		}
		why = reason
		if time.Now().After(deadline) {
			break
		}
		time.Sleep(200 * time.Millisecond)
	}
	rest := time.Since(began)
	stopDesk()
	ch.wait()
	cancel()
	wg.Wait()
	if why != "" {
		t.Errorf("the world did not come to rest within %v after the last call: %s", drainBound, why)
	}

	rctx, rcancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer rcancel()
	hist := checkHistory(t, rctx, w)
	n, legs, _ := tr.snapshot()
	calls := checkInteractionsTerminal(t, rctx, w, legs, ch.unseenLegs())
	checkPBXEmpty(t, rctx, w)
	checkPBXOffers(t, w)
	cross := checkCrossing(t, w, legs)
	checkAgentsFree(t, rctx, w)
	cbs := checkCallbacks(t, rctx, w)
	slow := w.stopAll(termBound)
	if len(slow) > 0 {
		t.Errorf("replicas that did not exit within %v of SIGTERM at the end (killed): %v", termBound, slow)
	}

	f := ch.figures()
	t.Logf("FIGURES %s (seed %d): %.1fs to rest", sc.name, seed, rest.Seconds())
	t.Logf("  calls        placed %d (%d on %s), refused by every replica %d, reached Tandem %d; talked across the trunks %s→%s %d, %s→%s %d",
		n.placed, n.placedFS, fsNode, n.refused, len(legs), astNode, fsNode, cross.astToFS, fsNode, astNode, cross.fsToAst)
	t.Logf("  outcome      answered %d, abandoned %d, failed %d, left for a callback %d, offers %d, RONAs %d; left a paused seat unseen %d",
		calls.answered, calls.abandoned, calls.failed, calls.ended, hist.offers, hist.ronas, len(calls.unseen))
	t.Logf("  agents       holds %d, resumes %d, transfers %d, wrap-up codes %d, made available after RONA %d",
		n.holds, n.resumes, n.transfers, n.wrapups, n.supervisorAvail)
	t.Logf("  callbacks    asked in queue %d, through the API %d; %d in Redis, done %d, failed %d, attempts %d, customer dials %d",
		n.dialogCallbacks, n.webCallbacks, cbs.total, cbs.done, cbs.failed, cbs.attempts, cbs.dials)
	t.Logf("  api          refused %d, transport errors %d, no replica serving %d", n.apiRefused, n.apiErrors, n.noReplica)
	t.Logf("  chaos        kills %d, pauses %d, terms %d (slowest SIGTERM exit %v); lease takeovers/reacquisitions %d, lease gaps %d",
		f.kills, f.stops, f.terms, f.slowestTerm.Round(time.Millisecond), f.holderChanges, f.gaps)
	t.Logf("  recovery     max time to recover %v over %d actions; not recovered within %v: %d %v",
		f.maxRecover.Round(time.Millisecond), len(f.recoveries), recoverBound, len(f.unrecovered), f.unrecovered)
	t.Logf("  seats        live calls of the victims at the actions %d (%d on %s); %s callers that came for a victim's seat before it recovered %d",
		f.ownedAtAction, f.ownedFSAtAction, fsNode, fsNode, f.fsWaitedForSeat)
	for _, e := range f.errors {
		t.Errorf("chaos: %s", e)
	}
}

// chaos runs the scenario's actions one after another at moments drawn
// over the traffic window, and measures how long each seat takes to be
// served again.
type chaos struct {
	w      *world
	leases *leaseWatch
	legs   func() []string // the caller legs that reached a replica so far

	mu   sync.Mutex
	done bool
	f    chaosFigures
	wg   sync.WaitGroup // the recovery watchers
	// unseen: callers that entered a paused replica's application and
	// left before another process took its seat (watchPause).
	unseen map[string]bool
}

type chaosFigures struct {
	kills, stops, terms int
	slowestTerm         time.Duration
	holderChanges, gaps int
	// ownedAtAction: the victims' live calls at the actions, of them
	// ownedFSAtAction on the FreeSWITCH; fsWaitedForSeat: callers that
	// came in on the FreeSWITCH for a victim's seat between the action
	// and its recovery (parked, with no fallback, until the seat was
	// served again).
	ownedAtAction, ownedFSAtAction, fsWaitedForSeat int
	recoveries                                      []time.Duration
	maxRecover                                      time.Duration
	unrecovered                                     []string
	errors                                          []string
}

func (c *chaos) note(f func(*chaosFigures)) {
	c.mu.Lock()
	defer c.mu.Unlock()
	f(&c.f)
}

func (c *chaos) finished() bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.done
}

// wait waits for the recovery watchers (each bounded by recoverBound).
func (c *chaos) wait() { c.wg.Wait() }

func (c *chaos) figures() chaosFigures {
	c.mu.Lock()
	defer c.mu.Unlock()
	f := c.f
	f.holderChanges, f.gaps = c.leases.counts()
	return f
}

func (c *chaos) run(ctx context.Context, sc scenario, rng *rand.Rand) {
	defer func() {
		c.mu.Lock()
		c.done = true
		c.mu.Unlock()
	}()
	start := time.Now()
	window := time.Duration(float64(sc.calls) / sc.rate * float64(time.Second))
	slot := window / time.Duration(len(sc.actions)+1)
	for i, a := range sc.actions {
		// Somewhere in the middle half of the i-th slot.
		at := start.Add(slot*time.Duration(i) + slot/2 + time.Duration(rng.Int64N(int64(slot/2)+1)))
		select {
		case <-ctx.Done():
			return
		case <-time.After(time.Until(at)):
		}
		reps := c.w.serving()
		if len(reps) < replicaCount {
			c.note(func(f *chaosFigures) {
				f.errors = append(f.errors, fmt.Sprintf("before %s: only %d replicas serving", a, len(reps)))
			})
		}
		if len(reps) == 0 {
			return
		}
		if a == rolling {
			c.roll(ctx, rng)
			continue
		}
		c.do(ctx, a, reps[rng.IntN(len(reps))], rng)
	}
}

// roll restarts every replica in turn with SIGTERM (do waits until each
// is ready again before returning), starting at a random one.
func (c *chaos) roll(ctx context.Context, rng *rand.Rand) {
	first := rng.IntN(len(c.w.reps))
	for i := range c.w.reps {
		if ctx.Err() != nil {
			return
		}
		victim := c.w.reps[(first+i)%len(c.w.reps)]
		if !victim.serving() {
			c.note(func(f *chaosFigures) {
				f.errors = append(f.errors, fmt.Sprintf("rolling restart: %s not serving at its turn", victim.node))
			})
			return
		}
		c.do(ctx, sigterm, victim, rng)
	}
}

// do carries out one action on victim and starts its recovery watcher.
func (c *chaos) do(ctx context.Context, a action, victim *replica, rng *rand.Rand) {
	fail := func(format string, args ...any) {
		c.note(func(f *chaosFigures) { f.errors = append(f.errors, fmt.Sprintf(format, args...)) })
	}
	c.startRecovery(ctx, a, victim)
	switch a {
	case sigkill:
		c.note(func(f *chaosFigures) { f.kills++ })
		if err := victim.signal(syscall.SIGKILL); err != nil {
			fail("%v", err)
			return
		}
		if err := victim.waitExit(10 * time.Second); err != nil {
			fail("%v", err)
			return
		}
		// A process manager restarts it a moment later.
		time.Sleep(time.Duration(200+rng.IntN(1300)) * time.Millisecond)
		if err := victim.start(); err != nil {
			fail("%v", err)
			return
		}
		if err := victim.waitReady(readyBound); err != nil {
			fail("restart after SIGKILL: %v", err)
		}
	case sigstop:
		c.note(func(f *chaosFigures) { f.stops++ })
		lease, _ := c.w.rdb.Get(ctx, c.w.keys.ReplicaAlive(victim.node)).Result()
		stopped := time.Now()
		if err := victim.signal(syscall.SIGSTOP); err != nil {
			fail("%v", err)
			return
		}
		c.watchPause(ctx, victim, lease, stopped)
		time.Sleep(pauseFor)
		if err := victim.signal(syscall.SIGCONT); err != nil {
			fail("%v", err)
		}
	case sigterm:
		c.note(func(f *chaosFigures) { f.terms++ })
		sent := time.Now()
		if err := victim.signal(syscall.SIGTERM); err != nil {
			fail("%v", err)
			return
		}
		if err := victim.waitExit(termBound); err != nil {
			fail("SIGTERM: %v (killed)", err)
			_ = victim.signal(syscall.SIGKILL)
			_ = victim.waitExit(10 * time.Second)
		}
		took := time.Since(sent)
		c.note(func(f *chaosFigures) { f.slowestTerm = max(f.slowestTerm, took) })
		if err := victim.start(); err != nil {
			fail("%v", err)
			return
		}
		if err := victim.waitReady(readyBound); err != nil {
			fail("restart after SIGTERM: %v", err)
		}
	}
}

// startRecovery snapshots the victim's seat before the action and watches,
// in the background, until the seat is served again: its application has
// a socket at the Asterisk, every caller parked on the FreeSWITCH for it
// is known to Tandem (a driver for the seat is reading fs1), its lease exists and is not held by a paused
// process (the victim has been continued, or the lease changed hands), and
// every call it owned that was live at the action has moved on (another
// state, or over). It records the time that took, or that it did not
// happen within recoverBound.
func (c *chaos) startRecovery(ctx context.Context, a action, victim *replica) {
	w := c.w
	at := time.Now()
	lease, _ := w.rdb.Get(ctx, w.keys.ReplicaAlive(victim.node)).Result()
	owned := map[string]string{}
	ownedFS := 0
	if ixs, err := allInteractions(ctx, w); err == nil {
		for _, ix := range ixs {
			if ix.Owner == victim.node && !ix.Terminal() {
				owned[ix.ConnectionID] = ix.State
				if _, ok := w.fs.Channel(ix.CallerLeg); ok {
					ownedFS++
				}
			}
		}
	}
	c.note(func(f *chaosFigures) { f.ownedAtAction += len(owned); f.ownedFSAtAction += ownedFS })
	label := fmt.Sprintf("%s of %s at +%v with %d live calls (%d on %s)", a, victim.node, at.Sub(c.leases.began).Round(time.Millisecond), len(owned), ownedFS, fsNode)
	c.wg.Add(1)
	go func() {
		defer c.wg.Done()
		var why string
		for time.Since(at) < recoverBound {
			ok, reason := seatServed(ctx, w, victim, lease, owned)
			if ok {
				took := time.Since(at)
				waited := c.fsCallersSince(victim.app, at)
				c.note(func(f *chaosFigures) {
					f.fsWaitedForSeat += waited
					f.recoveries = append(f.recoveries, took)
					f.maxRecover = max(f.maxRecover, took)
				})
				return
			}
			why = reason
			select {
			case <-ctx.Done():
				why = "scenario ended: " + why
				c.note(func(f *chaosFigures) { f.unrecovered = append(f.unrecovered, label+": "+why) })
				return
			case <-time.After(100 * time.Millisecond):
			}
		}
		c.note(func(f *chaosFigures) { f.unrecovered = append(f.unrecovered, label+": "+why) })
	}()
}

// seatServed is startRecovery's test.
func seatServed(ctx context.Context, w *world, victim *replica, leaseBefore string, owned map[string]string) (bool, string) {
	if a, ok := w.sim.App(victim.app); !ok || !a.Active {
		return false, "application " + victim.app + " has no socket"
	}
	if n, err := unknownFSCallers(ctx, w, victim.app); err != nil || n > 0 {
		return false, fmt.Sprintf("%d callers parked on %s for %s unknown to Tandem (%v)", n, fsNode, victim.app, err)
	}
	lease, err := w.rdb.Get(ctx, w.keys.ReplicaAlive(victim.node)).Result()
	switch {
	case errors.Is(err, redis.Nil):
		return false, "no lease"
	case err != nil:
		return false, err.Error()
	}
	victim.mu.Lock()
	paused := victim.paused
	victim.mu.Unlock()
	if paused && lease == leaseBefore {
		return false, "lease still the paused process's"
	}
	stuck := 0
	for conn, was := range owned {
		ix, err := w.store.Interaction(ctx, conn)
		if err != nil || (!ix.Terminal() && ix.State == was) {
			stuck++
		}
	}
	if stuck > 0 {
		return false, fmt.Sprintf("%d of its %d calls have not moved", stuck, len(owned))
	}
	return true, ""
}

// unknownFSCallers counts the callers on the FreeSWITCH for app (its
// tandem_app) still waiting without an interaction: FreeSWITCH has no
// fallback, such a caller waits parked until a process hosting the seat
// reads the event socket for app and takes it.
func unknownFSCallers(ctx context.Context, w *world, app string) (int, error) {
	var waiting []string
	for _, v := range w.fs.Channels() {
		if v.App == app && v.Endpoint == "" && !v.HungUp {
			waiting = append(waiting, v.ID)
		}
	}
	if len(waiting) == 0 {
		return 0, nil
	}
	ixs, err := allInteractions(ctx, w)
	if err != nil {
		return 0, err
	}
	known := map[string]bool{}
	for _, ix := range ixs {
		known[ix.CallerLeg] = true
	}
	n := 0
	for _, id := range waiting {
		if !known[id] {
			n++
		}
	}
	return n, nil
}

// fsCallersSince counts the callers (live or gone) that came in on the
// FreeSWITCH for app since at.
func (c *chaos) fsCallersSince(app string, at time.Time) int {
	n := 0
	for _, leg := range c.legs() {
		if v, ok := c.w.fs.Channel(leg); ok && v.App == app && v.Created.After(at) {
			n++
		}
	}
	return n
}

// leaseWatch polls the three seats' leases and counts how often a lease
// changed hands (its value changed; restarts included) and how often a
// seat was seen without one.
type leaseWatch struct {
	w     *world
	began time.Time

	mu      sync.Mutex
	changes int
	gaps    int
}

func newLeaseWatch(w *world) *leaseWatch { return &leaseWatch{w: w, began: time.Now()} }

func (l *leaseWatch) run(ctx context.Context) {
	last := map[string]string{}
	absent := map[string]bool{}
	for ctx.Err() == nil {
		for _, r := range l.w.reps {
			v, err := l.w.rdb.Get(ctx, l.w.keys.ReplicaAlive(r.node)).Result()
			switch {
			case errors.Is(err, redis.Nil):
				if !absent[r.node] {
					absent[r.node] = true
					l.mu.Lock()
					l.gaps++
					l.mu.Unlock()
				}
			case err == nil:
				absent[r.node] = false
				if prev, ok := last[r.node]; ok && prev != v {
					l.mu.Lock()
					l.changes++
					l.mu.Unlock()
				}
				last[r.node] = v
			}
		}
		select {
		case <-ctx.Done():
		case <-time.After(50 * time.Millisecond):
		}
	}
}

func (l *leaseWatch) counts() (changes, gaps int) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.changes, l.gaps
}

// watchPause notes, at the moment the paused victim's seat changes hands
// (its lease is no longer the paused process's, or it resumes after its
// lease expired), the callers that entered
// the victim's application since the pause and have hung up already. No
// process of Tandem can know them, by Asterisk's design (ARCHITECTURE §9,
// trace 14): the only copy of their StasisStart and hang-up went to the
// paused process's socket, which is not read, and which the process, once
// resumed, reads fenced (it may change nothing for the seat); the next
// holder's socket gets no replay, and GET /applications no longer lists a
// channel that is gone. They are counted apart (checkInteractionsTerminal)
// instead of as calls without an interaction. A caller still in the
// application then is the next holder's to take (ari reportUnseen). On
// the FreeSWITCH it is the same: the paused process's event socket was
// the only one filtering on the seat's tandem_app, and the next holder's
// driver reads `show channels`, which no longer lists a caller that hung
// up; one still parked is the next holder's to take.
func (c *chaos) watchPause(ctx context.Context, victim *replica, leaseBefore string, stopped time.Time) {
	c.wg.Add(1)
	go func() {
		defer c.wg.Done()
		for {
			lease, err := c.w.rdb.Get(ctx, c.w.keys.ReplicaAlive(victim.node)).Result()
			if err == nil && lease != leaseBefore {
				break // taken over
			}
			victim.mu.Lock()
			paused := victim.paused
			victim.mu.Unlock()
			if !paused && err == nil && lease == leaseBefore {
				// Resumed still holding its seat: it reads its socket
				// and knows every caller; nobody is unseen.
				return
			}
			if !paused {
				// Resumed after its lease expired with nobody claiming
				// the seat yet: the process reads its socket fenced and
				// takes the seat back under a new token, whose read of
				// the application finds only the callers still there.
				// Those who came and left during the pause were seen by
				// no process that could record them, as at a takeover.
				break
			}
			if ctx.Err() != nil || time.Since(stopped) > recoverBound {
				return
			}
			select {
			case <-ctx.Done():
			case <-time.After(10 * time.Millisecond):
			}
		}
		var left []string
		for _, leg := range c.legs() {
			v, ok := c.w.sim.Channel(leg)
			if !ok {
				v, ok = c.w.fs.Channel(leg)
			}
			if ok && v.App == victim.app && v.HungUp && v.Created.After(stopped) {
				left = append(left, leg)
			}
		}
		c.mu.Lock()
		for _, leg := range left {
			c.unseen[leg] = true
		}
		c.mu.Unlock()
	}()
}

// unseenLegs is what watchPause noted.
func (c *chaos) unseenLegs() map[string]bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	return maps.Clone(c.unseen)
}
