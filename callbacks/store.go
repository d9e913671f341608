package callbacks

import (
	"cmp"
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/tandem-cc/tandem/cad"
	"github.com/tandem-cc/tandem/dialnum"
	"github.com/tandem-cc/tandem/errs"
	"github.com/tandem-cc/tandem/internal/luascript"
	"github.com/tandem-cc/tandem/media"
)

// MaxBatch bounds the callbacks one Claim or Reclaim moves, so that each
// script does bounded work.
const MaxBatch = 1000

// Store keeps callbacks in Redis. Every change is one Lua script (one round
// trip, atomic); see scripts/. It is safe for concurrent use.
//
// Record fields of {cb}:cb:<id> (HASH): id, queue, number, name, vars
// (JSON), kind, state, score, due, window_end, attempts (count), att:<n>
// (JSON {at, outcome, node}), max_attempts, retry_ms, created, ended, node,
// lease, started, started_at, leg, owner, conn, agent_leg, media,
// caller_id, dnis, tz, secure (JSON array of the secure names of vars,
// whose values the end drops). Times are unix ms from Redis TIME.
type Store struct {
	rdb  redis.UniversalClient
	keys Keys
}

// NewStore returns the callback store under prefix ("tandem").
func NewStore(rdb redis.UniversalClient, prefix string) *Store {
	return &Store{rdb: rdb, keys: NewKeys(prefix)}
}

// Keys exposes the key builder (tests and tools read state back with it).
func (s *Store) Keys() Keys { return s.keys }

// Client is the Redis client the store uses (tools read state back with it).
func (s *Store) Client() redis.UniversalClient { return s.rdb }

func (s *Store) run(ctx context.Context, sc *redis.Script, keys []string, args ...any) (any, error) {
	argv := append([]any{s.keys.Base()}, args...)
	v, err := sc.Run(ctx, s.rdb, keys, argv...).Result()
	return v, scriptError(err)
}

// Create validates req and stores a pending callback, or returns the
// queue's live (pending or dialing) callback for the same normalised number
// with merged = true. The check and the write are one script, so two
// concurrent requests for one number make one callback.
func (s *Store) Create(ctx context.Context, req Request) (Callback, bool, error) {
	number, err := validate(&req)
	if err != nil {
		return Callback{}, false, err
	}
	vars, err := json.Marshal(req.Vars)
	if err != nil {
		return Callback{}, false, fmt.Errorf("callback vars: %w", err)
	}
	secure := ""
	if len(req.Secure) > 0 {
		data, err := json.Marshal(req.Secure)
		if err != nil {
			return Callback{}, false, fmt.Errorf("callback secure names: %w", err)
		}
		secure = string(data)
	}
	id, err := newID()
	if err != nil {
		return Callback{}, false, err
	}
	score := ""
	if req.Score != 0 {
		score = strconv.FormatFloat(req.Score, 'f', -1, 64)
	}
	v, err := s.run(ctx, scriptCreate,
		[]string{s.keys.Callback(id), s.keys.PendingIndex(req.Queue), s.keys.Due(), s.keys.Waiting(req.Queue)},
		id, req.Queue, number, req.Name, string(vars), string(req.Kind), score,
		unixMS(req.EarliestAt), unixMS(req.WindowEnd), req.MaxAttempts, req.RetryDelay.Milliseconds(),
		req.Media, req.CallerID, req.DNIS, req.TimeZone, secure, req.MaxAhead.Milliseconds())
	if errors.Is(err, errFarAhead) {
		return Callback{}, false, farAhead(err, req.MaxAhead)
	}
	if err != nil {
		return Callback{}, false, fmt.Errorf("create callback in %s: %w", req.Queue, err)
	}
	reply, err := luascript.List("create", v)
	if err != nil {
		return Callback{}, false, err
	}
	if len(reply) != 2 {
		return Callback{}, false, fmt.Errorf("script create: reply of %d items, want 2: %w", len(reply), errs.ErrBadReply)
	}
	merged, err := luascript.Int("create", reply[0])
	if err != nil {
		return Callback{}, false, err
	}
	cb, err := parse("create", reply[1])
	return cb, merged == 1, err
}

