package config

import (
	"errors"
	"maps"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/tandem-cc/tandem/media"
)

// validRouting returns a valid Config using every queue and IVR feature;
// each case below breaks one thing.
func validRouting() Config {
	c := valid()
	sales := c.Queues["sales"]
	sales.Priority = 9
	sales.Strategy = StrategyBestSkill
	sales.Weight = 3
	sales.Skills = []SkillRequirement{
		{Skill: "sales", MinLevel: 8, Relax: []Relax{{After: 30 * time.Second, MinLevel: 5}, {After: time.Minute, MinLevel: 1}}},
		{Skill: "french-2", MinLevel: 10},
	}
	sales.Announce = Announce{Interval: 30 * time.Second, Position: true, EWT: true}
	sales.Overflow = Overflow{After: 2 * time.Minute, NoAgents: true, Action: Action{Type: ActionQueue, Queue: "support"}}
	sales.MaxSize = 20
	sales.WhenFull = Action{Type: ActionMessage, Message: media.MustParse("sound:custom/full")}
	sales.Hours = Hours{
		TimeZone: "Europe/Paris",
		Weekly: []Window{
			{Days: []string{"mon", "tue", "wed", "thu", "fri"}, From: "09:00", To: "12:30"},
			{Days: []string{"mon"}, From: "13:30", To: "24:00"},
		},
		Holidays: []string{"2026-12-25"},
		Closed:   Action{Type: ActionCallback},
	}
	sales.ServiceLevel = 30 * time.Second
	c.Queues["sales"] = sales

	five := 5
	c.IVR = IVR{
		EntryPoints: map[string]string{"5550000": "welcome"},
		Nodes: map[string]Node{
			"welcome": {Prompt: media.MustParse("tts:Welcome to Acme"), Next: Branch{Goto: "main"}},
			"main": {
				Prompt: media.MustParse("sound:custom/main"),
				Collect: Collect{MaxDigits: 2, Terminator: "#", Timeout: 5 * time.Second, Retries: 2,
					InvalidPrompt: media.MustParse("sound:option-is-invalid"), TimeoutPrompt: media.MustParse("tone:ring")},
				Branches: map[string]Branch{
					"1":       {Queue: "sales"},
					"2":       {Queue: "support", Priority: &five, Skills: []SkillRequirement{{Skill: "spanish", MinLevel: 5, Relax: []Relax{{After: time.Minute, MinLevel: 3}}}}},
					"9":       {Goto: "account", Set: map[string]string{"INTENT": "billing"}},
					"*0":      {Dial: "+33140000000"},
					"7":       {Callback: true},
					"#":       {Goto: "main"}, // a menu repeating itself is fine: it collects
					"default": {Hangup: media.MustParse("sound:vm-goodbye")},
				},
				OnFailure: Branch{Hangup: media.MustParse("sound:vm-goodbye")},
			},
			"account": {
				Collect:   Collect{MaxDigits: 8, Timeout: 10 * time.Second},
				Variable:  "ACCOUNT_PIN",
				Secure:    true,
				Next:      Branch{Queue: "sales"}, // whatever was keyed in
				OnFailure: Branch{Queue: "sales"},
			},
			"survey": {
				Collect:   Collect{MaxDigits: 1, Timeout: 3 * time.Second},
				Variable:  "SCORE",
				Branches:  map[string]Branch{DefaultBranch: {Hangup: media.MustParse("sound:auth-thankyou")}},
				OnFailure: Branch{Hangup: media.MustParse("sound:vm-goodbye")},
			},
		},
	}
	return c
}

// queue changes one queue of c.
func queue(c *Config, name string, change func(*Queue)) {
	q := c.Queues[name]
	change(&q)
	c.Queues[name] = q
}

// node changes one IVR node of c, on copies of its branches.
func node(c *Config, name string, change func(*Node)) {
	n := c.IVR.Nodes[name]
	n.Branches = maps.Clone(n.Branches)
	change(&n)
	c.IVR.Nodes[name] = n
}

// branch changes one branch of the main menu.
func branch(c *Config, digits string, change func(*Branch)) {
	node(c, "main", func(n *Node) {
		b := n.Branches[digits]
		change(&b)
		n.Branches[digits] = b
	})
}

