package acd

import (
	"context"
	"encoding/json"
	"fmt"

	"github.com/tandem-cc/tandem/cad"
)

// maskedVars are the call's attached data with secure values masked: what
// screen pops and events may carry.
func (c *call) maskedVars() map[string]string {
	out := cad.MaskVars(c.settings.Variables, c.arrived.Vars)
	for name := range c.secureVars {
		if _, ok := out[name]; ok {
			out[name] = cad.Masked
		}
	}
	return out
}

// popUp are the variables the queue shows in the screen pop.
func (c *call) popUp() []cad.Value {
	vars := c.arrived.Vars
	if len(c.secureVars) > 0 {
		vars = c.maskedVars()
	}
	return cad.PopUp(c.settings.Variables, vars)
}

// variablesOf finds the agent's call and its queue's variable definitions.
// Only an agent on the call (with the customer, or consulted) may see or
// edit them.
func (e *Engine) variablesOf(ctx context.Context, agent string) (string, QueueSettings, error) {
	conn, _, err := e.callOf(ctx, agent)
	if err != nil {
		return "", QueueSettings{}, err
	}
	ix, err := e.store.Interaction(ctx, conn)
	if err != nil {
		return "", QueueSettings{}, err
	}
	return conn, e.opts.Queues[ix.Queue], nil
}

// Variables reads the call-associated data of the agent's call.
func (e *Engine) Variables(ctx context.Context, agent string) (cad.View, error) {
	conn, q, err := e.variablesOf(ctx, agent)
	if err != nil {
		return cad.View{}, err
	}
	return e.cad.View(ctx, conn, q.Variables)
}

// EditVariable changes one editable variable, based on the version the
// agent saw; a stale version fails with *cad.ConflictError carrying the
// current values. The other agent on the call (consult, conference) is
// told of the change.
func (e *Engine) EditVariable(ctx context.Context, agent, name, value string, version int64) (cad.View, error) {
	conn, q, err := e.variablesOf(ctx, agent)
	if err != nil {
		return cad.View{}, err
	}
	v, err := e.cad.Edit(ctx, conn, q.Variables, name, value, version)
	if err != nil {
		return cad.View{}, err // *cad.ValueError and *cad.ConflictError reach the API as they are
	}
	e.store.Record(ctx, conn, "variable_edit", "agent", agent, "name", name, "version", fmt.Sprint(v.Version))
	for _, other := range e.partiesOf(ctx, conn) {
		if other != agent {
			e.publish(ctx, AgentEvent{Type: "variables_changed", Agent: other, ConnectionID: conn, Name: name, Version: v.Version})
		}
	}
	if actor := ActorOf(ctx); actsForOther(actor, agent) {
		// The value is not audited: it may be what the agent keyed for
		// the customer; the history has the version it made.
		if err := e.auditForAgent(ctx, "variable_edit", actor, agent, conn, "name", name, "version", fmt.Sprint(v.Version)); err != nil {
			return cad.View{}, err
		}
	}
	return v, nil
}

// RevealVariable shows a secure value of agent's call to actor: the agent
// itself ("agent:<id>") or a supervisor ("supervisor:<name>") acting for
// it. The audit entry names both, so a supervisor's reveal is never
// recorded as the agent's.
func (e *Engine) RevealVariable(ctx context.Context, actor, agent, name string) (string, error) {
	if actor == "" {
		return "", fmt.Errorf("reveal %s for %s: no actor to audit", name, agent)
	}
	conn, q, err := e.variablesOf(ctx, agent)
	if err != nil {
		return "", err
	}
	return e.cad.Reveal(ctx, conn, q.Variables, name, actor, agent)
}

// partiesOf lists the agents on a call as its view says.
func (e *Engine) partiesOf(ctx context.Context, conn string) []string {
	data, err := e.store.rdb.HGet(ctx, e.store.keys.Interaction(conn), "view").Result()
	if err != nil {
		return nil
	}
	var v CallView
	if err := json.Unmarshal([]byte(data), &v); err != nil {
		return nil
	}
	out := []string{v.Agent}
	if v.Consult != nil && v.Consult.Agent != "" {
		out = append(out, v.Consult.Agent)
	}
	return out
}
