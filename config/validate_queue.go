package config

import (
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/tandem-cc/tandem/acd"
)

// badFunc records one invalid key; Validate's closure is the only one.
type badFunc = func(key, format string, args ...any)

// Queue strategies: how a queue picks among the agents who can take a call.
const (
	StrategyLongestIdle   = "longest_idle"
	StrategyRoundRobin    = "round_robin"
	StrategyFewestCalls   = "fewest_calls"
	StrategyLeastTalkTime = "least_talk_time"
	StrategyBestSkill     = "best_skill"
	StrategyRingAll       = "ring_all"
)

// Action types: what an overflow, a full queue or closed hours do with a
// call. ActionNone does nothing (the call stays where it is).
const (
	ActionNone     = ""
	ActionQueue    = "queue"
	ActionCallback = "callback"
	ActionMessage  = "message"
)

// Defaults of the keys under queues.<name> that Load fills when the file
// leaves them out. They are set per declared queue rather than in the
// defaults table because queue names are only known once the file is read.
const (
	DefaultStrategy     = StrategyLongestIdle
	DefaultWeight       = 1
	DefaultServiceLevel = 20 * time.Second
	DefaultTimeZone     = "UTC"
)

// Limits of the queue settings.
const (
	MaxPriority   = 9 // priorities are 0..9, 9 served first
	MinSkillLevel = 1
	MaxSkillLevel = 10
	// MinAnnounceInterval keeps announcements from talking over each other:
	// a position-and-wait announcement itself lasts a few seconds.
	MinAnnounceInterval = 5 * time.Second
)

var (
	strategies  = []string{StrategyLongestIdle, StrategyRoundRobin, StrategyFewestCalls, StrategyLeastTalkTime, StrategyBestSkill, StrategyRingAll}
	actionTypes = []string{ActionQueue, ActionCallback, ActionMessage}
)

// ValidSkillName reports whether s may name a skill. Skills are stored in
// Redis and compared as is, so they follow the same rule as codes.
func ValidSkillName(s string) bool { return code.MatchString(s) }

// checkQueue checks the routing settings of queue name; key is
// "queues.<name>".
func checkQueue(bad badFunc, c Config, name, key string, q Queue) {
	if q.Priority < 0 || q.Priority > MaxPriority {
		bad(key+".priority", "must be from 0 to %d", MaxPriority)
	}
	if !slices.Contains(strategies, q.Strategy) {
		bad(key+".strategy", "must be one of %s", strings.Join(strategies, ", "))
	}
	if q.Weight < 1 {
		bad(key+".weight", "must be at least 1")
	}
	checkSkills(bad, key+".skills", q.Skills)

	a := q.Announce
	switch {
	case a.Interval < 0:
		bad(key+".announce.interval", "must not be negative (0 is no announcements)")
	case a.Interval > 0 && a.Interval < MinAnnounceInterval:
		bad(key+".announce.interval", "must be at least %v (or 0 for none)", MinAnnounceInterval)
	case a.Interval == 0 && (a.Position || a.EWT):
		bad(key+".announce.interval", "must be set (at least %v) to announce position or ewt", MinAnnounceInterval)
	case a.Interval > 0 && !a.Position && !a.EWT:
		bad(key+".announce.interval", "announces nothing: set position, ewt or both")
	}

	o := q.Overflow
	if o.After < 0 {
		bad(key+".overflow.after", "must not be negative (0 is never by time)")
	}
	if (o.After > 0 || o.NoAgents) && o.Action.Type == ActionNone {
		bad(key+".overflow.action.type", "must say where an overflowing call goes (queue, callback or message)")
	}
	checkAction(bad, c, name, key+".overflow.action", o.Action)

	if q.MaxSize < 0 {
		bad(key+".max_size", "must not be negative (0 is no cap)")
	}
	if q.MaxSize > 0 && q.WhenFull.Type == ActionNone {
		bad(key+".when_full.type", "must say what happens to a call past max_size (queue, callback or message)")
	}
	checkAction(bad, c, name, key+".when_full", q.WhenFull)

	checkHours(bad, c, name, key+".hours", q.Hours)

	positive(bad, key+".service_level", q.ServiceLevel)
	checkCallback(bad, key+".callback", q.Callback)
}

// Callback accept modes: the engine's values (acd.CallbackSettings.Accept).
const (
	AcceptAuto  = acd.CallbackAcceptAuto
	AcceptAgent = acd.CallbackAcceptAgent
)

