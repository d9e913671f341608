package config

import (
	"fmt"

	"github.com/tandem-cc/tandem/pbxnode"
)

// checkTrunks checks pbx.trunks. With several nodes every ordered pair
// needs its trunk: any agent may be offered a call that arrived on any
// node, and the agent leg is rung from the caller's node, so a missing
// pair would only show up as a refused offer in the middle of the day.
// Node names are checked first (checkPBX): while one is invalid or
// repeated, the trunks cannot be judged against them and are left alone.
func checkTrunks(bad badFunc, c Config) {
	nodes := c.PBX.Nodes
	if len(nodes) < 2 {
		if len(c.PBX.Trunks) > 0 {
			bad("pbx.trunks", "is only used with two or more pbx.nodes (a trunk joins two PBXs)")
		}
		return
	}
	known, envNames := map[string]bool{}, map[string]bool{}
	for _, n := range nodes {
		if !pbxnode.ValidName(n.Name) || envNames[nodeEnvName(n.Name)] {
			return // reported as pbx.nodes[i].name
		}
		known[n.Name], envNames[nodeEnvName(n.Name)] = true, true
	}
	type pair struct{ from, to string }
	seen := map[pair]int{}
	for i, t := range c.PBX.Trunks {
		key := fmt.Sprintf("pbx.trunks[%d]", i)
		ok := true
		for _, end := range []struct{ field, name string }{{"from", t.From}, {"to", t.To}} {
			if !known[end.name] {
				bad(key+"."+end.field, "%q is not a node of pbx.nodes (names match exactly)", end.name)
				ok = false
			}
		}
		switch {
		case !ok:
		case t.From == t.To:
			bad(key+".to", "is the same node as from: a node needs no trunk to itself")
		default:
			p := pair{t.From, t.To}
			if j, dup := seen[p]; dup {
				bad(key, "duplicates pbx.trunks[%d] (from %s to %s)", j, t.From, t.To)
			} else {
				seen[p] = i
			}
		}
		if t.Dial == "" {
			bad(key+".dial", "must not be empty: the dial string %s uses to ring an agent on %s, with %s or %s", t.From, t.To, TrunkExten, TrunkDial)
		} else if !hasPlaceholder(t.Dial) {
			bad(key+".dial", "must contain %s (the agent's extension) or %s (the agent's whole dial string), e.g. sofia/gateway/%s/%s",
				TrunkExten, TrunkDial, t.To, TrunkExten)
		}
	}
	for _, from := range nodes {
		for _, to := range nodes {
			if from.Name == to.Name {
				continue
			}
			if _, ok := seen[pair{from.Name, to.Name}]; !ok {
				bad("pbx.trunks", "no trunk from %s to %s: with several nodes every ordered pair needs one, since an agent on any node may be offered a call that arrived on any node (add {from: %s, to: %s, dial: ...})",
					from.Name, to.Name, from.Name, to.Name)
			}
		}
	}
}