// validate checks req, fills in its defaults and returns the normalised
// number.
func validate(req *Request) (string, error) {
	if strings.TrimSpace(req.Queue) == "" {
		return "", &FieldError{Field: "queue", Rule: "required", Msg: "a callback needs a queue"}
	}
	switch req.Kind {
	case "":
		req.Kind = KindWeb
	case KindCourtesy, KindWeb, KindScheduled:
	default:
		return "", &FieldError{Field: "kind", Rule: "kind", Msg: fmt.Sprintf("%q is not courtesy, web or scheduled", req.Kind)}
	}
	if req.Kind == KindCourtesy && req.Score == 0 {
		return "", &FieldError{Field: "score", Rule: "courtesy-score", Msg: "a courtesy callback keeps the caller's place: give the original call's score"}
	}
	switch {
	case req.MaxAttempts < 0:
		return "", &FieldError{Field: "max_attempts", Rule: "range", Msg: "must not be negative"}
	case req.MaxAttempts == 0:
		req.MaxAttempts = DefaultMaxAttempts
	}
	switch {
	case req.RetryDelay < 0:
		return "", &FieldError{Field: "retry_delay", Rule: "range", Msg: "must not be negative"}
	case req.RetryDelay == 0:
		req.RetryDelay = DefaultRetryDelay
	}
	switch {
	case req.MaxAhead < 0:
		return "", &FieldError{Field: "max_ahead", Rule: "range", Msg: "must not be negative"}
	case req.MaxAhead == 0:
		req.MaxAhead = DefaultMaxAhead
	}
	if !req.WindowEnd.IsZero() && !req.EarliestAt.IsZero() && !req.WindowEnd.After(req.EarliestAt) {
		return "", &FieldError{Field: "window_end", Rule: "window", Msg: "must be after earliest_at"}
	}
	if err := checkVars(req.Vars); err != nil {
		return "", err
	}
	if _, err := media.Parse(req.Media); err != nil {
		return "", &FieldError{Field: "media", Rule: "media", Msg: err.Error()}
	}
	// The dialling policy first (emergency numbers, refused number types,
	// internal numbers), then the queue's country list.
	n, err := req.Policy.Dialable(req.Number, req.Region)
	if err == nil {
		err = dialnum.CheckCountry(n, req.AllowedCountryCodes)
	}
	if err != nil {
		var re *dialnum.RuleError
		if errors.As(err, &re) {
			msg := re.Msg
			if re.Rule == dialnum.RuleCountryNotAllowed {
				msg = "queue " + req.Queue + ": " + msg
			}
			return "", &FieldError{Field: "number", Rule: re.Rule, Msg: msg}
		}
		return "", &FieldError{Field: "number", Rule: "invalid", Msg: err.Error()}
	}
	return n.Dial, nil
}

// checkVars refuses the names Tandem sets itself (cad.Reserved): the
// scheduler attaches callback_id and callback_number to the call that
// serves a callback, and a variable of the request must not pass for
// them. Values are checked against the queue's definitions by whoever
// knows them (acd.Engine.RequestCallback, with cad.CheckValue); values a
// call carried in from the PBX (a courtesy callback) are kept as given.
func checkVars(vars map[string]string) error {
	for _, name := range slices.Sorted(maps.Keys(vars)) {
		if err := cad.CheckName(name); err != nil {
			return &FieldError{Field: "variables." + name, Rule: cad.RuleReserved, Msg: "is set by Tandem itself and cannot be given"}
		}
	}
	return nil
}

// errFarAhead is create.lua's FARAHEAD reply: a time beyond MaxAhead.
var errFarAhead = errors.New("too far ahead")

