package acd

import (
	"context"
	"sync"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/tandem-cc/tandem/agents"
)

// offerLog is an offerSink that records what it is given.
type offerLog struct {
	mu     sync.Mutex
	offers []Offer
	freed  []time.Time
}

func (l *offerLog) deliverOffer(_ context.Context, o Offer, freedAt time.Time) {
	l.mu.Lock()
	l.offers = append(l.offers, o)
	l.freed = append(l.freed, freedAt)
	l.mu.Unlock()
}

// take returns the offers delivered since the last take.
func (l *offerLog) take() []Offer {
	l.mu.Lock()
	defer l.mu.Unlock()
	out := l.offers
	l.offers, l.freed = nil, nil
	return out
}

// tStore is a Store for the tests of the scripts. Its offers go to an
// offerLog, and its offer-making methods hand back what was delivered
// during the call, so that those tests read an offer as a result. Each
// tStore must be used by one goroutine at a time.
type tStore struct {
	*Store
	got *offerLog
}

func newTStore(rdb redis.UniversalClient, prefix, node string) *tStore {
	l := &offerLog{}
	return &tStore{Store: NewStore(rdb, prefix, node).withSink(l), got: l}
}

func (s *tStore) WithPolicy(p Policy) *tStore {
	return &tStore{Store: s.Store.WithPolicy(p), got: s.got}
}

// one returns the one offer delivered by the last call, if any.
func (s *tStore) one() *Offer {
	got := s.got.take()
	if len(got) == 0 {
		return nil
	}
	if len(got) > 1 {
		panic("one offer expected, got several")
	}
	return &got[0]
}

func (s *tStore) Enqueue(ctx context.Context, conn, queue string, priority int) (*Offer, error) {
	s.got.take()
	err := s.Store.Enqueue(ctx, conn, queue, priority)
	return s.one(), err
}

func (s *tStore) EnqueueWith(ctx context.Context, conn, queue string, priority int, skills []SkillRequirement) (*Offer, error) {
	s.got.take()
	err := s.Store.EnqueueWith(ctx, conn, queue, priority, skills)
	return s.one(), err
}

func (s *tStore) EnqueueCapped(ctx context.Context, conn, queue string, priority int, skills []SkillRequirement, maxSize int) (*Offer, error) {
	s.got.take()
	err := s.Store.EnqueueCapped(ctx, conn, queue, priority, skills, maxSize)
	return s.one(), err
}

func (s *tStore) EnqueueAt(ctx context.Context, conn, queue string, priority int, score float64) (*Offer, error) {
	s.got.take()
	err := s.Store.EnqueueAt(ctx, conn, queue, priority, score)
	return s.one(), err
}

func (s *tStore) NoAnswer(ctx context.Context, conn, agent, reason string) (*Offer, error) {
	s.got.take()
	err := s.Store.NoAnswer(ctx, conn, agent, reason)
	return s.one(), err
}

func (s *tStore) RingAllNoAnswer(ctx context.Context, conn, reason string) (*Offer, error) {
	s.got.take()
	err := s.Store.RingAllNoAnswer(ctx, conn, reason)
	return s.one(), err
}

func (s *tStore) RingAllAnswered(ctx context.Context, conn, agent string) ([]string, []Offer, error) {
	s.got.take()
	released, err := s.Store.RingAllAnswered(ctx, conn, agent)
	return released, s.got.take(), err
}

func (s *tStore) Finish(ctx context.Context, conn, how, by string) (string, *Offer, error) {
	s.got.take()
	final, err := s.Store.Finish(ctx, conn, how, by)
	return final, s.one(), err
}

func (s *tStore) Sweep(ctx context.Context, queue string, max int) ([]Offer, error) {
	s.got.take()
	_, err := s.Store.Sweep(ctx, queue, max)
	return s.got.take(), err
}

func (s *tStore) SetState(ctx context.Context, id string, ev agents.Event, reason string) (*Offer, error) {
	s.got.take()
	err := s.Store.SetState(ctx, id, ev, reason)
	return s.one(), err
}

func (s *tStore) WrapUp(ctx context.Context, agent, code string) (agents.State, *Offer, error) {
	s.got.take()
	st, err := s.Store.WrapUp(ctx, agent, code)
	return st, s.one(), err
}

func (s *tStore) WrapUpTimeout(ctx context.Context, agent, code string) (agents.State, *Offer, error) {
	s.got.take()
	st, err := s.Store.WrapUpTimeout(ctx, agent, code)
	return st, s.one(), err
}

func (s *tStore) ExpireWrapUps(ctx context.Context, code string, max int) ([]Offer, error) {
	s.got.take()
	err := s.Store.ExpireWrapUps(ctx, code, max)
	return s.got.take(), err
}

func (s *tStore) AgentStep(ctx context.Context, agent, conn, step string) (*Offer, error) {
	s.got.take()
	err := s.Store.AgentStep(ctx, agent, conn, step)
	return s.one(), err
}

func (s *tStore) TransferToQueue(ctx context.Context, conn, queue, from string) (*Offer, error) {
	s.got.take()
	err := s.Store.TransferToQueue(ctx, conn, queue, from)
	return s.one(), err
}

func (s *tStore) TransferToAgent(ctx context.Context, conn, target, from string) (Offer, error) {
	s.got.take()
	err := s.Store.TransferToAgent(ctx, conn, target, from)
	if o := s.one(); o != nil {
		return *o, err
	}
	return Offer{}, err
}

func (s *tStore) MoveQueue(ctx context.Context, conn, from, to, why string) (*Offer, error) {
	s.got.take()
	err := s.Store.MoveQueue(ctx, conn, from, to, why)
	return s.one(), err
}

func (s *tStore) CallbackCancel(ctx context.Context, conn, q string) (*Offer, error) {
	s.got.take()
	err := s.Store.CallbackCancel(ctx, conn, q)
	return s.one(), err
}