func TestValidateAcceptsRouting(t *testing.T) {
	if err := validRouting().Validate(); err != nil {
		t.Fatal(err)
	}
	// Edges: the smallest announcement interval, a silent hang-up, a node
	// without prompt, a queue always open with nothing to do when closed.
	c := validRouting()
	queue(&c, "sales", func(q *Queue) {
		q.Announce = Announce{Interval: MinAnnounceInterval, EWT: true}
		q.Hours = Hours{TimeZone: "America/New_York"}
		q.Overflow = Overflow{}
		q.Priority = 0
	})
	node(&c, "main", func(n *Node) {
		n.Prompt = media.Media{}
		n.Collect.Retries = 0
		n.Collect.MaxDigits = MaxCollectDigits
		n.Branches[strings.Repeat("1", 32)] = Branch{Hangup: media.MustParse("sound:silence/1")}
	})
	if err := c.Validate(); err != nil {
		t.Fatal(err)
	}
}

// wantKeyError asserts that err's first problem names key.
func wantKeyError(t *testing.T, err error, key string) {
	t.Helper()
	var ke *KeyError
	if !errors.As(err, &ke) {
		t.Fatalf("err = %v, want a *KeyError", err)
	}
	if ke.Key != key {
		t.Errorf("key = %q, want %q (err %v)", ke.Key, key, err)
	}
	if !strings.HasPrefix(err.Error(), "config: "+key+": ") {
		t.Errorf("message %q does not start with the key", err)
	}
}

