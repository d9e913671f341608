package acd

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/tandem-cc/tandem/agents"
	"github.com/tandem-cc/tandem/errs"
	"github.com/tandem-cc/tandem/internal/keyspace"
	"github.com/tandem-cc/tandem/internal/luascript"
)

// Store is the ACD's shared state in Redis. Every method that changes more
// than one key is one Lua script (one round trip); see scripts/.
type Store struct {
	rdb    redis.UniversalClient
	prefix string
	keys   keyspace.Keys
	node   string
	policy Policy
	// sink takes every offer the scripts make for this node's calls (see
	// offerSink); nil in a store no engine has taken, which then refuses
	// the scripts that may make one.
	sink offerSink
	// historyFailed is told about a history append that failed (see
	// Record); nil: logged with slog's default logger.
	historyFailed func(conn, action string, err error)
	// fence is the fencing token of the seat this store acts for, shared
	// by every copy of the store (see lease.go); no token: unfenced.
	fence *fence
}

// Policy are the contact-center rules the scripts apply.
type Policy struct {
	// WrapUp is how long after-call work lasts before the default code
	// applies.
	WrapUp time.Duration
	// MaxConcurrentCalls caps the calls held at once by all replicas (0 =
	// no cap).
	MaxConcurrentCalls int
	// LoggedOutTTL is how long a logged-out agent's record is kept after
	// the logout (0 = DefaultLoggedOutTTL). Login records it in the
	// agent's hash, so every path to logged_out (the agent's logout, a
	// supervisor's) expires the record alike.
	LoggedOutTTL time.Duration
	// SecureRetention is how long secure values stay in clear after their
	// interaction ends: 0 drops them in the script that ends it.
	SecureRetention time.Duration
	// SecureNames are the variable names declared secure (by a queue's
	// variables or an IVR node): such a variable attached to a call is
	// marked secure in Redis, so the end of the call drops its value even
	// if the call never reached that queue.
	SecureNames map[string]bool
}

// DefaultLoggedOutTTL keeps a logged-out agent's record a week.
const DefaultLoggedOutTTL = 7 * 24 * time.Hour

func (p Policy) loggedOutTTLMS() int64 {
	if p.LoggedOutTTL <= 0 {
		return DefaultLoggedOutTTL.Milliseconds()
	}
	return max(p.LoggedOutTTL.Milliseconds(), 1)
}

// DefaultPolicy is used until WithPolicy says otherwise: no wrap-up time
// (an agent is available as soon as a call ends) and no cap.
var DefaultPolicy = Policy{}

// WithPolicy returns a copy of the store applying p.
func (s *Store) WithPolicy(p Policy) *Store {
	c := *s
	c.policy = p
	return &c
}

func (s *Store) wrapupMS() int64 { return s.policy.WrapUp.Milliseconds() }

// hasWrapUp: the policy has after-call work. The scripts count whole
// milliseconds (wrapupMS), so below 1ms there is none, and the engine
// arms no wrap-up timer (it would run wrapup.lua for nothing, an error
// reply per call).
func (p Policy) hasWrapUp() bool { return p.WrapUp.Milliseconds() > 0 }

// NewStore returns the store of node (the replica id every script records
// as the owner of calls it creates).
func NewStore(rdb redis.UniversalClient, prefix, node string) *Store {
	return &Store{rdb: rdb, prefix: prefix, keys: keyspace.New(prefix), node: node, policy: DefaultPolicy, fence: newFence()}
}

// Keys exposes the key builder (tests and tools read state back with it).
func (s *Store) Keys() keyspace.Keys { return s.keys }

// Node is the replica id of this store.
func (s *Store) Node() string { return s.node }

// Offer binds a waiting call to an agent: ring Endpoint for ConnectionID.
type Offer struct {
	ConnectionID string
	Agent        string
	Endpoint     string
	Attempt      int // 1 for the first offer of the call, 2 after one RONA...
	// RingAll lists the other agents reserved for the same call by a
	// ring_all queue: ring them all with Agent; the first to answer gets
	// the call (Store.RingAllAnswered). Empty for a one-agent offer.
	RingAll []RingMember
}

// RingMember is one more agent rung by a ring-all offer.
type RingMember struct {
	Agent    string
	Endpoint string
}

// run runs a script as this store's seat: ARGV[2] is "<node>|<token>"
// when the store carries a fencing token (lib.lua then refuses it once a
// newer holder took the seat), "<node>" otherwise. A store whose token was
// refused once refuses every later script itself (errs.ErrFenced), so a
// fenced seat changes nothing more, without even asking Redis.
func (s *Store) run(ctx context.Context, sc luaScript, keys []string, args ...any) (any, error) {
	tok, tripped := s.fence.current()
	if tripped {
		return nil, fmt.Errorf("script %s: seat %s token %d: %w", sc.name, s.node, tok, errs.ErrFenced)
	}
	self := s.node
	if tok > 0 {
		self = s.node + "|" + strconv.FormatInt(tok, 10)
	}
	argv := append([]any{s.keys.Base(), self}, args...)
	v, err := sc.Run(ctx, s.rdb, keys, argv...).Result()
	err = scriptError(err)
	if errors.Is(err, errs.ErrFenced) {
		s.fence.trip(tok)
	}
	return v, err
}

