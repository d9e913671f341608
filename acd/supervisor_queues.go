package acd

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"github.com/tandem-cc/tandem/agents"
	"github.com/tandem-cc/tandem/errs"
	"github.com/tandem-cc/tandem/internal/luascript"
)

var scriptSetAgentQueues = script("set_agent_queues")

// SetAgentQueues gives a logged-in agent these queues, for a supervisor
// (who, e.g. "supervisor:alice"; reason is their note, audited). Routing
// follows at once, as if the agent had logged in with them, and the state
// stays as it is: an available agent is offered the best call waiting in
// its new queues. The change is written to the audit stream (before and
// after) in the script that makes it. Errors: *errs.FieldError "queues"
// for no queue, a queue not configured or one named twice; ErrNotFound
// for an unknown agent; ErrIllegalTransition for a logged-out one.
func (e *Engine) SetAgentQueues(ctx context.Context, agent string, queues []string, reason, who string) (agents.Agent, error) {
	if len(queues) == 0 {
		return agents.Agent{}, &errs.FieldError{Field: "queues", Msg: "at least one queue is required"}
	}
	seen := make(map[string]bool, len(queues))
	for _, q := range queues {
		if _, ok := e.opts.Queues[q]; !ok {
			return agents.Agent{}, &errs.FieldError{Field: "queues", Msg: fmt.Sprintf("unknown queue %q", q)}
		}
		if seen[q] {
			return agents.Agent{}, &errs.FieldError{Field: "queues", Msg: fmt.Sprintf("queue %q named twice", q)}
		}
		seen[q] = true
	}
	if who == "" {
		return agents.Agent{}, errors.New("set agent queues: no supervisor identity to audit")
	}
	v, err := e.store.run(ctx, scriptSetAgentQueues, []string{e.store.keys.Agent(agent), e.store.keys.Audit()},
		agent, strings.Join(queues, ","), who, reason)
	if errors.Is(err, ErrIllegalTransition) {
		return agents.Agent{}, fmt.Errorf("agent %s is not logged in: %w", agent, ErrIllegalTransition)
	}
	if err != nil {
		return agents.Agent{}, fmt.Errorf("set queues of agent %s: %w", agent, err)
	}
	f, err := luascript.Strings(scriptSetAgentQueues.name, v)
	if err != nil {
		return agents.Agent{}, err
	}
	if len(f) != 2 {
		return agents.Agent{}, fmt.Errorf("script %s: reply of %d items, want 2: %w", scriptSetAgentQueues.name, len(f), errs.ErrBadReply)
	}
	e.log.Info("agent queues set", "agent_id", agent, "who", who, "reason", reason, "state", f[0], "before", f[1], "after", strings.Join(queues, ","))
	return e.store.Agent(ctx, agent)
}
