package acd

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/tandem-cc/tandem/errs"
	"github.com/tandem-cc/tandem/internal/luascript"
	"github.com/tandem-cc/tandem/metrics"
)

// The recoverer puts back what an owner that died (or lost track) left
// behind, in the way of a job queue's lease recovery: a periodic pass,
// on every replica, of one bounded script on Redis time (recover.lua)
// over the deadlines the offer and ring scripts record (offers-due);
// whichever replica runs it first does the work. Beside it, the inbox
// reader handles again the entries delivered but never acknowledged
// (recoverInbox).
//
// Routing itself never makes an offer for a call whose owner is not alive
// (lib.lua's owner_alive), so what the recoverer finds is what was already
// reserved when the owner died: offers in its mailbox or inbox, agents
// ringing for it.

// RecoverOptions tune the recoverer; zero values take the defaults.
type RecoverOptions struct {
	// Interval between passes, on the engine's clock; 0 = 2 s.
	Interval time.Duration
	// FarPast is how long past its deadline a live owner's offer is put
	// back anyway (the owner lost it: its own ring timer fires before the
	// deadline); 0 = 1 min.
	FarPast time.Duration
	// Batch is how many overdue entries one script run looks at; a pass
	// runs the script again while batches come back full, at most
	// maxBatchesPerPass times. 0 = 100.
	Batch int
	// InboxIdle is how long an inbox entry stays delivered and
	// unacknowledged before another reader of the inbox claims it; longer
	// than handling an entry may take (a forwarded request waits for PBX
	// commands). 0 = 30 s.
	InboxIdle time.Duration
	// Recovered, if set, is called after each pass over overdue offers
	// with what it did, and InboxRecovered after each pass over the inbox
	// with the entries handled again: tests wait on them.
	Recovered      func(RecoverResult)
	InboxRecovered func(n int)
}

// maxBatchesPerPass bounds one pass of the recoverer.
const maxBatchesPerPass = 10

func (o RecoverOptions) withDefaults() RecoverOptions {
	if o.Interval <= 0 {
		o.Interval = 2 * time.Second
	}
	if o.FarPast <= 0 {
		o.FarPast = time.Minute
	}
	if o.Batch <= 0 {
		o.Batch = 100
	}
	if o.InboxIdle <= 0 {
		o.InboxIdle = 30 * time.Second
	}
	return o
}

// RecoverResult is what one recoverer run did.
type RecoverResult struct {
	// Calls put back in their queue, agents freed (available, idle or
	// rona), overdue entries looked at.
	Calls, Agents, Looked int
}

func (r *RecoverResult) add(o RecoverResult) {
	r.Calls += o.Calls
	r.Agents += o.Agents
	r.Looked += o.Looked
}

var scriptRecover = script("recover")

// Recover runs recover.lua once over at most batch overdue entries: calls
// offered by an owner that is not alive (or far past the deadline: older
// than farPast after it) go back to their queue, their agents are freed;
// a live owner's overdue entry is looked at again after again. Offers
// made to the freed agents are delivered like every other offer.
func (s *Store) Recover(ctx context.Context, batch int, farPast, again time.Duration) (RecoverResult, error) {
	v, err := s.runOffering(ctx, scriptRecover, nil, batch, farPast.Milliseconds(), max(again.Milliseconds(), 1))
	if err == nil {
		err = s.deliverEach(ctx, scriptRecover, v, 1, time.Time{})
	}
	if err != nil {
		return RecoverResult{}, fmt.Errorf("recover overdue offers: %w", err)
	}
	rows, _ := v.([]any) // a list: checked by deliverEach
	if len(rows) == 0 {
		return RecoverResult{}, fmt.Errorf("recover overdue offers: empty reply: %w", errs.ErrBadReply)
	}
	head, err := luascript.List(scriptRecover.name, rows[0])
	if err != nil {
		return RecoverResult{}, fmt.Errorf("recover overdue offers: %w", err)
	}
	if len(head) != 3 {
		return RecoverResult{}, fmt.Errorf("recover overdue offers: counts %v, want calls, agents, looked: %w", head, errs.ErrBadReply)
	}
	var n [3]int64
	for i := range n {
		if n[i], err = luascript.Int(scriptRecover.name, head[i]); err != nil {
			return RecoverResult{}, fmt.Errorf("recover overdue offers: %w", err)
		}
	}
	return RecoverResult{Calls: int(n[0]), Agents: int(n[1]), Looked: int(n[2])}, nil
}

// runRecoverer runs recoverOffers at start, then every interval of the
// engine's clock, until ctx ends.
func (e *Engine) runRecoverer(ctx context.Context) error {
	o := e.opts.Recovery.withDefaults()
	t := e.opts.Clock.NewTicker(o.Interval)
	defer t.Stop()
	for {
		r := e.recoverOffers(ctx, o)
		if ctx.Err() != nil {
			return nil
		}
		if o.Recovered != nil {
			o.Recovered(r)
		}
		select {
		case <-ctx.Done():
			return nil
		case <-t.C():
		}
	}
}

