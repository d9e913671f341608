package acd

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/tandem-cc/tandem/errs"
	"github.com/tandem-cc/tandem/internal/keyspace"
)

// Seats and their leases.
//
// A seat is one replica identity: a node id and its Stasis application. The
// process holding a seat's lease runs the seat's engine: it owns the calls
// whose owner is that node, and Asterisk sends their events to its socket
// for the seat's application. A process normally holds its home seat (its
// own node_id); a survivor may host the seat of a replica that died
// (SeatHost).
//
// The lease is the key node:<node>:alive ("<holder> <token>", PX the lease
// duration): it exists iff somebody holds the seat, which is what every
// "is the owner of this call alive?" check reads. Each acquisition counts
// the seat's fence (node:<node>:fence) up and the holder's store passes the
// token to every script; lib.lua refuses a script whose token is not the
// fence's any more, so a holder that was paused past its lease (or cut off
// from Redis) and whose seat went to somebody else changes nothing when it
// resumes: its first script answers FENCED and its engine stops as if it
// had crashed. The lease runs out on Redis's real clock, so it is renewed
// on real time, not on Options.Clock.

// DefaultLease is how long a seat's lease outlives its holder's last
// renewal; the holder renews every third of it.
const DefaultLease = 5 * time.Second

// Seat names one replica identity.
type Seat struct {
	Node string // node_id: the owner recorded on its calls
	App  string // its Stasis application
}

// fence is the fencing token of the seat a store acts for, shared by every
// copy of the store. Token 0 is no seat: scripts run unfenced (tests,
// tools). tripped is set when a script was refused for the current token:
// lost is closed then, and the engine running the seat stops.
type fence struct {
	mu      sync.Mutex
	token   int64
	tripped bool
	lost    chan struct{}
	lease   *Lease // the hold the token comes from, if any (lease_fresh.go)
}

func newFence() *fence { return &fence{lost: make(chan struct{})} }

// current is the token scripts pass now, and whether it was refused.
func (f *fence) current() (int64, bool) {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.token, f.tripped
}

// watch returns the current token and a channel closed once it is refused.
func (f *fence) watch() (int64, <-chan struct{}) {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.token, f.lost
}

// set starts a new holding term with token.
func (f *fence) set(token int64) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.token, f.tripped, f.lost = token, false, make(chan struct{})
}

// trip marks token as refused; a token of an earlier term (or none) is
// ignored: the refusal is news about a term that is over already.
func (f *fence) trip(token int64) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if token == 0 || token != f.token || f.tripped {
		return
	}
	f.tripped = true
	close(f.lost)
}

// SetFence makes every copy of the store act for its seat with token (as
// given by a Lease); 0 makes it unfenced again.
func (s *Store) SetFence(token int64) { s.fence.set(token) }

// FenceToken is the token the store's scripts carry now (0: none).
func (s *Store) FenceToken() int64 {
	t, _ := s.fence.current()
	return t
}

// NewInstanceID returns an id for this process as a seat holder: its home
// node, so a holder can tell a later process of its own node (which it
// must not fight) from a survivor hosting its seat, and random bytes.
func NewInstanceID(home string) string {
	var b [6]byte
	_, _ = rand.Read(b[:])
	return home + "/" + hex.EncodeToString(b[:])
}

// instanceHome is the home node an instance id names ("" if it names
// none).
func instanceHome(instance string) string {
	home, _, ok := strings.Cut(instance, "/")
	if !ok {
		return ""
	}
	return home
}

// Lease is this process's hold on one seat.
type Lease struct {
	rdb    redis.UniversalClient
	keys   keyspace.Keys
	seat   Seat
	holder string
	ttl    time.Duration

	mu    sync.Mutex
	token int64 // 0: not held (or never acquired)
	// validUntil: the hold cannot have lapsed before (lease_fresh.go).
	validUntil time.Time
}

// NewLease returns the lease of seat for the holder instance (see
// NewInstanceID); ttl 0 = DefaultLease. It holds nothing until Acquire or
// Claim.
func NewLease(rdb redis.UniversalClient, prefix string, seat Seat, holder string, ttl time.Duration) *Lease {
	if ttl <= 0 {
		ttl = DefaultLease
	}
	return &Lease{rdb: rdb, keys: keyspace.New(prefix), seat: seat, holder: holder, ttl: ttl}
}

// Seat is the leased seat.
func (l *Lease) Seat() Seat { return l.seat }

// Token is the fencing token of the current hold (0: none).
func (l *Lease) Token() int64 {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.token
}

func (l *Lease) setToken(t int64) {
	l.mu.Lock()
	l.token = t
	l.mu.Unlock()
}

// run runs a lease script for the seat, unfenced (the lease scripts are what
// move the fence).
func (l *Lease) run(ctx context.Context, sc luaScript, keys []string, args ...any) (int64, error) {
	argv := append([]any{l.keys.Base(), l.seat.Node, l.holder}, args...)
	v, err := sc.Run(ctx, l.rdb, keys, argv...).Int64()
	if err != nil {
		return 0, fmt.Errorf("seat %s: %s: %w", l.seat.Node, sc.name, scriptError(err))
	}
	return v, nil
}

