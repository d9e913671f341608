package acd

// What the browser pages read to draw themselves: every logged-in agent
// with its call (the wallboard; the desktop's consult list), every queue,
// the callbacks not over yet, and the settings a desktop needs (reason
// codes, wrap-up, the queues' variables). Reads only: each is a few
// pipelined round trips, bounded by the agents, queues and callbacks
// configured or live.

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"maps"
	"slices"
	"strings"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/tandem-cc/tandem/agents"
	"github.com/tandem-cc/tandem/callbacks"
)

// AgentListing is one logged-in agent as the wallboard lists it.
type AgentListing struct {
	ID    string       `json:"id"`
	State agents.State `json:"state"`
	// Since is when the agent entered State.
	Since time.Time `json:"since"`
	// Reason is the idle reason code while State is idle.
	Reason   string   `json:"reason,omitempty"`
	Queues   []string `json:"queues"`
	Endpoint string   `json:"endpoint,omitempty"`
	// Call is the call the agent is reserved for, rung for or on.
	Call *AgentCall `json:"call,omitempty"`
}

// AgentCall is the call an agent has, as the wallboard shows it.
type AgentCall struct {
	ConnectionID string `json:"connection_id"`
	Queue        string `json:"queue"`
	// State is offered (reserved or ringing), connected, held, consulting
	// or conferenced.
	State string `json:"state"`
	// Since is when the call was answered, or offered while it rings.
	Since time.Time `json:"since"`
}

// agentFields are the agent hash fields Agents reads.
var agentFields = []string{"state", "since", "reason", "queues", "endpoint", "conn"}

// Agents lists the logged-in agents, sorted by id, each with its call
// while it is reserved, ringing or connected. Agents and calls are each
// read in one pipeline.
func (e *Engine) Agents(ctx context.Context) ([]AgentListing, error) {
	logged, err := e.store.loggedInAgents(ctx, agentFields...)
	if err != nil {
		return nil, err
	}
	out := make([]AgentListing, 0, len(logged))
	var withCall []int
	for _, a := range logged {
		f := a.fields
		l := AgentListing{ID: a.id, State: agents.State(f[0]), Since: msTime(f[1]), Reason: f[2],
			Queues: []string{}, Endpoint: f[4]}
		if f[3] != "" {
			l.Queues = strings.Split(f[3], ",")
		}
		if l.State != agents.Idle {
			l.Reason = "" // a reason is kept only while idle
		}
		if conn := f[5]; conn != "" && (l.State == agents.Reserved || l.State == agents.Ringing || l.State == agents.Connected) {
			l.Call = &AgentCall{ConnectionID: conn}
			withCall = append(withCall, len(out))
		}
		out = append(out, l)
	}
	if len(withCall) == 0 {
		return out, nil
	}
	pipe := e.store.rdb.Pipeline()
	cmds := make([]*redis.SliceCmd, len(withCall))
	for i, j := range withCall {
		cmds[i] = pipe.HMGet(ctx, e.store.keys.Interaction(out[j].Call.ConnectionID), "queue", "state", "talk_state", "answered", "offered")
	}
	if _, err := pipe.Exec(ctx); err != nil && !errors.Is(err, redis.Nil) {
		return nil, fmt.Errorf("read agents' calls: %w", err)
	}
	for i, j := range withCall {
		v := cmds[i].Val()
		str := func(k int) string {
			if k < len(v) && v[k] != nil {
				return fmt.Sprint(v[k])
			}
			return ""
		}
		c := out[j].Call
		c.Queue, c.State = str(0), str(1)
		if c.State == StateConnected && str(2) != "" && str(2) != TalkTalking {
			c.State = str(2)
		}
		c.Since = cmp.Or(msTime(str(3)), msTime(str(4)))
		if c.State == "" {
			out[j].Call = nil // the interaction's record is gone
		}
	}
	return out, nil
}

// Queues reads every configured queue as Queue does, sorted by name; the
// agents are read once for all.
func (e *Engine) Queues(ctx context.Context) ([]QueueView, error) {
	return e.queueViews(ctx, slices.Sorted(maps.Keys(e.opts.Queues)))
}

