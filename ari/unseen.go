package ari

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"

	"github.com/tandem-cc/tandem/acd"
)

// Calls whose StasisStart was lost.
//
// Asterisk sends an application's events to its current socket only, and
// never replays them (trace 14). A socket that is open but not read (its
// process paused, or cut off by the network) still takes the StasisStart
// of every new call the dialplan sends to the application; when another
// socket then registers the application (a survivor hosting the seat, the
// same replica reconnecting) those events are gone, and the callers wait
// in Stasis with nobody knowing them. resync therefore reads every channel
// of the application this driver has not reported, and reports an inbound
// customer leg (Stasis(<app>,inbound[,dnis])) that is not answered yet as
// the StasisStart would have: a CallArrived. Not answered: the ACD answers
// a caller right after it recorded the arrival, so an answered caller was
// seen (its call may be over, with the hang-up lost in a crash: a leftover
// the reconciliation clears, not a new call). The ACD ignores an arrival
// for a leg it already tracks (a call rebuilt from Redis); anything else
// stays for the reconciliation, which sends it back to the dialplan.

// unseenChannel is the part of an ARI Channel that an arrival is made of.
// ari/v5's DialplanCEP has no app_name/app_data, hence the raw read.
type unseenChannel struct {
	ID     string `json:"id"`
	State  string `json:"state"`
	Caller struct {
		Number string `json:"number"`
	} `json:"caller"`
	Dialplan struct {
		Exten   string `json:"exten"`
		AppName string `json:"app_name"`
		AppData string `json:"app_data"`
	} `json:"dialplan"`
	ChannelVars map[string]string `json:"channelvars"`
}

// stasisArgs returns the arguments of Stasis(app,args...) when the channel
// sits in that application's Stasis(), else ok false.
func (c unseenChannel) stasisArgs(app string) (args []string, ok bool) {
	if !strings.EqualFold(c.Dialplan.AppName, "Stasis") {
		return nil, false
	}
	parts := strings.Split(c.Dialplan.AppData, ",")
	if len(parts) == 0 || parts[0] != app {
		return nil, false
	}
	return parts[1:], true
}

// reportUnseen reports as CallArrived every inbound leg among ids (the
// application's channels) that this driver never reported. It runs in
// resync, before the socket's events are read, so a StasisStart that does
// arrive later finds the leg reported and is dropped (translate).
func (d *Driver) reportUnseen(ctx context.Context, handle func(acd.Event), ids []string) {
	for _, id := range ids {
		d.mu.Lock()
		known := d.legs[id] != nil
		d.mu.Unlock()
		if known || ctx.Err() != nil {
			continue
		}
		ch, err := d.readChannel(ctx, id)
		if err != nil {
			// Gone meanwhile, or unreadable: the reconciliation's sweep
			// looks at whatever is left.
			d.log.Debug("read a channel of the application", "leg", id, "err", err)
			continue
		}
		args, ok := ch.stasisArgs(d.opts.App)
		if !ok || len(args) == 0 || args[0] != "inbound" || ch.State == "Up" {
			continue
		}
		d.mu.Lock()
		if d.legs[id] != nil {
			d.mu.Unlock()
			continue
		}
		d.legs[id] = &leg{app: d.opts.App}
		d.mu.Unlock()
		dnis := ch.Dialplan.Exten
		if len(args) > 1 && args[1] != "" {
			dnis = args[1]
		}
		d.log.Warn("a call entered the application while its events went elsewhere; taking it now", "leg", id)
		handle(acd.CallArrived{Leg: id, ANI: ch.Caller.Number, DNIS: dnis, Queue: stasisQueue(args), Args: args, Vars: d.attached(ch.ChannelVars)})
	}
}

// readChannel is GET /channels/{id}, bounded by the request timeout; a
// channel that is gone is acd.ErrLegGone.
func (d *Driver) readChannel(ctx context.Context, id string) (unseenChannel, error) {
	var ch unseenChannel
	ctx, cancel := context.WithTimeout(ctx, d.opts.RequestTimeout)
	defer cancel()
	u := strings.TrimSuffix(d.opts.URL, "/") + "/channels/" + url.PathEscape(id)
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u, nil)
	if err != nil {
		return ch, fmt.Errorf("ari read channel %s: %w", id, err)
	}
	req.SetBasicAuth(d.opts.Username, d.opts.Password)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return ch, fmt.Errorf("ari read channel %s: %w", id, err)
	}
	defer func() { _ = resp.Body.Close() }()
	switch {
	case resp.StatusCode == http.StatusNotFound:
		return ch, fmt.Errorf("ari read channel %s: %w", id, acd.ErrLegGone)
	case resp.StatusCode/100 != 2:
		msg, _ := io.ReadAll(io.LimitReader(resp.Body, 4096))
		return ch, fmt.Errorf("ari read channel %s: %s: %s", id, resp.Status, strings.TrimSpace(string(msg)))
	}
	if err := json.NewDecoder(io.LimitReader(resp.Body, 16<<20)).Decode(&ch); err != nil {
		return ch, fmt.Errorf("ari read channel %s: %w", id, err)
	}
	return ch, nil
}

// forgetEarlierArrivals forgets the callers an earlier Run of this driver
// reported. Run starts anew when its engine's term ended (fenced: another
// process held the seat meanwhile) and the next term's engine knows only
// what Redis has: a caller the earlier term heard arrive but could not
// record (its scripts were refused) must be reported again by the first
// read, as to a new process. Legs Tandem rang stay: their events are
// needed whoever rebuilds the call.
func (d *Driver) forgetEarlierArrivals() {
	d.mu.Lock()
	defer d.mu.Unlock()
	for id, l := range d.legs {
		if !l.agent && l.app == d.opts.App {
			delete(d.legs, id)
		}
	}
}
