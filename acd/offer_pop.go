package acd

import (
	"context"
	"encoding/json"
	"fmt"
	"strconv"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/tandem-cc/tandem/agents"
)

// The pending offer's screen pop, readable from the API.
//
// The "offered" event reaches a desktop only while its event stream is
// up. A desktop that reconnects or reloads while the agent's phone rings
// must show the same request, but the call's view ("view", which GET
// /v1/agents/{id}/call reads) is only written once the call is answered.
// So the actor keeps the pop it publishes in the interaction's hash
// (field "pop", below), and GET /v1/agents/{id} returns it as "offer" for
// as long as the offer it belongs to is still this agent's: the agent
// reserved or ringing for that very offer, or, for a callback, answered
// and not yet accepted (the customer not dialled yet).

// storedPop is the "pop" field of an interaction hash: the screen pop of
// offer number Attempt, as shown to Agents (one, or the members of a
// ring-all offer whose phones rang). Event is the pop without its agent;
// AtMS is its time as the event stream carries it (milliseconds).
type storedPop struct {
	Attempt int        `json:"attempt"`
	Agents  []string   `json:"agents"`
	AtMS    int64      `json:"at_ms"`
	Event   AgentEvent `json:"event"`
}

// AgentView is an agent as their desktop reads it (GET /v1/agents/{id}):
// the agent, and the screen pop of the call offered to them, if one is.
type AgentView struct {
	agents.Agent
	// Offer is the "offered" event of the call the agent's phone rings for
	// (secure values masked), or of the callback the agent answered and
	// has not accepted yet; nil when no offer is pending for the agent.
	Offer *AgentEvent `json:"offer,omitempty"`
}

// showPop publishes the screen pop of the current offer to agent and
// keeps it where a desktop that reconnects reads it, both in one MULTI:
// one round trip, as the publish alone was, and the pop is readable from
// the moment the event is out (the desktop reads the agent again on every
// event). The pop of a call that is then answered is not deleted (that
// would cost the answer a round trip): reads ignore it (pendingPop), and
// the call's end drops it (close_interaction in lib.lua).
func (c *call) showPop(ctx context.Context, agent string) {
	pop := c.screenPop(agent)
	// Milliseconds, as the event stream carries the time.
	pop.At = time.UnixMilli(time.Now().UnixMilli())
	attempt := 0
	if c.offer != nil {
		attempt = c.offer.Attempt
	}
	if c.popAttempt != attempt {
		c.popAttempt, c.popAgents = attempt, nil
	}
	c.popAgents = append(c.popAgents, agent)
	rec := storedPop{Attempt: attempt, Agents: c.popAgents, AtMS: pop.At.UnixMilli(), Event: pop}
	rec.Event.Agent = ""
	stored, err := json.Marshal(rec)
	if err != nil {
		c.log.Warn("encode the screen pop", "agent_id", agent, "err", err)
		return
	}
	payload, err := agentEventPayload(pop)
	if err != nil {
		c.log.Warn("encode the screen pop event", "agent_id", agent, "err", err)
		return
	}
	s := c.e.store
	_, err = s.rdb.TxPipelined(ctx, func(p redis.Pipeliner) error {
		p.HSet(ctx, s.keys.Interaction(c.conn), "pop", stored)
		p.Publish(ctx, s.keys.AgentChannel(agent), payload)
		return nil
	})
	if err != nil && ctx.Err() == nil {
		c.log.Warn("publish the screen pop", "agent_id", agent, "err", err)
	}
}

// clearPop forgets the screen pop of a callback once it is accepted (its
// customer dialled): until then the agent, connected to it, still has its
// request, and after that a read must not show it.
func (c *call) clearPop(ctx context.Context) {
	c.popAttempt, c.popAgents = 0, nil
	if err := c.e.store.rdb.HDel(ctx, c.e.store.keys.Interaction(c.conn), "pop").Err(); err != nil {
		c.log.Warn("clear the screen pop", "err", err)
	}
}

// AgentView reads an agent with the screen pop of the call offered to
// them, if any (see AgentView).
func (e *Engine) AgentView(ctx context.Context, id string) (AgentView, error) {
	return e.store.agentWithOffer(ctx, id)
}

