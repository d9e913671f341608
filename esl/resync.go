package esl

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/tandem-cc/tandem/acd"
)

// channelRow is the part of a `show channels as json` row the re-read
// uses (trace 02).
type channelRow struct {
	UUID      string `json:"uuid"`
	Direction string `json:"direction"`
	CIDNum    string `json:"cid_num"`
	Dest      string `json:"dest"`
	CallState string `json:"callstate"`
}

// parseChannels reads `show channels as json`: {"row_count": 0} when
// empty, else {"row_count": n, "rows": [...]}.
func parseChannels(body string) ([]channelRow, error) {
	var out struct {
		Rows []channelRow `json:"rows"`
	}
	if err := json.Unmarshal([]byte(strings.TrimSpace(body)), &out); err != nil {
		return nil, fmt.Errorf("esl show channels: %w", err)
	}
	return out.Rows, nil
}

// liveLeg is a channel of one of the driver's owners, as the re-read found it.
type liveLeg struct {
	row    channelRow
	owner  string
	bridge string
}

// readChannels lists the live channels whose tandem_app is one of the
// driver's owners. `show channels` has no variables, so each channel's
// owner is read with uuid_getvar (in parallel, a few at a time).
func (d *Driver) readChannels(ctx context.Context) ([]liveLeg, error) {
	body, err := d.api(ctx, "show channels as json")
	if err != nil {
		return nil, err
	}
	rows, err := parseChannels(body)
	if err != nil {
		return nil, err
	}
	found := make([]*liveLeg, len(rows))
	d.forEach(ctx, len(rows), func(i int) {
		owner, err := d.getvar(ctx, rows[i].UUID, "tandem_app")
		if err != nil {
			return // gone meanwhile, or unreadable: not live for us
		}
		d.mu.Lock()
		ours := d.acceptsLocked(owner)
		d.mu.Unlock()
		if !ours {
			return
		}
		bridge, _ := d.getvar(ctx, rows[i].UUID, "tandem_bridge")
		found[i] = &liveLeg{row: rows[i], owner: owner, bridge: bridge}
	})
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	var out []liveLeg
	for _, f := range found {
		if f != nil {
			out = append(out, *f)
		}
	}
	return out, nil
}

// getvar reads a channel variable; unset is "".
func (d *Driver) getvar(ctx context.Context, leg, name string) (string, error) {
	body, err := d.api(ctx, "uuid_getvar "+leg+" "+name)
	if err != nil {
		return "", err
	}
	v := strings.TrimSpace(body)
	if v == "_undef_" {
		v = ""
	}
	return v, nil
}

// resync re-reads the channels after a (re)connect and reports them
// (acd.Resynced), then the inbound calls nobody reported (parked while no
// socket listened). Legs the driver knew that are gone are dropped: the
// ACD reads their end from Live. Legs it rang that were answered meanwhile
// are reported answered.
func (d *Driver) resync(ctx context.Context, handle func(acd.Event), initial bool) error {
	found, err := d.readChannels(ctx)
	if err != nil {
		return err
	}
	live := map[string]bool{}
	var all, bridges []string
	for _, f := range found {
		live[f.row.UUID] = true
		all = append(all, f.row.UUID)
		if f.bridge != "" && !slices.Contains(bridges, f.bridge) {
			bridges = append(bridges, f.bridge)
		}
	}
	// FreeSWITCH adds a channel to its table a moment after creating it
	// (trace 02: a fresh channel is missing from `show channels`), so a
	// known leg the list lacks is asked for directly before it counts as
	// gone.
	d.mu.Lock()
	var missing []string
	for id, l := range d.legs {
		if !live[id] && l.abandoned.IsZero() && !initial {
			missing = append(missing, id)
		}
	}
	d.mu.Unlock()
	exists := make([]bool, len(missing))
	d.forEach(ctx, len(missing), func(i int) {
		_, err := d.getvar(ctx, missing[i], "tandem_app")
		exists[i] = !errIsGone(err) // unreadable is not gone
	})
	for i, id := range missing {
		if exists[i] {
			live[id] = true
			all = append(all, id)
		}
	}
	var ringing, kill []string
	d.mu.Lock()
	for id, l := range d.legs {
		switch {
		case !l.abandoned.IsZero():
			// May still be created: watched for, and reported live so
			// that the ACD waits for its end.
			if live[id] {
				kill = append(kill, id)
			} else {
				all = append(all, id)
			}
		case initial && !live[id]:
			// Nothing could be lost before the first socket: a leg
			// entered meanwhile (a Ring as Run starts) may be newer than
			// the read, and reports itself.
			all = append(all, id)
		case !live[id]:
			d.endLocked(id)
		case l.agent && !l.up:
			ringing = append(ringing, id)
		}
	}
	if initial {
		d.rebuildBridgesLocked(found)
	}
	d.mu.Unlock()
	for _, id := range kill {
		d.goAsync(func(ctx context.Context) { d.killQuietly(ctx, id) })
	}
	handle(acd.Resynced{Live: all, Bridges: bridges, Initial: initial})
	// After the report: the ACD has taken the read (an initial one starts
	// its reconciliation) before it hears of calls it never saw arrive.
	d.reportUnseen(ctx, handle, found)
	d.log.Info("resynced", "initial", initial, "live", len(found), "ringing_to_check", len(ringing))
	d.checkAnswered(ringing, handle)
	d.lookAgainLater(handle)
	return nil
}

// tableLag is how long after a channel's creation FreeSWITCH may still
// leave it out of `show channels` (trace 02: a fresh originate is not
// listed at once, 1.5 s later it is); a call that parked just before the
// socket's filter was in place is in neither the events nor the read.
const tableLag = 2 * time.Second