// ---- offers: one delivery path -------------------------------------------
//
// An offer binds a waiting call to an agent in Redis; until the call's
// actor rings the agent, the agent sits reserved for it. An offer nobody
// delivers leaves the agent bound to a caller nobody rings, and nothing
// repairs that. So no Store method hands an offer back to its caller: every
// script that may make one runs through runOffering, and each offer in its
// reply goes to the store's offerSink, which is the engine's single delivery
// path (Engine.deliverOffer: the owning actor's mailbox, or, for a call this
// node no longer runs, the call failed and the agent released). A caller
// cannot drop an offer it never sees, and a store without a sink refuses
// those scripts before running them, so it never makes an offer it would
// lose. TestNoStoreMethodReturnsAnOffer keeps it that way.

// offerSink takes the offers a store's scripts make. freedAt is when the
// agent was freed by the step that made the offer (zero when no agent was
// freed: a call queued, an agent made available), for hand-off latency.
type offerSink interface {
	deliverOffer(ctx context.Context, o Offer, freedAt time.Time)
}

// errNoSink: a script that may make an offer was run on a store that has
// nowhere to deliver it.
var errNoSink = errors.New("no offer sink: offers are made by the engine's store only")

// withSink returns a copy of the store delivering its offers to k.
func (s *Store) withSink(k offerSink) *Store {
	c := *s
	c.sink = k
	return &c
}

// runOffering runs a script whose reply may carry offers; the caller then
// delivers them with deliverAt or deliverEach.
func (s *Store) runOffering(ctx context.Context, sc luaScript, keys []string, args ...any) (any, error) {
	if s.sink == nil {
		return nil, fmt.Errorf("script %s: %w", sc.name, errNoSink)
	}
	return s.run(ctx, sc, keys, args...)
}

// deliverAt delivers the offer at position i of a script's list reply, if
// there is one. The delivery outlives the caller's context: the offer is
// made in Redis, so it must reach its call even if the request that caused
// it has gone.
func (s *Store) deliverAt(ctx context.Context, sc luaScript, reply []any, i int, freedAt time.Time) error {
	o, err := offerAt(sc.name, reply, i)
	if err != nil || o == nil {
		return err
	}
	s.sink.deliverOffer(context.WithoutCancel(ctx), *o, freedAt)
	return nil
}

// deliverEach delivers the offers of a reply that is a list of offers
// (each an offer or an empty list), from position from.
func (s *Store) deliverEach(ctx context.Context, sc luaScript, v any, from int, freedAt time.Time) error {
	rows, err := luascript.List(sc.name, v)
	if err != nil {
		return err
	}
	var first error
	for i := from; i < len(rows); i++ {
		row, err := luascript.List(sc.name, rows[i])
		if err == nil {
			err = s.deliverAt(ctx, sc, row, 0, freedAt)
		}
		if err != nil && first == nil {
			first = fmt.Errorf("offer %d: %w", i, err) // deliver the others still
		}
	}
	return first
}

// offerAt decodes an offer at position i of a script reply, if there is
// one: conn, agent, endpoint, attempt, then agent, endpoint pairs of a
// ring-all offer (an offer is always the end of a reply).
func offerAt(script string, reply []any, i int) (*Offer, error) {
	if len(reply) < i+4 {
		return nil, nil
	}
	f := make([]string, len(reply)-i)
	for j := range f {
		v, err := luascript.String(script, reply[i+j])
		if err != nil {
			return nil, fmt.Errorf("offer field %d: %w", j, err)
		}
		f[j] = v
	}
	if len(f)%2 != 0 {
		return nil, fmt.Errorf("script %s: offer of %d fields: %w", script, len(f), errs.ErrBadReply)
	}
	attempt, err := strconv.Atoi(f[3])
	if err != nil {
		return nil, fmt.Errorf("script %s: offer attempt %q: %w", script, f[3], errs.ErrBadReply)
	}
	o := &Offer{ConnectionID: f[0], Agent: f[1], Endpoint: f[2], Attempt: attempt}
	for j := 4; j+1 < len(f); j += 2 {
		o.RingAll = append(o.RingAll, RingMember{Agent: f[j], Endpoint: f[j+1]})
	}
	return o, nil
}

// Arrive records a new customer call owned by this node. It counts towards
// the maximum concurrent calls; at the cap it fails with ErrFull.
func (s *Store) Arrive(ctx context.Context, conn, callerLeg, ani, dnis string, attached map[string]string) (time.Time, error) {
	return s.arrive(ctx, conn, callerLeg, ani, dnis, attached, true)
}

