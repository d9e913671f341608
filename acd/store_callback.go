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
)

// CallbackStart takes a call out of queue (or, not yet queued, places it
// in q's priority band at its arrival) for the callback dialog, and returns
// the score that keeps its place in line.
func (s *Store) CallbackStart(ctx context.Context, conn, q string, priority int) (float64, error) {
	v, err := s.run(ctx, scriptCallbackStart, []string{s.keys.Interaction(conn), s.keys.Waiting(q)}, conn, q, priority)
	if err != nil {
		return 0, fmt.Errorf("start callback of %s: %w", conn, err)
	}
	str, err := luascript.String(scriptCallbackStart.name, v)
	if err != nil {
		return 0, fmt.Errorf("start callback of %s: %w", conn, err)
	}
	score, err := strconv.ParseFloat(str, 64)
	if err != nil {
		return 0, fmt.Errorf("start callback of %s: score %q: %w", conn, str, errs.ErrBadReply)
	}
	return score, nil
}

// CallbackCancel puts a call back in its queue, in the place it had before
// CallbackStart, and delivers an offer if an agent was free.
func (s *Store) CallbackCancel(ctx context.Context, conn, q string) error {
	v, err := s.runOffering(ctx, scriptCallbackCancel, []string{s.keys.Interaction(conn), s.keys.Waiting(q)}, conn)
	if err == nil {
		err = s.deliverList(ctx, scriptCallbackCancel, v, 0, time.Time{})
	}
	if err != nil {
		return fmt.Errorf("cancel callback of %s: %w", conn, err)
	}
	return nil
}

// EnqueueAt puts an arrived interaction in queue with an explicit score
// (a callback keeping the place of the call it was asked from).
func (s *Store) EnqueueAt(ctx context.Context, conn, queue string, priority int, score float64) error {
	return s.enqueue(ctx, conn, queue, priority, "", 0, strconv.FormatFloat(score, 'f', -1, 64))
}

// ArriveCallback records the interaction of callback id about to wait in
// a queue (kind "callback"). It does not count towards the maximum of
// concurrent calls until its customer is dialled (CountCall).
func (s *Store) ArriveCallback(ctx context.Context, conn, id, ani, dnis string, attached map[string]string) error {
	if _, err := s.arrive(ctx, conn, "", ani, dnis, attached, false); err != nil {
		return err
	}
	return s.rdb.HSet(ctx, s.keys.Interaction(conn), "kind", "callback", "callback_id", id).Err()
}

// CountCall counts a callback's interaction towards the maximum of
// concurrent calls, or fails with ErrFull at the cap.
func (s *Store) CountCall(ctx context.Context, conn string) error {
	_, err := s.run(ctx, scriptCountCall, []string{s.keys.Interaction(conn)}, conn, s.policy.MaxConcurrentCalls)
	if err != nil {
		return fmt.Errorf("count %s: %w", conn, err)
	}
	return nil
}

// Adopt makes this node the owner of interaction conn (its owner died and
// this node continues it) and returns the previous owner.
func (s *Store) Adopt(ctx context.Context, conn string) (string, error) {
	v, err := s.run(ctx, scriptAdopt, []string{s.keys.Interaction(conn)}, conn)
	if err != nil {
		return "", fmt.Errorf("adopt %s: %w", conn, err)
	}
	prev, err := luascript.String(scriptAdopt.name, v)
	if err != nil {
		return "", fmt.Errorf("adopt %s: %w", conn, err)
	}
	return prev, nil
}

// AtCapacity reports (for the callback scheduler, which gives a claimed
// callback back then) whether the contact center holds its maximum of
// concurrent calls (never with no maximum).
func (s *Store) AtCapacity(ctx context.Context) (bool, error) {
	if s.policy.MaxConcurrentCalls <= 0 {
		return false, nil
	}
	v, err := s.rdb.Get(ctx, s.keys.ActiveCalls()).Result()
	if err != nil && !errors.Is(err, redis.Nil) {
		return false, fmt.Errorf("active calls: %w", err)
	}
	n, _ := strconv.Atoi(v)
	return n >= s.policy.MaxConcurrentCalls, nil
}
