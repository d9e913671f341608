package ari

// TakeoverState reports, for the external tests, how many Takeover calls
// hold owner's takeover and whether it is ending (its socket closing):
// what a takeover decided when a caller's context ended, read under the
// driver's lock instead of guessed after a sleep.
func TakeoverState(d *Driver, owner string) (users int, ending, exists bool) {
	d.mu.Lock()
	defer d.mu.Unlock()
	t := d.takeovers[owner]
	if t == nil {
		return 0, false, false
	}
	return t.users, t.ctx.Err() != nil, true
}
