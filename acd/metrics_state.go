package acd

import (
	"context"
	"errors"
	"fmt"
	"math"
	"slices"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/redis/go-redis/v9"

	"github.com/tandem-cc/tandem/metrics"
)

// scrapeTimeout bounds the Redis reads of one scrape.
const scrapeTimeout = 2 * time.Second

// bandMS is the width of one priority band in a waiting zset's score:
// score = (9 - priority) × 1e13 + arrival ms (see scripts/lib.lua).
const bandMS = 1e13

// maxPriority is the highest priority a waiting call can have (config
// refuses more), so a waiting zset has at most maxPriority+1 bands.
const maxPriority = 9

// stateCollector reads the gauges whose truth is in Redis when /metrics is
// scraped, rather than keeping copies in memory up to date from events:
// Redis is the single authority, a copy maintained from this replica's
// events would miss what the other replicas do, and a scrape every 15 s
// costs two round trips:
//
//  1. one pipeline: TIME; per queue ZCARD and the head of each priority
//     band (the oldest call of the band: longest wait is the oldest of
//     the heads); SMEMBERS of the logged-in agents; the state of each
//     interaction this replica owns;
//  2. one pipeline: the state of each logged-in agent.
//
// Queue and agent gauges describe the whole contact center (every replica
// reports the same value: aggregate them with max, not sum); calls by
// state are this replica's calls (sum them over replicas).
type stateCollector struct {
	e *Engine

	depth   *prometheus.Desc
	longest *prometheus.Desc
	agents  *prometheus.Desc
	calls   *prometheus.Desc
}

func newStateCollector(e *Engine) *stateCollector {
	ns := metrics.Namespace
	return &stateCollector{
		e:       e,
		depth:   prometheus.NewDesc(ns+"_queue_depth", "Calls waiting in the queue (whole contact center).", []string{"queue"}, nil),
		longest: prometheus.NewDesc(ns+"_queue_longest_wait_seconds", "How long the queue's longest-waiting call has waited (whole contact center).", []string{"queue"}, nil),
		agents:  prometheus.NewDesc(ns+"_agents", "Logged-in agents by state (whole contact center).", []string{"state"}, nil),
		calls:   prometheus.NewDesc(ns+"_calls", "Calls this replica owns, by interaction state.", []string{"state"}, nil),
	}
}

func (c *stateCollector) Describe(ch chan<- *prometheus.Desc) {
	ch <- c.depth
	ch <- c.longest
	ch <- c.agents
	ch <- c.calls
}

func (c *stateCollector) Collect(ch chan<- prometheus.Metric) {
	ctx, cancel := context.WithTimeout(context.Background(), scrapeTimeout)
	defer cancel()
	if err := c.collect(ctx, ch); err != nil {
		// Reported to the scraper (promhttp.ContinueOnError keeps the
		// rest) and logged here once per failed scrape.
		c.e.log.Warn("metrics: read gauges from redis", "err", err)
		ch <- prometheus.NewInvalidMetric(c.depth, err)
	}
}

func (c *stateCollector) collect(ctx context.Context, ch chan<- prometheus.Metric) error {
	s := c.e.store
	k := s.Keys()
	queues := make([]string, 0, len(c.e.opts.Queues))
	for q := range c.e.opts.Queues {
		queues = append(queues, q)
	}
	slices.Sort(queues)
	c.e.mu.Lock()
	conns := make([]string, 0, len(c.e.calls))
	for conn := range c.e.calls {
		conns = append(conns, conn)
	}
	c.e.mu.Unlock()

	pipe := s.rdb.Pipeline()
	now := pipe.Time(ctx)
	sizes := make([]*redis.IntCmd, len(queues))
	heads := make([][]*redis.ZSliceCmd, len(queues))
	for i, q := range queues {
		sizes[i] = pipe.ZCard(ctx, k.Waiting(q))
		for band := 0; band <= maxPriority; band++ {
			heads[i] = append(heads[i], pipe.ZRangeByScoreWithScores(ctx, k.Waiting(q), &redis.ZRangeBy{
				Min: fmt.Sprint(float64(band) * bandMS), Max: fmt.Sprintf("(%v", float64(band+1)*bandMS), Count: 1,
			}))
		}
	}
	members := pipe.SMembers(ctx, k.Agents())
	callStates := make([]*redis.StringCmd, len(conns))
	for i, conn := range conns {
		callStates[i] = pipe.HGet(ctx, k.Interaction(conn), "state")
	}
	if _, err := pipe.Exec(ctx); err != nil && !errors.Is(err, redis.Nil) {
		return fmt.Errorf("scrape: %w", err)
	}

	nowMS := float64(now.Val().UnixMilli())
	for i, q := range queues {
		ch <- prometheus.MustNewConstMetric(c.depth, prometheus.GaugeValue, float64(sizes[i].Val()), q)
		oldest := math.Inf(1)
		for _, h := range heads[i] {
			for _, z := range h.Val() {
				oldest = min(oldest, math.Mod(z.Score, bandMS))
			}
		}
		wait := 0.0
		if !math.IsInf(oldest, 1) {
			wait = max(0, (nowMS-oldest)/1000)
		}
		ch <- prometheus.MustNewConstMetric(c.longest, prometheus.GaugeValue, wait, q)
	}

	calls := map[string]int{}
	for _, st := range callStates {
		if v := st.Val(); v != "" { // "" = ended and gone between the reads
			calls[v]++
		}
	}
	for state, n := range calls {
		ch <- prometheus.MustNewConstMetric(c.calls, prometheus.GaugeValue, float64(n), state)
	}

	ids := members.Val()
	if len(ids) == 0 {
		return nil
	}
	pipe = s.rdb.Pipeline()
	agentStates := make([]*redis.StringCmd, len(ids))
	for i, id := range ids {
		agentStates[i] = pipe.HGet(ctx, k.Agent(id), "state")
	}
	if _, err := pipe.Exec(ctx); err != nil && !errors.Is(err, redis.Nil) {
		return fmt.Errorf("scrape agents: %w", err)
	}
	byState := map[string]int{}
	for _, st := range agentStates {
		if v := st.Val(); v != "" {
			byState[v]++
		}
	}
	for state, n := range byState {
		ch <- prometheus.MustNewConstMetric(c.agents, prometheus.GaugeValue, float64(n), state)
	}
	return nil
}