// farAhead turns create.lua's "FARAHEAD <field> <limit ms>" into the
// FieldError a person reads.
func farAhead(err error, maxAhead time.Duration) error {
	if maxAhead == 0 {
		maxAhead = DefaultMaxAhead
	}
	msg := err.Error()
	_, rest, _ := strings.Cut(msg, "FARAHEAD ")
	f := strings.Fields(rest)
	if len(f) < 2 {
		return fmt.Errorf("script create: %q: %w", msg, errs.ErrBadReply)
	}
	limit, perr := strconv.ParseInt(strings.TrimSuffix(f[1], ":"), 10, 64)
	if perr != nil {
		return fmt.Errorf("script create: %q: %w", msg, errs.ErrBadReply)
	}
	return &FieldError{Field: f[0], Rule: RuleTooFarAhead,
		Msg: fmt.Sprintf("must be at most %s ahead, not after %s", spell(maxAhead), time.UnixMilli(limit).UTC().Format(time.RFC3339))}
}

// spell writes d in days when it is whole days ("30 days"), as Go does
// otherwise.
func spell(d time.Duration) string {
	const day = 24 * time.Hour
	switch {
	case d == day:
		return "1 day"
	case d%day == 0:
		return strconv.FormatInt(int64(d/day), 10) + " days"
	}
	return d.String()
}

// Get returns the callback id.
func (s *Store) Get(ctx context.Context, id string) (Callback, error) {
	m, err := s.rdb.HGetAll(ctx, s.keys.Callback(id)).Result()
	if err != nil {
		return Callback{}, fmt.Errorf("get callback %s: %w", id, err)
	}
	if len(m) == 0 {
		return Callback{}, fmt.Errorf("callback %s: %w", id, ErrNotFound)
	}
	return fromMap(m)
}

// Reveal returns variable name of callback id in clear ("" if it has
// none) and records who asked in the audit stream, in one script (see
// reveal.lua). Which names may be revealed is the caller's business (the
// queue's variable definitions); the value is never logged.
func (s *Store) Reveal(ctx context.Context, id, name, who string) (string, error) {
	if strings.TrimSpace(who) == "" {
		return "", fmt.Errorf("reveal %s of callback %s: no user to audit", name, id)
	}
	v, err := s.run(ctx, scriptReveal, []string{s.keys.Callback(id), s.keys.Audit()}, id, name, who)
	if err != nil {
		return "", fmt.Errorf("reveal %s of callback %s: %w", name, id, err)
	}
	return luascript.String("reveal", v)
}

// Cancel cancels a callback that is not being dialled: pending, or claimed
// and still waiting for an agent (the holder must then withdraw its
// interaction: the record's Conn and CancelledHolder name it). One being
// dialled (or already finished) is refused with ErrIllegalTransition
// naming its state.
func (s *Store) Cancel(ctx context.Context, id string) (Callback, error) {
	v, err := s.run(ctx, scriptCancel, []string{s.keys.Callback(id)}, id)
	if err != nil {
		return Callback{}, fmt.Errorf("cancel callback %s: %w", id, err)
	}
	return parse("cancel", v)
}

// Claim moves up to max due callbacks (due ≤ Redis TIME, earliest first) to
// dialing, held by node until Redis TIME + lease, and returns them; each
// record's Node is the holder token to pass to every later call. Each
// callback goes to exactly one claimer however many claim at once.
// Callbacks due after their window ended become expired instead.
func (s *Store) Claim(ctx context.Context, node string, lease time.Duration, max int) ([]Callback, error) {
	if max <= 0 {
		return nil, nil
	}
	max = min(max, MaxBatch)
	v, err := s.run(ctx, scriptClaim, []string{s.keys.Due(), s.keys.Leases()}, node, lease.Milliseconds(), max)
	if err != nil {
		return nil, fmt.Errorf("claim callbacks for %s: %w", node, err)
	}
	rows, err := luascript.List("claim", v)
	if err != nil {
		return nil, err
	}
	out := make([]Callback, 0, len(rows))
	for _, r := range rows {
		cb, err := parse("claim", r)
		if err != nil {
			return out, err
		}
		out = append(out, cb)
	}
	return out, nil
}

