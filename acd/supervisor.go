package acd

// Supervisor overrides: nothing stays stuck forever (issue 10). A call
// whose replica died, or whose replica restarted without picking it back
// up, stays "connected" in Redis with its agent, and neither the agent
// (POST /call/end answers 409 "no call", logout is refused) nor anybody
// else could end it. A supervisor can now end any interaction and put any
// agent in logged_out, available or idle. Every such action is written to
// the audit stream (who, on what, why, before and after) and to the
// interaction's or agent's history.

import (
	"context"
	"errors"
	"fmt"
	"sort"
	"strconv"
	"strings"

	"github.com/redis/go-redis/v9"

	"github.com/tandem-cc/tandem/agents"
	"github.com/tandem-cc/tandem/errs"
	"github.com/tandem-cc/tandem/internal/luascript"
)

// opForceEnd is the forwarded command that asks a call's owner to end it
// for a supervisor.
const opForceEnd = "force_end"

// The supervisor scripts (documented at the top of their files).
var (
	scriptForceEnd        = script("force_end")
	scriptForceAgentState = script("force_agent_state")
)

// How a forced end was carried out (ForceEndResult.Path).
const (
	// ForcedByOwner: the replica running the call ended it: its actor hung
	// up, freed the agent and finished the interaction as for any end.
	ForcedByOwner = "owner"
	// ForcedDeadOwner: the call's replica is not running; this replica hung
	// the legs up and finished the interaction in Redis itself.
	ForcedDeadOwner = "dead"
	// ForcedOrphan: the call's replica runs but answered that it does not
	// run the call (it restarted and never picked it up): ended here too.
	ForcedOrphan = "orphan"
)

// ForceEndResult is what a forced end did.
type ForceEndResult struct {
	ConnectionID string `json:"connection_id"`
	// Before and After are the interaction's states.
	Before string `json:"before"`
	After  string `json:"after"`
	// Agent is the call's agent, if it had one, with its states around
	// the end (After is wrapup or available, or whatever it went on to).
	Agent       string       `json:"agent,omitempty"`
	AgentBefore agents.State `json:"agent_before,omitempty"`
	AgentAfter  agents.State `json:"agent_after,omitempty"`
	Owner       string       `json:"owner"`
	Path        string       `json:"path"`
}

// ForceAgentResult is what a forced agent state did.
type ForceAgentResult struct {
	Agent  agents.Agent `json:"agent"`
	Before agents.State `json:"before"`
	// Ended is the call force-ended first (force_end), if any.
	Ended *ForceEndResult `json:"ended,omitempty"`
}

// AgentOnCallError refuses to take an agent from a call that may be
// running: the call's owner replica is alive. It wraps
// ErrIllegalTransition (a 409); asking with force_end ends the call first.
type AgentOnCallError struct {
	Agent, ConnectionID, State, Owner string
}

func (e *AgentOnCallError) Error() string {
	return fmt.Sprintf("agent %s is on call %s (%s), run by live replica %s; ask again with force_end to end that call first",
		e.Agent, e.ConnectionID, e.State, e.Owner)
}

func (e *AgentOnCallError) Unwrap() error { return ErrIllegalTransition }

// forceAttempts bounds the retries when the call or its owner moved while
// a forced action looked at it (a STALE reply).
const forceAttempts = 3