func TestValidateRoutingNamesTheBadKey(t *testing.T) {
	sales := func(change func(*Queue)) func(*Config) {
		return func(c *Config) { queue(c, "sales", change) }
	}
	main := func(change func(*Node)) func(*Config) {
		return func(c *Config) { node(c, "main", change) }
	}
	br := func(digits string, change func(*Branch)) func(*Config) {
		return func(c *Config) { branch(c, digits, change) }
	}
	ptr := func(i int) *int { return &i }
	const q = "queues.sales."
	for _, tc := range []struct {
		name, key string
		break_    func(*Config)
	}{
		// Queue basics.
		{"priority negative", q + "priority", sales(func(q *Queue) { q.Priority = -1 })},
		{"priority too high", q + "priority", sales(func(q *Queue) { q.Priority = 10 })},
		{"strategy empty", q + "strategy", sales(func(q *Queue) { q.Strategy = "" })},
		{"strategy unknown", q + "strategy", sales(func(q *Queue) { q.Strategy = "random" })},
		{"weight zero", q + "weight", sales(func(q *Queue) { q.Weight = 0 })},
		{"service level zero", q + "service_level", sales(func(q *Queue) { q.ServiceLevel = 0 })},

		// Skills.
		{"skill name upper case", q + "skills[1].skill", sales(func(q *Queue) { q.Skills = slices.Clone(q.Skills); q.Skills[1].Skill = "French" })},
		{"skill name empty", q + "skills[1].skill", sales(func(q *Queue) { q.Skills = slices.Clone(q.Skills); q.Skills[1].Skill = "" })},
		{"skill name too long", q + "skills[1].skill", sales(func(q *Queue) { q.Skills = slices.Clone(q.Skills); q.Skills[1].Skill = strings.Repeat("a", 33) })},
		{"skill duplicated", q + "skills[1].skill", sales(func(q *Queue) { q.Skills = slices.Clone(q.Skills); q.Skills[1].Skill = "sales" })},
		{"min level zero", q + "skills[1].min_level", sales(func(q *Queue) { q.Skills = slices.Clone(q.Skills); q.Skills[1].MinLevel = 0 })},
		{"min level eleven", q + "skills[1].min_level", sales(func(q *Queue) { q.Skills = slices.Clone(q.Skills); q.Skills[1].MinLevel = 11 })},
		{"relax after zero", q + "skills[0].relax[0].after", sales(func(q *Queue) {
			q.Skills = []SkillRequirement{{Skill: "a", MinLevel: 5, Relax: []Relax{{After: 0, MinLevel: 3}}}}
		})},
		{"relax after not increasing", q + "skills[0].relax[1].after", sales(func(q *Queue) {
			q.Skills = []SkillRequirement{{Skill: "a", MinLevel: 5, Relax: []Relax{{After: time.Minute, MinLevel: 3}, {After: time.Minute, MinLevel: 2}}}}
		})},
		{"relax level not lower", q + "skills[0].relax[0].min_level", sales(func(q *Queue) {
			q.Skills = []SkillRequirement{{Skill: "a", MinLevel: 5, Relax: []Relax{{After: time.Minute, MinLevel: 5}}}}
		})},
		{"relax level not lower than previous relax", q + "skills[0].relax[1].min_level", sales(func(q *Queue) {
			q.Skills = []SkillRequirement{{Skill: "a", MinLevel: 5, Relax: []Relax{{After: time.Minute, MinLevel: 3}, {After: 2 * time.Minute, MinLevel: 4}}}}
		})},
		{"relax level zero", q + "skills[0].relax[0].min_level", sales(func(q *Queue) {
			q.Skills = []SkillRequirement{{Skill: "a", MinLevel: 5, Relax: []Relax{{After: time.Minute, MinLevel: 0}}}}
		})},

		// Announcements.
		{"announce negative", q + "announce.interval", sales(func(q *Queue) { q.Announce.Interval = -time.Second })},
		{"announce too often", q + "announce.interval", sales(func(q *Queue) { q.Announce.Interval = 4 * time.Second })},
		{"announce position without interval", q + "announce.interval", sales(func(q *Queue) { q.Announce = Announce{Position: true} })},
		{"announce ewt without interval", q + "announce.interval", sales(func(q *Queue) { q.Announce = Announce{EWT: true} })},
		{"announce nothing", q + "announce.interval", sales(func(q *Queue) { q.Announce = Announce{Interval: time.Minute} })},

		// Overflow and actions.
		{"overflow after negative", q + "overflow.after", sales(func(q *Queue) { q.Overflow.After = -time.Second })},
		{"overflow after without action", q + "overflow.action.type", sales(func(q *Queue) { q.Overflow = Overflow{After: time.Minute} })},
		{"overflow no agents without action", q + "overflow.action.type", sales(func(q *Queue) { q.Overflow = Overflow{NoAgents: true} })},
		{"action type unknown", q + "overflow.action.type", sales(func(q *Queue) { q.Overflow.Action = Action{Type: "voicemail"} })},
		{"queue action without queue", q + "overflow.action.queue", sales(func(q *Queue) { q.Overflow.Action = Action{Type: ActionQueue} })},
		{"queue action to itself", q + "overflow.action.queue", sales(func(q *Queue) { q.Overflow.Action = Action{Type: ActionQueue, Queue: "sales"} })},
		{"queue action to unknown queue", q + "overflow.action.queue", sales(func(q *Queue) { q.Overflow.Action = Action{Type: ActionQueue, Queue: "nope"} })},
		{"queue named by a callback", q + "overflow.action.queue", sales(func(q *Queue) { q.Overflow.Action = Action{Type: ActionCallback, Queue: "support"} })},
		{"message action without message", q + "overflow.action.message", sales(func(q *Queue) { q.Overflow.Action = Action{Type: ActionMessage} })},
		{"message named by a queue action", q + "overflow.action.message", sales(func(q *Queue) {
			q.Overflow.Action = Action{Type: ActionQueue, Queue: "support", Message: media.MustParse("sound:x")}
		})},
		{"max size negative", q + "max_size", sales(func(q *Queue) { q.MaxSize = -1 })},
		{"max size without when full", q + "when_full.type", sales(func(q *Queue) { q.WhenFull = Action{} })},
		{"when full checked as an action", q + "when_full.queue", sales(func(q *Queue) { q.WhenFull = Action{Type: ActionQueue, Queue: "sales"} })},

		// Callbacks.
		{"callback digit two keys", q + "callback.digit", sales(func(q *Queue) { q.Callback.Digit = "12" })},
		{"callback digit a letter", q + "callback.digit", sales(func(q *Queue) { q.Callback.Digit = "A" })},
		{"callback digit star", q + "callback.digit", sales(func(q *Queue) { q.Callback.Digit = "*" })},
		{"callback offer without digit", q + "callback.offer", sales(func(q *Queue) { q.Callback.Digit = ""; q.Callback.Offer = media.SoundOf("x") })},
		{"callback offer after negative", q + "callback.offer_after", sales(func(q *Queue) { q.Callback.OfferAfter = -time.Second })},
		{"callback offer ewt negative", q + "callback.offer_ewt", sales(func(q *Queue) { q.Callback.OfferEWT = -time.Second })},
		{"callback message too long", q + "callback.record_message", sales(func(q *Queue) { q.Callback.RecordMessage = 3 * time.Minute })},
		{"callback accept unknown", q + "callback.accept", sales(func(q *Queue) { q.Callback.Accept = "maybe" })},
		{"callback attempts too many", q + "callback.max_attempts", sales(func(q *Queue) { q.Callback.MaxAttempts = 11 })},
		{"callback retry negative", q + "callback.retry_delay", sales(func(q *Queue) { q.Callback.RetryDelay = -time.Second })},
		{"callback country code zero", q + "callback.allowed_country_codes", sales(func(q *Queue) { q.Callback.AllowedCountryCodes = []int{1, 0} })},

		// Hours.
		{"time zone unknown", q + "hours.time_zone", sales(func(q *Queue) { q.Hours.TimeZone = "Europe/Lyon" })},
		{"weekly without days", q + "hours.weekly[0].days", sales(func(q *Queue) { q.Hours.Weekly = []Window{{From: "09:00", To: "10:00"}} })},
		{"day unknown", q + "hours.weekly[0].days[1]", sales(func(q *Queue) { q.Hours.Weekly = []Window{{Days: []string{"mon", "Tue"}, From: "09:00", To: "10:00"}} })},
		{"from not HH:MM", q + "hours.weekly[0].from", sales(func(q *Queue) { q.Hours.Weekly = []Window{{Days: []string{"mon"}, From: "9:00", To: "10:00"}} })},
		{"from 24:00", q + "hours.weekly[0].from", sales(func(q *Queue) { q.Hours.Weekly = []Window{{Days: []string{"mon"}, From: "24:00", To: "24:00"}} })},
		{"to not a time", q + "hours.weekly[0].to", sales(func(q *Queue) { q.Hours.Weekly = []Window{{Days: []string{"mon"}, From: "09:00", To: "17:60"}} })},
		{"to before from", q + "hours.weekly[0].to", sales(func(q *Queue) { q.Hours.Weekly = []Window{{Days: []string{"mon"}, From: "22:00", To: "06:00"}} })},
		{"empty window", q + "hours.weekly[0].to", sales(func(q *Queue) { q.Hours.Weekly = []Window{{Days: []string{"mon"}, From: "09:00", To: "09:00"}} })},
		{"holiday not a date", q + "hours.holidays[1]", sales(func(q *Queue) { q.Hours.Holidays = []string{"2026-12-25", "2026-02-30"} })},
		{"holiday other layout", q + "hours.holidays[0]", sales(func(q *Queue) { q.Hours.Holidays = []string{"25/12/2026"} })},
		{"weekly without closed", q + "hours.closed.type", sales(func(q *Queue) { q.Hours.Closed = Action{} })},
		{"holidays without closed", q + "hours.closed.type", sales(func(q *Queue) { q.Hours = Hours{Holidays: []string{"2026-12-25"}} })},
		{"closed checked as an action", q + "hours.closed.message", sales(func(q *Queue) { q.Hours.Closed = Action{Type: ActionMessage, Message: media.MustParse("tts:closed")} })},

		// Entry points.
		{"entry point to unknown node", "ivr.entry_points.5550001", func(c *Config) { c.IVR.EntryPoints["5550001"] = "nope" }},
		{"entry point to no node", "ivr.entry_points.5550001", func(c *Config) { c.IVR.EntryPoints["5550001"] = "" }},
		{"entry point without number", "ivr.entry_points. ", func(c *Config) { c.IVR.EntryPoints[" "] = "main" }},
		{"entry point also a queue's number", "ivr.entry_points.100", func(c *Config) { c.IVR.EntryPoints["100"] = "main" }},

		// Nodes.
		{"barge-in on a node that collects nothing", "ivr.nodes.welcome.barge_in", func(c *Config) {
			node(c, "welcome", func(n *Node) { no := false; n.BargeIn = &no })
		}},
		{"node name with a dot", "ivr.nodes.a.b", func(c *Config) { c.IVR.Nodes["a.b"] = Node{Next: Branch{Hangup: media.MustParse("sound:x")}} }},
		{"max digits negative", "ivr.nodes.welcome.collect.max_digits", func(c *Config) { node(c, "welcome", func(n *Node) { n.Collect.MaxDigits = -1 }) }},
		{"max digits too many", "ivr.nodes.main.collect.max_digits", main(func(n *Node) { n.Collect.MaxDigits = 33 })},
		{"terminator unknown", "ivr.nodes.main.collect.terminator", main(func(n *Node) { n.Collect.Terminator = "0" })},
		{"collect timeout zero", "ivr.nodes.main.collect.timeout", main(func(n *Node) { n.Collect.Timeout = 0 })},
		{"retries negative", "ivr.nodes.main.collect.retries", main(func(n *Node) { n.Collect.Retries = -1 })},
		{"retries ten", "ivr.nodes.main.collect.retries", main(func(n *Node) { n.Collect.Retries = 10 })},
		{"variable name", "ivr.nodes.account.variable", func(c *Config) { node(c, "account", func(n *Node) { n.Variable = "ACCOUNT-PIN" }) }},
		{"secure without variable", "ivr.nodes.account.secure", func(c *Config) { node(c, "account", func(n *Node) { n.Variable = "" }) }},
		{"variable without collection", "ivr.nodes.welcome.variable", func(c *Config) { node(c, "welcome", func(n *Node) { n.Variable = "X" }) }},
		{"branches without collection", "ivr.nodes.welcome.branches", func(c *Config) {
			node(c, "welcome", func(n *Node) { n.Branches = map[string]Branch{"1": {Queue: "sales"}} })
		}},
		{"on failure without collection", "ivr.nodes.welcome.on_failure", func(c *Config) { node(c, "welcome", func(n *Node) { n.OnFailure = Branch{Queue: "sales"} }) }},
		{"no next without collection", "ivr.nodes.welcome.next", func(c *Config) { node(c, "welcome", func(n *Node) { n.Next = Branch{} }) }},
		{"collecting without branches or next", "ivr.nodes.main.branches", main(func(n *Node) { n.Branches = nil })},
		{"next beside branches", "ivr.nodes.main.next", main(func(n *Node) { n.Next = Branch{Queue: "sales"} })},
		{"next of a node without branches checked", "ivr.nodes.account.next.queue", func(c *Config) { node(c, "account", func(n *Node) { n.Next.Queue = "nope" }) }},
		{"collecting without on failure", "ivr.nodes.main.on_failure", main(func(n *Node) { n.OnFailure = Branch{} })},

		// Branch keys.
		{"branch key letters", "ivr.nodes.main.branches.a", main(func(n *Node) { n.Branches["a"] = Branch{Queue: "sales"} })},
		{"branch key upper default", "ivr.nodes.main.branches.Default", main(func(n *Node) { n.Branches["Default"] = Branch{Queue: "sales"} })},
		{"branch key longer than max digits", "ivr.nodes.main.branches.123", main(func(n *Node) { n.Branches["123"] = Branch{Queue: "sales"} })},

		// Branches.
		{"branch with no destination", "ivr.nodes.main.branches.1", br("1", func(b *Branch) { *b = Branch{} })},
		{"branch that only sets", "ivr.nodes.main.branches.1", br("1", func(b *Branch) { *b = Branch{Set: map[string]string{"A": "b"}} })},
		{"branch with two destinations", "ivr.nodes.main.branches.1", br("1", func(b *Branch) { b.Goto = "account" })},
		{"callback and hangup", "ivr.nodes.main.branches.7", br("7", func(b *Branch) { b.Hangup = media.SoundOf("x") })},
		{"goto unknown node", "ivr.nodes.main.branches.9.goto", br("9", func(b *Branch) { b.Goto = "nope" })},
		{"queue unknown", "ivr.nodes.main.branches.1.queue", br("1", func(b *Branch) { b.Queue = "nope" })},
		{"priority too high", "ivr.nodes.main.branches.2.priority", br("2", func(b *Branch) { b.Priority = ptr(10) })},
		{"priority negative", "ivr.nodes.main.branches.2.priority", br("2", func(b *Branch) { b.Priority = ptr(-1) })},
		{"priority without queue", "ivr.nodes.main.branches.9.priority", br("9", func(b *Branch) { b.Priority = ptr(1) })},
		{"skills without queue", "ivr.nodes.main.branches.9.skills", br("9", func(b *Branch) { b.Skills = []SkillRequirement{{Skill: "a", MinLevel: 1}} })},
		{"branch skill checked", "ivr.nodes.main.branches.2.skills[0].relax[0].min_level", br("2", func(b *Branch) {
			b.Skills = []SkillRequirement{{Skill: "spanish", MinLevel: 5, Relax: []Relax{{After: time.Minute, MinLevel: 6}}}}
		})},
		{"set variable name", "ivr.nodes.main.branches.9.set.9LIVES", br("9", func(b *Branch) { b.Set = map[string]string{"9LIVES": "x"} })},
		{"dial too long", "ivr.nodes.main.branches.*0.dial", br("*0", func(b *Branch) { b.Dial = strings.Repeat("1", 33) })},
		{"next checked as a branch", "ivr.nodes.welcome.next.goto", func(c *Config) { node(c, "welcome", func(n *Node) { n.Next.Goto = "nope" }) }},

		// Loops of nodes that never collect.
		{"goto itself", "ivr.nodes.welcome.next.goto", func(c *Config) { node(c, "welcome", func(n *Node) { n.Next.Goto = "welcome" }) }},
		{"goto loop", "ivr.nodes.a.next.goto", func(c *Config) {
			c.IVR.Nodes["c"] = Node{Next: Branch{Goto: "a"}}
			c.IVR.Nodes["b"] = Node{Next: Branch{Goto: "c"}}
			c.IVR.Nodes["a"] = Node{Next: Branch{Goto: "b"}}
			node(c, "welcome", func(n *Node) { n.Next.Goto = "c" })
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c := validRouting()
			tc.break_(&c)
			wantKeyError(t, c.Validate(), tc.key)
		})
	}
}