func (s *Store) arrive(ctx context.Context, conn, callerLeg, ani, dnis string, attached map[string]string, counted bool) (time.Time, error) {
	if attached == nil {
		attached = map[string]string{}
	}
	data, err := json.Marshal(attached)
	if err != nil {
		return time.Time{}, fmt.Errorf("arrive %s: %w", conn, err)
	}
	count := "0"
	if counted {
		count = "1"
	}
	secure, err := s.policy.secureNamesOf(attached, nil)
	if err != nil {
		return time.Time{}, fmt.Errorf("arrive %s: %w", conn, err)
	}
	v, err := s.run(ctx, scriptArrive, []string{s.keys.Interaction(conn)}, conn, callerLeg, ani, dnis, string(data), s.policy.MaxConcurrentCalls, count,
		s.policy.secureKeepMS(), secure)
	if err != nil {
		return time.Time{}, fmt.Errorf("arrive %s: %w", conn, err)
	}
	ms, err := luascript.Int(scriptArrive.name, v)
	if err != nil {
		return time.Time{}, fmt.Errorf("arrive %s: %w", conn, err)
	}
	return time.UnixMilli(ms), nil
}

// ArriveConsult records a consult request of agent, for call parent, that
// will wait in a queue like a call. It does not count towards the cap on
// concurrent calls: no new customer is on the line.
func (s *Store) ArriveConsult(ctx context.Context, id, parent, agent string) error {
	if _, err := s.arrive(ctx, id, "", agent, "", nil, false); err != nil {
		return err
	}
	return s.rdb.HSet(ctx, s.keys.Interaction(id), "parent", parent, "kind", "consult").Err()
}

// Enqueue puts an arrived call in queue with priority (0..9, 9 first) and
// delivers an offer if an agent was free. The queue's skill requirements
// apply (EnqueueWith gives the call its own).
func (s *Store) Enqueue(ctx context.Context, conn, queue string, priority int) error {
	return s.EnqueueWith(ctx, conn, queue, priority, nil)
}

// Ringing records that the agent's leg is ringing for the offered call.
func (s *Store) Ringing(ctx context.Context, o Offer, leg string) error {
	_, err := s.run(ctx, scriptRinging, []string{s.keys.Interaction(o.ConnectionID), s.keys.Agent(o.Agent)}, o.ConnectionID, o.Agent, leg)
	if err != nil {
		return fmt.Errorf("ringing %s at %s: %w", o.ConnectionID, o.Agent, err)
	}
	return nil
}

// Connect records that the agent answered leg.
func (s *Store) Connect(ctx context.Context, conn, agent, leg string) error {
	_, err := s.run(ctx, scriptConnect, []string{s.keys.Interaction(conn), s.keys.Agent(agent)}, conn, agent, leg)
	if err != nil {
		return fmt.Errorf("connect %s to %s: %w", conn, agent, err)
	}
	return nil
}

// NoAnswer is RONA: the call returns to the head of its queue, the agent
// to 'rona'; delivers an offer to another agent if one is free.
func (s *Store) NoAnswer(ctx context.Context, conn, agent, reason string) error {
	v, err := s.runOffering(ctx, scriptNoAnswer, []string{s.keys.Interaction(conn), s.keys.Agent(agent)}, conn, agent, reason)
	if err == nil {
		err = s.deliverList(ctx, scriptNoAnswer, v, 0, time.Time{})
	}
	if err != nil {
		return fmt.Errorf("no answer %s by %s: %w", conn, agent, err)
	}
	return nil
}

// Finish ends an interaction; how = "hangup" or "failed", by = who ended
// it. It returns the final state and, if the call's agent was freed and a
// call was waiting for them, delivers the next offer.
func (s *Store) Finish(ctx context.Context, conn, how, by string) (string, error) {
	freed := time.Now()
	v, err := s.runOffering(ctx, scriptFinish, []string{s.keys.Interaction(conn)}, conn, how, by, s.wrapupMS())
	if err != nil {
		return "", fmt.Errorf("finish %s: %w", conn, err)
	}
	final, err := s.headAndOffer(ctx, scriptFinish, v, freed)
	if err != nil {
		return final, fmt.Errorf("finish %s: %w", conn, err)
	}
	return final, nil
}

// Sweep pairs up to max waiting calls of queue with available agents and
// delivers the offers; it returns how many it made here (for this node's
// calls; other nodes' went to their inboxes).
func (s *Store) Sweep(ctx context.Context, queue string, max int) (int, error) {
	v, err := s.runOffering(ctx, scriptSweep, []string{s.keys.Waiting(queue), s.keys.Available(queue)}, queue, max)
	if err == nil {
		err = s.deliverEach(ctx, scriptSweep, v, 0, time.Time{})
	}
	if err != nil {
		return 0, fmt.Errorf("sweep %s: %w", queue, err)
	}
	rows, _ := v.([]any) // checked by deliverEach
	n := 0
	for _, r := range rows {
		if row, _ := r.([]any); len(row) > 0 {
			n++
		}
	}
	return n, nil
}