// Extend renews node's lease on id until Redis TIME + lease and returns the
// new expiry. ErrLeaseLost if node does not hold it (it was reclaimed and
// perhaps claimed by another node): stop working on it.
func (s *Store) Extend(ctx context.Context, id, holder string, lease time.Duration) (time.Time, error) {
	v, err := s.run(ctx, scriptExtend, []string{s.keys.Callback(id), s.keys.Leases()}, id, holder, lease.Milliseconds())
	if err != nil {
		return time.Time{}, fmt.Errorf("extend lease of %s for %s: %w", id, holder, err)
	}
	ms, err := luascript.Int("extend", v)
	if err != nil {
		return time.Time{}, err
	}
	return time.UnixMilli(ms), nil
}

// Lapse ends holder's lease on id now, as if its node had stopped renewing
// it: the expiry becomes Redis TIME - ago (a takeover lock the holder keeps
// goes with it), through the same script as Extend, so Reclaim sees exactly
// what a lease that ran out sees. Tests use it to let a lease run out at a
// chosen step instead of racing a short lease against the machine's load;
// an operator may use it to free a callback whose node is known dead.
// ErrLeaseLost if holder does not hold id.
func (s *Store) Lapse(ctx context.Context, id, holder string, ago time.Duration) (time.Time, error) {
	if ago < 0 {
		return time.Time{}, fmt.Errorf("lapse lease of %s: negative age %v", id, ago)
	}
	until, err := s.Extend(ctx, id, holder, -ago)
	if err != nil {
		return time.Time{}, fmt.Errorf("lapse: %w", err)
	}
	return until, nil
}

// StartDial records that node is about to originate the next attempt of id
// as leg, through the PBX owner (acd.PBX.Owner), and returns the attempt's
// number. Call it before every originate: if the node dies, the next
// claimer gets the callback with DialStarted, DialLeg and DialOwner and
// takes that leg over instead of dialling again. ErrLeaseLost if holder does
// not hold id, ErrDialStarted if the attempt was already started.
func (s *Store) StartDial(ctx context.Context, id, holder, leg, owner string) (int, error) {
	v, err := s.run(ctx, scriptStartDial, []string{s.keys.Callback(id)}, id, holder, leg, owner)
	if err != nil {
		return 0, fmt.Errorf("start dial of %s by %s: %w", id, holder, err)
	}
	n, err := luascript.Int("start_dial", v)
	if err != nil {
		return 0, err
	}
	return int(n), nil
}

// Complete records the outcome of node's attempt on id: answered → done;
// any other outcome → pending again, due Redis TIME + RetryDelay, or failed
// once the attempts reach MaxAttempts. ErrLeaseLost if node does not hold
// id any more.
func (s *Store) Complete(ctx context.Context, id, holder string, outcome Outcome) (Callback, error) {
	if !outcome.valid() {
		return Callback{}, &FieldError{Field: "outcome", Rule: "outcome", Msg: fmt.Sprintf("%q is not a dial outcome", outcome)}
	}
	v, err := s.run(ctx, scriptComplete, []string{s.keys.Callback(id)}, id, holder, string(outcome))
	if err != nil {
		return Callback{}, fmt.Errorf("complete %s by %s: %w", id, holder, err)
	}
	return parse("complete", v)
}

// Attach records the interaction (conn) and the agent's leg ("" = none
// yet) node serves id with. ErrLeaseLost if node does not hold id.
func (s *Store) Attach(ctx context.Context, id, holder, conn, agentLeg string) error {
	_, err := s.run(ctx, scriptAttach, []string{s.keys.Callback(id)}, id, holder, conn, agentLeg)
	if err != nil {
		return fmt.Errorf("attach %s to %s by %s: %w", id, conn, holder, err)
	}
	return nil
}