// A loop of gotos is reported once, the same way whatever node the walk
// starts from, and naming every node of it.
func TestValidateReportsGotoLoopOnce(t *testing.T) {
	c := validRouting()
	c.IVR.Nodes["x"] = Node{Next: Branch{Goto: "y"}}
	c.IVR.Nodes["y"] = Node{Next: Branch{Goto: "x"}}
	c.IVR.Nodes["z"] = Node{Next: Branch{Goto: "y"}} // leads into the loop
	err := c.Validate()
	if err == nil {
		t.Fatal("loop accepted")
	}
	msg := err.Error()
	if n := strings.Count(msg, "goto loop"); n != 1 {
		t.Errorf("loop reported %d times: %v", n, err)
	}
	if !strings.Contains(msg, "ivr.nodes.x.next.goto: goto loop x → y → x") {
		t.Errorf("err = %v", err)
	}
}

const routingYAML = `
node_id: n1
queues:
  Sales:
    overflow:
      after: 90s
      action: {type: queue, queue: Support}
  support:
    weight: 4
    hours:
      weekly: [{days: [sat], from: "10:00", to: "12:00"}]
      closed: {type: callback}
ivr:
  entry_points:
    5550000: Main
  nodes:
    Main:
      prompt: sound:custom/menu
      collect: {max_digits: 1}
      branches:
        1: {queue: SALES, set: {CUSTOMER_TIER: gold, Lang: fr}}
        "*": {goto: Main}
        default: {goto: Pin}
      on_failure: {hangup: "sound:vm-goodbye"}
    Pin:
      collect: {max_digits: 4, retries: 0}
      variable: PIN
      branches:
        default: {queue: support}
      on_failure: {goto: Bye}
    Bye:
      next: {hangup: "sound:vm-goodbye"}
`