// ForceEnd ends interaction conn for a supervisor (who, e.g.
// "supervisor:alice"; reason is their note). If the call's owner replica is
// alive the request goes to it, and its actor ends the call as for any
// end; if the owner is dead, or alive but not running the call, this
// replica ends it: it hangs up the legs recorded on the interaction and
// destroys the call's bridges through its own PBX port (the PBX hangs up
// any channel, whichever application has it), then force_end.lua makes
// the interaction terminal and frees the agent. Errors: ErrNotFound for
// an unknown interaction, ErrIllegalTransition if it is already over.
func (e *Engine) ForceEnd(ctx context.Context, conn, who, reason string) (ForceEndResult, error) {
	if who == "" {
		return ForceEndResult{}, errors.New("force end: no supervisor identity to audit")
	}
	for attempt := 1; ; attempt++ {
		res, err := e.forceEndOnce(ctx, conn, who, reason)
		if errors.Is(err, ErrStale) && attempt < forceAttempts {
			continue // the owner moved meanwhile: look again
		}
		if err != nil {
			return res, fmt.Errorf("force end %s: %w", conn, err)
		}
		e.log.Info("interaction force-ended", "connection_id", conn, "who", who, "reason", reason,
			"path", res.Path, "owner", res.Owner, "before", res.Before, "after", res.After, "agent_id", res.Agent)
		return res, nil
	}
}

func (e *Engine) forceEndOnce(ctx context.Context, conn, who, reason string) (ForceEndResult, error) {
	ix, err := e.store.Interaction(ctx, conn)
	if err != nil {
		return ForceEndResult{}, err
	}
	if ix.Terminal() {
		return ForceEndResult{}, illegal("call %s is already %s", conn, ix.State)
	}
	path := ForcedDeadOwner
	if ix.Owner != "" {
		alive, err := e.replicaAlive(ctx, ix.Owner)
		if err != nil {
			return ForceEndResult{}, err
		}
		if alive && ix.Parent != "" {
			// A consult waiting in a queue has no actor of its own: the
			// customer's call runs it. While that call is live, ending the
			// consult behind its back would leave the call's actor waiting
			// for it; once that call is over, the consult is an orphan.
			parent, err := e.store.Interaction(ctx, ix.Parent)
			switch {
			case errors.Is(err, ErrNotFound):
				alive = false
			case err != nil:
				return ForceEndResult{}, err
			case !parent.Terminal():
				return ForceEndResult{}, illegal("interaction %s is a consult of call %s, which is %s: end that call", conn, ix.Parent, parent.State)
			default:
				alive = false
			}
			if !alive {
				path = ForcedOrphan
			}
		}
		if alive {
			res, err := e.forceEndByOwner(ctx, ix, who, reason)
			switch {
			case err == nil:
				return res, nil
			case errors.Is(err, ErrNoCall):
				path = ForcedOrphan // alive, but it does not run the call
			case errors.Is(err, errs.ErrOwnerUnavailable):
				// It stopped meanwhile: look again (the end may have been
				// carried out before it stopped).
				return ForceEndResult{}, fmt.Errorf("%w: %w", ErrStale, err)
			default:
				return ForceEndResult{}, err
			}
		}
	}
	return e.forceEndHere(ctx, ix, path, who, reason)
}