// Login logs an agent in (state idle) with its endpoint, queues and skills
// (levels 1..10; nil for none).
func (s *Store) Login(ctx context.Context, id, endpoint string, queues []string, skills map[string]int) (agents.Agent, error) {
	// The id becomes a key name (agent:<id>): whoever calls the core, an
	// id like ".." never makes a record.
	if !agents.ValidID(id) {
		return agents.Agent{}, fmt.Errorf("login: %w", &errs.FieldError{Field: "id", Msg: agents.IDRule})
	}
	enc, err := encodeSkills(skills)
	if err != nil {
		return agents.Agent{}, err
	}
	args := []any{id, endpoint, strings.Join(queues, ","), enc, s.policy.loggedOutTTLMS(), actorOrSystem(ctx)}
	for _, v := range agents.From(agents.EvLogin) {
		args = append(args, v)
	}
	if _, err := s.run(ctx, scriptLogin, []string{s.keys.Agent(id), s.keys.Agents()}, args...); err != nil {
		if errors.Is(err, ErrIllegalTransition) {
			return agents.Agent{}, alreadyLoggedIn(id, err)
		}
		return agents.Agent{}, fmt.Errorf("login %s: %w", id, err)
	}
	return s.Agent(ctx, id)
}

// alreadyLoggedIn words login's refusal for the agent's desktop: login is
// legal only from logged_out (agents.EvLogin), so a refusal means the
// agent is logged in, and their state tells them what to do.
func alreadyLoggedIn(id string, err error) error {
	if st := refusedState(err); st != "" {
		return fmt.Errorf("agent %s is already logged in (state %s); log out first: %w", id, st, ErrIllegalTransition)
	}
	return fmt.Errorf("agent %s is already logged in; log out first: %w", id, ErrIllegalTransition)
}

// refusedState is the state a script refused an agent's transition in:
// login.lua and set_state.lua reply "ILLEGAL <state>", which scriptError
// keeps at the front of the error's text. "" when err carries none.
func refusedState(err error) string {
	if !errors.Is(err, ErrIllegalTransition) {
		return ""
	}
	rest, ok := strings.CutPrefix(err.Error(), "ILLEGAL ")
	if !ok {
		return ""
	}
	st, _, _ := strings.Cut(rest, ":")
	return strings.TrimSpace(st)
}

// stateRefused words set_state's refusal of ev for the agent's desktop.
func stateRefused(id string, ev agents.Event, err error) error {
	st := agents.State(refusedState(err))
	var what string
	switch ev {
	case agents.EvAvailable:
		what = "become available"
	case agents.EvIdle:
		what = "go idle"
	case agents.EvLogout:
		what = "log out"
	default:
		what = string(ev)
	}
	switch {
	case st == "":
		return fmt.Errorf("agent %s cannot %s now: %w", id, what, ErrIllegalTransition)
	case st == agents.LoggedOut:
		return fmt.Errorf("agent %s is not logged in: %w", id, ErrIllegalTransition)
	case ev == agents.EvAvailable && st == agents.Available:
		return fmt.Errorf("agent %s is already available: %w", id, ErrIllegalTransition)
	}
	return fmt.Errorf("agent %s cannot %s while %s: %w", id, what, st, ErrIllegalTransition)
}

// SetState applies an agent event (available, idle, logout) and delivers
// the offer the agent got by becoming available, if any.
func (s *Store) SetState(ctx context.Context, id string, ev agents.Event, reason string) error {
	args := []any{id, reason, actorOrSystem(ctx)}
	for _, v := range agents.From(ev) {
		args = append(args, v)
	}
	v, err := s.runOffering(ctx, scriptSetState, []string{s.keys.Agent(id), s.keys.Agents()}, args...)
	if errors.Is(err, ErrIllegalTransition) {
		return stateRefused(id, ev, err)
	}
	if err == nil {
		err = s.deliverList(ctx, scriptSetState, v, 2, time.Time{})
	}
	if err != nil {
		return fmt.Errorf("agent %s %s: %w", id, ev, err)
	}
	return nil
}

// Agent reads one agent.
func (s *Store) Agent(ctx context.Context, id string) (agents.Agent, error) {
	h, err := s.rdb.HGetAll(ctx, s.keys.Agent(id)).Result()
	if err != nil {
		return agents.Agent{}, fmt.Errorf("read agent %s: %w", id, err)
	}
	if len(h) == 0 {
		return agents.Agent{}, fmt.Errorf("agent %s: %w", id, ErrNotFound)
	}
	return agentFromHash(id, h), nil
}