// recoverOffers runs the script until a batch comes back short, at most
// maxBatchesPerPass times. Errors are logged; the next pass tries again.
func (e *Engine) recoverOffers(ctx context.Context, o RecoverOptions) RecoverResult {
	var total RecoverResult
	for range maxBatchesPerPass {
		r, err := e.store.Recover(ctx, o.Batch, o.FarPast, o.Interval)
		if err != nil {
			if ctx.Err() == nil {
				e.log.Error("recover overdue offers", "err", err)
			}
			break
		}
		total.add(r)
		if r.Looked < o.Batch {
			break
		}
	}
	if total.Calls+total.Agents > 0 {
		e.log.Warn("put back offers an owner left behind", "calls", total.Calls, "agents", total.Agents)
	}
	e.opts.Metrics.Recovered.WithLabelValues(metrics.RecoveredCall).Add(float64(total.Calls))
	e.opts.Metrics.Recovered.WithLabelValues(metrics.RecoveredAgent).Add(float64(total.Agents))
	return total
}

// recoverInbox handles again the entries of this node's inbox delivered
// and never acknowledged: at start, those given to this node's consumer
// (the seat's previous holder read them and died before acknowledging),
// then, at start and on every call, those any consumer of the group was
// given more than InboxIdle ago (XAUTOCLAIM: a holder of the seat under
// another consumer name, or a reader stuck). An offer for a call this node
// does not run is given back (deliverOffer). readInbox calls it between
// its reads.
func (e *Engine) recoverInbox(ctx context.Context, o RecoverOptions, start bool) {
	stream := e.store.keys.Inbox(e.store.node)
	n := 0
	if start {
		k, err := e.readPending(ctx, stream)
		n += k
		if err != nil && ctx.Err() == nil {
			e.log.Error("read unacknowledged inbox entries", "err", err)
		}
	}
	k, err := e.claimInbox(ctx, stream, o.InboxIdle)
	n += k
	if err != nil && ctx.Err() == nil {
		e.log.Error("claim idle inbox entries", "err", err)
	}
	if ctx.Err() != nil {
		return
	}
	if n > 0 {
		e.log.Warn("handled inbox entries delivered but never acknowledged", "entries", n)
	}
	e.opts.Metrics.Recovered.WithLabelValues(metrics.RecoveredInbox).Add(float64(n))
	if o.InboxRecovered != nil {
		o.InboxRecovered(n)
	}
}

// readPending handles this consumer's pending entries ("0", then after the
// last one read, a page at a time), at most maxBatchesPerPass pages of 100
// (the rest is claimed by later passes once idle).
func (e *Engine) readPending(ctx context.Context, stream string) (int, error) {
	from, n := "0", 0
	for range maxBatchesPerPass {
		res, err := e.store.rdb.XReadGroup(ctx, &redis.XReadGroupArgs{
			Group: inboxGroup, Consumer: e.store.node, Streams: []string{stream, from},
			Count: 100, Block: -1, // history: no waiting
		}).Result()
		if errors.Is(err, redis.Nil) {
			return n, nil
		}
		if err != nil {
			return n, fmt.Errorf("read pending entries of %s: %w", stream, err)
		}
		got := 0
		for _, s := range res {
			for _, m := range s.Messages {
				e.handleInbox(ctx, stream, m)
				from = m.ID
				got++
			}
		}
		n += got
		if got < 100 {
			break
		}
	}
	return n, nil
}

// claimInbox takes over the entries of stream that a consumer of the group
// was given more than idle ago and never acknowledged, and handles them.
// At most maxBatchesPerPass pages of 100.
func (e *Engine) claimInbox(ctx context.Context, stream string, idle time.Duration) (int, error) {
	start, n := "0-0", 0
	for range maxBatchesPerPass {
		msgs, next, err := e.store.rdb.XAutoClaim(ctx, &redis.XAutoClaimArgs{
			Stream: stream, Group: inboxGroup, Consumer: e.store.node,
			MinIdle: idle, Start: start, Count: 100,
		}).Result()
		if err != nil {
			return n, fmt.Errorf("claim entries of %s: %w", stream, err)
		}
		for _, m := range msgs {
			e.handleInbox(ctx, stream, m)
			n++
		}
		if next == "0-0" || next == "" {
			break
		}
		start = next
	}
	return n, nil
}

// staleOffer says whether an inbox offer was resolved while its entry
// waited: the call is no longer offered with that attempt (the recoverer
// put it back in its queue because its owner was dead, or it was answered,
// refused or ended). An entry can wait for long: in a dead seat's inbox
// until the seat is held again, or delivered and pending until it is read
// again. Such an offer is dropped. Delivered, it would make the call's
// actor ring an agent who is no longer reserved for it (and may be on
// another call by now), or, for a call not run here, be given back by
// failing a call that waits again for whoever runs it. One HMGET per
// inbox offer: offers only reach an inbox from another replica (or a reply
// with no room for them), never on a replica's own hand-off path.
func (e *Engine) staleOffer(ctx context.Context, o Offer) bool {
	h, err := e.store.rdb.HMGet(ctx, e.store.keys.Interaction(o.ConnectionID), "state", "offers").Result()
	if err != nil {
		// Not known: deliver it as before (its give-back meets the same
		// Redis, and the recoverer frees the agent later if need be).
		return false
	}
	if h[0] == StateOffered && h[1] == strconv.Itoa(o.Attempt) {
		return false
	}
	e.log.Info("dropped an inbox offer no longer pending", "connection_id", o.ConnectionID, "agent_id", o.Agent, "state", h[0])
	return true
}