// forceEndByOwner asks the replica running the call (this one or another)
// to end it, then audits what it did.
func (e *Engine) forceEndByOwner(ctx context.Context, ix Interaction, who, reason string) (ForceEndResult, error) {
	var agentBefore agents.State
	if ix.Agent != "" {
		if a, err := e.store.Agent(ctx, ix.Agent); err == nil {
			agentBefore = a.State
		}
	}
	cmd := command{ID: newRequestID(), Op: opForceEnd}
	var err error
	if ix.Owner == e.store.node {
		_, err = e.local(ctx, ix.ConnectionID, cmd)
	} else {
		_, err = e.forward(ctx, ix.Owner, ix.ConnectionID, cmd)
	}
	if err != nil {
		return ForceEndResult{}, err
	}
	res := ForceEndResult{ConnectionID: ix.ConnectionID, Before: ix.State, Agent: ix.Agent,
		AgentBefore: agentBefore, Owner: ix.Owner, Path: ForcedByOwner}
	if after, err := e.store.Interaction(ctx, ix.ConnectionID); err == nil {
		res.After = after.State
	}
	if ix.Agent != "" {
		if a, err := e.store.Agent(ctx, ix.Agent); err == nil {
			res.AgentAfter = a.State
		}
	}
	// The owner's finish wrote the transition (ended_by supervisor); the
	// audit entry and the history's record of who asked, and why, are
	// written here, where the supervisor's identity is known.
	pipe := e.store.rdb.TxPipeline()
	pipe.XAdd(ctx, &redis.XAddArgs{Stream: e.store.keys.Audit(), Values: []any{
		"kind", "force_end", "connection_id", res.ConnectionID, "actor", who, "who", who, "reason", reason,
		"path", res.Path, "owner", res.Owner, "before", res.Before, "after", res.After,
		"agent", res.Agent, "agent_before", string(res.AgentBefore), "agent_after", string(res.AgentAfter),
		"at", strconv.FormatInt(e.opts.Clock.Now().UnixMilli(), 10),
	}})
	pipe.XAdd(ctx, &redis.XAddArgs{Stream: e.store.keys.Events(), MaxLen: 1_000_000, Approx: true, Values: []any{
		"kind", "control", "id", res.ConnectionID, "action", "force_end", "actor", who, "who", who, "reason", reason, "path", res.Path,
	}})
	if _, err := pipe.Exec(ctx); err != nil {
		// The call is over; the caller must know the audit is missing.
		return res, fmt.Errorf("ended by its owner %s, but the audit entry was not written: %w", ix.Owner, err)
	}
	return res, nil
}

// forceEndHere ends a call no actor runs: legs and bridges on the PBX
// first (so a freed agent's phone never still holds this call), then
// Redis in one script. A PBX error stops it before Redis changes: the
// supervisor asks again.
func (e *Engine) forceEndHere(ctx context.Context, ix Interaction, path, who, reason string) (ForceEndResult, error) {
	conn := ix.ConnectionID
	h, err := e.store.rdb.HGetAll(ctx, e.store.keys.Interaction(conn)).Result()
	if err != nil {
		return ForceEndResult{}, fmt.Errorf("read legs of %s: %w", conn, err)
	}
	for _, leg := range recordedLegs(h) {
		if err := e.pbx.Hangup(ctx, leg, CauseNormal); err != nil && !errors.Is(err, ErrLegGone) {
			return ForceEndResult{}, fmt.Errorf("hang up leg %s: %w", leg, err)
		}
	}
	// The call's bridge (its id is the connection id) and the callback
	// dialog's message bridge; a bridge that is not there is no error.
	for _, b := range []string{conn, conn + "-msg"} {
		if err := e.pbx.DestroyBridge(ctx, b); err != nil {
			return ForceEndResult{}, fmt.Errorf("destroy bridge %s: %w", b, err)
		}
	}
	v, err := e.store.run(ctx, scriptForceEnd,
		[]string{e.store.keys.Interaction(conn), e.store.keys.Audit(), e.store.keys.ReplicaAlive(ix.Owner)},
		conn, ix.Owner, path, who, reason, e.store.wrapupMS())
	if err != nil {
		return ForceEndResult{}, err
	}
	f, err := luascript.Strings(scriptForceEnd.name, v)
	if err != nil {
		return ForceEndResult{}, err
	}
	if len(f) != 5 {
		return ForceEndResult{}, fmt.Errorf("script %s: reply of %d items, want 5: %w", scriptForceEnd.name, len(f), errs.ErrBadReply)
	}
	res := ForceEndResult{ConnectionID: conn, Before: f[0], After: f[1], Agent: f[2],
		AgentBefore: agents.State(f[3]), AgentAfter: agents.State(f[4]), Owner: ix.Owner, Path: path}
	if res.Agent != "" {
		e.publish(ctx, AgentEvent{Type: "ended", Agent: res.Agent, ConnectionID: conn, Disposition: res.After})
		if res.AgentAfter == agents.WrapUp {
			e.scheduleWrapUp(res.Agent)
		}
	}
	return res, nil
}

