package ari

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"time"

	ariv5 "github.com/CyCoreSystems/ari/v5"
	"golang.org/x/net/websocket"

	"github.com/tandem-cc/tandem/acd"
)

// Run reads the application's events until ctx ends, reconnecting when
// the socket drops. After every reconnect it re-reads the application's
// live channels and reports them (acd.Resynced), because Asterisk never
// replays events that happened while no socket was connected.
//
// Run also owns the sockets Takeover opens: they deliver to the same
// handler (never concurrently with Run's own socket), and they end, and are
// waited for, when Run returns.
func (d *Driver) Run(ctx context.Context, handle func(acd.Event)) error {
	ctx, cancel := context.WithCancel(ctx)
	handle = d.serialised(handle)
	d.mu.Lock()
	if d.run != nil {
		d.mu.Unlock()
		cancel()
		return errors.New("ari run: already running")
	}
	d.run = &running{ctx: ctx, handle: handle}
	d.mu.Unlock()
	defer func() {
		d.mu.Lock()
		d.run = nil
		d.mu.Unlock()
		cancel() // ends every takeover
		d.readers.Wait()
	}()

	backoff := 50 * time.Millisecond
	for first := true; ctx.Err() == nil; first = false {
		ws, err := d.dial(ctx, d.opts.App)
		if err != nil {
			if ctx.Err() != nil {
				break
			}
			d.log.Warn("event socket dial failed", "err", err, "retry_in", backoff)
			sleep(ctx, backoff)
			backoff = min(backoff*2, 2*time.Second)
			continue
		}
		backoff = 50 * time.Millisecond
		if first {
			d.log.Info("event socket connected")
		} else {
			d.log.Warn("event socket reconnected; events may have been lost, re-reading channels")
			if err := d.resync(ctx, handle); err != nil {
				d.log.Error("resync after reconnect", "err", err)
			}
		}
		err = d.read(ctx, ws, handle)
		ws.Close()
		if errors.Is(err, ErrReplaced) {
			d.log.Error("application replaced by another connection; stopping")
			return err
		}
		if ctx.Err() == nil {
			d.log.Warn("event socket lost", "err", err)
		}
	}
	return nil
}

// serialised wraps handle so that calls from different readers never
// overlap: the port promises one delivery at a time.
func (d *Driver) serialised(handle func(acd.Event)) func(acd.Event) {
	return func(ev acd.Event) {
		d.deliver.Lock()
		defer d.deliver.Unlock()
		handle(ev)
	}
}

func sleep(ctx context.Context, d time.Duration) {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
	case <-t.C:
	}
}

// dial opens an event socket for app (this driver's own, or one it takes
// over), bounded by the request timeout.
func (d *Driver) dial(ctx context.Context, app string) (*websocket.Conn, error) {
	u := d.opts.WSURL + "?" + url.Values{"app": {app}}.Encode()
	cfg, err := websocket.NewConfig(u, "http://localhost/")
	if err != nil {
		return nil, fmt.Errorf("ari events url: %w", err)
	}
	req, _ := http.NewRequest(http.MethodGet, u, nil)
	req.SetBasicAuth(d.opts.Username, d.opts.Password)
	cfg.Header = http.Header{"Authorization": req.Header["Authorization"]}
	dctx, cancel := context.WithTimeout(ctx, d.opts.RequestTimeout)
	defer cancel()
	return cfg.DialContext(dctx)
}

// read delivers frames until the socket fails, Asterisk replaces the
// socket (ErrReplaced), or ctx ends. Closing the socket is what unblocks
// the read when ctx ends.
func (d *Driver) read(ctx context.Context, ws *websocket.Conn, handle func(acd.Event)) error {
	stop := context.AfterFunc(ctx, func() { ws.Close() })
	defer stop()
	for {
		var frame []byte
		if err := websocket.Message.Receive(ws, &frame); err != nil {
			return err
		}
		ev, err := ariv5.DecodeEvent(frame)
		if err != nil {
			d.log.Debug("undecodable event", "err", err)
			continue
		}
		d.mu.Lock()
		d.received[ev.GetType()]++
		d.mu.Unlock()
		if _, ok := ev.(*ariv5.ApplicationReplaced); ok {
			return ErrReplaced
		}
		d.translate(ev, handle)
	}
}

// translate turns one Asterisk event into the port's events.
func (d *Driver) translate(ev ariv5.Event, handle func(acd.Event)) {
	switch e := ev.(type) {
	case *ariv5.StasisStart:
		id := e.Channel.ID
		d.mu.Lock()
		l := d.legs[id]
		d.mu.Unlock()
		if l != nil && l.agent {
			if d.markAnswered(id) {
				handle(acd.LegAnswered{Leg: id})
			}
			return
		}
		if len(e.Args) == 0 || e.Args[0] != "inbound" {
			d.log.Info("channel entered the application without being an inbound call; ignored", "channel", id, "args", e.Args)
			return
		}
		app := e.GetApplication()
		if app == "" {
			app = d.opts.App
		}
		d.mu.Lock()
		if d.legs[id] != nil {
			d.mu.Unlock()
			return // already reported
		}
		d.legs[id] = &leg{app: app}
		d.mu.Unlock()
		dnis := e.Channel.Dialplan.Exten
		if len(e.Args) > 1 && e.Args[1] != "" {
			dnis = e.Args[1]
		}
		handle(acd.CallArrived{Leg: id, ANI: e.Channel.Caller.Number, DNIS: dnis, Args: e.Args, Vars: d.attached(e.Channel.ChannelVars)})
	case *ariv5.ChannelHangupRequest:
		d.mu.Lock()
		if l := d.legs[e.Channel.ID]; l != nil && e.Cause != 0 {
			l.cause = e.Cause
		}
		d.mu.Unlock()
	case *ariv5.StasisEnd:
		d.ended(e.Channel.ID, 0, false, handle)
	case *ariv5.ChannelDestroyed:
		d.ended(e.Channel.ID, e.Cause, true, handle)
	case *ariv5.PlaybackFinished:
		if ev, ok := d.playbackFinished(e.Playback); ok {
			handle(ev)
		}
	case *ariv5.ChannelDtmfReceived:
		d.mu.Lock()
		known := d.legs[e.Channel.ID] != nil
		d.mu.Unlock()
		if known {
			handle(acd.DTMFReceived{Leg: e.Channel.ID, Digit: e.Digit})
		}
	}
}

