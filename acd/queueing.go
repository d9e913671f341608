package acd

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/tandem-cc/tandem/agents"
	"github.com/tandem-cc/tandem/ewt"
	"github.com/tandem-cc/tandem/media"
)

// Messages of the queue experience.
type (
	overflowDue struct{ gen int }
	announceDue struct{ gen int }
)

// toQueue sends the caller to queue q with priority prio (-1: the queue's
// default) and the call's own skill requirements (nil: the queue's). The
// queue's treatments come first: closed hours, a full queue, a queue with
// nobody logged in.
func (c *call) toQueue(ctx context.Context, q string, prio int, skills []SkillRequirement) {
	settings, ok := c.e.opts.Queues[q]
	if !ok {
		c.log.Error("unknown queue", "queue", q)
		c.fail(ctx, "no queue")
		return
	}
	c.queueName, c.settings = q, settings
	if prio < 0 {
		prio = settings.Priority
	}
	if sched := c.e.schedules[q]; sched != nil && !sched.Open(c.e.opts.Now()) {
		c.e.store.Record(ctx, c.conn, "closed", "queue", q)
		c.treat(ctx, settings.Hours.Closed, "closed", prio, skills)
		return
	}
	if settings.Overflow.NoAgents && !c.e.anyAgentLoggedIn(ctx, q) {
		c.e.store.Record(ctx, c.conn, "overflow_no_agents", "queue", q)
		c.treat(ctx, settings.Overflow.Action, "no_agents", prio, skills)
		return
	}
	if err := c.e.pbx.StartMusic(ctx, c.callerLeg, settings.MOHClass); err != nil {
		c.log.Warn("start music", "err", err) // the call can still be served
	}
	c.routeTo(rtEnqueue)
	if len(settings.Variables) > 0 {
		if _, err := c.e.cad.Init(ctx, c.conn, settings.Variables, c.arrived.Vars); err != nil {
			c.log.Warn("call-associated data", "err", err)
		}
	}
	// An offer comes through the mailbox (Engine.deliverOffer), after this step.
	err := c.e.store.EnqueueCapped(ctx, c.conn, q, prio, skills, settings.MaxSize)
	if errors.Is(err, ErrQueueFull) {
		c.e.store.Record(ctx, c.conn, "queue_full", "queue", q)
		c.treat(ctx, settings.WhenFull, "full", prio, skills)
		return
	}
	if err != nil {
		c.log.Error("enqueue", "err", err)
		c.fail(ctx, "enqueue")
		return
	}
	c.queuedAt = time.Now()
	if settings.Announce.EWT {
		// What the estimator will be calibrated against once the call is
		// answered; only queues that announce waits need it.
		pos, err := c.e.store.Position(ctx, q, c.conn)
		if err != nil {
			// The estimator is then calibrated without this call.
			c.log.Warn("position for the wait estimator", "err", err)
		}
		c.ewtPos = pos
		c.ewtAgents = c.e.servingAgents(ctx, q)
	}
	c.log.Info("call queued", "queue", q, "priority", prio)
	c.startQueueTimers()
	c.scheduleCallbackOffer(settings.Callback.OfferAfter)
}

// treat applies a treatment to a call that is not (yet) waiting in a queue.
func (c *call) treat(ctx context.Context, a Treatment, why string, prio int, skills []SkillRequirement) {
	switch a.Type {
	case "queue":
		c.toQueue(ctx, a.Queue, prio, skills)
	case "message":
		c.endWithMessage(ctx, a.Message, why, nil)
	case "callback":
		// The callback waits in the queue the treatment belongs to.
		q := c.queueName
		if q == "" {
			q = a.Queue
		}
		c.callbackTreatment(ctx, q, why)
	default:
		c.endWithMessage(ctx, media.Media{}, why, nil)
	}
}

// startQueueTimers arms the overflow timer and the announcements of a call
// that just started waiting.
func (c *call) startQueueTimers() {
	c.queueGen++
	gen := c.queueGen
	if d := c.settings.Overflow.After; d > 0 && c.settings.Overflow.Action.Type != "" {
		c.after(d, overflowDue{gen: gen})
	}
	if iv := c.settings.Announce.Interval; iv > 0 && (c.settings.Announce.Position || c.settings.Announce.EWT) {
		c.after(iv, announceDue{gen: gen})
	}
}

// stopQueueTimers makes pending overflow and announcement timers no-ops.
func (c *call) stopQueueTimers() { c.queueGen++ }

