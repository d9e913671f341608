package ari

import (
	"context"
	"errors"
	"fmt"

	"github.com/tandem-cc/tandem/acd"
)

// takeover is one taken-over application: a second event socket, read by
// its own goroutine into Run's handler. Several Takeover calls for the same
// application (a dead replica had several calls in flight) share it; the
// socket stays until the last of their contexts ends, or Run returns.
type takeover struct {
	owner  string
	ctx    context.Context // ends with Run, or when users drops to 0
	cancel context.CancelFunc
	// stopRunLink unregisters the AfterFunc that cancels ctx when Run ends.
	stopRunLink func() bool
	users       int           // Takeover calls whose ctx has not ended (under Driver.mu)
	ready       chan struct{} // closed once the socket is up, or dialErr is set
	dialErr     error
	done        chan struct{} // closed once the socket is closed and its legs forgotten
}

// Takeover makes this driver the receiver of a dead replica's Stasis
// application, owner, until ctx ends (or Run returns), and reports the state
// of legs, which owner had rung.
//
// Asterisk keeps an application's channels in Stasis when its last socket
// goes, and hands all its events, from then on, to the next socket that
// registers the same name (trace 14). So taking over is opening a second
// socket with app=owner. Because events in the gap are never replayed, each
// leg is then read once: a leg that is gone ended unseen (Gone), one that
// is Up was answered (Up), and one still ringing will report its answer or
// failure through the handler, exactly like a leg Ring started. The legs are
// entered in the leg table before the socket opens, so no event of theirs
// can arrive unrecognised. A second Takeover of the same owner joins the
// socket already open.
//
// If owner is in fact alive, its socket receives ApplicationReplaced and its
// driver's Run returns ErrReplaced: the new socket fences the old one.
//
// Like the other commands that wait for the PBX, it must not be called from
// Run's handler. Events may reach the handler before Takeover returns (so
// the caller should be ready to route them first), and a leg that changes
// while it is read can be reported both ways (LegAnswered and Up, RingFailed
// and Gone); each event itself is delivered once.
func (d *Driver) Takeover(ctx context.Context, owner string, legs []string) ([]acd.LegState, error) {
	if owner == "" {
		return nil, errors.New("ari takeover: no application named")
	}
	if owner == d.opts.App {
		// This replica restarted under the same application name, or hosts
		// the seat whose dial it was: Run's socket gets the legs' events
		// (a second socket would replace it). Only the legs are entered
		// and read, once that socket is up: an engine's callback
		// scheduler may claim the dial before its driver has connected.
		if err := d.waitConnected(ctx); err != nil {
			return nil, fmt.Errorf("ari takeover %s: wait for the events socket: %w", owner, err)
		}
		d.mu.Lock()
		if d.run == nil {
			d.mu.Unlock()
			return nil, fmt.Errorf("ari takeover %s: %w", owner, ErrNotRunning)
		}
		for _, id := range legs {
			if d.legs[id] == nil {
				d.legs[id] = &leg{app: owner, agent: true}
			}
		}
		d.mu.Unlock()
		return d.legStates(ctx, owner, legs)
	}
	t, run, created, err := d.joinTakeover(ctx, owner, legs)
	if err != nil {
		return nil, err
	}
	if created {
		d.openTakeover(t, run)
	}
	select {
	case <-t.ready:
	case <-ctx.Done():
		return nil, fmt.Errorf("ari takeover %s: %w", owner, ctx.Err())
	}
	if t.dialErr != nil {
		return nil, fmt.Errorf("ari takeover %s: %w", owner, t.dialErr)
	}
	states, err := d.legStates(ctx, owner, legs)
	if err != nil {
		return nil, fmt.Errorf("ari takeover %s: %w", owner, err)
	}
	return states, nil
}

// joinTakeover enters legs in the leg table and returns owner's takeover,
// creating it (created = true: the caller opens its socket) if there is
// none. A takeover of owner that is ending (its ctx is done, its reader not
// yet finished) is waited for. The caller's ctx holds the takeover open
// until it ends.
func (d *Driver) joinTakeover(ctx context.Context, owner string, legs []string) (t *takeover, run *running, created bool, err error) {
	for {
		d.mu.Lock()
		run = d.run
		if run == nil {
			d.mu.Unlock()
			return nil, nil, false, fmt.Errorf("ari takeover %s: %w", owner, ErrNotRunning)
		}
		prev := d.takeovers[owner]
		if prev != nil && prev.ctx.Err() != nil {
			d.mu.Unlock()
			select {
			case <-prev.done:
				continue
			case <-ctx.Done():
				return nil, nil, false, fmt.Errorf("ari takeover %s: %w", owner, ctx.Err())
			}
		}
		t = prev
		if t == nil {
			created = true
			t = &takeover{owner: owner, ready: make(chan struct{}), done: make(chan struct{})}
			t.ctx, t.cancel = context.WithCancel(context.Background())
			t.stopRunLink = context.AfterFunc(run.ctx, t.cancel)
			d.takeovers[owner] = t
			// Added while Run is known to run (under mu), so Run's Wait
			// covers it.
			d.readers.Add(1)
		}
		t.users++
		for _, id := range legs {
			if d.legs[id] == nil { // a leg already reported on keeps its state
				d.legs[id] = &leg{app: owner, agent: true}
			}
		}
		d.mu.Unlock()
		context.AfterFunc(ctx, func() {
			// Decided and cancelled under mu, so a Takeover joining in
			// between finds the takeover already ending (and waits for it).
			d.mu.Lock()
			defer d.mu.Unlock()
			t.users--
			if d.idleLocked(t) {
				t.cancel()
			}
		})
		return t, run, created, nil
	}
}

