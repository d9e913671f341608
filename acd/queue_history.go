package acd

// The wallboard's chart: each queue's depth and service level over the
// last hour. Every replica runs a sampler (RunQueueHistory) that, once per
// slot of Options.SampleInterval, reads each configured queue and offers
// the sample to Redis; queue_sample.lua keeps the first sample of a slot
// and drops the others, so the history has one sample per slot however
// many replicas run, and none is lost when one of them stops or restarts.

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/tandem-cc/tandem/internal/luascript"
)

// HistoryWindow is how far back a queue's history goes.
const HistoryWindow = time.Hour

// DefaultSampleInterval is the sampling period when Options.SampleInterval
// is not set (the config's wallboard.sample_interval default).
const DefaultSampleInterval = 30 * time.Second

var scriptQueueSample = script("queue_sample")

// QueueSample is a queue at the start of one sampling slot.
type QueueSample struct {
	At time.Time `json:"at"`
	// Waiting is how many calls were waiting in the queue.
	Waiting int64 `json:"waiting"`
	// ServiceLevel is the day's service level so far (QueueStats).
	ServiceLevel float64 `json:"service_level"`
}

// QueueHistory is a queue's samples of the last HistoryWindow, oldest
// first, IntervalSeconds apart (a slot no replica sampled is missing).
type QueueHistory struct {
	Queue           string        `json:"queue"`
	IntervalSeconds float64       `json:"interval_s"`
	Samples         []QueueSample `json:"samples"`
}

// sampleInterval is the sampling period, whole milliseconds (slots are
// counted in ms), at least one.
func (e *Engine) sampleInterval() time.Duration {
	d := e.opts.SampleInterval.Truncate(time.Millisecond)
	if d <= 0 {
		return DefaultSampleInterval
	}
	return d
}

// slotOf is the start of the sampling slot t falls in: slots are aligned
// on the epoch, so every replica computes the same slots.
func slotOf(t time.Time, interval time.Duration) time.Time {
	ms, step := t.UnixMilli(), interval.Milliseconds()
	return time.UnixMilli(ms - ms%step)
}

// RunQueueHistory samples every configured queue at the start of each
// slot until ctx ends (then it returns nil): once at once for the current
// slot, then as each slot begins on the engine's clock. A sample that
// cannot be read or written is logged and the next slot tried: the chart
// has a gap, the replica goes on. Run it once per replica (tandem serve
// does), beside the engine; it needs no seat.
func (e *Engine) RunQueueHistory(ctx context.Context) error {
	interval := e.sampleInterval()
	clk := e.opts.Clock
	queues := slices.Sorted(maps.Keys(e.opts.Queues))
	for {
		slot := slotOf(clk.Now(), interval)
		for _, q := range queues {
			if err := e.sampleQueue(ctx, q, slot); err != nil {
				if ctx.Err() != nil {
					return nil
				}
				e.log.Warn("wallboard sample", "queue", q, "slot", slot, "err", err)
			}
		}
		if e.opts.Sampled != nil {
			e.opts.Sampled(slot)
		}
		wake := make(chan struct{})
		t := clk.AfterFunc(slot.Add(interval).Sub(clk.Now()), func() { close(wake) })
		select {
		case <-ctx.Done():
			t.Stop()
			return nil
		case <-wake:
		}
	}
}

// sampleQueue reads queue now and offers the sample for slot.
func (e *Engine) sampleQueue(ctx context.Context, queue string, slot time.Time) error {
	waiting, err := e.store.rdb.ZCard(ctx, e.store.keys.Waiting(queue)).Result()
	if err != nil {
		return fmt.Errorf("count waiting calls: %w", err)
	}
	st, err := e.store.Stats(ctx, queue, e.opts.Queues[queue].ServiceLevel, 0)
	if err != nil {
		return err
	}
	_, err = e.store.AddQueueSample(ctx, queue, QueueSample{At: slot, Waiting: waiting, ServiceLevel: st.ServiceLevel}, HistoryWindow)
	return err
}

// AddQueueSample records s as queue's sample for the slot starting at
// s.At, unless the slot has one; it reports whether s was recorded.
// Samples older than window before the newest are dropped. It runs
// without the seat's fencing token: a sample is no call's state, and any
// replica, seated or not, may take it.
func (s *Store) AddQueueSample(ctx context.Context, queue string, sm QueueSample, window time.Duration) (bool, error) {
	slot := sm.At.UnixMilli()
	member := strconv.FormatInt(slot, 10) + ":" + strconv.FormatInt(sm.Waiting, 10) + ":" +
		strconv.FormatFloat(sm.ServiceLevel, 'g', -1, 64)
	v, err := scriptQueueSample.Run(ctx, s.rdb, []string{s.keys.QueueHistory(queue)},
		s.keys.Base(), s.node, slot, member, window.Milliseconds()).Result()
	if err != nil {
		return false, fmt.Errorf("queue %s sample: %w", queue, scriptError(err))
	}
	n, err := luascript.Int(scriptQueueSample.name, v)
	if err != nil {
		return false, err
	}
	return n == 1, nil
}

// QueueSamples reads queue's samples taken after since, oldest first.
func (s *Store) QueueSamples(ctx context.Context, queue string, since time.Time) ([]QueueSample, error) {
	members, err := s.rdb.ZRangeByScore(ctx, s.keys.QueueHistory(queue), &redis.ZRangeBy{
		Min: "(" + strconv.FormatInt(since.UnixMilli(), 10), Max: "+inf",
	}).Result()
	if err != nil {
		return nil, fmt.Errorf("queue %s history: %w", queue, err)
	}
	out := make([]QueueSample, 0, len(members))
	for _, m := range members {
		sm, err := parseSample(m)
		if err != nil {
			return nil, fmt.Errorf("queue %s history: %w", queue, err)
		}
		out = append(out, sm)
	}
	return out, nil
}

var errBadSample = errors.New("malformed sample")

// parseSample reads a history member, '<slot ms>:<waiting>:<service level>'.
func parseSample(m string) (QueueSample, error) {
	f := strings.Split(m, ":")
	if len(f) != 3 {
		return QueueSample{}, fmt.Errorf("%w %q", errBadSample, m)
	}
	slot, err1 := strconv.ParseInt(f[0], 10, 64)
	waiting, err2 := strconv.ParseInt(f[1], 10, 64)
	sl, err3 := strconv.ParseFloat(f[2], 64)
	if err := errors.Join(err1, err2, err3); err != nil {
		return QueueSample{}, fmt.Errorf("%w %q: %w", errBadSample, m, err)
	}
	return QueueSample{At: time.UnixMilli(slot).UTC(), Waiting: waiting, ServiceLevel: sl}, nil
}

// QueueHistory reads a configured queue's samples of the last
// HistoryWindow on the engine's clock. ErrNotFound for a queue not
// configured.
func (e *Engine) QueueHistory(ctx context.Context, name string) (QueueHistory, error) {
	if _, ok := e.opts.Queues[name]; !ok {
		return QueueHistory{}, fmt.Errorf("queue %s: %w", name, ErrNotFound)
	}
	samples, err := e.store.QueueSamples(ctx, name, e.opts.Clock.Now().Add(-HistoryWindow))
	if err != nil {
		return QueueHistory{}, err
	}
	return QueueHistory{Queue: name, IntervalSeconds: e.sampleInterval().Seconds(), Samples: samples}, nil
}