// recordedLegs lists the legs an interaction hash names, in a fixed
// order: the caller's and the agent's first, then every other field that
// names a leg — "<what>_leg" (a consult's leg, once recorded there) or
// "leg:<agent>" (each agent rung by a ring-all offer). A leg not recorded
// in Redis cannot be found here: today a consulted party's leg lives only
// in its owner's memory, so the direct path frees the consulted agent (it
// is named in the call's view) but cannot hang its phone up.
func recordedLegs(h map[string]string) []string {
	var legs []string
	seen := map[string]bool{"": true}
	add := func(l string) {
		if !seen[l] {
			seen[l] = true
			legs = append(legs, l)
		}
	}
	add(h["caller_leg"])
	add(h["agent_leg"])
	var more []string
	for k, v := range h {
		if strings.HasPrefix(k, "leg:") || strings.HasSuffix(k, "_leg") {
			more = append(more, v)
		}
	}
	sort.Strings(more)
	for _, l := range more {
		add(l)
	}
	return legs
}

// forceEnd is the actor's side of a supervisor's end: the call ends for
// everyone on it, recorded as ended by "supervisor". A call already over
// here answers ErrNoCall (the requester then ends what Redis still holds).
func (c *call) forceEnd(ctx context.Context) (CallView, error) {
	if c.route == routeDone {
		return CallView{}, fmt.Errorf("call %s is over on %s: %w", c.conn, c.e.store.node, ErrNoCall)
	}
	c.log.Info("ending the call for a supervisor", "route", c.route)
	if c.route == routeCallbackDialog && c.dialog != nil && c.dialog.recording != "" {
		if err := c.e.pbx.StopRecording(ctx, c.dialog.recording); err != nil {
			c.log.Warn("stop the message recording", "err", err)
		}
		c.destroyMessageBridge(ctx)
	}
	if c.ringAll != nil {
		c.hangupRing(ctx, "")
	}
	c.endAll(ctx, bySupervisor)
	if c.outcome != outcomeFinished {
		// finish could not write Redis; the requester ends it there.
		return CallView{}, fmt.Errorf("call %s: finish failed on its owner: %w", c.conn, ErrNoCall)
	}
	return CallView{ConnectionID: c.conn, State: c.final}, nil
}

// bySupervisor is the interaction's ended_by after a supervisor's end.
const bySupervisor = "supervisor"