func TestLoadFillsRoutingDefaults(t *testing.T) {
	clearEnv(t)
	c, err := Load(flags(t, "--config", writeFile(t, routingYAML)))
	if err != nil {
		t.Fatal(err)
	}
	sales, support := c.Queues["sales"], c.Queues["support"]
	for _, tc := range []struct{ key, got, want string }{
		{"queues.sales.strategy", sales.Strategy, "longest_idle"},
		{"queues.sales.weight", strconv.Itoa(sales.Weight), "1"},
		{"queues.sales.priority", strconv.Itoa(sales.Priority), "0"},
		{"queues.sales.service_level", sales.ServiceLevel.String(), "20s"},
		{"queues.sales.hours.time_zone", sales.Hours.TimeZone, "UTC"},
		{"queues.support.weight (file)", strconv.Itoa(support.Weight), "4"},
		{"ivr.nodes.main.collect.timeout", c.IVR.Nodes["main"].Collect.Timeout.String(), "5s"},
		{"ivr.nodes.main.collect.retries", strconv.Itoa(c.IVR.Nodes["main"].Collect.Retries), "2"},
		// Written zero is kept: 0 retries is a valid choice.
		{"ivr.nodes.pin.collect.retries (file 0)", strconv.Itoa(c.IVR.Nodes["pin"].Collect.Retries), "0"},
		// A node that collects nothing gets no collection defaults.
		{"ivr.nodes.bye.collect.timeout", c.IVR.Nodes["bye"].Collect.Timeout.String(), "0s"},
		{"ivr.nodes.bye.collect.retries", strconv.Itoa(c.IVR.Nodes["bye"].Collect.Retries), "0"},
	} {
		if tc.got != tc.want {
			t.Errorf("%s = %q, want %q", tc.key, tc.got, tc.want)
		}
	}
	// The defaults are those of NewQueue, the start of a Config built in code.
	d := NewQueue()
	if d.Strategy != sales.Strategy || d.Weight != sales.Weight || d.ServiceLevel != sales.ServiceLevel || d.Hours.TimeZone != sales.Hours.TimeZone {
		t.Errorf("NewQueue() = %+v, Load gives %+v", d, sales)
	}
}

