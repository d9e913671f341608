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
// costs two round trips, however many agents and calls there are:
//
//  1. one pipeline: TIME; per queue ZCARD and the head of each priority
//     band (the oldest call of the band: longest wait is the oldest of
//     the heads);
//  2. state_counts.lua: the logged-in agents and the interactions this
//     replica owns, counted by state inside Redis (the reply is a few
//     counts, not one per agent and call).
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
	if _, err := pipe.Exec(ctx); err != nil && !errors.Is(err, redis.Nil) {
		return fmt.Errorf("scrape: %w", err)
	}
	agentsBy, callsBy, err := c.stateCounts(ctx, conns)
	if err != nil {
		return err
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

	for state, n := range callsBy {
		ch <- prometheus.MustNewConstMetric(c.calls, prometheus.GaugeValue, float64(n), state)
	}
	for state, n := range agentsBy {
		ch <- prometheus.MustNewConstMetric(c.agents, prometheus.GaugeValue, float64(n), state)
	}
	return nil
}

// stateCounts runs state_counts.lua: the logged-in agents and the
// interactions conns by state, in one round trip.
func (c *stateCollector) stateCounts(ctx context.Context, conns []string) (agentsBy, callsBy map[string]int64, err error) {
	s := c.e.store
	args := make([]any, len(conns))
	for i, conn := range conns {
		args[i] = conn
	}
	v, err := s.run(ctx, scriptStateCounts, []string{s.Keys().Agents()}, args...)
	if err != nil {
		return nil, nil, fmt.Errorf("scrape agent and call states: %w", err)
	}
	parts, ok := v.([]any)
	if !ok || len(parts) != 2 {
		return nil, nil, fmt.Errorf("scrape agent and call states: reply %v", v)
	}
	if agentsBy, err = stateCountPairs(parts[0]); err == nil {
		callsBy, err = stateCountPairs(parts[1])
	}
	if err != nil {
		return nil, nil, fmt.Errorf("scrape agent and call states: %w", err)
	}
	return agentsBy, callsBy, nil
}

// stateCountPairs reads a flat {state, n, ...} list.
func stateCountPairs(v any) (map[string]int64, error) {
	l, ok := v.([]any)
	if !ok || len(l)%2 != 0 {
		return nil, fmt.Errorf("state counts %v", v)
	}
	out := make(map[string]int64, len(l)/2)
	for i := 0; i < len(l); i += 2 {
		st, ok1 := l[i].(string)
		n, ok2 := l[i+1].(int64)
		if !ok1 || !ok2 {
			return nil, fmt.Errorf("state counts %v", v)
		}
		out[st] = n
	}
	return out, nil
}