func agentFromHash(id string, h map[string]string) agents.Agent {
	a := agents.Agent{
		ID:           id,
		Endpoint:     h["endpoint"],
		State:        agents.State(h["state"]),
		Since:        msTime(h["since"]),
		Reason:       h["reason"],
		ConnectionID: h["conn"],
		Queues:       []string{},
	}
	if h["queues"] != "" {
		a.Queues = strings.Split(h["queues"], ",")
	}
	a.Skills = decodeSkills(h["skills"])
	return a
}

// Interaction is one call's record.
type Interaction struct {
	ConnectionID string `json:"connection_id"`
	State        string `json:"state"`
	// Parent is set on a consult waiting in a queue: the customer's call.
	Parent    string            `json:"parent,omitempty"`
	Owner     string            `json:"owner"`
	CallerLeg string            `json:"caller_leg"`
	ANI       string            `json:"ani"`
	DNIS      string            `json:"dnis"`
	Attached  map[string]string `json:"attached"`
	Queue     string            `json:"queue,omitempty"`
	Priority  int               `json:"priority"`
	// Skills are the call's own requirements (from the IVR), if it has
	// any; otherwise its queue's apply.
	Skills   []SkillRequirement `json:"skills,omitempty"`
	Agent    string             `json:"agent,omitempty"`
	AgentLeg string             `json:"agent_leg,omitempty"`
	Offers   int                `json:"offers"`
	RONAs    int                `json:"ronas"`
	Arrived  time.Time          `json:"arrived"`
	Queued   time.Time          `json:"queued,omitzero"`
	Offered  time.Time          `json:"offered,omitzero"`
	Answered time.Time          `json:"answered,omitzero"`
	Ended    time.Time          `json:"ended,omitzero"`
	EndedBy  string             `json:"ended_by,omitempty"`
	Wait     time.Duration      `json:"wait_ns"`
}

// Terminal reports whether the interaction is over.
func (ix Interaction) Terminal() bool {
	return ix.State == "ended" || ix.State == "abandoned" || ix.State == "failed"
}

// Interaction reads one interaction.
func (s *Store) Interaction(ctx context.Context, conn string) (Interaction, error) {
	h, err := s.rdb.HGetAll(ctx, s.keys.Interaction(conn)).Result()
	if err != nil {
		return Interaction{}, fmt.Errorf("read interaction %s: %w", conn, err)
	}
	if len(h) == 0 {
		return Interaction{}, fmt.Errorf("interaction %s: %w", conn, ErrNotFound)
	}
	ix := Interaction{
		ConnectionID: conn, State: h["state"], Parent: h["parent"], Owner: h["owner"], CallerLeg: h["caller_leg"],
		ANI: h["ani"], DNIS: h["dnis"], Queue: h["queue"], Agent: h["agent"], AgentLeg: h["agent_leg"],
		Arrived: msTime(h["arrived"]), Queued: msTime(h["queued"]), Offered: msTime(h["offered"]),
		Answered: msTime(h["answered"]), Ended: msTime(h["ended"]), EndedBy: h["ended_by"],
	}
	ix.Priority, _ = strconv.Atoi(h["priority"])
	ix.Skills = decodeRequirements(h["skills"])
	ix.Offers, _ = strconv.Atoi(h["offers"])
	ix.RONAs, _ = strconv.Atoi(h["ronas"])
	if w, err := strconv.ParseInt(h["wait_ms"], 10, 64); err == nil {
		ix.Wait = time.Duration(w) * time.Millisecond
	}
	if err := json.Unmarshal([]byte(h["attached"]), &ix.Attached); err != nil {
		ix.Attached = map[string]string{}
	}
	return ix, nil
}

// Queue reads a queue as a supervisor sees it, in a fixed number of round
// trips (Queues), however long the queue. At most maxQueueView waiting
// calls are listed.
func (s *Store) Queue(ctx context.Context, name string) (QueueView, error) {
	views, err := s.Queues(ctx, []string{name})
	if err != nil {
		return QueueView{Name: name, Waiting: []WaitingCall{}, Agents: map[agents.State][]string{}}, err
	}
	return views[0], nil
}

// Queues reads several queues as Queue does, in the order given, in two
// round trips whatever their number (readQueues).
func (s *Store) Queues(ctx context.Context, names []string) ([]QueueView, error) {
	return s.readQueues(ctx, names, nil)
}