// maxOfferReads bounds agentWithOffer's retries when the agent moves to
// another call between its two reads.
const maxOfferReads = 3

// agentWithOffer reads agent id and, if they may have an offer pending,
// their call's stored pop. The agent and the pop are read again together
// in one MULTI, so the pop is judged against the agent as it was at that
// very moment: it is returned only if it belongs to the offer the agent
// holds (pendingPop).
func (s *Store) agentWithOffer(ctx context.Context, id string) (AgentView, error) {
	a, err := s.Agent(ctx, id)
	for range maxOfferReads {
		if err != nil || !mayHoldOffer(a) {
			return AgentView{Agent: a}, err
		}
		conn := a.ConnectionID
		var agentH *redis.MapStringStringCmd
		var ixH *redis.SliceCmd
		var hasView *redis.BoolCmd
		_, err = s.rdb.TxPipelined(ctx, func(p redis.Pipeliner) error {
			agentH = p.HGetAll(ctx, s.keys.Agent(id))
			ixH = p.HMGet(ctx, s.keys.Interaction(conn), "pop", "offers", "state", "agent")
			hasView = p.HExists(ctx, s.keys.Interaction(conn), "view")
			return nil
		})
		if err != nil {
			return AgentView{}, fmt.Errorf("read agent %s and its offer: %w", id, err)
		}
		if len(agentH.Val()) == 0 {
			return AgentView{}, fmt.Errorf("agent %s: %w", id, ErrNotFound)
		}
		a = agentFromHash(id, agentH.Val())
		if a.ConnectionID != conn {
			continue // moved to another call between the two reads
		}
		return AgentView{Agent: a, Offer: pendingPop(a, ixFields(ixH.Val()), hasView.Val())}, nil
	}
	// Moving from call to call all along: the agent as last read, without
	// an offer (the desktop hears the next one on its stream).
	return AgentView{Agent: a}, err
}

// mayHoldOffer: the agent's state is one in which an offer can be pending.
func mayHoldOffer(a agents.Agent) bool {
	if a.ConnectionID == "" {
		return false
	}
	switch a.State {
	case agents.Reserved, agents.Ringing, agents.Connected:
		return true
	}
	return false
}

// popFields are the interaction's fields pendingPop judges the pop by.
type popFields struct {
	pop    string
	offers int
	state  string
	agent  string
}

func ixFields(v []any) popFields {
	str := func(i int) string {
		if i < len(v) {
			if s, ok := v[i].(string); ok {
				return s
			}
		}
		return ""
	}
	f := popFields{pop: str(0), state: str(2), agent: str(3)}
	f.offers, _ = strconv.Atoi(str(1))
	return f
}

// pendingPop is the pop stored on the agent's call if it belongs to the
// offer the agent holds now, with the agent's id filled in; else nil. The
// pop must be of the call's latest offer (the attempt count), shown to
// this agent, and the offer still open for them:
//   - the call offered and the agent reserved or ringing for it: a RONA,
//     a caller gone, a ring-all answered by another agent, a takeover
//     that gave the offer back (reconcile.go) all move the agent or the
//     call on, and a later offer of the same call has a higher attempt;
//   - for a callback, also the agent connected to it before the customer
//     was dialled (its accept pending): the pop is deleted when the dial
//     starts, and a call that has a view has its customer on the line.
func pendingPop(a agents.Agent, f popFields, hasView bool) *AgentEvent {
	if f.pop == "" {
		return nil
	}
	var rec storedPop
	if err := json.Unmarshal([]byte(f.pop), &rec); err != nil || rec.Attempt != f.offers || !contains(rec.Agents, a.ID) {
		return nil
	}
	switch {
	case (a.State == agents.Reserved || a.State == agents.Ringing) && f.state == StateOffered:
	case a.State == agents.Connected && rec.Event.Kind == "callback" && f.state == StateConnected && f.agent == a.ID && !hasView:
	default:
		return nil
	}
	ev := rec.Event
	ev.Agent = a.ID
	ev.At = time.UnixMilli(rec.AtMS)
	return &ev
}