// ForceAgentState puts agent in state (logged_out, available or idle with
// idleReason) whatever state it is in, for a supervisor (who; reason is
// their note). With forceEnd, the call the agent is reserved for, ringing
// or connected on is force-ended first (ForceEnd), whoever runs it, so
// no phone keeps a call the agent was taken from. Without it, an agent
// bound to a live call whose owner replica is alive is refused with
// *AgentOnCallError (that call may well be running); a call whose owner
// is dead does not hold the agent back: the agent leaves it, and the
// interaction is left to ForceEnd (or to the replica that takes the dead
// one's calls over), which no longer touches the agent. Errors: ErrNotFound, ErrIllegalTransition for a logged-out
// agent (logging in is the agent's: it brings the endpoint and queues),
// *errs.FieldError for a bad state or idle reason.
func (e *Engine) ForceAgentState(ctx context.Context, agent string, state agents.State, idleReason, reason, who string, forceEnd bool) (ForceAgentResult, error) {
	switch state {
	case agents.LoggedOut, agents.Available:
		idleReason = ""
	case agents.Idle:
		if idleReason == "" {
			idleReason = bySupervisor
		}
		if len(e.opts.IdleReasons) > 0 && idleReason != bySupervisor && !contains(e.opts.IdleReasons, idleReason) {
			return ForceAgentResult{}, &errs.FieldError{Field: "idle_reason", Msg: fmt.Sprintf("unknown idle reason %q", idleReason)}
		}
	default:
		return ForceAgentResult{}, &errs.FieldError{Field: "state", Msg: "must be logged_out, available or idle"}
	}
	if who == "" {
		return ForceAgentResult{}, errors.New("force agent state: no supervisor identity to audit")
	}
	var ended *ForceEndResult
	if forceEnd {
		// Asked to end the agent's call: whoever runs it, or nobody.
		a, err := e.store.Agent(ctx, agent)
		if err != nil {
			return ForceAgentResult{}, fmt.Errorf("force agent %s to %s: %w", agent, state, err)
		}
		if a.ConnectionID != "" && (a.State == agents.Reserved || a.State == agents.Ringing || a.State == agents.Connected) {
			if ended, err = e.endCallFirst(ctx, a.ConnectionID, who, reason); err != nil {
				return ForceAgentResult{}, fmt.Errorf("force agent %s to %s: %w", agent, state, err)
			}
		}
	}
	for attempt := 1; ; attempt++ {
		before, err := e.forceAgentOnce(ctx, agent, state, idleReason, reason, who)
		var busy *AgentOnCallError
		switch {
		case errors.As(err, &busy) && forceEnd && attempt < forceAttempts:
			// Bound to another call meanwhile: end that one too.
			r, ferr := e.endCallFirst(ctx, busy.ConnectionID, who, reason)
			if ferr != nil {
				return ForceAgentResult{}, fmt.Errorf("force agent %s to %s: %w", agent, state, ferr)
			}
			if r != nil {
				ended = r
			}
			continue
		case errors.Is(err, ErrStale) && attempt < forceAttempts:
			continue
		case err != nil:
			return ForceAgentResult{}, fmt.Errorf("force agent %s to %s: %w", agent, state, err)
		}
		a, err := e.store.Agent(ctx, agent)
		if err != nil {
			return ForceAgentResult{}, err
		}
		e.log.Info("agent state forced", "agent_id", agent, "who", who, "reason", reason, "before", before, "after", state)
		return ForceAgentResult{Agent: a, Before: before, Ended: ended}, nil
	}
}

// endCallFirst force-ends conn for ForceAgentState's force_end; a call
// already over is no error (nil result), any other refusal is.
func (e *Engine) endCallFirst(ctx context.Context, conn, who, reason string) (*ForceEndResult, error) {
	r, err := e.ForceEnd(ctx, conn, who, reason)
	if err == nil {
		return &r, nil
	}
	if errors.Is(err, ErrIllegalTransition) {
		if ix, rerr := e.store.Interaction(ctx, conn); rerr == nil && ix.Terminal() {
			return nil, nil
		}
	}
	return nil, err
}

func (e *Engine) forceAgentOnce(ctx context.Context, agent string, state agents.State, idleReason, reason, who string) (agents.State, error) {
	a, err := e.store.Agent(ctx, agent)
	if err != nil {
		return "", err
	}
	var owner string
	if a.ConnectionID != "" {
		owner, err = e.store.rdb.HGet(ctx, e.store.keys.Interaction(a.ConnectionID), "owner").Result()
		if err != nil && !errors.Is(err, redis.Nil) {
			return "", fmt.Errorf("read owner of %s: %w", a.ConnectionID, err)
		}
	}
	v, err := e.store.run(ctx, scriptForceAgentState,
		[]string{e.store.keys.Agent(agent), e.store.keys.Agents(), e.store.keys.Audit(),
			e.store.keys.Interaction(a.ConnectionID), e.store.keys.ReplicaAlive(owner)},
		agent, string(state), idleReason, who, reason, a.ConnectionID, owner)
	if err != nil {
		return "", err
	}
	f, err := luascript.Strings(scriptForceAgentState.name, v)
	if err != nil {
		return "", err
	}
	switch {
	case len(f) == 3 && f[0] == "busy":
		return "", &AgentOnCallError{Agent: agent, ConnectionID: f[1], State: f[2], Owner: owner}
	case len(f) != 2:
		return "", fmt.Errorf("script %s: reply of %d items: %w", scriptForceAgentState.name, len(f), errs.ErrBadReply)
	}
	return agents.State(f[0]), nil
}