// readQueues reads the named queues in two pipelines, so that a wallboard
// polling every queue costs the same round trips for one queue as for
// fifty: the first asks Redis TIME (the waits are measured on it), each
// queue's first maxQueueView waiting calls and the logged-in agents' ids,
// plus what also (if set) adds for each queue (the engine's figures and
// callback counts); the second reads the waiting calls and the agents.
// The commands also queued are answered once readQueues returns.
func (s *Store) readQueues(ctx context.Context, names []string, also func(pipe redis.Pipeliner, i int, name string)) ([]QueueView, error) {
	pipe := s.rdb.Pipeline()
	timeCmd := pipe.Time(ctx)
	idsCmd := pipe.SMembers(ctx, s.keys.Agents())
	connCmds := make([]*redis.StringSliceCmd, len(names))
	for i, name := range names {
		connCmds[i] = pipe.ZRange(ctx, s.keys.Waiting(name), 0, maxQueueView-1)
		if also != nil {
			also(pipe, i, name)
		}
	}
	if _, err := pipe.Exec(ctx); err != nil && !errors.Is(err, redis.Nil) {
		return nil, fmt.Errorf("read queues: %w", err)
	}
	now := timeCmd.Val()

	pipe = s.rdb.Pipeline()
	waiting := make([]func() []WaitingCall, len(names))
	for i := range names {
		waiting[i] = s.queueWaitingCalls(ctx, pipe, connCmds[i].Val(), now)
	}
	logged := s.queueAgentFields(ctx, pipe, idsCmd.Val(), "state", "queues")
	if _, err := pipe.Exec(ctx); err != nil && !errors.Is(err, redis.Nil) {
		return nil, fmt.Errorf("read queues: %w", err)
	}

	views := make([]QueueView, len(names))
	index := make(map[string]int, len(names))
	for i, name := range names {
		views[i] = QueueView{Name: name, Waiting: waiting[i](), Agents: map[agents.State][]string{}}
		index[name] = i
	}
	for _, a := range logged() {
		for _, q := range strings.Split(a.fields[1], ",") {
			if i, ok := index[q]; ok {
				st := agents.State(a.fields[0])
				views[i].Agents[st] = append(views[i].Agents[st], a.id)
			}
		}
	}
	return views, nil
}

// queueWaitingCalls queues in pipe the reads of the waiting calls conns
// (a queue's, best first); the function it returns, called once pipe has
// run, lists them with their wait at now (Redis TIME), leaving out those
// that finished between the two reads.
func (s *Store) queueWaitingCalls(ctx context.Context, pipe redis.Pipeliner, conns []string, now time.Time) func() []WaitingCall {
	cmds := make([]*redis.SliceCmd, len(conns))
	for i, c := range conns {
		cmds[i] = pipe.HMGet(ctx, s.keys.Interaction(c), "ani", "priority", "queued")
	}
	return func() []WaitingCall {
		waiting := []WaitingCall{}
		for i, c := range conns {
			v := cmds[i].Val()
			if len(v) != 3 || v[2] == nil {
				continue // finished between the two reads
			}
			prio, _ := strconv.Atoi(fmt.Sprint(v[1]))
			queued := msTime(fmt.Sprint(v[2]))
			waiting = append(waiting, WaitingCall{
				ConnectionID: c, ANI: fmt.Sprint(v[0]), Priority: prio, QueuedAt: queued,
				WaitSeconds: now.Sub(queued).Seconds(),
			})
		}
		return waiting
	}
}

// loggedAgent is one logged-in agent's id and the fields asked of it.
type loggedAgent struct {
	id     string
	fields []string
}

// loggedInAgents reads the given fields of every logged-in agent, in one
// pipeline, sorted by id; a field the record lacks reads "". An agent
// whose record has no state (gone between the two reads) is left out.
func (s *Store) loggedInAgents(ctx context.Context, fields ...string) ([]loggedAgent, error) {
	ids, err := s.rdb.SMembers(ctx, s.keys.Agents()).Result()
	if err != nil {
		return nil, fmt.Errorf("read agents: %w", err)
	}
	pipe := s.rdb.Pipeline()
	read := s.queueAgentFields(ctx, pipe, ids, fields...)
	if _, err := pipe.Exec(ctx); err != nil && !errors.Is(err, redis.Nil) {
		return nil, fmt.Errorf("read agents: %w", err)
	}
	return read(), nil
}

// queueAgentFields queues in pipe the reads of the given fields of the
// agents ids (sorted here); the function it returns, called once pipe has
// run, gives them as loggedInAgents does.
func (s *Store) queueAgentFields(ctx context.Context, pipe redis.Pipeliner, ids []string, fields ...string) func() []loggedAgent {
	slices.Sort(ids)
	cmds := make([]*redis.SliceCmd, len(ids))
	for i, id := range ids {
		cmds[i] = pipe.HMGet(ctx, s.keys.Agent(id), append([]string{"state"}, fields...)...)
	}
	return func() []loggedAgent {
		out := make([]loggedAgent, 0, len(ids))
		for i, id := range ids {
			v := cmds[i].Val()
			if len(v) != len(fields)+1 || v[0] == nil {
				continue
			}
			a := loggedAgent{id: id, fields: make([]string, len(fields))}
			for j, f := range v[1:] {
				if f != nil {
					a.fields[j] = fmt.Sprint(f)
				}
			}
			out = append(out, a)
		}
		return out
	}
}

