package config

import (
	"regexp"
	"slices"
	"strings"
	"time"
)

// Defaults of a collecting node's keys (ivr.nodes.<name>.collect), filled
// by Load for nodes with collect.max_digits > 0 only: on other nodes they
// mean nothing.
const (
	DefaultCollectTimeout = 5 * time.Second
	DefaultCollectRetries = 2
)

// Limits of the IVR settings.
const (
	MaxCollectDigits  = 32
	MaxCollectRetries = 9
	// MaxDialLength bounds a branch's dial string; the core validates the
	// number itself when the branch is taken.
	MaxDialLength = 32
)

// DefaultBranch is the branch key that matches any collected digits no
// other branch matches.
const DefaultBranch = "default"

// branchKey is what a node's branch may be keyed by: the digits a caller
// keys in (with * and #), or DefaultBranch.
var branchKey = regexp.MustCompile(`^[0-9*#]{1,32}$`)

// checkIVR checks the menus; key names are "ivr.entry_points.<dnis>" and
// "ivr.nodes.<name>...".
func checkIVR(bad badFunc, c Config) {
	for _, dnis := range sortedKeys(c.IVR.EntryPoints) {
		key := "ivr.entry_points." + dnis
		if strings.TrimSpace(dnis) == "" {
			bad(key, "dialled number must not be empty")
		}
		if node := c.IVR.EntryPoints[dnis]; node == "" {
			bad(key, "must name a node")
		} else if _, ok := c.IVR.Nodes[node]; !ok {
			bad(key, "node %q is not configured under ivr.nodes", node)
		}
		if _, clash := c.Routing.DNIS[dnis]; clash {
			// Which of the two would win is not obvious to a reader, so
			// neither is allowed to.
			bad(key, "is also in routing.dnis: a number leads to a menu or to a queue, not both")
		}
	}
	for _, name := range sortedKeys(c.IVR.Nodes) {
		checkNode(bad, c, name, c.IVR.Nodes[name])
	}
	checkGotoCycles(bad, c.IVR.Nodes)
}

// collects reports whether the node collects digits. A node that does
// not goes on to its Next at once; one that does follows the branch the
// digits match, or its Next when it has no branches.
func (n Node) collects() bool { return n.Collect.MaxDigits > 0 }

func checkNode(bad badFunc, c Config, name string, n Node) {
	key := "ivr.nodes." + name
	if !queueName.MatchString(name) {
		// A dot would make the node's keys ambiguous, and names show up
		// in logs and events.
		bad(key, "node name must be 1-64 characters of A-Z a-z 0-9 _ -")
	}
	if n.BargeIn != nil && !n.collects() {
		// Barge-in stops a prompt to collect digits; a node that collects
		// none plays its prompt to the end.
		bad(key+".barge_in", "only applies to a node that collects digits (collect.max_digits > 0)")
	}
	col := n.Collect
	if col.MaxDigits < 0 || col.MaxDigits > MaxCollectDigits {
		bad(key+".collect.max_digits", "must be from 0 (no collection) to %d", MaxCollectDigits)
	}
	if col.Retries < 0 || col.Retries > MaxCollectRetries {
		bad(key+".collect.retries", "must be from 0 to %d", MaxCollectRetries)
	}
	if n.Variable != "" && !ValidVariableName(n.Variable) {
		bad(key+".variable", "must be 1-64 characters of A-Z a-z 0-9 _, not starting with a digit")
	}
	if n.Secure && n.Variable == "" {
		bad(key+".secure", "marks the collected variable secure, but variable is empty")
	}

	if !n.collects() {
		// Keys that only mean something when digits are collected are
		// refused rather than ignored: they are most likely a forgotten
		// max_digits.
		if n.Variable != "" {
			bad(key+".variable", "needs collect.max_digits > 0: this node collects nothing")
		}
		if len(n.Branches) > 0 {
			bad(key+".branches", "needs collect.max_digits > 0: a node that collects nothing goes to next")
		}
		if !n.OnFailure.empty() {
			bad(key+".on_failure", "needs collect.max_digits > 0: a node that collects nothing cannot fail")
		}
		checkBranch(bad, c, key+".next", n.Next)
		return
	}

	if col.Terminator != "" && col.Terminator != "#" && col.Terminator != "*" {
		bad(key+".collect.terminator", "must be # or * (or empty for none)")
	}
	positive(bad, key+".collect.timeout", col.Timeout)
	switch {
	case len(n.Branches) == 0 && n.Next.empty():
		bad(key+".branches", "a node that collects digits needs branches, or a next taken whatever was keyed in")
	case len(n.Branches) == 0:
		// Any input goes on to next: "key in your account number".
		checkBranch(bad, c, key+".next", n.Next)
	case !n.Next.empty():
		bad(key+".next", "is not used when the node has branches (%s matches any other input)", DefaultBranch)
	}
	for _, digits := range sortedKeys(n.Branches) {
		k := key + ".branches." + digits
		switch {
		case digits == DefaultBranch:
		case !branchKey.MatchString(digits):
			bad(k, "branch key must be 1-32 of 0-9 * # (quoted in YAML), or %s", DefaultBranch)
		case len(digits) > col.MaxDigits && col.MaxDigits <= MaxCollectDigits:
			bad(k, "is longer than collect.max_digits (%d): it can never match", col.MaxDigits)
		}
		checkBranch(bad, c, k, n.Branches[digits])
	}
	// Required: after the retries the call must go somewhere definite.
	checkBranch(bad, c, key+".on_failure", n.OnFailure)
}

