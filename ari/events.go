package ari

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"net/http"
	"net/url"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	ariv5 "github.com/CyCoreSystems/ari/v5"
	"github.com/coder/websocket"

	"github.com/tandem-cc/tandem/acd"
)

// errHalfOpen: the events socket stopped answering (no pong, no frame)
// while the TCP connection stayed open, as after a NAT or firewall forgot
// it or the PBX's host froze. Only a ping finds this: the read would wait
// forever.
var errHalfOpen = errors.New("ari events socket half-open: no pong and no frame")

// Run reads the application's events until ctx ends, reconnecting when
// the socket drops. Once the first socket is up, and after every
// reconnect, it re-reads the application's live channels and bridges and
// reports them (acd.Resynced; Initial on the first), because Asterisk
// never replays events that happened while no socket was connected.
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
	d.forgetEarlierArrivals()
	defer func() {
		d.mu.Lock()
		d.run = nil
		d.mu.Unlock()
		d.connected.Store(false)
		cancel() // ends every takeover
		d.readers.Wait()
	}()

	bo := d.backoff()
	// initial stays true until a resync has been delivered: a first dial
	// that fails (Asterisk not up yet) must not use up the Initial resync
	// the ACD rebuilds its calls from.
	initial := true
	for attempt := 0; ctx.Err() == nil; attempt++ {
		if attempt > 0 {
			// Also after a socket that was lost: a PBX that drops every
			// socket at once must not see every replica back in the same
			// millisecond, nor one replica spinning.
			wait := bo.next()
			d.log.Info("event socket reconnecting", "in", wait)
			sleep(ctx, wait)
			if ctx.Err() != nil {
				break
			}
		}
		ws, err := d.dial(ctx, d.opts.App)
		if err != nil {
			if ctx.Err() != nil {
				break
			}
			d.log.Warn("event socket dial failed", "err", err)
			continue
		}
		if initial {
			// The first socket is read too: the channels and bridges a
			// previous holder of the application left are what the ACD
			// rebuilds its calls from (acd/reconcile.go).
			d.log.Info("event socket connected")
		} else {
			d.log.Warn("event socket reconnected; events may have been lost, re-reading channels")
		}
		if err := d.resync(ctx, handle, initial); err != nil {
			d.log.Error("re-read the application", "initial", initial, "err", err)
		} else {
			initial = false
		}
		d.markConnected()
		err = d.read(ctx, ws, handle, bo.reset)
		d.connected.Store(false)
		_ = ws.CloseNow()
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

// backoff is the wait between two attempts to open an events socket: it
// doubles from ReconnectBackoff up to ReconnectBackoffMax, each wait a
// random 50–100 % of it (jitter), and starts again once a socket has
// delivered a frame. One per reader goroutine; reset is called from it.
type backoff struct {
	min, max time.Duration
	cur      time.Duration
}

func (d *Driver) backoff() *backoff {
	return &backoff{min: d.opts.ReconnectBackoff, max: d.opts.ReconnectBackoffMax, cur: d.opts.ReconnectBackoff}
}

func (b *backoff) next() time.Duration {
	w := b.cur/2 + rand.N(b.cur/2+1)
	b.cur = min(b.cur*2, b.max)
	return w
}

func (b *backoff) reset() { b.cur = b.min }

// dial opens an event socket for app (this driver's own, or one it takes
// over), bounded by the request timeout.
func (d *Driver) dial(ctx context.Context, app string) (*websocket.Conn, error) {
	u := d.opts.WSURL + "?" + url.Values{"app": {app}}.Encode()
	req, err := http.NewRequest(http.MethodGet, u, nil)
	if err != nil {
		return nil, fmt.Errorf("ari events %s: %w", app, err)
	}
	req.SetBasicAuth(d.opts.Username, d.opts.Password)
	dctx, cancel := context.WithTimeout(ctx, d.opts.RequestTimeout)
	defer cancel()
	ws, _, err := websocket.Dial(dctx, u, &websocket.DialOptions{
		HTTPHeader: http.Header{"Authorization": req.Header["Authorization"]},
	})
	if err != nil {
		return nil, fmt.Errorf("ari events %s: %w", app, err)
	}
	// An event with many channel variables easily passes the library's
	// 32 KiB default.
	ws.SetReadLimit(16 << 20)
	return ws, nil
}

// read delivers frames until the socket fails, stops answering
// (errHalfOpen), Asterisk replaces the socket (ErrReplaced), or ctx ends.
// alive is called for every frame read (the socket works: the reconnect
// backoff starts over).
//
// A keepalive goroutine, owned by read and ended with it, pings the socket
// every PingInterval. A ping not answered within PongTimeout, with no frame
// read since it was sent either, ends the read with errHalfOpen: the TCP
// connection is open but nothing comes through it. The pong is only read
// between two frames, so a frame read or handled meanwhile, or a handler
// still running, also proves the socket alive: a slow handler never looks
// like a dead PBX.
func (d *Driver) read(ctx context.Context, ws *websocket.Conn, handle func(acd.Event), alive func()) error {
	ctx, cancel := context.WithCancelCause(ctx)
	var p progress
	kept := make(chan struct{})
	go func() {
		defer close(kept)
		d.keepalive(ctx, ws, &p, cancel)
	}()
	defer func() {
		cancel(nil)
		<-kept
	}()
	for {
		// Read ends (and closes the socket) when ctx ends: Run's end,
		// or the keepalive's verdict.
		p.reading.Store(true)
		_, frame, err := ws.Read(ctx)
		p.reading.Store(false)
		p.steps.Add(1)
		if err != nil {
			if cause := context.Cause(ctx); errors.Is(cause, errHalfOpen) {
				return cause
			}
			return err
		}
		alive()
		err = d.frame(frame, handle)
		p.steps.Add(1)
		if err != nil {
			return err
		}
	}
}

// frame decodes and delivers one frame; ErrReplaced when Asterisk says
// another socket took the application.
func (d *Driver) frame(frame []byte, handle func(acd.Event)) error {
	ev, err := ariv5.DecodeEvent(frame)
	if err != nil {
		d.log.Debug("undecodable event", "err", err)
		return nil
	}
	d.mu.Lock()
	d.received[ev.GetType()]++
	d.mu.Unlock()
	if _, ok := ev.(*ariv5.ApplicationReplaced); ok {
		return ErrReplaced
	}
	d.translate(ev, handle)
	return nil
}

// progress is what read tells its keepalive: steps counts frames read and
// handled, reading says read is waiting for the socket (not in a handler).
type progress struct {
	steps   atomic.Int64
	reading atomic.Bool
}

// keepalive pings ws every PingInterval until ctx ends, and cancels ctx
// with errHalfOpen when a ping goes unanswered for PongTimeout while read
// waited on the socket all along and got nothing.
func (d *Driver) keepalive(ctx context.Context, ws *websocket.Conn, p *progress, cancel context.CancelCauseFunc) {
	t := time.NewTicker(d.opts.PingInterval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		before := p.steps.Load()
		pctx, pcancel := context.WithTimeout(ctx, d.opts.PongTimeout)
		err := ws.Ping(pctx)
		pcancel()
		if err == nil || ctx.Err() != nil {
			continue
		}
		if p.steps.Load() != before || !p.reading.Load() {
			continue // frames kept coming, or a handler runs: busy, not dead
		}
		d.log.Warn("event socket stopped answering; reconnecting", "err", err, "ping_interval", d.opts.PingInterval, "pong_timeout", d.opts.PongTimeout)
		cancel(fmt.Errorf("%w (no pong in %v)", errHalfOpen, d.opts.PongTimeout))
		return
	}
}

// translate turns one Asterisk event into the port's events.
func (d *Driver) translate(ev ariv5.Event, handle func(acd.Event)) {
	if d.sightAbandoned(ev) {
		return
	}
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
		if l == nil && (len(e.Args) == 0 || e.Args[0] != "inbound") {
			// Not ours to handle; the ACD sends it back to the dialplan.
			handle(acd.StrayArrived{Leg: id, Args: e.Args})
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
		handle(acd.CallArrived{Leg: id, ANI: e.Channel.Caller.Number, DNIS: dnis, Queue: stasisQueue(e.Args), Args: e.Args, Vars: d.attached(e.Channel.ChannelVars)})
	case *ariv5.ChannelHangupRequest:
		d.mu.Lock()
		if l := d.legs[e.Channel.ID]; l != nil && e.Cause != 0 {
			l.cause = e.Cause
		}
		d.mu.Unlock()
	case *ariv5.Dial:
		// The Dial event is the one place a Local channel's busy shows:
		// its half Tandem created is destroyed with cause 0 (trace 04).
		if r := dialReason(e.Dialstatus); r != "" {
			d.mu.Lock()
			if l := d.legs[e.Peer.ID]; l != nil && l.agent {
				l.dialed = r
			}
			d.mu.Unlock()
		}
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
	delete(d.abandoned, id)
	if cause == 0 {
		cause = l.cause
	}
	d.mu.Unlock()
	defer d.legEnded(l.app)
	if l.agent && !l.up {
		reason := reasonFor(cause)
		if reason == "failed" && l.dialed != "" {
			// The cause says nothing (0, or 16 after a soft hang-up):
			// the Dial event said more.
			reason = l.dialed
		}
		handle(acd.RingFailed{Leg: id, Cause: cause, Reason: reason})
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

// dialReason names a final Dial status as the ACD's RONA reasons; "" for
// a status that is not an outcome (RINGING, PROGRESS, ANSWER, "") or says
// nothing about the far end (CANCEL: Tandem hung the leg up itself).
func dialReason(status string) string {
	switch status {
	case "BUSY":
		return "busy"
	case "NOANSWER":
		return "no_answer"
	case "CHANUNAVAIL", "CONGESTION":
		return "unreachable"
	}
	return ""
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
//
// initial: the first socket of this Run; the ACD rebuilds then what an
// earlier holder of the application left (the report has Initial set).
func (d *Driver) resync(ctx context.Context, handle func(acd.Event), initial bool) error {
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
	var kill []string
	for id, l := range d.legs {
		switch {
		case d.abandoned[id] != nil:
			// May still be created (its originate got no answer): watched
			// for, and reported live so that the ACD waits for its end.
			if live[id] {
				kill = append(kill, id)
			} else {
				all = append(all, id)
			}
		case initial:
			// No event could be lost before the first socket: a leg
			// entered meanwhile (a Ring or a Takeover made as Run starts)
			// may be newer than the read, and reports itself. It is live.
			if !live[id] {
				all = append(all, id)
			}
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
	for _, id := range kill {
		d.hangupAsync(id)
	}
	handle(acd.Resynced{Live: all, Bridges: slices.Clone(data.BridgeIDs), Initial: initial})
	// After the report: the ACD has taken the read (an initial one starts
	// its reconciliation) before it hears of calls it never saw arrive.
	d.reportUnseen(ctx, handle, data.ChannelIDs)
	d.log.Info("resynced", "live", len(data.ChannelIDs), "gone", len(gone), "ringing_to_check", len(answered))
	d.checkAnswered(answered, handle)
	return nil
}

// answerChecks bounds the channel reads checkAnswered runs at once.
const answerChecks = 8

// checkAnswered reads the state of each agent leg that was ringing when
// events were lost, and reports those found answered. It runs beside event
// delivery, not before it: with thousands of agents ringing (the
// 10,000-agent load run), one read per leg, one after the other, on the
// reading goroutine held every event back for minutes, and the replica
// routed nothing. An answer seen both here and in an event is reported once
// (markAnswered); a leg whose end is delivered first is not reported. The
// goroutine belongs to Run: it ends with Run's context, and Run waits for it.
func (d *Driver) checkAnswered(legs []string, handle func(acd.Event)) {
	if len(legs) == 0 {
		return
	}
	d.mu.Lock()
	r := d.run
	if r == nil || r.ctx.Err() != nil {
		d.mu.Unlock()
		return
	}
	d.readers.Add(1)
	d.mu.Unlock()
	go func() {
		defer d.readers.Done()
		d.forEachLeg(r.ctx, legs, func(id string) {
			if st, err := d.channelState(r.ctx, id); err == nil && st == "Up" && d.markAnswered(id) {
				handle(acd.LegAnswered{Leg: id})
			}
		})
	}()
}

// forEachLeg calls fn for every id, answerChecks at a time, and returns
// when all calls have returned (or, for the ids not started yet, ctx has
// ended). One read per leg is all ARI offers (ari/v5's channel list has no
// states); in parallel, thousands of them take seconds, not minutes.
func (d *Driver) forEachLeg(ctx context.Context, legs []string, fn func(id string)) {
	ids := make(chan string)
	var wg sync.WaitGroup
	for range min(answerChecks, len(legs)) {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for id := range ids {
				fn(id)
			}
		}()
	}
	defer wg.Wait()
	defer close(ids)
	for _, id := range legs {
		select {
		case ids <- id:
		case <-ctx.Done():
			return
		}
	}
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
	if l == nil || !l.agent || l.up || d.abandoned[id] != nil {
		return false // an abandoned leg's answer is never reported
	}
	l.up = true
	return true
}

// stasisQueue is the queue named by Stasis(app,inbound,<dnis>,<queue>),
// "" when the dialplan named none.
func stasisQueue(args []string) string {
	if len(args) > 2 {
		return args[2]
	}
	return ""
}
