package acd

import (
	"context"
	"encoding/json"
	"fmt"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/tandem-cc/tandem/errs"
	"github.com/tandem-cc/tandem/internal/luascript"
)

// Routing strategies: how a queue picks among the available agents whose
// skills meet a call's requirements (scripts/lib.lua, choose).
const (
	// StrategyLongestIdle: the agent available the longest (the default).
	StrategyLongestIdle = "longest_idle"
	// StrategyRoundRobin: the next agent after the one the queue served
	// last, in agent-id order, wrapping.
	StrategyRoundRobin = "round_robin"
	// StrategyFewestCalls: the agent who answered the fewest calls today
	// (UTC, Redis clock).
	StrategyFewestCalls = "fewest_calls"
	// StrategyLeastTalkTime: the agent who talked the least today.
	StrategyLeastTalkTime = "least_talk_time"
	// StrategyBestSkill: the highest level in the call's first required
	// skill, then longest idle.
	StrategyBestSkill = "best_skill"
	// StrategyRingAll: every eligible agent (up to RingAllMax) is reserved
	// and rung at once; the first to answer takes the call.
	StrategyRingAll = "ring_all"
)

// RingAllMax is how many agents a ring-all offer rings at most (lib.lua's
// RING_ALL_MAX).
const RingAllMax = 10

var strategies = []string{StrategyLongestIdle, StrategyRoundRobin, StrategyFewestCalls,
	StrategyLeastTalkTime, StrategyBestSkill, StrategyRingAll}

// QueueRouting is how one queue routes, as the scripts read it from Redis.
type QueueRouting struct {
	// Strategy is one of the Strategy constants ("" = longest_idle).
	Strategy string
	// Weight ranks the queue's calls for agents in several queues: each
	// point counts as one minute of extra waiting (within a priority).
	Weight int
	// Skills every agent offered the queue's calls must have, unless a
	// call carries its own (EnqueueWith).
	Skills []SkillRequirement
	// CallSkills are the skills calls may require on their own in this
	// queue (those of the IVR branches leading to it). Routing keeps the
	// queue's available agents indexed by each of them, so such a call
	// finds a qualified agent however many unqualified ones are idle
	// longer; a call requiring only skills not listed here is matched
	// against the queue's 50 longest-idle agents (and by the agent side).
	// Each listed skill costs one write per agent availability change.
	CallSkills []string
	// RingTimeout is how long an agent's phone rings for the queue's
	// calls (0 = 30 s). The scripts add a margin to it to tell when an
	// offer or a ring is overdue (recover.lua).
	RingTimeout time.Duration
}

// Skill levels and names.
const (
	MinSkillLevel = 1
	MaxSkillLevel = 10
)

var skillName = regexp.MustCompile(`^[A-Za-z0-9_.\-]+$`)

