package acd

import (
	"context"
	"encoding/json"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/redis/go-redis/v9"
)

// seatCall is what Redis holds of one of a seat's live interactions, as
// the next holder of the seat needs it to rebuild the call.
type seatCall struct {
	Conn      string
	State     string // arrived, queued, callback, offered, connected
	Talk      string // a connected call's talk state (talking, held, consulting, conferenced)
	Kind      string // "" (a customer's call), "consult", "callback"
	Owner     string
	CallerLeg string
	ANI, DNIS string
	Attached  map[string]string
	Queue     string
	Agent     string
	// AgentLeg is set once the offered agent's phone rang (ringing.lua) and
	// stays while the agent has the call.
	AgentLeg string
	// Ring lists a ring-all offer's agents; RingLegs their legs.
	Ring     []string
	RingLegs []string
	Offers   int
	Queued   time.Time
	// ConsultAgent is the agent a consult in progress involves (from the
	// call's saved view), "" if none.
	ConsultAgent string
	// orphan: a callback interaction nobody continues (callbackToRebuild):
	// it is failed.
	orphan bool
}

// SeatCalls lists the interactions of seat node that are not over (the
// index arrive and adopt add to, and finish removes from). Ids whose hash
// is gone (expired) or already terminal are dropped from the index on the
// way: they have nothing left to rebuild.
func (s *Store) SeatCalls(ctx context.Context, node string) ([]seatCall, error) {
	key := s.keys.SeatCalls(node)
	ids, err := s.rdb.SMembers(ctx, key).Result()
	if err != nil {
		return nil, fmt.Errorf("read seat %s calls: %w", node, err)
	}
	// One round trip for all of them.
	cmds := make([]*redis.MapStringStringCmd, len(ids))
	if _, err := s.rdb.Pipelined(ctx, func(p redis.Pipeliner) error {
		for i, id := range ids {
			cmds[i] = p.HGetAll(ctx, s.keys.Interaction(id))
		}
		return nil
	}); err != nil {
		return nil, fmt.Errorf("read seat %s interactions: %w", node, err)
	}
	out := make([]seatCall, 0, len(ids))
	for i, id := range ids {
		h := cmds[i].Val()
		st := h["state"]
		if st == "" || st == StateEnded || st == StateAbandoned || st == StateFailed || h["owner"] != node {
			s.rdb.SRem(ctx, key, id)
			continue
		}
		sc := seatCall{
			Conn: id, State: st, Talk: h["talk_state"], Kind: h["kind"], Owner: h["owner"],
			CallerLeg: h["caller_leg"], ANI: h["ani"], DNIS: h["dnis"], Queue: h["queue"],
			Agent: h["agent"], AgentLeg: h["agent_leg"], Queued: msTime(h["queued"]),
		}
		if err := json.Unmarshal([]byte(h["attached"]), &sc.Attached); err != nil {
			sc.Attached = map[string]string{}
		}
		sc.Offers, _ = strconv.Atoi(h["offers"])
		var v CallView
		if json.Unmarshal([]byte(h["view"]), &v) == nil && v.Consult != nil {
			sc.ConsultAgent = v.Consult.Agent
		}
		if r := h["ring"]; r != "" {
			sc.Ring = strings.Split(r, ",")
			for _, a := range sc.Ring {
				if l := h["leg:"+a]; l != "" {
					sc.RingLegs = append(sc.RingLegs, l)
				}
			}
		}
		out = append(out, sc)
	}
	return out, nil
}

// GiveBack returns an offer whose agent was never rung to the head of its
// queue and the agents to available (give_back.lua); an offer it makes
// meanwhile is delivered.
func (s *Store) GiveBack(ctx context.Context, conn, why string) error {
	v, err := s.runOffering(ctx, scriptGiveBack, []string{s.keys.Interaction(conn)}, conn, why)
	if err == nil {
		err = s.deliverList(ctx, scriptGiveBack, v, 0, time.Time{})
	}
	if err != nil {
		return fmt.Errorf("give back %s: %w", conn, err)
	}
	return nil
}
