package acd

import (
	"context"
	"fmt"
	"strconv"

	"github.com/redis/go-redis/v9"
)

// The acting principal: who asked for an action, as opposed to the agent
// it was done for. The API puts it in the request's context (its guard,
// for every authenticated route), so the core's methods keep taking only
// the agent id and still know who acted. A call-control command carries
// it across replicas in command.Actor.
//
// Every entry an agent's action writes names it beside the agent: the
// call's control entries (kind control), variable edits, agent state
// changes (kind agent) and wrap-ups. An action nobody asked for through
// the API (a RONA, a wrap-up timeout, a sweep, a caller's own steps)
// names ActorSystem, so an entry without a principal is never mistaken
// for one whose principal was lost. When the actor is not the agent
// itself (a supervisor acting for the agent), the action is also written
// to the audit stream (auditForAgent), where supervisors' actions are
// looked for.

// ActorSystem is the actor of what Tandem does by itself.
const ActorSystem = "system"

// AgentActorPrefix and SupervisorActorPrefix begin the audit identities
// the API gives its principals: "agent:<id>", "supervisor:<name>".
const (
	AgentActorPrefix      = "agent:"
	SupervisorActorPrefix = "supervisor:"
)

type actorKey struct{}

// WithActor returns ctx carrying actor, the audit identity of whoever
// asked for what the core does with ctx.
func WithActor(ctx context.Context, actor string) context.Context {
	return context.WithValue(ctx, actorKey{}, actor)
}

// ActorOf is the actor WithActor put in ctx, "" when there is none.
func ActorOf(ctx context.Context) string {
	a, _ := ctx.Value(actorKey{}).(string)
	return a
}

// actorOrSystem is the actor entries name: ActorOf, or ActorSystem when
// no principal asked.
func actorOrSystem(ctx context.Context) string {
	if a := ActorOf(ctx); a != "" {
		return a
	}
	return ActorSystem
}

// actsForOther reports whether actor is a principal other than the agent
// itself (a supervisor, or another agent's identity): what the audit
// stream must hold. The system and the agent's own token are not.
func actsForOther(actor, agent string) bool {
	return actor != "" && actor != ActorSystem && actor != AgentActorPrefix+agent
}

// auditKindAgentAction is the audit entry of an action one principal took
// for an agent through the agent's own routes (/v1/agents/{id}/...); op
// names the action (hold, transfer, end, login, logout...).
const auditKindAgentAction = "agent_action"

// auditForAgent writes an action actor took for agent (on call conn, ""
// for none) to the audit stream, with the fields supervisor.go's entries
// share (kind, actor, agent, connection_id, who, at) and op, then fields
// (name, value pairs). It runs once the action is done, where the
// principal is known: a failure is returned, since the action stands but
// the caller must know its audit is missing (as for a force end by the
// call's owner).
func (e *Engine) auditForAgent(ctx context.Context, op, actor, agent, conn string, fields ...any) error {
	values := []any{
		"kind", auditKindAgentAction, "op", op, "actor", actor, "who", actor,
		"agent", agent, "connection_id", conn,
		"at", strconv.FormatInt(e.opts.Clock.Now().UnixMilli(), 10),
	}
	values = append(values, fields...)
	// The action is done: a client that goes away now must not cost its
	// audit entry.
	if err := e.store.rdb.XAdd(context.WithoutCancel(ctx), &redis.XAddArgs{Stream: e.store.keys.Audit(), Values: values}).Err(); err != nil {
		return fmt.Errorf("%s for agent %s by %s was carried out, but the audit entry was not written: %w", op, agent, actor, err)
	}
	return nil
}