// SetQueues writes each queue's routing settings to Redis (the engine calls
// it at start, with every configured queue). A queue never written routes
// longest idle with no skills. Replicas should run the same configuration:
// the last one to start wins. When a queue's strategy or skills change, its
// agent index (scripts/lib.lua) is rebuilt for the new configuration from
// the agents available now, in bounded chunks; meanwhile the sweep still
// finds agents the index does not list yet.
func (s *Store) SetQueues(ctx context.Context, queues map[string]QueueRouting) error {
	type row struct{ name, strategy, weight, skills, callSkills, ringMS string }
	rows := make([]row, 0, len(queues))
	for name, q := range queues {
		field := "queues." + name
		strategy := q.Strategy
		if strategy == "" {
			strategy = StrategyLongestIdle
		}
		if !slices.Contains(strategies, strategy) {
			return &errs.FieldError{Field: field + ".strategy", Msg: fmt.Sprintf("unknown strategy %q (want one of %s)", q.Strategy, strings.Join(strategies, ", "))}
		}
		if q.Weight < 0 || q.Weight > 10000 {
			return &errs.FieldError{Field: field + ".weight", Msg: "must be 0..10000"}
		}
		enc, err := encodeRequirements(q.Skills, field+".skills")
		if err != nil {
			return err
		}
		callSkills := slices.Clone(q.CallSkills)
		for _, sk := range callSkills {
			if !skillName.MatchString(sk) {
				return &errs.FieldError{Field: field + ".call_skills", Msg: fmt.Sprintf("bad skill name %q (letters, digits, _ . - only)", sk)}
			}
		}
		slices.Sort(callSkills)
		callSkills = slices.Compact(callSkills)
		if q.RingTimeout < 0 {
			return &errs.FieldError{Field: field + ".ring_timeout", Msg: "must not be negative"}
		}
		ringMS := ""
		if q.RingTimeout > 0 {
			ringMS = strconv.FormatInt(max(q.RingTimeout.Milliseconds(), 1), 10)
		}
		rows = append(rows, row{name, strategy, strconv.Itoa(q.Weight), enc, strings.Join(callSkills, ","), ringMS})
	}
	for _, r := range rows {
		key := s.keys.QueueConfig(r.name)
		old, err := s.rdb.HMGet(ctx, key, "strategy", "skills", "call_skills", "gen").Result()
		if err != nil {
			return fmt.Errorf("set queue %s: %w", r.name, err)
		}
		oldGen, _ := old[3].(string)
		if oldGen == "" {
			oldGen = "0"
		}
		pipe := s.rdb.TxPipeline()
		pipe.HSet(ctx, key, "strategy", r.strategy, "weight", r.weight, "skills", r.skills, "call_skills", r.callSkills, "ring_ms", r.ringMS)
		if old[0] == r.strategy && old[1] == r.skills && old[2] == r.callSkills {
			if _, err := pipe.Exec(ctx); err != nil {
				return fmt.Errorf("set queue %s: %w", r.name, err)
			}
			continue
		}
		gen := pipe.HIncrBy(ctx, key, "gen", 1)
		if _, err := pipe.Exec(ctx); err != nil {
			return fmt.Errorf("set queue %s: %w", r.name, err)
		}
		if err := s.reindex(ctx, r.name, strconv.FormatInt(gen.Val(), 10)); err != nil {
			return err
		}
		if err := s.dropIndex(ctx, r.name, oldGen); err != nil {
			return err
		}
	}
	return nil
}

// reindex builds queue's agent index for generation gen, a chunk of
// agents per round trip.
func (s *Store) reindex(ctx context.Context, queue, gen string) error {
	score, id, chunk := "", "", 500
	for {
		v, err := s.run(ctx, scriptReindex, nil, queue, gen, score, id, chunk)
		if err != nil {
			return fmt.Errorf("reindex %s: %w", queue, err)
		}
		next, err := luascript.Strings(scriptReindex.name, v)
		if err != nil {
			return fmt.Errorf("reindex %s: %w", queue, err)
		}
		if len(next) < 2 {
			return nil
		}
		ns, nid := next[0], next[1]
		if ns == score && nid == id {
			chunk *= 2 // more than a chunk of agents idle since the same ms
		}
		score, id = ns, nid
	}
}

// dropIndex deletes the index keys of an old generation of queue.
func (s *Store) dropIndex(ctx context.Context, queue, gen string) error {
	g, err := strconv.ParseInt(gen, 10, 64)
	if err != nil {
		return fmt.Errorf("drop old index of %s: generation %q: %w", queue, gen, err)
	}
	pattern := globEscape(s.keys.QueueIndex(queue, g)) + "*"
	iter := s.rdb.Scan(ctx, 0, pattern, 500).Iterator()
	var batch []string
	for iter.Next(ctx) {
		batch = append(batch, iter.Val())
		if len(batch) == 500 {
			if err := s.rdb.Unlink(ctx, batch...).Err(); err != nil {
				return fmt.Errorf("drop old index of %s: %w", queue, err)
			}
			batch = batch[:0]
		}
	}
	if err := iter.Err(); err != nil {
		return fmt.Errorf("drop old index of %s: %w", queue, err)
	}
	if len(batch) > 0 {
		if err := s.rdb.Unlink(ctx, batch...).Err(); err != nil {
			return fmt.Errorf("drop old index of %s: %w", queue, err)
		}
	}
	return nil
}

