package acd

import (
	"context"
	"fmt"
	"time"
)

// A replica's liveness is its seat's lease (lease.go): the key
// node:<node>:alive exists iff some process holds seat <node>, and every
// "is the owner of this call alive?" check reads it (replicaAlive). Other
// replicas read it before they forward a request to the replica that owns
// a call (and while they wait for its answer), so a request for a call of
// a replica that stopped or crashed fails at once with
// errs.ErrOwnerUnavailable instead of waiting out forwardTimeout. It is a
// replica-level key, apart from the callback scheduler's
// {cb}:alive:<node>: that one lives three callback leases (45 s by
// default) so that a slow Redis never gets a started dial taken over, far
// too long to tell a caller "retry".
//
// A seat's engine (its store carries a fencing token) never writes the key:
// the SeatHost holding the seat renews the lease. An engine run without a
// seat (unit tests, tools) keeps the key itself with the beat below, on
// real time (the TTL runs out on Redis's real clock), and removes it when
// it stops.

// DefaultLivenessTTL is how long a replica counts as alive after its last
// beat; it beats every third of it.
const DefaultLivenessTTL = 5 * time.Second

// beat marks this replica alive for the liveness TTL.
func (e *Engine) beat(ctx context.Context) error {
	if err := e.store.rdb.Set(ctx, e.store.keys.ReplicaAlive(e.store.node), 1, e.opts.LivenessTTL).Err(); err != nil {
		return fmt.Errorf("liveness beat of %s: %w", e.store.node, err)
	}
	return nil
}

// runLiveness renews the liveness key until ctx ends, then removes it: a
// replica stopping cleanly is seen as gone at once, not after the TTL.
func (e *Engine) runLiveness(ctx context.Context) error {
	defer func() {
		// ctx is over; the removal gets a short time of its own.
		sctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), time.Second)
		defer cancel()
		if err := e.store.rdb.Del(sctx, e.store.keys.ReplicaAlive(e.store.node)).Err(); err != nil {
			e.log.Warn("remove liveness key", "err", err)
		}
	}()
	t := time.NewTicker(e.opts.LivenessTTL / 3)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return nil
		case <-t.C:
		}
		if err := e.beat(ctx); err != nil && ctx.Err() == nil {
			// The next tick tries again; two missed beats in a row and the
			// other replicas see this one as gone.
			e.log.Warn("liveness beat", "err", err)
		}
	}
}

// replicaAlive says whether node's engine is running (its liveness key
// exists).
func (e *Engine) replicaAlive(ctx context.Context, node string) (bool, error) {
	n, err := e.store.rdb.Exists(ctx, e.store.keys.ReplicaAlive(node)).Result()
	if err != nil {
		return false, fmt.Errorf("liveness of %s: %w", node, err)
	}
	return n == 1, nil
}