// ended reports the end of a leg once. An agent leg that never reached
// Stasis failed to ring (its ChannelDestroyed carries why); every other leg
// hung up. Inbound channels get no ChannelDestroyed (Asterisk sends it only
// to subscribed channels), so StasisEnd is their end.
func (d *Driver) ended(id string, cause int, destroyed bool, handle func(acd.Event)) {
	d.mu.Lock()
	l := d.legs[id]
	if l == nil {
		d.mu.Unlock()
		return
	}
	if l.agent && !l.up && !destroyed {
		d.mu.Unlock()
		return // StasisEnd of an unanswered leg cannot happen; wait for destroy
	}
	delete(d.legs, id)
	if cause == 0 {
		cause = l.cause
	}
	d.mu.Unlock()
	defer d.legEnded(l.app)
	if l.agent && !l.up {
		handle(acd.RingFailed{Leg: id, Cause: cause, Reason: reasonFor(cause)})
		return
	}
	handle(acd.LegHungUp{Leg: id, Cause: cause})
}

// reasonFor names a Q.850 cause as the ACD's RONA reasons.
func reasonFor(cause int) string {
	switch cause {
	case 17:
		return "busy"
	case 18, 19:
		return "no_answer"
	case 21:
		return "rejected"
	case 1, 3, 20, 27, 38:
		return "unreachable"
	}
	return "failed"
}

func (d *Driver) attached(vars map[string]string) map[string]string {
	if len(d.opts.AttachedVars) == 0 {
		return vars
	}
	out := map[string]string{}
	for _, k := range d.opts.AttachedVars {
		if v, ok := vars[k]; ok {
			out[k] = v
		}
	}
	return out
}

// resync re-reads the application's channels after a reconnect. Agent legs
// answered while nobody listened are reported answered; every leg gone
// meanwhile is reported through acd.Resynced. Legs of a taken-over
// application were not affected (their socket did not drop): they stay, and
// are listed as live, since the ACD reads Live as every leg that exists.
func (d *Driver) resync(ctx context.Context, handle func(acd.Event)) error {
	var data *ariv5.ApplicationData
	err := d.call(ctx, "read application", func() error {
		var err error
		data, err = d.client.Application().Data(key(ariv5.ApplicationKey, d.opts.App))
		return err
	})
	if err != nil {
		return err
	}
	live := map[string]bool{}
	for _, id := range data.ChannelIDs {
		live[id] = true
	}
	all := slices.Clone(data.ChannelIDs)
	d.mu.Lock()
	var answered, gone []string
	for id, l := range d.legs {
		switch {
		case l.app != d.opts.App:
			if !live[id] {
				all = append(all, id)
			}
		case !live[id]:
			gone = append(gone, id)
			delete(d.legs, id)
		case l.agent && !l.up:
			answered = append(answered, id)
		}
	}
	d.mu.Unlock()
	for _, id := range answered {
		if st, err := d.channelState(ctx, id); err == nil && st == "Up" && d.markAnswered(id) {
			handle(acd.LegAnswered{Leg: id})
		}
	}
	handle(acd.Resynced{Live: all})
	d.log.Info("resynced", "live", len(data.ChannelIDs), "gone", len(gone), "answered_in_gap", len(answered))
	return nil
}

// channelState reads one channel's state ("Up", "Ring", ...), bounded like
// every REST call; a channel that is gone is acd.ErrLegGone.
func (d *Driver) channelState(ctx context.Context, id string) (string, error) {
	var ch *ariv5.ChannelData
	err := d.call(ctx, "read channel "+id, func() error {
		var err error
		ch, err = d.client.Channel().Data(key(ariv5.ChannelKey, id))
		return err
	})
	if err != nil {
		return "", err
	}
	return ch.State, nil
}

// markAnswered records that the Tandem-rung leg id is up and reports
// whether that is news. An answer is reported once, whichever sees it
// first: StasisStart, a re-read after a reconnect, or Takeover (Asterisk
// may show Up a moment before StasisStart). From then on the leg's end is
// a hang-up, not a failed ring.
func (d *Driver) markAnswered(id string) bool {
	d.mu.Lock()
	defer d.mu.Unlock()
	l := d.legs[id]
	if l == nil || !l.agent || l.up {
		return false
	}
	l.up = true
	return true
}
