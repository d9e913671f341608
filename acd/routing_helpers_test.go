package acd

import (
	"context"
	"strconv"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/tandem-cc/tandem/agents"
)

// setRouting writes one queue's routing settings.
func setRouting(t *testing.T, s *tStore, queue string, qr QueueRouting) {
	t.Helper()
	if err := s.SetQueues(context.Background(), map[string]QueueRouting{queue: qr}); err != nil {
		t.Fatal(err)
	}
}

// loginSkilled logs an agent in with skills and makes it available,
// returning the offer it got at once, if any. Availability order is idle
// order: Redis time is in ms, so it waits a little to keep it strict.
func loginSkilled(t *testing.T, s *tStore, id string, skills map[string]int, queues ...string) *Offer {
	t.Helper()
	ctx := context.Background()
	if _, err := s.Login(ctx, id, "PJSIP/"+id, queues, skills); err != nil {
		t.Fatal(err)
	}
	waitRedisTick(t, s.rdb)
	o, err := s.SetState(ctx, id, agents.EvAvailable, "")
	if err != nil {
		t.Fatal(err)
	}
	return o
}

// arriveWith creates a call and queues it with its own requirements.
func arriveWith(t *testing.T, s *tStore, conn, queue string, prio int, skills []SkillRequirement) *Offer {
	t.Helper()
	ctx := context.Background()
	if _, err := s.Arrive(ctx, conn, conn+"-leg", "5551000", "800", nil); err != nil {
		t.Fatal(err)
	}
	o, err := s.EnqueueWith(ctx, conn, queue, prio, skills)
	if err != nil {
		t.Fatal(err)
	}
	return o
}

// answer rings and connects an offer's (first) agent.
func answer(t *testing.T, s *tStore, o *Offer) {
	t.Helper()
	ctx := context.Background()
	if o == nil {
		t.Fatal("no offer to answer")
	}
	leg := o.ConnectionID + "-" + o.Agent
	if err := s.Ringing(ctx, *o, leg); err != nil {
		t.Fatal(err)
	}
	if err := s.Connect(ctx, o.ConnectionID, o.Agent, leg); err != nil {
		t.Fatal(err)
	}
}

// serve answers o and ends the call at once; the agent is available again.
func serve(t *testing.T, s *tStore, o *Offer) {
	t.Helper()
	answer(t, s, o)
	if _, _, err := s.Finish(context.Background(), o.ConnectionID, "hangup", "caller"); err != nil {
		t.Fatal(err)
	}
	waitRedisTick(t, s.rdb) // keep idle order strict (ms clock)
}

// ageCall moves a waiting call's start of wait (and its place in the queue)
// back by d, as if it had waited d longer: relaxation and weights without
// sleeping.
func ageCall(t *testing.T, s *tStore, conn string, d time.Duration) {
	t.Helper()
	ctx := context.Background()
	key := s.keys.Interaction(conn)
	h, err := s.rdb.HMGet(ctx, key, "queued", "score", "queue").Result()
	if err != nil {
		t.Fatal(err)
	}
	queued, _ := strconv.ParseInt(h[0].(string), 10, 64)
	score, _ := strconv.ParseInt(h[1].(string), 10, 64)
	ms := d.Milliseconds()
	s.rdb.HSet(ctx, key, "queued", queued-ms, "score", score-ms)
	if h[2] != nil {
		s.rdb.ZAddXX(ctx, s.keys.Waiting(h[2].(string)), redis.Z{Score: float64(score - ms), Member: conn})
	}
}

func offerAgents(o *Offer) []string {
	if o == nil {
		return nil
	}
	out := []string{o.Agent}
	for _, m := range o.RingAll {
		out = append(out, m.Agent)
	}
	return out
}