func TestLoadRefusesWrittenZeroWeight(t *testing.T) {
	clearEnv(t)
	_, err := Load(flags(t, "--config", writeFile(t, "node_id: n\nqueues:\n  sales:\n    weight: 0\n    service_level: 0s\n")))
	for _, key := range []string{"queues.sales.weight", "queues.sales.service_level"} {
		if err == nil || !strings.Contains(err.Error(), "config: "+key+":") {
			t.Errorf("err = %v, want it to name %s", err, key)
		}
	}
}

// Viper lower-cases map keys: node and queue names, and references to
// them, follow; variable names set by a branch keep their case.
func TestLoadNormalizesIVRNames(t *testing.T) {
	clearEnv(t)
	c, err := Load(flags(t, "--config", writeFile(t, routingYAML)))
	if err != nil {
		t.Fatal(err)
	}
	if got := c.IVR.EntryPoints["5550000"]; got != "main" {
		t.Errorf("entry point = %q", got)
	}
	m := c.IVR.Nodes["main"]
	if m.Branches["1"].Queue != "sales" || m.Branches["*"].Goto != "main" || m.Branches["default"].Goto != "pin" {
		t.Errorf("branches = %+v", m.Branches)
	}
	if got := c.IVR.Nodes["pin"].OnFailure.Goto; got != "bye" {
		t.Errorf("on_failure.goto = %q", got)
	}
	if got := c.Queues["sales"].Overflow.Action.Queue; got != "support" {
		t.Errorf("overflow queue = %q", got)
	}
	want := map[string]string{"CUSTOMER_TIER": "gold", "Lang": "fr"}
	if got := m.Branches["1"].Set; !maps.Equal(got, want) {
		t.Errorf("set = %v, want %v", got, want)
	}
}

