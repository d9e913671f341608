package acd

import (
	"context"
	"fmt"
	"sync/atomic"
	"testing"

	"github.com/redis/go-redis/v9"

	"github.com/tandem-cc/tandem/agents"
	"github.com/tandem-cc/tandem/internal/redistest"
)

// sentCommands counts the commands a client sends, a pipeline's one by one.
type sentCommands struct{ n atomic.Int64 }

func (r *sentCommands) DialHook(next redis.DialHook) redis.DialHook { return next }
func (r *sentCommands) ProcessHook(next redis.ProcessHook) redis.ProcessHook {
	return func(ctx context.Context, cmd redis.Cmder) error {
		r.n.Add(1)
		return next(ctx, cmd)
	}
}
func (r *sentCommands) ProcessPipelineHook(next redis.ProcessPipelineHook) redis.ProcessPipelineHook {
	return func(ctx context.Context, cmds []redis.Cmder) error {
		r.n.Add(int64(len(cmds)))
		return next(ctx, cmds)
	}
}

// TestScrapeRoundTripsDoNotGrowWithCallsAndAgents: a /metrics scrape reads
// Redis in 2 round trips and the same number of commands with 3 calls and
// agents as with 60 of each (it used to send one HGET per call held and
// per agent), and still counts them by state.
func TestScrapeRoundTripsDoNotGrowWithCallsAndAgents(t *testing.T) {
	ctx := context.Background()
	scrape := func(n int) (trips, cmds int64, got map[string]float64) {
		rdb := redis.NewClient(&redis.Options{Addr: redistest.Start(t)})
		t.Cleanup(func() { _ = rdb.Close() })
		rt, sent := &roundTrips{}, &sentCommands{}
		rdb.AddHook(rt)
		rdb.AddHook(sent)
		s := newTStore(rdb, "t", "n1")
		e := NewEngine(Options{Store: s.Store, Queues: map[string]QueueSettings{"sales": {}}})
		for i := 0; i < n; i++ {
			// Calls wait (no agent serves sales), agents are idle.
			conn := fmt.Sprintf("c%03d", i)
			arriveQueued(t, s, conn, "sales", 0)
			e.registerCall(conn, &call{e: e, conn: conn})
			if _, err := s.Login(ctx, fmt.Sprintf("a%03d", i), "PJSIP/x", []string{"support"}, nil); err != nil {
				t.Fatal(err)
			}
		}
		if _, err := e.Metrics().Gatherer().Gather(); err != nil { // loads the script
			t.Fatal(err)
		}
		before, sentBefore := rt.n.Load(), sent.n.Load()
		fams, err := e.Metrics().Gatherer().Gather()
		if err != nil {
			t.Fatal(err)
		}
		got = map[string]float64{}
		for _, f := range fams {
			for _, m := range f.GetMetric() {
				key := f.GetName()
				for _, l := range m.GetLabel() {
					key += "/" + l.GetValue()
				}
				got[key] = m.GetGauge().GetValue()
			}
		}
		return rt.n.Load() - before, sent.n.Load() - sentBefore, got
	}
	small, smallCmds, gotSmall := scrape(3)
	large, largeCmds, gotLarge := scrape(60)
	if small != 2 || large != 2 {
		t.Errorf("round trips per scrape: %d with 3 calls and agents, %d with 60; want 2 and 2", small, large)
	}
	if smallCmds != largeCmds {
		t.Errorf("commands per scrape: %d with 3 calls and agents, %d with 60; want the same", smallCmds, largeCmds)
	}
	for n, got := range map[int]map[string]float64{3: gotSmall, 60: gotLarge} {
		if got["tandem_calls/"+StateQueued] != float64(n) || got["tandem_agents/"+string(agents.Idle)] != float64(n) || got["tandem_queue_depth/sales"] != float64(n) {
			t.Errorf("%d calls and agents: gauges %v", n, got)
		}
	}
}