// Release gives id back without dialling it: pending again, due after
// delay, in the same place of its queue, no attempt counted (the contact
// center is at its maximum of concurrent calls, or the queue is closed).
// ErrLeaseLost if node does not hold id; ErrDialStarted if a dial was
// started (Complete it instead).
func (s *Store) Release(ctx context.Context, id, holder string, delay time.Duration) (Callback, error) {
	v, err := s.run(ctx, scriptRelease, []string{s.keys.Callback(id)}, id, holder, max(delay, 0).Milliseconds())
	if err != nil {
		return Callback{}, fmt.Errorf("release %s by %s: %w", id, holder, err)
	}
	return parse("release", v)
}

// Heartbeat marks node alive for ttl: a started dial of a node that beats
// is not taken over when its lease lapses (see reclaim.lua). A node's
// scheduler beats at least every ttl/3.
func (s *Store) Heartbeat(ctx context.Context, node string, ttl time.Duration) error {
	if err := s.rdb.Set(ctx, s.keys.Alive(node), 1, ttl).Err(); err != nil {
		return fmt.Errorf("heartbeat of %s: %w", node, err)
	}
	return nil
}

// DueNow makes pending callback id due at once (see due_now.lua).
func (s *Store) DueNow(ctx context.Context, id string) (Callback, error) {
	v, err := s.run(ctx, scriptDueNow, []string{s.keys.Callback(id), s.keys.Due()}, id)
	if err != nil {
		return Callback{}, fmt.Errorf("make %s due: %w", id, err)
	}
	return parse("due_now", v)
}

// Reclaim is the safety net for dead nodes: up to max callbacks whose lease
// expired go back to pending, due now, in their old place. No attempt is
// counted: a callback whose holder had started a dial keeps DialStarted,
// DialLeg and DialOwner, and its next claimer takes that leg over and
// completes the attempt with its real outcome. A started dial whose node
// still beats (Heartbeat) is left to it for up to ten leases: taking it
// over would stop that node at the PBX. It returns the ids reclaimed.
func (s *Store) Reclaim(ctx context.Context, max int) ([]string, error) {
	if max <= 0 {
		return nil, nil
	}
	v, err := s.run(ctx, scriptReclaim, []string{s.keys.Leases()}, min(max, MaxBatch))
	if err != nil {
		return nil, fmt.Errorf("reclaim callbacks: %w", err)
	}
	return luascript.Strings("reclaim", v)
}

// Stopped removes node's heartbeat: a node shutting down lets its started
// dials be taken over as soon as their leases lapse.
func (s *Store) Stopped(ctx context.Context, node string) error {
	if err := s.rdb.Del(ctx, s.keys.Alive(node)).Err(); err != nil {
		return fmt.Errorf("heartbeat of %s: %w", node, err)
	}
	return nil
}

// Waiting returns the queue's pending callbacks (due or not) in queue order,
// lowest Score first: routing interleaves them with the queue's waiting
// calls, so a courtesy callback keeps the caller's place.
func (s *Store) Waiting(ctx context.Context, queue string) ([]Callback, error) {
	ids, err := s.rdb.ZRange(ctx, s.keys.Waiting(queue), 0, -1).Result()
	if err != nil {
		return nil, fmt.Errorf("waiting callbacks of %s: %w", queue, err)
	}
	pipe := s.rdb.Pipeline()
	cmds := make([]*redis.MapStringStringCmd, len(ids))
	for i, id := range ids {
		cmds[i] = pipe.HGetAll(ctx, s.keys.Callback(id))
	}
	if len(ids) > 0 {
		if _, err := pipe.Exec(ctx); err != nil {
			return nil, fmt.Errorf("waiting callbacks of %s: %w", queue, err)
		}
	}
	out := make([]Callback, 0, len(ids))
	for _, c := range cmds {
		m := c.Val()
		if len(m) == 0 {
			continue // finished and expired between the two reads
		}
		cb, err := fromMap(m)
		if err != nil {
			return nil, err
		}
		if cb.State == StatePending {
			out = append(out, cb)
		}
	}
	return out, nil
}