func TestEnvOverridesQueueRoutingScalars(t *testing.T) {
	clearEnv(t)
	t.Setenv("TANDEM_QUEUES_SALES_PRIORITY", "7")
	t.Setenv("TANDEM_QUEUES_SALES_ANNOUNCE_INTERVAL", "45s")
	t.Setenv("TANDEM_QUEUES_SALES_ANNOUNCE_EWT", "true")
	t.Setenv("TANDEM_QUEUES_SALES_OVERFLOW_AFTER", "30s")
	t.Setenv("TANDEM_QUEUES_SUPPORT_HOURS_TIME_ZONE", "Asia/Tokyo")
	// Lists come from the file only.
	t.Setenv("TANDEM_QUEUES_SUPPORT_HOURS_HOLIDAYS", "2026-01-01")
	c, err := Load(flags(t, "--config", writeFile(t, routingYAML)))
	if err != nil {
		t.Fatal(err)
	}
	s, p := c.Queues["sales"], c.Queues["support"]
	if s.Priority != 7 || s.Announce != (Announce{Interval: 45 * time.Second, EWT: true}) {
		t.Errorf("sales = %+v", s)
	}
	if s.Overflow != (Overflow{After: 30 * time.Second, Action: Action{Type: ActionQueue, Queue: "support"}}) {
		t.Errorf("sales.overflow = %+v", s.Overflow)
	}
	if p.Hours.TimeZone != "Asia/Tokyo" || len(p.Hours.Holidays) != 0 || len(p.Hours.Weekly) != 1 {
		t.Errorf("support.hours = %+v", p.Hours)
	}
}