// queueViews reads the named queues (all configured) with their figures
// and live callbacks, in two round trips however many they are: the
// figures and the callback counts go in readQueues' first pipeline.
func (e *Engine) queueViews(ctx context.Context, names []string) ([]QueueView, error) {
	stats := make([]*redis.MapStringStringCmd, len(names))
	pending := make([]*redis.IntCmd, len(names))
	views, err := e.store.readQueues(ctx, names, func(pipe redis.Pipeliner, i int, name string) {
		stats[i] = e.store.queueStats(ctx, pipe, name)
		pending[i] = e.callbacks.QueueLiveCount(ctx, pipe, name)
	})
	if err != nil {
		return nil, err
	}
	for i := range views {
		v := &views[i]
		longest := 0.0
		for _, w := range v.Waiting {
			longest = max(longest, w.WaitSeconds)
		}
		st := statsOf(stats[i].Val(), e.opts.Queues[v.Name].ServiceLevel, longest)
		v.Stats = &st
		v.PendingCallbacks = pending[i].Val()
	}
	return views, nil
}

// maxCallbackList bounds the callbacks Callbacks lists.
const maxCallbackList = 1000

// Callbacks lists the callbacks not over yet (pending, or dialing: waiting
// for an agent or being dialled) of every configured queue, oldest
// request first, at most maxCallbackList; their secure variables masked.
// Only the listed ones are read whole (callbacks.Store.Live).
func (e *Engine) Callbacks(ctx context.Context) ([]callbacks.Callback, error) {
	live, err := e.callbacks.Live(ctx, slices.Sorted(maps.Keys(e.opts.Queues)), maxCallbackList)
	if err != nil {
		return nil, err
	}
	for i, cb := range live {
		live[i] = e.masked(cb)
	}
	return live, nil
}

// DesktopSettings are what the agent desktop and the wallboard draw
// themselves with.
type DesktopSettings struct {
	IdleReasons []string       `json:"idle_reasons"`
	WrapUp      WrapUpSettings `json:"wrapup"`
	Queues      []QueueDesktop `json:"queues"`
}

// WrapUpSettings are the wrap-up codes, the one applied when the time runs
// out, and that time (0: no wrap-up, the agent is free when a call ends).
type WrapUpSettings struct {
	Codes          []string `json:"codes"`
	DefaultCode    string   `json:"default_code"`
	TimeoutSeconds float64  `json:"timeout_s"`
}

// QueueDesktop is a queue's call variables, in display order.
type QueueDesktop struct {
	Name      string        `json:"name"`
	Variables []VariableDef `json:"variables"`
}

// VariableDef is a call variable's definition as a desktop shows it.
type VariableDef struct {
	Name     string `json:"name"`
	Label    string `json:"label"`
	Type     string `json:"type"`
	Editable bool   `json:"editable"`
	Secure   bool   `json:"secure"`
	Order    int    `json:"order"`
	PopUp    bool   `json:"popup"`
}

// DesktopSettings returns the settings the pages need: idle reasons (empty
// when any reason is accepted), wrap-up, and each configured queue's
// variables sorted by display order, the queues by name.
func (e *Engine) DesktopSettings() DesktopSettings {
	ds := DesktopSettings{
		IdleReasons: slices.Clone(e.opts.IdleReasons),
		WrapUp: WrapUpSettings{Codes: slices.Clone(e.opts.WrapUpCodes), DefaultCode: e.opts.DefaultWrapUpCode,
			TimeoutSeconds: e.opts.Policy.WrapUp.Seconds()},
		Queues: []QueueDesktop{},
	}
	if ds.IdleReasons == nil {
		ds.IdleReasons = []string{}
	}
	for _, name := range slices.Sorted(maps.Keys(e.opts.Queues)) {
		qd := QueueDesktop{Name: name, Variables: []VariableDef{}}
		for _, v := range e.opts.Queues[name].Variables {
			qd.Variables = append(qd.Variables, VariableDef{Name: v.Name, Label: v.Label, Type: v.Type,
				Editable: v.Editable, Secure: v.Secure, Order: v.Order, PopUp: v.PopUp})
		}
		slices.SortStableFunc(qd.Variables, func(a, b VariableDef) int { return cmp.Compare(a.Order, b.Order) })
		ds.Queues = append(ds.Queues, qd)
	}
	return ds
}