// onOverflow moves a call that waited too long, keeping its arrival time.
func (c *call) onOverflow(ctx context.Context, m overflowDue) {
	if m.gen != c.queueGen || c.route != routeQueued {
		return
	}
	a := c.settings.Overflow.Action
	c.e.store.Record(ctx, c.conn, "overflow_time", "queue", c.queueName)
	if a.Type != "queue" {
		c.treatQueued(ctx, a, "overflow")
		return
	}
	settings := c.e.opts.Queues[a.Queue]
	if err := c.e.store.MoveQueue(ctx, c.conn, c.queueName, a.Queue, "overflow"); err != nil {
		c.log.Warn("overflow", "err", err)
		return
	}
	c.log.Info("overflowed", "from", c.queueName, "to", a.Queue)
	c.queueName, c.settings = a.Queue, settings
	if err := c.e.pbx.StartMusic(ctx, c.callerLeg, settings.MOHClass); err != nil {
		c.log.Warn("music after overflow", "err", err)
	}
	c.startQueueTimers()
}

// treatQueued applies a message or callback treatment to a waiting call.
func (c *call) treatQueued(ctx context.Context, a Treatment, why string) {
	c.stopQueueTimers()
	c.treat(ctx, a, why, -1, nil)
}

// onAnnounce tells a waiting caller their position and estimated wait,
// only when either changed since the last announcement, as one playback
// in place of the music. The actor does not wait for it: an offer that
// arrives meanwhile stops it (onOffer). The next one is due an interval
// after this one has ended (so a caller inside a long announcement costs
// no work meanwhile).
func (c *call) onAnnounce(ctx context.Context, m announceDue) {
	if m.gen != c.queueGen || c.route != routeQueued {
		return
	}
	iv := c.settings.Announce.Interval
	gen := m.gen
	next := func() {
		if gen == c.queueGen {
			c.after(iv, announceDue{gen: gen})
		}
	}
	if c.queueMedia != "" {
		next() // the callback offer plays
		return
	}
	pos, err := c.e.store.Position(ctx, c.queueName, c.conn)
	if err != nil {
		next()
		return
	}
	var items []media.Media
	if c.settings.Announce.Position && pos != c.lastPosition {
		items = append(items, positionMedia(pos, c.settings.Announce.YouAreNext)...)
		c.lastPosition = pos
	}
	// A wait is announced only when someone serves the queue (with nobody,
	// any figure would be invented) and only when its rounded value changed.
	if agents := c.e.servingAgents(ctx, c.queueName); c.settings.Announce.EWT && agents > 0 {
		wait := ewt.Round(c.e.ewt.of(c.queueName).Estimate(pos, agents))
		if ewt.Changed(c.lastEWT, wait) {
			if wait == ewt.LessThanAMinute {
				items = append(items, media.SoundOf("queue-holdtime"), media.SoundOf("queue-less-than"), media.NumberOf(1), media.SoundOf("queue-minute"))
			} else {
				items = append(items, media.SoundOf("queue-holdtime"), media.NumberOf(int(wait/time.Minute)), media.SoundOf("queue-minutes"))
			}
			c.lastEWT = wait
		}
	}
	if len(items) == 0 {
		next()
		return
	}
	c.playInQueue(ctx, "announce", []string{"position", strconv.Itoa(pos), "ewt_s", strconv.Itoa(int(c.lastEWT / time.Second))}, next, items...)
}

// positionMedia is the position announcement: "you are next" for the
// first caller in line (as app_queue says it), "there are N calls waiting"
// for the others.
func positionMedia(pos int, youAreNext media.Media) []media.Media {
	if pos == 1 {
		if youAreNext.IsZero() {
			// Asterisk's own prompt, the one app_queue plays.
			youAreNext = media.SoundOf("queue-youarenext")
		}
		return []media.Media{youAreNext}
	}
	return []media.Media{media.SoundOf("queue-thereare"), media.NumberOf(pos), media.SoundOf("queue-callswaiting")}
}

// playInQueue plays items to a waiting caller in place of the music; once
// they have played, the event (with fields) is recorded and the music
// comes back. An offer stops them (onOffer). ended (may be nil) runs when
// they end either way.
func (c *call) playInQueue(ctx context.Context, event string, fields []string, ended func(), items ...media.Media) {
	if err := c.e.pbx.StopMusic(ctx, c.callerLeg); err != nil {
		c.log.Debug("stop music for "+event, "err", err)
	}
	var id string
	id = c.startMedia(ctx, c.callerLeg, func(ctx context.Context, out PlaybackOutcome) {
		if c.queueMedia != id || c.route != routeQueued {
			return
		}
		c.queueMedia, c.queueMediaEnded = "", nil
		if out == PlaybackDone {
			c.e.store.Record(ctx, c.conn, event, fields...)
		}
		if err := c.e.pbx.StartMusic(ctx, c.callerLeg, c.settings.MOHClass); err != nil {
			c.log.Warn("music after "+event, "err", err)
		}
		if ended != nil {
			ended()
		}
	}, items...)
	if id != "" {
		c.queueMedia, c.queueMediaEnded = id, ended
	}
}