func (l *Lease) takeKeys() []string {
	return []string{l.keys.ReplicaAlive(l.seat.Node), l.keys.NodeFence(l.seat.Node), l.keys.Seats(), l.keys.CallbackTakeover(l.seat.App)}
}

// Acquire takes the seat even from another holder (a replica starting as
// its own node takes its home seat back) and returns the new token.
func (l *Lease) Acquire(ctx context.Context) (int64, error) {
	sent := time.Now()
	tok, err := l.run(ctx, scriptSeatAcquire, l.takeKeys(), l.ttl.Milliseconds(), l.seat.App)
	if err != nil {
		return 0, err
	}
	l.setToken(tok)
	l.heldFrom(sent)
	return tok, nil
}

// Claim takes the seat only if nobody holds it; ok is false if somebody
// does (another survivor was first).
func (l *Lease) Claim(ctx context.Context) (token int64, ok bool, err error) {
	sent := time.Now()
	tok, err := l.run(ctx, scriptSeatClaim, l.takeKeys(), l.ttl.Milliseconds(), l.seat.App)
	if err != nil || tok == 0 {
		return 0, false, err
	}
	l.setToken(tok)
	l.heldFrom(sent)
	return tok, true, nil
}

// Renew extends the hold; false means the seat is lost (a newer holder
// has it): its engine must stop acting for it.
func (l *Lease) Renew(ctx context.Context) (bool, error) {
	tok := l.Token()
	if tok == 0 {
		return false, nil
	}
	keys := []string{l.keys.ReplicaAlive(l.seat.Node), l.keys.NodeFence(l.seat.Node), l.keys.CallbackTakeover(l.seat.App)}
	sent := time.Now()
	n, err := l.run(ctx, scriptSeatRenew, keys, l.ttl.Milliseconds(), tok)
	if err != nil {
		return false, err
	}
	if n == 1 {
		l.heldFrom(sent)
	}
	return n == 1, nil
}

// Release gives the seat up and tells the survivors (seat-released), so one
// claims it at once; false if this holder did not hold it any more.
func (l *Lease) Release(ctx context.Context) (bool, error) {
	tok := l.Token()
	if tok == 0 {
		return false, nil
	}
	n, err := l.run(ctx, scriptSeatRelease, []string{l.keys.ReplicaAlive(l.seat.Node), l.keys.SeatReleased(), l.keys.CallbackTakeover(l.seat.App)}, tok)
	if err != nil {
		return false, err
	}
	l.setToken(0)
	return n == 1, nil
}

// errSeatLost: a renewal found the seat held by a newer holder.
var errSeatLost = fmt.Errorf("lease renewal refused: %w", errs.ErrFenced)

// Hold renews the lease every third of its duration, on real time, until
// ctx ends (nil) or the seat is lost (an error wrapping errs.ErrFenced).
// A renewal that fails on a Redis error is tried again at the next tick:
// the lease outlives two missed renewals, and if it lapses the fence still
// lets this holder take it back as long as nobody else did.
func (l *Lease) Hold(ctx context.Context) error {
	t := time.NewTicker(l.ttl / 3)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return nil
		case <-t.C:
		}
		ok, err := l.Renew(ctx)
		switch {
		case ctx.Err() != nil:
			return nil
		case err != nil:
			continue
		case !ok:
			return fmt.Errorf("seat %s token %d: %w", l.seat.Node, l.Token(), errSeatLost)
		}
	}
}

// SeatHolder reads who holds node's seat: the holder instance and token,
// held false if nobody does.
func SeatHolder(ctx context.Context, rdb redis.UniversalClient, prefix, node string) (holder string, token int64, held bool, err error) {
	v, err := rdb.Get(ctx, keyspace.New(prefix).ReplicaAlive(node)).Result()
	if errors.Is(err, redis.Nil) {
		return "", 0, false, nil
	}
	if err != nil {
		return "", 0, false, fmt.Errorf("holder of seat %s: %w", node, err)
	}
	holder, t, _ := strings.Cut(v, " ")
	token, _ = strconv.ParseInt(t, 10, 64)
	return holder, token, true, nil
}

// Seats reads the seat registry: every seat ever held, node -> application.
func Seats(ctx context.Context, rdb redis.UniversalClient, prefix string) (map[string]string, error) {
	m, err := rdb.HGetAll(ctx, keyspace.New(prefix).Seats()).Result()
	if err != nil {
		return nil, fmt.Errorf("seat registry: %w", err)
	}
	return m, nil
}

// seatOfApp finds the seat whose Stasis application is app in the
// registry, and whether somebody holds it now (found false: app is no
// registered seat's).
func (e *Engine) seatOfApp(ctx context.Context, app string) (node string, held, found bool, err error) {
	seats, err := Seats(ctx, e.store.rdb, e.store.prefix)
	if err != nil {
		return "", false, false, err
	}
	for n, a := range seats {
		if a != app {
			continue
		}
		alive, err := e.replicaAlive(ctx, n)
		if err != nil {
			return n, false, true, err
		}
		return n, alive, true, nil
	}
	return "", false, false, nil
}
