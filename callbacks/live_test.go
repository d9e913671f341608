package callbacks

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/redis/go-redis/v9"

	"github.com/tandem-cc/tandem/internal/redistest"
)

// commandLog records what a client sends: each round trip (a command or a
// pipeline) and each command by name, a pipeline's one by one.
type commandLog struct {
	mu    sync.Mutex
	trips int
	names map[string]int
}

func (l *commandLog) DialHook(next redis.DialHook) redis.DialHook { return next }
func (l *commandLog) ProcessHook(next redis.ProcessHook) redis.ProcessHook {
	return func(ctx context.Context, cmd redis.Cmder) error {
		l.add(cmd)
		return next(ctx, cmd)
	}
}
func (l *commandLog) ProcessPipelineHook(next redis.ProcessPipelineHook) redis.ProcessPipelineHook {
	return func(ctx context.Context, cmds []redis.Cmder) error {
		l.add(cmds...)
		return next(ctx, cmds)
	}
}

func (l *commandLog) add(cmds ...redis.Cmder) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.trips++
	if l.names == nil {
		l.names = map[string]int{}
	}
	for _, c := range cmds {
		l.names[strings.ToLower(c.Name())]++
	}
}

// reset forgets what was sent so far.
func (l *commandLog) reset() {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.trips, l.names = 0, map[string]int{}
}

func (l *commandLog) counts() (trips int, names map[string]int) {
	l.mu.Lock()
	defer l.mu.Unlock()
	out := make(map[string]int, len(l.names))
	for k, v := range l.names {
		out[k] = v
	}
	return l.trips, out
}

// TestLiveReadsOnlyTheOldestUpToTheCap: the wallboard's callback list
// (GET /v1/callbacks) is capped; Live picks the oldest live callbacks of
// every queue asked, up to the cap, before reading any record whole, so
// the records read are the ones listed, and the round trips do not grow
// with the queues or the callbacks. A callback whose record says it is
// over takes no place.
func TestLiveReadsOnlyTheOldestUpToTheCap(t *testing.T) {
	ctx := context.Background()
	rdb := redis.NewClient(&redis.Options{Addr: redistest.Start(t)})
	t.Cleanup(func() { _ = rdb.Close() })
	log := &commandLog{}
	rdb.AddHook(log)
	s := NewStore(rdb, "tandem")

	// Six callbacks, each strictly younger than the one before, spread
	// over three queues out of request order.
	queues := []string{"sales", "support", "billing", "support", "sales", "billing"}
	var made []Callback
	for i, q := range queues {
		cb := mustCreate(t, s, Request{Queue: q, Number: fmt.Sprintf("+120255501%02d", i)})
		made = append(made, cb)
		waitRedisPast(t, s, cb.Created)
	}
	// The second oldest is over on its record though still indexed (as
	// between a script's end and a reader's next read): it is skipped.
	if err := rdb.HSet(ctx, s.keys.Callback(made[1].ID), "state", string(StateCancelled)).Err(); err != nil {
		t.Fatal(err)
	}
	ids := func(cbs []Callback) []string {
		out := make([]string, len(cbs))
		for i, cb := range cbs {
			out[i] = cb.ID
		}
		return out
	}
	all := []string{"billing", "sales", "support"}

	for _, tc := range []struct {
		limit int
		want  []Callback
	}{
		{3, []Callback{made[0], made[2], made[3]}},
		{1, []Callback{made[0]}},
		{10, []Callback{made[0], made[2], made[3], made[4], made[5]}},
	} {
		log.reset()
		got, err := s.Live(ctx, all, tc.limit)
		if err != nil {
			t.Fatal(err)
		}
		if !slices.Equal(ids(got), ids(tc.want)) {
			t.Errorf("limit %d: live %q, want %q (oldest first)", tc.limit, ids(got), ids(tc.want))
		}
		trips, names := log.counts()
		if names["hgetall"] != len(tc.want) {
			t.Errorf("limit %d: %d records read whole, want the %d listed (commands %v)", tc.limit, names["hgetall"], len(tc.want), names)
		}
		if trips != 3 {
			t.Errorf("limit %d: %d round trips, want 3 (indexes, request times, records)", tc.limit, trips)
		}
	}

	// One queue reads as many round trips as three; no queue or no room
	// reads nothing.
	log.reset()
	if got, err := s.Live(ctx, []string{"sales"}, 10); err != nil || !slices.Equal(ids(got), ids([]Callback{made[0], made[4]})) {
		t.Errorf("live of sales: %q %v", ids(got), err)
	}
	if trips, _ := log.counts(); trips != 3 {
		t.Errorf("one queue: %d round trips, want 3", trips)
	}
	log.reset()
	for _, qs := range [][]string{nil, {"nobody"}} {
		if got, err := s.Live(ctx, qs, 10); err != nil || len(got) != 0 {
			t.Errorf("live of %q: %v %v, want none", qs, got, err)
		}
	}
	if got, err := s.Live(ctx, all, 0); err != nil || len(got) != 0 {
		t.Errorf("live with no room: %v %v, want none", got, err)
	}
	if _, names := log.counts(); names["hgetall"] != 0 {
		t.Errorf("records read for an empty list: %v", names)
	}
}