// stopQueueMedia stops what a waiting caller hears instead of music.
func (c *call) stopQueueMedia(ctx context.Context) {
	if c.queueMedia != "" {
		c.stopMedia(ctx, c.queueMedia)
		c.queueMedia, c.queueMediaEnded = "", nil
	}
}

// endQueueMedia stops playback id (if any) that an offer interrupted, and
// gives the caller their music back while the agent's phone rings; ended
// is what was to run at the playback's end.
func (c *call) endQueueMedia(ctx context.Context, id string, ended func()) {
	if id == "" {
		return
	}
	c.stopMedia(ctx, id)
	if err := c.e.pbx.StartMusic(ctx, c.callerLeg, c.settings.MOHClass); err != nil {
		c.log.Warn("music after an interrupted announcement", "err", err)
	}
	if ended != nil {
		ended()
	}
}

// anyAgentLoggedIn reports whether q has a logged-in agent.
func (e *Engine) anyAgentLoggedIn(ctx context.Context, q string) bool {
	counts, err := e.store.AgentCounts(ctx, q)
	if err != nil {
		return true // when in doubt, queue the call
	}
	n := 0
	for _, c := range counts {
		n += c
	}
	return n > 0
}

// ewtBook keeps one wait-time estimator per queue on this replica, fed by
// the calls it serves.
type ewtBook struct {
	mu sync.Mutex
	by map[string]*ewt.Estimator
}

func newEWTBook() *ewtBook { return &ewtBook{by: map[string]*ewt.Estimator{}} }

func (b *ewtBook) of(q string) *ewt.Estimator {
	b.mu.Lock()
	defer b.mu.Unlock()
	est := b.by[q]
	if est == nil {
		est = ewt.New()
		b.by[q] = est
	}
	return est
}

// servingAgents counts q's agents who can take calls (not idle, not out).
func (e *Engine) servingAgents(ctx context.Context, q string) int {
	counts, err := e.store.AgentCounts(ctx, q)
	if err != nil {
		return 0
	}
	n := 0
	for st, c := range counts {
		if st != agents.Idle && st != agents.RONA {
			n += c
		}
	}
	return n
}

// AgentCounts counts q's logged-in agents by state in two round trips (the
// logged-in set, then one pipeline reading every agent's state and queues),
// whatever the number of agents.
func (s *Store) AgentCounts(ctx context.Context, q string) (map[agents.State]int, error) {
	ids, err := s.rdb.SMembers(ctx, s.keys.Agents()).Result()
	if err != nil {
		return nil, fmt.Errorf("agents of %s: %w", q, err)
	}
	pipe := s.rdb.Pipeline()
	cmds := make([]*redis.SliceCmd, len(ids))
	for i, id := range ids {
		cmds[i] = pipe.HMGet(ctx, s.keys.Agent(id), "state", "queues")
	}
	if len(ids) > 0 {
		if _, err := pipe.Exec(ctx); err != nil && !errors.Is(err, redis.Nil) {
			return nil, fmt.Errorf("agents of %s: %w", q, err)
		}
	}
	out := map[agents.State]int{}
	for _, c := range cmds {
		v := c.Val()
		if len(v) != 2 || v[0] == nil || v[1] == nil {
			continue
		}
		st := agents.State(fmt.Sprint(v[0]))
		if st == agents.LoggedOut {
			continue
		}
		for _, name := range strings.Split(fmt.Sprint(v[1]), ",") {
			if name == q {
				out[st]++
			}
		}
	}
	return out, nil
}

var errNoPosition = errors.New("not waiting")

// Position is a waiting call's 1-based place in its queue.
func (s *Store) Position(ctx context.Context, q, conn string) (int, error) {
	r, err := s.rdb.ZRank(ctx, s.keys.Waiting(q), conn).Result()
	if err != nil {
		return 0, fmt.Errorf("position of %s: %w", conn, errNoPosition)
	}
	return int(r) + 1, nil
}
