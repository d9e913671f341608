package config

import (
	"github.com/tandem-cc/tandem/acd"
	"github.com/tandem-cc/tandem/cad"
	"github.com/tandem-cc/tandem/hours"
)

// The engine has its own settings types (acd.QueueSettings, acd.IVRMenus)
// so that the core depends on no configuration library; config translates
// into them once, at start. Where a config type and the engine's have the
// same fields, a plain conversion does it: adding a field to one and not
// the other then fails to compile. The others are copied field by field,
// and TestEngineSettingsCarryEveryField checks none is left behind.

// EngineQueues returns every configured queue as the engine's settings,
// with the routing defaults applied (QueueSettings).
func (c Config) EngineQueues() map[string]acd.QueueSettings {
	out := make(map[string]acd.QueueSettings, len(c.Queues))
	for name := range c.Queues {
		q, _ := c.QueueSettings(name)
		out[name] = q.Engine()
	}
	return out
}

// Engine returns the queue's settings in the engine's terms, as they are:
// Config.QueueSettings fills in the routing defaults first.
func (q Queue) Engine() acd.QueueSettings {
	return acd.QueueSettings{
		MOHClass:     q.MOHClass,
		RingTimeout:  q.RingTimeout,
		Record:       q.Record,
		Variables:    convertSlice(q.Variables, func(v Variable) cad.Variable { return cad.Variable(v) }),
		Priority:     q.Priority,
		Announce:     acd.Announcements(q.Announce),
		Overflow:     acd.Overflow{After: q.Overflow.After, NoAgents: q.Overflow.NoAgents, Action: acd.Treatment(q.Overflow.Action)},
		MaxSize:      q.MaxSize,
		WhenFull:     acd.Treatment(q.WhenFull),
		Hours:        q.Hours.engine(),
		ServiceLevel: q.ServiceLevel,
		Strategy:     q.Strategy,
		Weight:       q.Weight,
		Skills:       engineSkills(q.Skills),
		Callback:     acd.CallbackSettings(q.Callback),
	}
}

// Engine returns the IVR menus in the engine's terms.
func (i IVR) Engine() acd.IVRMenus {
	return acd.IVRMenus{
		EntryPoints: i.EntryPoints,
		Nodes:       convertMap(i.Nodes, Node.engine),
	}
}

func (n Node) engine() acd.IVRNode {
	return acd.IVRNode{
		Prompt:    n.Prompt,
		Collect:   acd.IVRCollect(n.Collect),
		BargeIn:   n.BargeIn,
		Variable:  n.Variable,
		Secure:    n.Secure,
		Branches:  convertMap(n.Branches, Branch.engine),
		Next:      n.Next.engine(),
		OnFailure: n.OnFailure.engine(),
	}
}

func (b Branch) engine() acd.IVRBranch {
	return acd.IVRBranch{
		Goto:     b.Goto,
		Queue:    b.Queue,
		Priority: b.Priority,
		Skills:   engineSkills(b.Skills),
		Set:      b.Set,
		Callback: b.Callback,
		Dial:     b.Dial,
		Hangup:   b.Hangup,
	}
}

func (h Hours) engine() acd.OpeningHours {
	return acd.OpeningHours{
		Hours: hours.Hours{
			TimeZone: h.TimeZone,
			Weekly:   convertSlice(h.Weekly, func(w Window) hours.Window { return hours.Window(w) }),
			Holidays: h.Holidays,
		},
		Closed: acd.Treatment(h.Closed),
	}
}

func engineSkills(reqs []SkillRequirement) []acd.SkillRequirement {
	return convertSlice(reqs, func(r SkillRequirement) acd.SkillRequirement {
		return acd.SkillRequirement{
			Skill:    r.Skill,
			MinLevel: r.MinLevel,
			Relax:    convertSlice(r.Relax, func(x Relax) acd.SkillRelaxation { return acd.SkillRelaxation(x) }),
		}
	})
}

// convertSlice maps in with f, keeping nil nil.
func convertSlice[T, U any](in []T, f func(T) U) []U {
	if in == nil {
		return nil
	}
	out := make([]U, len(in))
	for i, v := range in {
		out[i] = f(v)
	}
	return out
}

// convertMap maps the values of in with f, keeping nil nil.
func convertMap[T, U any](in map[string]T, f func(T) U) map[string]U {
	if in == nil {
		return nil
	}
	out := make(map[string]U, len(in))
	for k, v := range in {
		out[k] = f(v)
	}
	return out
}