// checkCallback checks a queue's callback settings; key is
// "queues.<name>.callback".
func checkCallback(bad badFunc, key string, cb QueueCallback) {
	if cb.Digit != "" && (len(cb.Digit) != 1 || !strings.Contains("0123456789*#", cb.Digit)) {
		bad(key+".digit", "must be one DTMF digit (0-9, * or #)")
	}
	if cb.Digit == "*" || cb.Digit == "#" {
		bad(key+".digit", "must not be * or #: the callback dialog uses them to cancel and to end a number")
	}
	if cb.RecordMessage < 0 || cb.RecordMessage > 2*time.Minute {
		bad(key+".record_message", "must be from 0 (no message) to 2m")
	}
	if cb.Accept != "" && cb.Accept != AcceptAuto && cb.Accept != AcceptAgent {
		bad(key+".accept", "must be %s or %s", AcceptAuto, AcceptAgent)
	}
	if cb.MaxAttempts < 0 || cb.MaxAttempts > 10 {
		bad(key+".max_attempts", "must be from 0 (the default, 3) to 10")
	}
	if cb.RetryDelay < 0 {
		bad(key+".retry_delay", "must not be negative (0 is the default, 5m)")
	}
	if !cb.Offer.IsZero() && cb.Digit == "" {
		bad(key+".offer", "announces the callback digit: set digit too")
	}
	if cb.OfferAfter < 0 {
		bad(key+".offer_after", "must not be negative (0 is as soon as the caller waits)")
	}
	if cb.OfferEWT < 0 {
		bad(key+".offer_ewt", "must not be negative (0 offers whatever the wait)")
	}
	for _, cc := range cb.AllowedCountryCodes {
		if cc < 1 || cc > 999 {
			bad(key+".allowed_country_codes", "%d is not a country calling code (1..999)", cc)
			break
		}
	}
	checkCallbackLimits(bad, key, cb)
}

// checkAction checks a treatment of queue; key is where it is written
// ("queues.sales.overflow.action"). A field the type does not use is an
// error: it is most likely a typo in the type.
func checkAction(bad badFunc, c Config, queue, key string, a Action) {
	if a.Type != ActionNone && !slices.Contains(actionTypes, a.Type) {
		bad(key+".type", "must be one of %s (or empty for none)", strings.Join(actionTypes, ", "))
		return
	}
	switch {
	case a.Type != ActionQueue && a.Queue != "":
		bad(key+".queue", "is only used with type %s", ActionQueue)
	case a.Type != ActionQueue:
	case a.Queue == "":
		bad(key+".queue", "must name the queue the call moves to")
	case a.Queue == queue:
		// The call would be put back where it is, and the action would
		// fire again at once.
		bad(key+".queue", "must be another queue than %s itself", queue)
	default:
		if _, ok := c.Queues[a.Queue]; !ok {
			bad(key+".queue", "queue %q is not configured under queues", a.Queue)
		}
	}
	switch {
	case a.Type == ActionMessage:
		if msg := checkMessage(a.Message); msg != "" {
			bad(key+".message", "%s", msg)
		}
	case !a.Message.IsZero():
		bad(key+".message", "is only used with type %s", ActionMessage)
	}
}

// checkSkills checks skill requirements; key is the list's
// ("queues.sales.skills").
func checkSkills(bad badFunc, key string, skills []SkillRequirement) {
	first := map[string]int{}
	for i, s := range skills {
		k := fmt.Sprintf("%s[%d]", key, i)
		switch j, dup := first[s.Skill]; {
		case !ValidSkillName(s.Skill):
			bad(k+".skill", "must be 1-32 characters of a-z 0-9 _ -")
		case dup:
			bad(k+".skill", "duplicates %s[%d].skill", key, j)
		default:
			first[s.Skill] = i
		}
		if s.MinLevel < MinSkillLevel || s.MinLevel > MaxSkillLevel {
			bad(k+".min_level", "must be from %d to %d", MinSkillLevel, MaxSkillLevel)
		}
		// Each relaxation must come later and ask for less than the one
		// before; otherwise it would never apply, or tighten instead.
		prevAfter, prevLevel := time.Duration(0), s.MinLevel
		for j, r := range s.Relax {
			rk := fmt.Sprintf("%s.relax[%d]", k, j)
			switch {
			case r.After <= 0:
				bad(rk+".after", "must be positive")
			case r.After <= prevAfter:
				bad(rk+".after", "must be later than %s.relax[%d].after (%v)", k, j-1, prevAfter)
			}
			switch {
			case r.MinLevel < MinSkillLevel:
				bad(rk+".min_level", "must be at least %d", MinSkillLevel)
			case r.MinLevel >= prevLevel:
				bad(rk+".min_level", "must be lower than %d, the level it relaxes", prevLevel)
			}
			prevAfter = max(prevAfter, r.After)
			if r.MinLevel >= MinSkillLevel {
				prevLevel = min(prevLevel, r.MinLevel)
			}
		}
	}
}