func TestLoadRoutingErrorsNameTheKey(t *testing.T) {
	for _, tc := range []struct{ name, yaml, want string }{
		{"bare number relax", "queues:\n  sales:\n    skills: [{skill: a, min_level: 2, relax: [{after: 60, min_level: 1}]}]\n", "after"},
		{"unknown node field", "ivr:\n  nodes:\n    main:\n      promt: sound:x\n", "promt"},
		{"unknown branch field", "ivr:\n  nodes:\n    main:\n      next: {queu: sales}\n", "queu"},
		{"validation", "queues:\n  sales:\n    strategy: random\n", "queues.sales.strategy: must be one of"},
		{"ivr validation", "queues:\n  sales: {}\nivr:\n  nodes:\n    main:\n      next: {queue: nope}\n", "ivr.nodes.main.next.queue: queue \"nope\""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			clearEnv(t)
			_, err := Load(flags(t, "--config", writeFile(t, "node_id: n\n"+tc.yaml)))
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("err = %v, want it to mention %q", err, tc.want)
			}
		})
	}
}

func TestExampleShowsRouting(t *testing.T) {
	clearEnv(t)
	c, err := Load(flags(t, "--config", "example.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	s := c.Queues["sales"]
	if s.Announce != (Announce{Interval: 30 * time.Second, Position: true, EWT: true, YouAreNext: media.SoundOf("queue-youarenext")}) {
		t.Errorf("announce = %+v", s.Announce)
	}
	if !c.IVR.Nodes["main"].BargesIn() || c.IVR.Nodes["account"].BargesIn() {
		t.Errorf("barge_in: main %v (want the default, true), account %v (false in the file)", c.IVR.Nodes["main"].BargesIn(), c.IVR.Nodes["account"].BargesIn())
	}
	if s.Overflow.After != 2*time.Minute || s.Overflow.Action != (Action{Type: ActionQueue, Queue: "support"}) {
		t.Errorf("overflow = %+v", s.Overflow)
	}
	h := s.Hours
	if h.TimeZone != "Europe/Paris" || len(h.Weekly) != 1 || h.Weekly[0].From != "09:00" || h.Weekly[0].To != "17:00" ||
		len(h.Weekly[0].Days) != 5 || len(h.Holidays) == 0 || h.Closed.Type != ActionMessage {
		t.Errorf("hours = %+v", h)
	}
	m := c.IVR.Nodes[c.IVR.Nodes["welcome"].Next.Goto]
	if m.Branches["1"].Queue != "sales" {
		t.Errorf("1 = %+v", m.Branches["1"])
	}
	two := m.Branches["2"]
	if two.Queue != "support" || two.Priority == nil || *two.Priority != 5 || len(two.Skills) != 1 ||
		two.Skills[0].Skill != "spanish" || two.Skills[0].MinLevel != 5 ||
		len(two.Skills[0].Relax) != 1 || two.Skills[0].Relax[0] != (Relax{After: time.Minute, MinLevel: 3}) {
		t.Errorf("2 = %+v", two)
	}
	acct := c.IVR.Nodes[m.Branches["9"].Goto]
	if acct.Variable != "ACCOUNT_PIN" || !acct.Secure || acct.Next.Queue != "sales" || acct.Collect.MaxDigits == 0 {
		t.Errorf("9 leads to %+v", acct)
	}
	if m.Collect.TimeoutPrompt.IsZero() || m.Collect.InvalidPrompt.IsZero() || m.OnFailure.Hangup.IsZero() {
		t.Errorf("main = %+v", m)
	}
}