// empty reports whether nothing of the branch is set.
func (b Branch) empty() bool {
	return b.Goto == "" && b.Queue == "" && b.Priority == nil && len(b.Skills) == 0 &&
		len(b.Set) == 0 && !b.Callback && b.Dial == "" && b.Hangup.IsZero()
}

// destinations lists the destination keys a branch sets.
func (b Branch) destinations() []string {
	var d []string
	for _, x := range []struct {
		name string
		set  bool
	}{{"goto", b.Goto != ""}, {"queue", b.Queue != "" && !b.Callback}, {"callback", b.Callback}, {"dial", b.Dial != ""}, {"hangup", !b.Hangup.IsZero()}} {
		if x.set {
			d = append(d, x.name)
		}
	}
	return d
}

// checkBranch checks where a branch leads; key is the branch's
// ("ivr.nodes.main.branches.1", "ivr.nodes.main.on_failure").
func checkBranch(bad badFunc, c Config, key string, b Branch) {
	switch d := b.destinations(); {
	case len(d) == 0 && len(b.Set) > 0:
		bad(key, "sets variables but must still name where the call goes: goto, queue, callback, dial or hangup")
	case len(d) == 0:
		bad(key, "must name where the call goes: goto, queue, callback, dial or hangup")
	case len(d) > 1:
		bad(key, "names %s: a branch goes to exactly one of goto, queue, callback, dial or hangup", strings.Join(d, " and "))
	}
	if b.Goto != "" {
		if _, ok := c.IVR.Nodes[b.Goto]; !ok {
			bad(key+".goto", "node %q is not configured under ivr.nodes", b.Goto)
		}
	}
	if b.Queue != "" {
		if _, ok := c.Queues[b.Queue]; !ok {
			bad(key+".queue", "queue %q is not configured under queues", b.Queue)
		}
	}
	if b.Priority != nil {
		switch p := *b.Priority; {
		case b.Queue == "":
			bad(key+".priority", "is only used with queue")
		case p < 0 || p > MaxPriority:
			bad(key+".priority", "must be from 0 to %d", MaxPriority)
		}
	}
	if len(b.Skills) > 0 && b.Queue == "" {
		bad(key+".skills", "is only used with queue")
	}
	checkSkills(bad, key+".skills", b.Skills)
	for _, name := range sortedKeys(b.Set) {
		if !ValidVariableName(name) {
			bad(key+".set."+name, "variable name must be 1-64 characters of A-Z a-z 0-9 _, not starting with a digit")
		}
	}
	if len(b.Dial) > MaxDialLength {
		bad(key+".dial", "must be at most %d characters", MaxDialLength)
	}
}

// checkGotoCycles refuses a loop of gotos that never collects digits: a
// caller in it would hear prompts forever and the node would never
// yield. A node that does not collect has one way out (next), so each
// walk below follows a single path; a loop through a collecting node is
// a menu that repeats on purpose, and is fine.
func checkGotoCycles(bad badFunc, nodes map[string]Node) {
	const (
		unvisited = iota
		onPath
		done
	)
	state := map[string]int{}
	for _, start := range sortedKeys(nodes) {
		var path []string
		for name := start; ; {
			n, ok := nodes[name]
			if !ok || n.collects() || state[name] == done {
				break
			}
			if state[name] == onPath {
				cycle := path[slices.Index(path, name):]
				first := slices.Min(cycle)
				bad("ivr.nodes."+first+".next.goto", "goto loop %s → %s never collects digits: a caller would go round it forever",
					strings.Join(rotate(cycle, first), " → "), first)
				break
			}
			state[name] = onPath
			path = append(path, name)
			name = n.Next.Goto
			if name == "" {
				break
			}
		}
		for _, p := range path {
			state[p] = done
		}
	}
}

// rotate returns the cycle starting at first, so the same loop is always
// reported the same way.
func rotate(cycle []string, first string) []string {
	i := slices.Index(cycle, first)
	return append(slices.Clone(cycle[i:]), cycle[:i]...)
}