// Live returns the live callbacks of the queues, those not over yet
// (pending, or dialing: held by a node, waiting for an agent or being
// dialled), oldest request first, at most limit of them. They are the
// queues' merge indexes (one live callback per number). Whatever the
// number of queues and callbacks, it takes three round trips: the
// indexes, then each indexed callback's request time and state (two
// fields), then the whole record of the limit oldest only, so a long
// list costs no more than its first page. A callback that ends between
// the reads is left out, so the list can be shorter than limit.
func (s *Store) Live(ctx context.Context, queues []string, limit int) ([]Callback, error) {
	out := []Callback{}
	if limit <= 0 || len(queues) == 0 {
		return out, nil
	}
	pipe := s.rdb.Pipeline()
	indexes := make([]*redis.StringSliceCmd, len(queues))
	for i, q := range queues {
		indexes[i] = pipe.HVals(ctx, s.keys.PendingIndex(q))
	}
	if _, err := pipe.Exec(ctx); err != nil {
		return nil, fmt.Errorf("live callbacks of %s: %w", strings.Join(queues, ","), err)
	}
	var ids []string
	for _, c := range indexes {
		ids = append(ids, c.Val()...)
	}
	if len(ids) == 0 {
		return out, nil
	}

	heads := make([]*redis.SliceCmd, len(ids))
	for i, id := range ids {
		heads[i] = pipe.HMGet(ctx, s.keys.Callback(id), "created", "state")
	}
	if _, err := pipe.Exec(ctx); err != nil && !errors.Is(err, redis.Nil) {
		return nil, fmt.Errorf("live callbacks of %s: %w", strings.Join(queues, ","), err)
	}
	type head struct {
		id      string
		created int64
	}
	live := make([]head, 0, len(ids))
	for i, id := range ids {
		v := heads[i].Val()
		if len(v) != 2 || v[0] == nil || v[1] == nil || State(fmt.Sprint(v[1])).Terminal() {
			continue // over, or gone, since the index was read
		}
		created, _ := strconv.ParseInt(fmt.Sprint(v[0]), 10, 64)
		live = append(live, head{id, created})
	}
	slices.SortFunc(live, func(a, b head) int {
		return cmp.Or(cmp.Compare(a.created, b.created), strings.Compare(a.id, b.id))
	})
	live = live[:min(limit, len(live))]
	if len(live) == 0 {
		return out, nil
	}

	records := make([]*redis.MapStringStringCmd, len(live))
	for i, h := range live {
		records[i] = pipe.HGetAll(ctx, s.keys.Callback(h.id))
	}
	if _, err := pipe.Exec(ctx); err != nil {
		return nil, fmt.Errorf("live callbacks of %s: %w", strings.Join(queues, ","), err)
	}
	for _, c := range records {
		m := c.Val()
		if len(m) == 0 {
			continue // finished and expired between the reads
		}
		cb, err := fromMap(m)
		if err != nil {
			return nil, err
		}
		if !cb.State.Terminal() {
			out = append(out, cb)
		}
	}
	return out, nil
}

// LiveCount is how many live callbacks the queue has (Live's length, in
// one command).
func (s *Store) LiveCount(ctx context.Context, queue string) (int64, error) {
	n, err := s.rdb.HLen(ctx, s.keys.PendingIndex(queue)).Result()
	if err != nil {
		return 0, fmt.Errorf("live callbacks of %s: %w", queue, err)
	}
	return n, nil
}

// QueueLiveCount queues LiveCount's command in pipe, so that a reader of
// many queues (the wallboard's) counts them all in one round trip.
func (s *Store) QueueLiveCount(ctx context.Context, pipe redis.Pipeliner, queue string) *redis.IntCmd {
	return pipe.HLen(ctx, s.keys.PendingIndex(queue))
}