func globEscape(s string) string {
	var b strings.Builder
	for _, r := range s {
		if strings.ContainsRune(`*?[]\`, r) {
			b.WriteByte('\\')
		}
		b.WriteRune(r)
	}
	return b.String()
}

// QueueRouting reads back one queue's routing settings.
func (s *Store) QueueRouting(ctx context.Context, queue string) (QueueRouting, error) {
	h, err := s.rdb.HGetAll(ctx, s.keys.QueueConfig(queue)).Result()
	if err != nil {
		return QueueRouting{}, fmt.Errorf("read routing of %s: %w", queue, err)
	}
	qr := QueueRouting{Strategy: h["strategy"], Skills: decodeRequirements(h["skills"])}
	if h["call_skills"] != "" {
		qr.CallSkills = strings.Split(h["call_skills"], ",")
	}
	if qr.Strategy == "" {
		qr.Strategy = StrategyLongestIdle
	}
	qr.Weight, _ = strconv.Atoi(h["weight"])
	if ms, err := strconv.ParseInt(h["ring_ms"], 10, 64); err == nil {
		qr.RingTimeout = time.Duration(ms) * time.Millisecond
	}
	return qr, nil
}

// EnqueueWith puts an arrived call in queue with priority (0..9, 9 first)
// and delivers an offer if an agent could take it. skills, if not empty,
// are the call's own requirements (an IVR branch's) and replace the
// queue's for this call, here and after an overflow; a blind transfer to
// another queue drops them.
func (s *Store) EnqueueWith(ctx context.Context, conn, queue string, priority int, skills []SkillRequirement) error {
	return s.EnqueueCapped(ctx, conn, queue, priority, skills, 0)
}

// EnqueueCapped is EnqueueWith for a queue holding at most maxSize waiting
// calls (0 = no cap): past it, ErrQueueFull and nothing changes. The check
// is in the enqueue script, so concurrent callers cannot overfill it.
func (s *Store) EnqueueCapped(ctx context.Context, conn, queue string, priority int, skills []SkillRequirement, maxSize int) error {
	if priority < 0 || priority > 9 {
		return &errs.FieldError{Field: "priority", Msg: "must be 0..9"}
	}
	enc, err := encodeRequirements(skills, "skills")
	if err != nil {
		return err
	}
	return s.enqueue(ctx, conn, queue, priority, enc, maxSize, "")
}

func (s *Store) enqueue(ctx context.Context, conn, queue string, priority int, skills string, maxSize int, score string) error {
	v, err := s.runOffering(ctx, scriptEnqueue, []string{s.keys.Interaction(conn), s.keys.Waiting(queue)}, conn, queue, priority, skills, maxSize, score)
	if err == nil {
		err = s.deliverList(ctx, scriptEnqueue, v, 0, time.Time{})
	}
	if err != nil {
		return fmt.Errorf("enqueue %s in %s: %w", conn, queue, err)
	}
	return nil
}

// RingAllAnswered records that agent answered a ring-all offer of conn:
// the call is now offered to that agent alone (then Connect as usual, with
// the leg given to Ringing), and every other agent rung is released in the
// same round trip — available again, and offered the next waiting call
// (those offers are delivered, for this node's calls; other nodes' went to
// their inboxes) or idle if they asked for it. released are the agents
// whose legs the caller must now cancel. On a one-agent offer it releases
// nobody. ErrStale if the call is no longer offered to agent.
func (s *Store) RingAllAnswered(ctx context.Context, conn, agent string) (released []string, err error) {
	freed := time.Now()
	v, err := s.runOffering(ctx, scriptRingAnswered, []string{s.keys.Interaction(conn)}, conn, agent)
	if err == nil {
		released, err = s.ringReleased(ctx, v, freed)
	}
	if err != nil {
		return released, fmt.Errorf("ring-all %s answered by %s: %w", conn, agent, err)
	}
	return released, nil
}

// ringReleased reads ring_answered's reply {released agents, offer...}:
// it delivers the offers and returns the agents.
func (s *Store) ringReleased(ctx context.Context, v any, freedAt time.Time) ([]string, error) {
	name := scriptRingAnswered.name
	reply, err := luascript.List(name, v)
	if err != nil {
		return nil, err
	}
	head, err := luascript.At(name, reply, 0)
	if err != nil {
		return nil, err
	}
	released, err := luascript.Strings(name, head)
	if err != nil {
		return nil, err
	}
	return released, s.deliverEach(ctx, scriptRingAnswered, v, 1, freedAt)
}

// RingAllNoAnswer gives up a ring-all offer nobody answered (the ring
// timeout): every agent still ringing goes to RONA, the call returns to
// the head of its queue and is offered again if an agent is free. One
// agent declining (busy, rejected) is NoAnswer(conn, agent): the others
// keep ringing, and the call returns to its queue when the last declines.
func (s *Store) RingAllNoAnswer(ctx context.Context, conn, reason string) error {
	v, err := s.runOffering(ctx, scriptNoAnswer, []string{s.keys.Interaction(conn), s.keys.Agent("")}, conn, "", reason)
	if err == nil {
		err = s.deliverList(ctx, scriptNoAnswer, v, 0, time.Time{})
	}
	if err != nil {
		return fmt.Errorf("no answer to ring-all %s: %w", conn, err)
	}
	return nil
}

// OfferFromInbox decodes an offer another script put in a node's inbox
// stream (fields conn, agent, endpoint, attempt and, for a ring-all
// offer, ring: a JSON list of [agent, endpoint] pairs).
func OfferFromInbox(values map[string]any) Offer {
	o := Offer{
		ConnectionID: fmt.Sprint(values["conn"]),
		Agent:        fmt.Sprint(values["agent"]),
		Endpoint:     fmt.Sprint(values["endpoint"]),
	}
	o.Attempt, _ = strconv.Atoi(fmt.Sprint(values["attempt"]))
	if ring, ok := values["ring"].(string); ok && ring != "" {
		var pairs [][]string
		if json.Unmarshal([]byte(ring), &pairs) == nil {
			for _, p := range pairs {
				if len(p) == 2 {
					o.RingAll = append(o.RingAll, RingMember{Agent: p[0], Endpoint: p[1]})
				}
			}
		}
	}
	return o
}

// AgentDay is an agent's figures for the current UTC day (Redis clock),
// the ones fewest_calls and least_talk_time rank by.
type AgentDay struct {
	Calls int64         `json:"calls"`
	Talk  time.Duration `json:"talk_ns"`
}

// AgentToday reads an agent's figures for today.
func (s *Store) AgentToday(ctx context.Context, agent string) (AgentDay, error) {
	now, err := s.rdb.Time(ctx).Result()
	if err != nil {
		return AgentDay{}, fmt.Errorf("agent %s today: %w", agent, err)
	}
	day := now.UnixMilli() / (24 * time.Hour).Milliseconds()
	pipe := s.rdb.Pipeline()
	calls := pipe.HGet(ctx, s.keys.AgentDay(day, "calls"), agent)
	talk := pipe.HGet(ctx, s.keys.AgentDay(day, "talk"), agent)
	if _, err := pipe.Exec(ctx); err != nil && err != redis.Nil {
		return AgentDay{}, fmt.Errorf("agent %s today: %w", agent, err)
	}
	// A field not written yet (no call today) reads as redis.Nil: zero.
	var d AgentDay
	n, err := calls.Int64()
	if err != nil && err != redis.Nil {
		return AgentDay{}, fmt.Errorf("agent %s today: calls: %w", agent, err)
	}
	ms, err := talk.Int64()
	if err != nil && err != redis.Nil {
		return AgentDay{}, fmt.Errorf("agent %s today: talk: %w", agent, err)
	}
	d.Calls, d.Talk = n, time.Duration(ms)*time.Millisecond
	return d, nil
}

var (
	scriptRingAnswered = script("ring_answered")
	scriptReindex      = script("reindex")
)

// encodeSkills turns an agent's skills into "billing:3,spanish:7" (sorted).
func encodeSkills(skills map[string]int) (string, error) {
	names := make([]string, 0, len(skills))
	for name, lvl := range skills {
		if !skillName.MatchString(name) {
			return "", &errs.FieldError{Field: "skills", Msg: fmt.Sprintf("bad skill name %q (letters, digits, _ . - only)", name)}
		}
		if lvl < MinSkillLevel || lvl > MaxSkillLevel {
			return "", &errs.FieldError{Field: "skills", Msg: fmt.Sprintf("level of %s must be %d..%d", name, MinSkillLevel, MaxSkillLevel)}
		}
		names = append(names, name)
	}
	slices.Sort(names)
	parts := make([]string, len(names))
	for i, n := range names {
		parts[i] = n + ":" + strconv.Itoa(skills[n])
	}
	return strings.Join(parts, ","), nil
}

func decodeSkills(enc string) map[string]int {
	if enc == "" {
		return nil
	}
	out := map[string]int{}
	for _, p := range strings.Split(enc, ",") {
		name, lvl, ok := strings.Cut(p, ":")
		if n, err := strconv.Atoi(lvl); ok && err == nil {
			out[name] = n
		}
	}
	return out
}

// encodeRequirements turns requirements into the scripts' form, a JSON
// list with one list per skill, in the given order (the first skill is
// the one best_skill ranks by): [name, min level, after ms, min level,
// ...], e.g. [["spanish",7,30000,5],["billing",3]]; "" for none. Levels
// 1..10; a relaxation waits longer than the previous one (whole
// milliseconds) and lowers the level, down to 0 (the skill is then no
// longer required).
func encodeRequirements(reqs []SkillRequirement, field string) (string, error) {
	if len(reqs) == 0 {
		return "", nil
	}
	seen := map[string]bool{}
	out := make([][]any, 0, len(reqs))
	for i, r := range reqs {
		f := fmt.Sprintf("%s[%d]", field, i)
		if !skillName.MatchString(r.Skill) {
			return "", &errs.FieldError{Field: f + ".skill", Msg: fmt.Sprintf("bad skill name %q (letters, digits, _ . - only)", r.Skill)}
		}
		if seen[r.Skill] {
			return "", &errs.FieldError{Field: f + ".skill", Msg: fmt.Sprintf("skill %s required twice", r.Skill)}
		}
		seen[r.Skill] = true
		if r.MinLevel < MinSkillLevel || r.MinLevel > MaxSkillLevel {
			return "", &errs.FieldError{Field: f + ".min_level", Msg: fmt.Sprintf("must be %d..%d", MinSkillLevel, MaxSkillLevel)}
		}
		item := []any{r.Skill, r.MinLevel}
		prevAfter, prevLevel := int64(0), r.MinLevel
		for j, x := range r.Relax {
			rf := fmt.Sprintf("%s.relax[%d]", f, j)
			ms := x.After.Milliseconds()
			if ms <= prevAfter {
				return "", &errs.FieldError{Field: rf + ".after", Msg: "must be longer than the previous wait (at least 1ms)"}
			}
			if x.MinLevel < 0 || x.MinLevel > prevLevel {
				return "", &errs.FieldError{Field: rf + ".min_level", Msg: fmt.Sprintf("must be 0..%d (relaxing lowers the level; 0 drops the skill)", prevLevel)}
			}
			item = append(item, ms, x.MinLevel)
			prevAfter, prevLevel = ms, x.MinLevel
		}
		out = append(out, item)
	}
	data, err := json.Marshal(out)
	if err != nil {
		return "", fmt.Errorf("encode %s: %w", field, err)
	}
	return string(data), nil
}

func decodeRequirements(enc string) []SkillRequirement {
	if enc == "" {
		return nil
	}
	var items [][]json.RawMessage
	if json.Unmarshal([]byte(enc), &items) != nil {
		return nil
	}
	var out []SkillRequirement
	for _, it := range items {
		if len(it) < 2 {
			continue
		}
		var r SkillRequirement
		_ = json.Unmarshal(it[0], &r.Skill)
		_ = json.Unmarshal(it[1], &r.MinLevel)
		for i := 2; i+1 < len(it); i += 2 {
			var ms int64
			var lvl int
			_ = json.Unmarshal(it[i], &ms)
			_ = json.Unmarshal(it[i+1], &lvl)
			r.Relax = append(r.Relax, SkillRelaxation{After: time.Duration(ms) * time.Millisecond, MinLevel: lvl})
		}
		out = append(out, r)
	}
	return out
}