// maxQueueView bounds the waiting calls a queue view lists.
const maxQueueView = 1000

func msTime(v string) time.Time {
	ms, err := strconv.ParseInt(v, 10, 64)
	if err != nil || ms == 0 {
		return time.Time{}
	}
	return time.UnixMilli(ms)
}

// WrapUp ends an agent's after-call work with code (by the agent) and
// delivers the offer the agent got by becoming available, if any.
func (s *Store) WrapUp(ctx context.Context, agent, code string) (agents.State, error) {
	return s.wrapup(ctx, agent, code, "agent", actorOrSystem(ctx))
}

// WrapUpTimeout applies the default code to an agent whose wrap-up time
// has passed; before that it fails with ErrNotDue.
func (s *Store) WrapUpTimeout(ctx context.Context, agent, code string) (agents.State, error) {
	// Whatever ctx carries: nobody asked for a timeout.
	return s.wrapup(ctx, agent, code, "timeout", ActorSystem)
}

// wrapup runs wrapup.lua; the history names actor as who gave the code.
func (s *Store) wrapup(ctx context.Context, agent, code, by, actor string) (agents.State, error) {
	v, err := s.runOffering(ctx, scriptWrapUp, []string{s.keys.Agent(agent)}, agent, code, by, actor)
	if err != nil {
		return "", fmt.Errorf("wrap-up %s: %w", agent, err)
	}
	st, err := s.headAndOffer(ctx, scriptWrapUp, v, time.Time{})
	if err != nil {
		return agents.State(st), fmt.Errorf("wrap-up %s: %w", agent, err)
	}
	return agents.State(st), nil
}

// ExpireWrapUps ends up to max overdue wrap-ups with code (the safety net
// behind each node's own timers) and delivers the offers the agents got.
func (s *Store) ExpireWrapUps(ctx context.Context, code string, max int) error {
	v, err := s.runOffering(ctx, scriptWrapUpExpire, nil, code, max)
	if err == nil {
		err = s.deliverEach(ctx, scriptWrapUpExpire, v, 0, time.Time{})
	}
	if err != nil {
		return fmt.Errorf("expire wrap-ups: %w", err)
	}
	return nil
}

// ReserveAgent reserves a named agent for conn if it is in one of the
// allowed states, and returns its endpoint.
func (s *Store) ReserveAgent(ctx context.Context, agent, conn string, allowed ...agents.State) (string, error) {
	list := make([]string, len(allowed))
	for i, a := range allowed {
		list[i] = string(a)
	}
	v, err := s.run(ctx, scriptReserveAgent, []string{s.keys.Agent(agent)}, agent, conn, strings.Join(list, ","))
	if err != nil {
		return "", fmt.Errorf("reserve %s for %s: %w", agent, conn, err)
	}
	ep, err := luascript.String(scriptReserveAgent.name, v)
	if err != nil {
		return "", fmt.Errorf("reserve %s for %s: %w", agent, conn, err)
	}
	return ep, nil
}

// Agent steps for a part of a call that is not its main offer.
const (
	StepRing     = "ring"
	StepConnect  = "connect"
	StepNoAnswer = "no_answer"
	StepDone     = "done"
)

// Talk records a connected call's talk state moving from → to (talking,
// held, consulting, conferenced: the Talk* constants) and appends it to the
// history with what happened and fields (never kind, id, from, to, at or
// what: those name the history entry itself).
func (s *Store) Talk(ctx context.Context, conn, from, to, what string, fields ...string) error {
	args := []any{conn, from, to, what}
	for _, f := range fields {
		args = append(args, f)
	}
	// Hold, consult, conference are asked for: the entry names who asked
	// (actor.go), as Record's do.
	args = append(args, "actor", actorOrSystem(ctx))
	if _, err := s.run(ctx, scriptTalk, []string{s.keys.Interaction(conn)}, args...); err != nil {
		return fmt.Errorf("talk %s %s → %s: %w", conn, from, to, err)
	}
	return nil
}

// AgentStep moves an agent bound to conn (consult, conference); StepDone may
// make them available and deliver them the next call.
func (s *Store) AgentStep(ctx context.Context, agent, conn, step string) error {
	freed := time.Now()
	v, err := s.runOffering(ctx, scriptAgentStep, []string{s.keys.Agent(agent)}, agent, conn, step, s.wrapupMS())
	if err == nil {
		err = s.deliverList(ctx, scriptAgentStep, v, 0, freed)
	}
	if err != nil {
		return fmt.Errorf("agent %s %s on %s: %w", agent, step, conn, err)
	}
	return nil
}

