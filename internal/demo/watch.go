package demo

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/tandem-cc/tandem/agents"
)

// watcher follows Tandem's history stream (every interaction and agent
// transition, appended by the same scripts that make them). It keeps the
// live counts the progress lines show, and it is the floor's eyes: it
// re-draws an agent's phone when they become available and has the
// supervisor recover agents left in RONA.
//
// Reading the stream, rather than polling every key, keeps the cost per
// second proportional to what happened, not to the size of the world.
type watcher struct {
	rdb    redis.UniversalClient
	stream string
	floor  *floor
	log    *slog.Logger
	last   string // id of the last entry read

	mu     sync.Mutex
	states map[string]string // connection id → latest interaction state
	counts map[string]int    // interaction state → how many are in it
	ronas  int               // offers that went back to the queue

	// Owned by run: agents in RONA and when the supervisor acts.
	due map[string]time.Time
}

// newWatcher starts following the stream after its current end, so a
// reused prefix's old history is not counted.
func newWatcher(ctx context.Context, rdb redis.UniversalClient, stream string, f *floor, log *slog.Logger) (*watcher, error) {
	last := "0-0"
	msgs, err := rdb.XRevRangeN(ctx, stream, "+", "-", 1).Result()
	if err != nil && !errors.Is(err, redis.Nil) {
		return nil, fmt.Errorf("demo: read the history stream: %w", err)
	}
	if len(msgs) == 1 {
		last = msgs[0].ID
	}
	return &watcher{
		rdb: rdb, stream: stream, floor: f, log: log, last: last,
		states: map[string]string{}, counts: map[string]int{}, due: map[string]time.Time{},
	}, nil
}

// run reads the stream until ctx ends.
func (w *watcher) run(ctx context.Context) error {
	for ctx.Err() == nil {
		res, err := w.rdb.XRead(ctx, &redis.XReadArgs{
			Streams: []string{w.stream, w.last}, Count: 1000, Block: 100 * time.Millisecond,
		}).Result()
		switch {
		case ctx.Err() != nil:
			return nil
		case errors.Is(err, redis.Nil):
		case err != nil:
			return fmt.Errorf("demo: read the history stream: %w", err)
		}
		for _, s := range res {
			for _, m := range s.Messages {
				w.apply(m.Values)
				w.last = m.ID
			}
		}
		w.superviseRONAs(ctx)
	}
	return nil
}

// apply takes one history entry: kind, id, from, to (see acd/scripts/lib.lua).
func (w *watcher) apply(v map[string]any) {
	kind, _ := v["kind"].(string)
	id, _ := v["id"].(string)
	from, _ := v["from"].(string)
	to, _ := v["to"].(string)
	switch kind {
	case "interaction":
		w.mu.Lock()
		if old, ok := w.states[id]; ok {
			w.counts[old]--
		}
		w.states[id] = to
		w.counts[to]++
		if from == "offered" && to == "queued" {
			w.ronas++
		}
		w.mu.Unlock()
	case "agent":
		a := w.floor.byID[id]
		if a == nil {
			return
		}
		switch agents.State(to) {
		case agents.RONA:
			w.due[id] = time.Now().Add(w.floor.opts.RONARecovery)
		case agents.Available:
			delete(w.due, id)
			w.floor.drawPhone(a)
		}
	}
}

// superviseRONAs makes available again the agents whose RONA time is up.
func (w *watcher) superviseRONAs(ctx context.Context) {
	now := time.Now()
	for id, at := range w.due {
		if now.Before(at) {
			continue
		}
		delete(w.due, id)
		if err := w.floor.recover(ctx, id); err != nil && ctx.Err() == nil {
			// Try again shortly rather than leave the agent out for good.
			w.log.Warn("supervisor could not make agent available", "agent_id", id, "err", err)
			w.due[id] = now.Add(500 * time.Millisecond)
		}
	}
}

// live is a snapshot of the interaction counts.
type live struct {
	Seen      int // interactions created
	Waiting   int // arrived, queued or offered
	Connected int
	Ended     int
	Abandoned int
	Failed    int
	RONAs     int
}

func (l live) terminal() int { return l.Ended + l.Abandoned + l.Failed }

func (w *watcher) snapshot() live {
	w.mu.Lock()
	defer w.mu.Unlock()
	c := w.counts
	return live{
		Seen:      len(w.states),
		Waiting:   c["arrived"] + c["queued"] + c["offered"],
		Connected: c["connected"],
		Ended:     c["ended"],
		Abandoned: c["abandoned"],
		Failed:    c["failed"],
		RONAs:     w.ronas,
	}
}