// lookAgainLater reads the channels once more, tableLag after a re-read,
// and reports the waiting calls that no read and no event showed (a seat
// hand-over's moment: the call parked for the owner while no socket
// listened, and the table did not list it yet).
func (d *Driver) lookAgainLater(handle func(acd.Event)) {
	d.goAsync(func(ctx context.Context) {
		sleep(ctx, tableLag)
		if ctx.Err() != nil {
			return
		}
		found, err := d.readChannels(ctx)
		if err != nil {
			d.log.Debug("second read of the channels", "err", err)
			return
		}
		d.reportUnseen(ctx, handle, found)
	})
}

// rebuildBridgesLocked recreates the virtual bridges a previous holder of
// the owner left, from the members' tandem_bridge variables, in the order
// FreeSWITCH lists them. d.mu must be held.
func (d *Driver) rebuildBridgesLocked(found []liveLeg) {
	for _, f := range found {
		if f.bridge == "" {
			continue
		}
		b := d.bridges[f.bridge]
		if b == nil {
			b = &vbridge{id: f.bridge}
			d.bridges[f.bridge] = b
		}
		if !slices.Contains(b.members, f.row.UUID) && len(b.members) < 3 {
			b.members = append(b.members, f.row.UUID)
			b.realised = slices.Clone(b.members)
		}
		if l := d.legs[f.row.UUID]; l != nil {
			l.bridge = f.bridge
		}
	}
}

// reportUnseen reports, as its CHANNEL_PARK would have, every inbound call
// of the driver's owners that is waiting, not answered, and was never
// reported: it parked while no socket listened. Answered ones were seen
// (the ACD answers a caller right after its arrival): a leftover for the
// ACD's reconciliation, not a new call.
func (d *Driver) reportUnseen(ctx context.Context, handle func(acd.Event), found []liveLeg) {
	for _, f := range found {
		id := f.row.UUID
		d.mu.Lock()
		_, ended := d.ended[id]
		known := d.legs[id] != nil || ended
		d.mu.Unlock()
		if known || ctx.Err() != nil || f.row.CallState == "ACTIVE" || f.row.CallState == "HELD" {
			continue
		}
		inbound, err := d.getvar(ctx, id, "tandem_inbound")
		if err != nil || inbound != "true" {
			continue
		}
		ev := acd.CallArrived{Leg: id, ANI: f.row.CIDNum, DNIS: f.row.Dest, Vars: map[string]string{}}
		if v, err := d.getvar(ctx, id, "tandem_dnis"); err == nil && v != "" {
			ev.DNIS = v
		}
		ev.Queue, _ = d.getvar(ctx, id, "tandem_queue")
		for _, name := range d.opts.AttachedVars {
			if v, err := d.getvar(ctx, id, name); err == nil && v != "" {
				ev.Vars[name] = v
			}
		}
		d.mu.Lock()
		if d.legs[id] != nil {
			d.mu.Unlock()
			continue // its CHANNEL_PARK was delivered meanwhile
		}
		d.legs[id] = &leg{owner: f.owner}
		d.mu.Unlock()
		d.log.Warn("a call parked while no socket listened; taking it now", "leg", id)
		handle(ev)
	}
}

// checkAnswered reads, beside event delivery, whether legs Tandem rang
// that were ringing when events were lost have been answered meanwhile,
// and reports those. An answer seen both here and in an event is reported
// once.
func (d *Driver) checkAnswered(legs []string, handle func(acd.Event)) {
	if len(legs) == 0 {
		return
	}
	d.goAsync(func(ctx context.Context) {
		d.forEach(ctx, len(legs), func(i int) {
			id := legs[i]
			up, err := d.answered(ctx, id)
			if err != nil || !up {
				return
			}
			d.mu.Lock()
			l := d.legs[id]
			news := l != nil && l.agent && !l.up && l.abandoned.IsZero()
			if news {
				l.up = true
			}
			d.mu.Unlock()
			if news {
				handle(acd.LegAnswered{Leg: id})
			}
		})
	})
}

// answered reads whether a leg has been answered: the Answer-State line
// of its uuid_dump. (Not answer_epoch: FreeSWITCH fills its call-detail
// variables only at hang-up, so a live answered leg reads _undef_.)
func (d *Driver) answered(ctx context.Context, id string) (bool, error) {
	body, err := d.api(ctx, "uuid_dump "+id)
	if err != nil {
		return false, err
	}
	for _, line := range strings.Split(body, "\n") {
		if v, ok := strings.CutPrefix(line, "Answer-State: "); ok {
			return strings.TrimSpace(v) == "answered", nil
		}
	}
	return false, fmt.Errorf("esl uuid_dump %s: no Answer-State in the dump", id)
}

// parallelReads bounds the commands a re-read runs at once.
const parallelReads = 8

// forEach calls fn(0..n-1), parallelReads at a time, and returns when all
// calls have returned (or, for those not started, ctx has ended).
func (d *Driver) forEach(ctx context.Context, n int, fn func(i int)) {
	next := make(chan int)
	var wg sync.WaitGroup
	for range min(parallelReads, n) {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range next {
				fn(i)
			}
		}()
	}
	defer wg.Wait()
	defer close(next)
	for i := range n {
		select {
		case next <- i:
		case <-ctx.Done():
			return
		}
	}
}

// errIsGone reports acd.ErrLegGone.
func errIsGone(err error) bool { return errors.Is(err, acd.ErrLegGone) }
