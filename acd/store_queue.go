package acd

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"strconv"
	"time"

	"github.com/redis/go-redis/v9"
)

// SetAttached replaces a call's attached data (the IVR adds to it) and,
// in the same write, the list of its secure names: those the policy
// declares secure and those in secure (an IVR entry marked secure), so
// the end of the call knows which values to drop (secure.go).
func (s *Store) SetAttached(ctx context.Context, conn string, vars map[string]string, secure map[string]bool) error {
	data, err := json.Marshal(vars)
	if err != nil {
		return err
	}
	names, err := s.policy.secureNamesOf(vars, secure)
	if err != nil {
		return fmt.Errorf("attach data to %s: %w", conn, err)
	}
	if _, err := s.run(ctx, scriptSetAttached, []string{s.keys.Interaction(conn)}, conn, string(data), names); err != nil {
		return fmt.Errorf("attach data to %s: %w", conn, err)
	}
	return nil
}

var scriptSetAttached = script("set_attached")

// MoveQueue moves a waiting call to another queue, keeping its place by
// arrival (overflow); it delivers an offer if an agent there is free.
func (s *Store) MoveQueue(ctx context.Context, conn, from, to, why string) error {
	v, err := s.runOffering(ctx, scriptMoveQueue, []string{s.keys.Interaction(conn), s.keys.Waiting(from), s.keys.Waiting(to)}, conn, to, why)
	if err == nil {
		err = s.deliverList(ctx, scriptMoveQueue, v, 0, time.Time{})
	}
	if err != nil {
		return fmt.Errorf("move %s from %s to %s: %w", conn, from, to, err)
	}
	return nil
}

var scriptMoveQueue = script("move_queue")

// QueueStats are a queue's figures for today (UTC): what a supervisor's
// wallboard shows.
type QueueStats struct {
	Answered         int64   `json:"answered"`
	AnsweredWithinSL int64   `json:"answered_within_sl"`
	Abandoned        int64   `json:"abandoned"`
	ServiceLevelS    float64 `json:"service_level_threshold_s"`
	// ServiceLevel is answered within the threshold / (answered + abandoned).
	ServiceLevel float64 `json:"service_level"`
	AbandonRate  float64 `json:"abandon_rate"`
	// ASA is the average speed of answer.
	ASASeconds         float64 `json:"asa_s"`
	LongestWaitSeconds float64 `json:"longest_wait_s"`
}

func (s *Store) statsKey(q string, day time.Time) string {
	return s.keys.QueueStats(q, day.UTC().Format("2006-01-02"))
}

// CountAnswered adds an answered call that waited wait to q's figures.
func (s *Store) CountAnswered(ctx context.Context, q string, wait, threshold time.Duration) {
	key := s.statsKey(q, time.Now())
	pipe := s.rdb.Pipeline()
	pipe.HIncrBy(ctx, key, "answered", 1)
	pipe.HIncrBy(ctx, key, "wait_ms", wait.Milliseconds())
	if threshold > 0 && wait <= threshold {
		pipe.HIncrBy(ctx, key, "answered_within_sl", 1)
	}
	pipe.Expire(ctx, key, 8*24*time.Hour)
	s.reportFigures(ctx, q, "answered", pipe)
}

// CountAbandoned adds a call abandoned while waiting in q.
func (s *Store) CountAbandoned(ctx context.Context, q string) {
	key := s.statsKey(q, time.Now())
	pipe := s.rdb.Pipeline()
	pipe.HIncrBy(ctx, key, "abandoned", 1)
	pipe.Expire(ctx, key, 8*24*time.Hour)
	s.reportFigures(ctx, q, "abandoned", pipe)
}

// reportFigures writes a queue's figures. Like a history append, a failed
// write never stops the call it counts, so it is reported to the same
// place (logged and counted) rather than handed back to be dropped.
func (s *Store) reportFigures(ctx context.Context, q, what string, pipe redis.Pipeliner) {
	if _, err := pipe.Exec(ctx); err != nil {
		err = fmt.Errorf("figures of queue %s: count %s: %w", q, what, err)
		if s.historyFailed != nil {
			s.historyFailed("", "queue figures", err)
			return
		}
		slog.Error("queue figures write failed", "queue", q, "err", err)
	}
}

// Stats reads q's figures for today; longest is the longest current wait.
func (s *Store) Stats(ctx context.Context, q string, threshold time.Duration, longest float64) (QueueStats, error) {
	h, err := s.rdb.HGetAll(ctx, s.statsKey(q, time.Now())).Result()
	if err != nil {
		return QueueStats{}, fmt.Errorf("stats of %s: %w", q, err)
	}
	return statsOf(h, threshold, longest), nil
}

// queueStats queues in pipe the read of q's figures for today, which
// statsOf turns into QueueStats once pipe has run.
func (s *Store) queueStats(ctx context.Context, pipe redis.Pipeliner, q string) *redis.MapStringStringCmd {
	return pipe.HGetAll(ctx, s.statsKey(q, time.Now()))
}

// statsOf reads a queue's figures hash (threshold: its service level
// threshold; longest: the longest current wait).
func statsOf(h map[string]string, threshold time.Duration, longest float64) QueueStats {
	n := func(k string) int64 { v, _ := strconv.ParseInt(h[k], 10, 64); return v }
	st := QueueStats{Answered: n("answered"), AnsweredWithinSL: n("answered_within_sl"), Abandoned: n("abandoned"),
		ServiceLevelS: threshold.Seconds(), LongestWaitSeconds: longest}
	if offered := st.Answered + st.Abandoned; offered > 0 {
		st.ServiceLevel = float64(st.AnsweredWithinSL) / float64(offered)
		st.AbandonRate = float64(st.Abandoned) / float64(offered)
	}
	if st.Answered > 0 {
		st.ASASeconds = float64(n("wait_ms")) / float64(st.Answered) / 1000
	}
	return st
}
