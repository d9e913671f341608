package acd

import (
	"context"
	"fmt"
	"strconv"
)

// CallbackStart takes a call out of queue (or, not yet queued, places it
// in q's priority band at its arrival) for the callback dialog, and returns
// the score that keeps its place in line.
func (s *Store) CallbackStart(ctx context.Context, conn, q string, priority int) (float64, error) {
	v, err := s.run(ctx, scriptCallbackStart, []string{s.keys.Interaction(conn), s.keys.Waiting(q)}, conn, q, priority)
	if err != nil {
		return 0, fmt.Errorf("start callback of %s: %w", conn, err)
	}
	score, err := strconv.ParseFloat(fmt.Sprint(v), 64)
	if err != nil {
		return 0, fmt.Errorf("start callback of %s: score %v: %w", conn, v, err)
	}
	return score, nil
}

// CallbackCancel puts a call back in its queue, in the place it had before
// CallbackStart, and returns an offer if an agent was free.
func (s *Store) CallbackCancel(ctx context.Context, conn, q string) (*Offer, error) {
	v, err := s.run(ctx, scriptCallbackCancel, []string{s.keys.Interaction(conn), s.keys.Waiting(q)}, conn)
	if err != nil {
		return nil, fmt.Errorf("cancel callback of %s: %w", conn, err)
	}
	return offerAt(v.([]any), 0), nil
}

// EnqueueAt puts an arrived interaction in queue with an explicit score
// (a callback keeping the place of the call it was asked from).
func (s *Store) EnqueueAt(ctx context.Context, conn, queue string, priority int, score float64) (*Offer, error) {
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
	return fmt.Sprint(v), nil
}