// NextDue returns the due time of the earliest pending callback, false if
// none: a scheduler sleeps until then (or until woken) instead of polling.
func (s *Store) NextDue(ctx context.Context) (time.Time, bool, error) {
	z, err := s.rdb.ZRangeWithScores(ctx, s.keys.Due(), 0, 0).Result()
	if err != nil {
		return time.Time{}, false, fmt.Errorf("next due callback: %w", err)
	}
	if len(z) == 0 {
		return time.Time{}, false, nil
	}
	return time.UnixMilli(int64(z[0].Score)), true, nil
}

func newID() (string, error) {
	var b [16]byte
	if _, err := rand.Read(b[:]); err != nil {
		return "", fmt.Errorf("callback id: %w", err)
	}
	return hex.EncodeToString(b[:]), nil
}

func unixMS(t time.Time) int64 {
	if t.IsZero() {
		return 0
	}
	return t.UnixMilli()
}

// parse reads a record returned by script (HGETALL: field, value, …).
func parse(script string, v any) (Callback, error) {
	flat, err := luascript.Strings(script, v)
	if err != nil {
		return Callback{}, err
	}
	if len(flat)%2 != 0 {
		return Callback{}, fmt.Errorf("script %s: record of %d items: %w", script, len(flat), errs.ErrBadReply)
	}
	m := make(map[string]string, len(flat)/2)
	for i := 0; i+1 < len(flat); i += 2 {
		m[flat[i]] = flat[i+1]
	}
	return fromMap(m)
}

func fromMap(m map[string]string) (Callback, error) {
	msTime := func(f string) time.Time {
		n, _ := strconv.ParseInt(m[f], 10, 64)
		if n == 0 {
			return time.Time{}
		}
		return time.UnixMilli(n)
	}
	atoi := func(f string) int { n, _ := strconv.Atoi(m[f]); return n }
	cb := Callback{
		ID:              m["id"],
		Queue:           m["queue"],
		Number:          m["number"],
		Name:            m["name"],
		Kind:            Kind(m["kind"]),
		State:           State(m["state"]),
		Due:             msTime("due"),
		WindowEnd:       msTime("window_end"),
		MaxAttempts:     atoi("max_attempts"),
		RetryDelay:      time.Duration(atoi("retry_ms")) * time.Millisecond,
		Created:         msTime("created"),
		Ended:           msTime("ended"),
		Node:            m["node"],
		LeaseExpires:    msTime("lease"),
		DialStarted:     atoi("started"),
		DialLeg:         m["leg"],
		DialOwner:       m["owner"],
		Conn:            m["conn"],
		AgentLeg:        m["agent_leg"],
		CancelledHolder: m["cancelled_holder"],
		Media:           m["media"],
		CallerID:        m["caller_id"],
		DNIS:            m["dnis"],
		TimeZone:        m["tz"],
	}
	cb.Score, _ = strconv.ParseFloat(m["score"], 64)
	if v := m["vars"]; v != "" && v != "null" {
		if err := json.Unmarshal([]byte(v), &cb.Vars); err != nil {
			return cb, fmt.Errorf("callback %s vars: %w", cb.ID, err)
		}
	}
	n := atoi("attempts")
	if n > 0 {
		cb.Attempts = make([]Attempt, n)
	}
	for i := range n {
		var a struct {
			At      int64  `json:"at"`
			Outcome string `json:"outcome"`
			Node    string `json:"node"`
		}
		if err := json.Unmarshal([]byte(m["att:"+strconv.Itoa(i+1)]), &a); err != nil {
			return cb, fmt.Errorf("callback %s attempt %d: %w", cb.ID, i+1, err)
		}
		cb.Attempts[i] = Attempt{At: time.UnixMilli(a.At), Outcome: Outcome(a.Outcome), Node: a.Node}
	}
	return cb, nil
}

// Check validates req as Create would, without storing anything, and
// returns the normalised number: a caller keying a number is told at once
// that it is refused, before they record a message for the agent.
func Check(req Request) (string, error) { return validate(&req) }
