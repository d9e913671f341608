package acd

// The engine's registry maps legs and connection ids to the call that owns
// them (Engine.legs, Engine.calls). Each call also remembers which keys it
// put there (call.regLegs, call.regIDs), so forgetting a call at its end
// costs the call's own keys, not a scan of every call the replica holds
// (that scan was 11 % of a replica's CPU at 10,000 waiting calls; see
// BENCHMARKS.md). Every write goes through bindLegLocked / bindCallLocked
// (registry_test.go checks that no other code writes the maps).

// bindLegLocked routes leg's events to c. e.mu must be held.
func (e *Engine) bindLegLocked(leg string, c *call) {
	e.legs[leg] = c
	c.regLegs = append(c.regLegs, leg)
}

// bindCallLocked routes offers for id to c. e.mu must be held.
func (e *Engine) bindCallLocked(id string, c *call) {
	e.calls[id] = c
	c.regIDs = append(c.regIDs, id)
}

// unbindLegLocked stops routing leg's events (to whichever call has it).
// e.mu must be held.
func (e *Engine) unbindLegLocked(leg string) {
	c := e.legs[leg]
	if c == nil {
		return
	}
	delete(e.legs, leg)
	c.regLegs = dropKey(c.regLegs, leg)
}

// forgetCallLocked removes every key c registered that still points at c
// (a key rebound to another call meanwhile stays). e.mu must be held.
func (e *Engine) forgetCallLocked(c *call) {
	for _, id := range c.regIDs {
		if e.calls[id] == c {
			delete(e.calls, id)
		}
	}
	for _, leg := range c.regLegs {
		if e.legs[leg] == c {
			delete(e.legs, leg)
		}
	}
	c.regIDs, c.regLegs = nil, nil
}

// dropKey removes every k from keys, in place (a call has a handful).
func dropKey(keys []string, k string) []string {
	out := keys[:0]
	for _, x := range keys {
		if x != k {
			out = append(out, x)
		}
	}
	return out
}