// idleLocked reports whether a takeover serves nothing any more: no
// Takeover call holds it and no leg of its application is tracked (a call
// that arrived on the taken-over application is served to its end). d.mu
// must be held.
func (d *Driver) idleLocked(t *takeover) bool {
	return t.users == 0 && !d.hasLegsLocked(t.owner)
}

// hasLegsLocked reports whether a leg of app is tracked; d.mu must be held.
func (d *Driver) hasLegsLocked(app string) bool {
	for _, l := range d.legs {
		if l.app == app {
			return true
		}
	}
	return false
}

// legEnded ends the takeover of app once its last leg ended and no
// Takeover call holds it.
func (d *Driver) legEnded(app string) {
	if app == d.opts.App {
		return
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	if t := d.takeovers[app]; t != nil && d.idleLocked(t) {
		t.cancel() // under mu: see joinTakeover
	}
}

// openTakeover dials owner's socket and starts its reader, which
// reconnects (and re-reads the legs) when the socket drops, like Run, until
// the takeover ends or another socket replaces it.
func (d *Driver) openTakeover(t *takeover, run *running) {
	log := d.log.With("owner", t.owner)
	ws, err := d.dial(t.ctx, t.owner)
	if err != nil {
		t.dialErr = err
		close(t.ready)
		d.endTakeover(t)
		return
	}
	log.Info("took over application")
	close(t.ready)
	go func() {
		defer d.endTakeover(t)
		bo := d.backoff()
		for {
			err := d.read(t.ctx, ws, run.handle, bo.reset)
			_ = ws.CloseNow()
			switch {
			case errors.Is(err, ErrReplaced):
				log.Error("takeover socket replaced by another connection; its legs are no longer reported here")
				return
			case t.ctx.Err() != nil:
				log.Info("takeover ended")
				return
			}
			// Reconnect only for legs still to follow: a socket for an
			// application with nothing left of ours would only take it
			// from whoever registers it next (a restarted owner).
			d.mu.Lock()
			idle := d.idleLocked(t)
			d.mu.Unlock()
			if idle {
				log.Warn("takeover socket lost with nothing left to follow", "err", err)
				return
			}
			log.Warn("takeover socket lost; reconnecting", "err", err)
			for {
				sleep(t.ctx, bo.next())
				if t.ctx.Err() != nil {
					return
				}
				if ws, err = d.dial(t.ctx, t.owner); err == nil {
					break
				}
			}
			d.resyncTakeover(t.ctx, t.owner, run.handle)
		}
	}()
}

// resyncTakeover re-reads the legs of a taken-over application after its
// socket reconnected: what happened in the gap was not sent (trace 14).
func (d *Driver) resyncTakeover(ctx context.Context, owner string, handle func(acd.Event)) {
	d.mu.Lock()
	var ids []string
	for id, l := range d.legs {
		if l.app == owner {
			ids = append(ids, id)
		}
	}
	d.mu.Unlock()
	// In parallel: a dead replica's seat may hold thousands of waiting
	// callers, and this socket's events wait for the re-read.
	d.forEachLeg(ctx, ids, func(id string) {
		state, err := d.channelState(ctx, id)
		switch {
		case errors.Is(err, acd.ErrLegGone):
			d.ended(id, 0, true, handle)
		case err != nil:
			d.log.Warn("re-read a taken-over leg", "leg", id, "err", err)
		case state == "Up" && d.markAnswered(id):
			handle(acd.LegAnswered{Leg: id})
		}
	})
}

// endTakeover releases owner once its socket is closed. Its legs are
// forgotten: with the socket gone nothing would ever report them again.
func (d *Driver) endTakeover(t *takeover) {
	t.cancel()
	t.stopRunLink()
	d.mu.Lock()
	n := 0
	for id, l := range d.legs {
		if l.app == t.owner {
			delete(d.legs, id)
			n++
		}
	}
	if d.takeovers[t.owner] == t {
		delete(d.takeovers, t.owner)
	}
	d.mu.Unlock()
	if n > 0 {
		d.log.Info("forgot legs of an ended takeover", "owner", t.owner, "legs", n)
	}
	close(t.done)
	d.readers.Done()
}

// legStates reads each leg once, after the socket is up (so a change after
// the read is reported as an event). One request per leg: ari/v5's channel
// list has no states. The reads run in parallel (forEachLeg): a seat taken
// over may hold thousands of calls, none rebuilt before all are read.
func (d *Driver) legStates(ctx context.Context, owner string, legs []string) ([]acd.LegState, error) {
	states := make([]acd.LegState, len(legs))
	errs := make([]error, len(legs))
	at := make(map[string]int, len(legs))
	for i, id := range legs {
		at[id] = i
	}
	d.forEachLeg(ctx, legs, func(id string) {
		i := at[id]
		state, err := d.channelState(ctx, id)
		st := acd.LegState{Leg: id}
		switch {
		case errors.Is(err, acd.ErrLegGone):
			st.Gone = true
			d.mu.Lock()
			if l := d.legs[id]; l != nil && l.app == owner {
				delete(d.legs, id)
			}
			d.mu.Unlock()
		case err != nil:
			errs[i] = err
		case state == "Up":
			st.Up = true
			d.markAnswered(id) // reported by the caller, through st.Up
		}
		states[i] = st
	})
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	for i, id := range legs {
		if errs[i] != nil {
			return nil, errs[i]
		}
		if states[i].Leg == "" { // id listed twice: read once, at its last place
			states[i] = states[at[id]]
		}
	}
	return states, nil
}
