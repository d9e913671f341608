package acd

// The wallboard's chart: each queue's depth and service level over the
// last hour. Every replica runs a sampler (RunQueueHistory) that, once per
// slot of Options.SampleInterval, reads each configured queue and offers
// the sample to Redis; queue_sample.lua keeps the first sample of a slot
// and drops the others, so the history has one sample per slot however
// many replicas run, and none is lost when one of them stops or restarts.
// The slots and the hour are on Redis TIME, not on any replica's clock:
// one replica's clock being off must not put samples in the wrong slots
// or trim the others' history.

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/tandem-cc/tandem/errs"
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

// RunQueueHistory samples every configured queue once per slot until ctx
// ends (then it returns nil): once at once, then as each slot begins. The
// slots are Redis's (queue_sample.lua takes them from Redis TIME), so
// replicas whose clocks disagree still share them; the engine's clock
// only says when to try again: after the time Redis said was left of the
// slot, a duration the replica's clock counts whatever its offset (and
// tests move). A try that lands in a slot already recorded (by another
// replica, or by this one when its clock runs fast) changes nothing. A
// sample that cannot be read or written is logged and the next slot
// tried: the chart has a gap, the replica goes on. Run it once per
// replica (tandem serve does), beside the engine; it needs no seat.
func (e *Engine) RunQueueHistory(ctx context.Context) error {
	interval := e.sampleInterval()
	clk := e.opts.Clock
	queues := slices.Sorted(maps.Keys(e.opts.Queues))
	for {
		slots := make(map[string]time.Time, len(queues))
		wait := interval // when no sample could be offered
		for _, q := range queues {
			r, err := e.sampleQueue(ctx, q, interval)
			if err != nil {
				if ctx.Err() != nil {
					return nil
				}
				e.log.Warn("wallboard sample", "queue", q, "err", err)
				continue
			}
			slots[q], wait = r.Slot, r.Next
		}
		if e.opts.Sampled != nil {
			e.opts.Sampled(slots)
		}
		wake := make(chan struct{})
		t := clk.AfterFunc(wait, func() { close(wake) })
		select {
		case <-ctx.Done():
			t.Stop()
			return nil
		case <-wake:
		}
	}
}

// sampleQueue reads queue now and offers the sample for the current slot.
func (e *Engine) sampleQueue(ctx context.Context, queue string, interval time.Duration) (SampleOffer, error) {
	waiting, err := e.store.rdb.ZCard(ctx, e.store.keys.Waiting(queue)).Result()
	if err != nil {
		return SampleOffer{}, fmt.Errorf("count waiting calls: %w", err)
	}
	st, err := e.store.Stats(ctx, queue, e.opts.Queues[queue].ServiceLevel, 0)
	if err != nil {
		return SampleOffer{}, err
	}
	return e.store.AddQueueSample(ctx, queue, waiting, st.ServiceLevel, interval, HistoryWindow)
}

// SampleOffer is what became of a sample offered to a queue's history.
type SampleOffer struct {
	// Slot is the start of the slot the sample was offered for, on Redis's
	// clock.
	Slot time.Time
	// Recorded is false when the slot had a sample already.
	Recorded bool
	// Next is how long until the next slot begins, on Redis's clock.
	Next time.Duration
}

// AddQueueSample records queue's sample (waiting calls, service level)
// for the slot of interval that Redis TIME is in, unless the slot has
// one; samples older than window before Redis TIME are dropped
// (queue_sample.lua). It runs without the seat's fencing token: a sample
// is no call's state, and any replica, seated or not, may take it.
func (s *Store) AddQueueSample(ctx context.Context, queue string, waiting int64, serviceLevel float64, interval, window time.Duration) (SampleOffer, error) {
	v, err := scriptQueueSample.Run(ctx, s.rdb, []string{s.keys.QueueHistory(queue)},
		s.keys.Base(), s.node, interval.Milliseconds(), waiting,
		strconv.FormatFloat(serviceLevel, 'g', -1, 64), window.Milliseconds()).Result()
	if err != nil {
		return SampleOffer{}, fmt.Errorf("queue %s sample: %w", queue, scriptError(err))
	}
	reply, err := luascript.List(scriptQueueSample.name, v)
	if err == nil && len(reply) != 3 {
		err = fmt.Errorf("script %s: reply of %d items, want 3: %w", scriptQueueSample.name, len(reply), errs.ErrBadReply)
	}
	if err != nil {
		return SampleOffer{}, err
	}
	var n [3]int64
	for i := range n {
		if n[i], err = luascript.Int(scriptQueueSample.name, reply[i]); err != nil {
			return SampleOffer{}, err
		}
	}
	return SampleOffer{Recorded: n[0] == 1, Slot: time.UnixMilli(n[1]).UTC(), Next: time.Duration(n[2]) * time.Millisecond}, nil
}

// QueueSamples reads queue's samples of the last window up to Redis TIME,
// oldest first: the history's own clock (queue_sample.lua), so a
// replica whose clock is off reads the same hour as the others. One round
// trip: the history holds one window of samples (the script trims it), so
// it is read whole and the bound applied here.
func (s *Store) QueueSamples(ctx context.Context, queue string, window time.Duration) ([]QueueSample, error) {
	pipe := s.rdb.Pipeline()
	now := pipe.Time(ctx)
	all := pipe.ZRange(ctx, s.keys.QueueHistory(queue), 0, -1)
	if _, err := pipe.Exec(ctx); err != nil {
		return nil, fmt.Errorf("queue %s history: %w", queue, err)
	}
	since := now.Val().Add(-window)
	out := make([]QueueSample, 0, len(all.Val()))
	for _, m := range all.Val() {
		sm, err := parseSample(m)
		if err != nil {
			return nil, fmt.Errorf("queue %s history: %w", queue, err)
		}
		if sm.At.After(since) && !sm.At.After(now.Val()) {
			out = append(out, sm)
		}
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
// HistoryWindow on Redis's clock, the one the samples are taken on.
// ErrNotFound for a queue not configured.
func (e *Engine) QueueHistory(ctx context.Context, name string) (QueueHistory, error) {
	if _, ok := e.opts.Queues[name]; !ok {
		return QueueHistory{}, fmt.Errorf("queue %s: %w", name, ErrNotFound)
	}
	samples, err := e.store.QueueSamples(ctx, name, HistoryWindow)
	if err != nil {
		return QueueHistory{}, err
	}
	return QueueHistory{Queue: name, IntervalSeconds: e.sampleInterval().Seconds(), Samples: samples}, nil
}