// TransferToQueue moves a connected call to queue; from goes to wrap-up and
// will not be offered the call again. An offer of the call to an agent of
// queue is delivered.
func (s *Store) TransferToQueue(ctx context.Context, conn, queue, from string) error {
	v, err := s.runOffering(ctx, scriptTransferQueue, []string{s.keys.Interaction(conn), s.keys.Waiting(queue)}, conn, queue, from, s.wrapupMS())
	if err == nil {
		err = s.deliverList(ctx, scriptTransferQueue, v, 0, time.Time{})
	}
	if err != nil {
		return fmt.Errorf("transfer %s to queue %s: %w", conn, queue, err)
	}
	return nil
}

// TransferToAgent offers a connected call to an available agent (the offer
// is delivered); from goes to wrap-up.
func (s *Store) TransferToAgent(ctx context.Context, conn, target, from string) error {
	v, err := s.runOffering(ctx, scriptTransferAgent, []string{s.keys.Interaction(conn), s.keys.Agent(target)}, conn, target, from, s.wrapupMS())
	if err == nil {
		err = s.deliverTransfer(ctx, v, conn, target)
	}
	if err != nil {
		return fmt.Errorf("transfer %s to agent %s: %w", conn, target, err)
	}
	return nil
}

// deliverTransfer delivers transfer_agent's offer: its reply is {endpoint,
// attempt}, the call and the agent being the ones asked for.
func (s *Store) deliverTransfer(ctx context.Context, v any, conn, target string) error {
	name := scriptTransferAgent.name
	reply, err := luascript.List(name, v)
	if err != nil {
		return err
	}
	if len(reply) != 2 {
		return fmt.Errorf("script %s: reply of %d items, want 2: %w", name, len(reply), errs.ErrBadReply)
	}
	return s.deliverAt(ctx, scriptTransferAgent, []any{conn, target, reply[0], reply[1]}, 0, time.Time{})
}

// deliverList delivers the offer at position i of a list reply.
func (s *Store) deliverList(ctx context.Context, sc luaScript, v any, i int, freedAt time.Time) error {
	reply, err := luascript.List(sc.name, v)
	if err != nil {
		return err
	}
	return s.deliverAt(ctx, sc, reply, i, freedAt)
}

// headAndOffer reads a reply {value} or {value, offer...}: it delivers the
// offer and returns the value.
func (s *Store) headAndOffer(ctx context.Context, sc luaScript, v any, freedAt time.Time) (string, error) {
	reply, err := luascript.List(sc.name, v)
	if err != nil {
		return "", err
	}
	head, err := luascript.At(sc.name, reply, 0)
	if err != nil {
		return "", err
	}
	val, err := luascript.String(sc.name, head)
	if err != nil {
		return "", err
	}
	return val, s.deliverAt(ctx, sc, reply, 1, freedAt)
}

// HandOver changes a connected call's agent (consult transfer, leaving a
// conference); leaving goes to wrap-up; to is "" for an outside party.
func (s *Store) HandOver(ctx context.Context, conn, leaving, to, toLeg, why string) error {
	return s.HandOverToQueue(ctx, conn, leaving, to, toLeg, why, "")
}

// HandOverToQueue is HandOver that also moves the call to queue (a consult
// transfer to an agent found through that queue); "" keeps its queue.
func (s *Store) HandOverToQueue(ctx context.Context, conn, leaving, to, toLeg, why, queue string) error {
	_, err := s.run(ctx, scriptHandOver, []string{s.keys.Interaction(conn)}, conn, leaving, to, toLeg, s.wrapupMS(), why, queue)
	if err != nil {
		return fmt.Errorf("hand %s over from %q to %q: %w", conn, leaving, to, err)
	}
	return nil
}

// Record appends a control action (hold, consult, recording pause...) to
// the interaction's history. It returns nothing on purpose: the step it
// records has happened and goes on either way, so a failed append is
// never the caller's to drop. It is reported to the store's
// historyFailed (the engine logs and counts it: Stats.HistoryWriteFailures)
// so a hole in the history is always visible. The entry names its actor
// (actor.go): the principal in ctx, ActorSystem when none asked.
func (s *Store) Record(ctx context.Context, conn, action string, fields ...string) {
	args := []any{"kind", "control", "id", conn, "action", action}
	for _, f := range fields {
		args = append(args, f)
	}
	args = append(args, "actor", actorOrSystem(ctx))
	err := s.rdb.XAdd(ctx, &redis.XAddArgs{Stream: s.keys.Events(), MaxLen: 1_000_000, Approx: true, Values: args}).Err()
	if err == nil {
		return
	}
	err = fmt.Errorf("history of %s: append %s: %w", conn, action, err)
	if s.historyFailed != nil {
		s.historyFailed(conn, action, err)
		return
	}
	slog.Error("history write failed", "connection_id", conn, "action", action, "err", err)
}

// withHistoryReport returns a copy of the store reporting failed history
// appends to f.
func (s *Store) withHistoryReport(f func(conn, action string, err error)) *Store {
	c := *s
	c.historyFailed = f
	return &c
}
