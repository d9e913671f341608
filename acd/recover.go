package acd

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/tandem-cc/tandem/internal/luascript"
	"github.com/tandem-cc/tandem/metrics"
)

// The recoverer puts back what an owner that died (or lost track) left
// behind, in the way of a job queue's lease recovery: a periodic pass,
// on every replica, of one bounded script on Redis time (recover.lua)
// over the deadlines the offer and ring scripts record (offers-due), and
// a claim of inbox entries delivered but never acknowledged. Every
// replica runs it: the script is idempotent, and whichever runs first
// does the work.
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
	// Recovered, if set, is called after each pass with what it did:
	// tests wait on it.
	Recovered func(RecoverResult)
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
	// Inbox entries claimed and handled again.
	Inbox int
}

func (r *RecoverResult) add(o RecoverResult) {
	r.Calls += o.Calls
	r.Agents += o.Agents
	r.Looked += o.Looked
	r.Inbox += o.Inbox
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
	rows, _ := v.([]any) // checked by deliverEach
	head, err := luascript.List(scriptRecover.name, rows[0])
	if err != nil || len(head) != 3 {
		return RecoverResult{}, fmt.Errorf("recover overdue offers: counts %v: %w", rows[0], errors.Join(err, errBadCounts))
	}
	var n [3]int64
	for i := range n {
		if n[i], err = luascript.Int(scriptRecover.name, head[i]); err != nil {
			return RecoverResult{}, fmt.Errorf("recover overdue offers: %w", err)
		}
	}
	return RecoverResult{Calls: int(n[0]), Agents: int(n[1]), Looked: int(n[2])}, nil
}

var errBadCounts = errors.New("want {calls, agents, looked}")

// runRecoverer runs a recoverer pass every interval of the engine's clock
// until ctx ends.
func (e *Engine) runRecoverer(ctx context.Context) error {
	o := e.opts.Recovery.withDefaults()
	t := e.opts.Clock.NewTicker(o.Interval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return nil
		case <-t.C():
		}
		r := e.recoverPass(ctx, o)
		if ctx.Err() != nil {
			return nil
		}
		if r.Calls+r.Agents+r.Inbox > 0 {
			e.log.Warn("recovered what an owner left behind", "calls", r.Calls, "agents", r.Agents, "inbox_entries", r.Inbox)
		}
		if o.Recovered != nil {
			o.Recovered(r)
		}
	}
}

// recoverPass is one pass: overdue offers, then unacknowledged inbox
// entries. Errors are logged; the next pass tries again.
func (e *Engine) recoverPass(ctx context.Context, o RecoverOptions) RecoverResult {
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
	n, err := e.claimInbox(ctx, o.InboxIdle)
	if err != nil && ctx.Err() == nil {
		e.log.Error("claim inbox entries", "err", err)
	}
	total.Inbox = n
	m := e.opts.Metrics.Recovered
	m.WithLabelValues(metrics.RecoveredCall).Add(float64(total.Calls))
	m.WithLabelValues(metrics.RecoveredAgent).Add(float64(total.Agents))
	m.WithLabelValues(metrics.RecoveredInbox).Add(float64(total.Inbox))
	return total
}

// claimInbox takes over the entries of this node's inbox that a reader
// (any consumer of the group: a previous holder of the seat under another
// name, or this one stuck) was given more than idle ago and never
// acknowledged, and handles them as readInbox does. At most
// maxBatchesPerPass pages of 100.
func (e *Engine) claimInbox(ctx context.Context, idle time.Duration) (int, error) {
	stream := e.store.keys.Inbox(e.store.node)
	start, n := "0-0", 0
	for range maxBatchesPerPass {
		msgs, next, err := e.store.rdb.XAutoClaim(ctx, &redis.XAutoClaimArgs{
			Stream: stream, Group: inboxGroup, Consumer: e.store.node,
			MinIdle: idle, Start: start, Count: 100,
		}).Result()
		if err != nil {
			if isNoGroup(err) {
				return n, nil // readInbox has not created it yet
			}
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

func isNoGroup(err error) bool {
	var re redis.Error
	return errors.As(err, &re) && len(re.Error()) >= 7 && re.Error()[:7] == "NOGROUP"
}
