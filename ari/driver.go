// Package ari is Tandem's Asterisk driver: it implements acd.PBX over the
// Asterisk REST Interface with the CyCoreSystems ari/v5 client.
//
// REST calls go through ari/v5's native client, each bounded in time (the
// client itself has no timeout and no context). Events are decoded with
// ari/v5's decoder, but the driver reads the /ari/events WebSocket itself
// instead of using the client's Connect: that client reconnects silently
// (events in the gap are lost and the application is never told) and its
// bus drops events when a subscriber's 100-slot buffer is full. Owning the
// socket lets the driver (1) deliver every frame, in order, to one handler,
// (2) know exactly when it reconnected, and re-read the PBX then, and (3)
// stop at once when Asterisk says the application was taken over
// (ApplicationReplaced).
package ari

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/url"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	ariv5 "github.com/CyCoreSystems/ari/v5"
	"github.com/CyCoreSystems/ari/v5/client/native"

	"github.com/tandem-cc/tandem/acd"
	"github.com/tandem-cc/tandem/errs"
)

// Options configure a Driver.
type Options struct {
	URL      string // http://127.0.0.1:8088/ari
	WSURL    string // ws://127.0.0.1:8088/ari/events; derived from URL when empty
	Username string
	Password string
	App      string // Stasis application; one per replica
	// RequestTimeout bounds each REST call.
	RequestTimeout time.Duration
	// AttachedVars, when set, limits the channel variables kept as a call's
	// attached data to these names.
	AttachedVars []string
	// RecordingFormat is the file format of recordings ("wav"); never empty
	// when recording, see StartRecording.
	RecordingFormat string
	// Formats are the codecs offered on a leg rung for nobody ("ulaw",
	// "ulaw,alaw"): a callback's first agent leg, a customer leg. Without
	// them Asterisk offers every format it has, and a Local endpoint
	// settles on slin192, so every call through it resamples 8↔192 kHz.
	// A leg rung for a caller takes the caller's formats instead (Asterisk
	// refuses both at once). Default "ulaw".
	Formats string
	// PingInterval is how often the events socket is pinged, PongTimeout
	// how long a ping may go unanswered (with nothing else read) before
	// the socket counts as half-open and is reopened. Defaults 2s and 3s.
	PingInterval time.Duration
	PongTimeout  time.Duration
	// ReconnectBackoff and ReconnectBackoffMax bound the jittered,
	// doubling wait before reopening a lost socket. Defaults 50ms and 2s.
	ReconnectBackoff    time.Duration
	ReconnectBackoffMax time.Duration
	Logger              *slog.Logger
}

// ErrReplaced: another connection registered the same application, and
// Asterisk now sends its events there. This replica must stop acting for it.
// It wraps errs.ErrFenced: the seat's engine stops as if it had crashed.
var ErrReplaced = fmt.Errorf("ari application replaced by another connection: %w", errs.ErrFenced)

// ErrNotRunning: Takeover was called while Run was not running. A takeover
// delivers its events through Run's handler, so there is nowhere to send
// them yet (or any more).
var ErrNotRunning = errors.New("ari driver not running")

// Driver implements acd.PBX for one Asterisk and one Stasis application.
type Driver struct {
	opts   Options
	client *native.Client
	log    *slog.Logger

	mu        sync.Mutex
	legs      map[string]*leg      // legs this driver reports on
	received  map[string]int64     // frames read, by event type (for /metrics)
	stopping  map[string]time.Time // playbacks StopMedia stopped (when): their end is "stopped"
	run       *running             // set while Run runs
	takeovers map[string]*takeover // taken-over application → its socket

	// deliver serialises calls of Run's handler: Run's socket and every
	// takeover socket have their own reader, but the port promises the
	// handler is never called concurrently.
	deliver sync.Mutex
	// readers counts the takeover readers; Run waits for them, so no
	// handler call happens after Run has returned.
	readers sync.WaitGroup
	// connected: Run's own events socket is open and the application is
	// this replica's (see Connected). Written only by Run's goroutine.
	connected atomic.Bool
	// connWait is closed the next time Run's socket connects, then
	// replaced (under mu): Takeover of the driver's own application waits
	// on it.
	connWait chan struct{}
}

// markConnected records that Run's socket is up and wakes waitConnected.
func (d *Driver) markConnected() {
	d.mu.Lock()
	defer d.mu.Unlock()
	d.connected.Store(true)
	close(d.connWait)
	d.connWait = make(chan struct{})
}

// waitConnected waits until Run's socket is up (or ctx ends).
func (d *Driver) waitConnected(ctx context.Context) error {
	for {
		d.mu.Lock()
		up, ch := d.connected.Load(), d.connWait
		d.mu.Unlock()
		if up {
			return nil
		}
		select {
		case <-ch:
		case <-ctx.Done():
			return ctx.Err()
		}
	}
}

// Connected reports whether the driver holds its Stasis application now:
// Run's events socket is open (and was re-read after a reconnect). It is
// false before the first socket, while reconnecting, and for good once
// Asterisk replaced the socket (ErrReplaced) or Run returned. Safe to call
// from any goroutine: readiness probes read it.
func (d *Driver) Connected() bool { return d.connected.Load() }

// running is what Takeover needs from the Run in progress: its handler, and
// a context that ends when Run returns, which ends every takeover with it.
// (A context kept in a struct, on purpose: it is Run's lifetime.)
type running struct {
	ctx    context.Context
	handle func(acd.Event)
}

// leg is what the driver remembers about a channel to turn Asterisk's
// events into the port's.
type leg struct {
	app   string // the application whose socket reports it (own or taken over)
	agent bool   // rung by Tandem (else inbound)
	up    bool   // StasisStart seen (an agent leg answered)
	cause int    // last hangup cause seen
	// dialed is the ring's outcome as the last final Dial event named it
	// ("busy", "no_answer"...), "" if none did.
	dialed string
}

// New returns a driver; Run connects it.
func New(opts Options) *Driver {
	if opts.Logger == nil {
		opts.Logger = slog.Default()
	}
	if opts.RequestTimeout <= 0 {
		opts.RequestTimeout = 5 * time.Second
	}
	if opts.RecordingFormat == "" {
		opts.RecordingFormat = "wav"
	}
	if opts.Formats == "" {
		opts.Formats = "ulaw"
	}
	if opts.PingInterval <= 0 {
		opts.PingInterval = 2 * time.Second
	}
	if opts.PongTimeout <= 0 {
		opts.PongTimeout = 3 * time.Second
	}
	if opts.ReconnectBackoff <= 0 {
		opts.ReconnectBackoff = 50 * time.Millisecond
	}
	if opts.ReconnectBackoffMax <= 0 {
		opts.ReconnectBackoffMax = 2 * time.Second
	}
	opts.ReconnectBackoffMax = max(opts.ReconnectBackoffMax, opts.ReconnectBackoff)
	if opts.WSURL == "" {
		opts.WSURL = wsURLFrom(opts.URL)
	}
	c := native.New(&native.Options{
		Application: opts.App, URL: opts.URL, WebsocketURL: opts.WSURL,
		Username: opts.Username, Password: opts.Password,
	})
	return &Driver{opts: opts, client: c, log: opts.Logger.With("driver", "ari", "app", opts.App), legs: map[string]*leg{}, received: map[string]int64{}, stopping: map[string]time.Time{}, takeovers: map[string]*takeover{}, connWait: make(chan struct{})}
}

func wsURLFrom(u string) string {
	p, err := url.Parse(u)
	if err != nil {
		return ""
	}
	if p.Scheme == "https" {
		p.Scheme = "wss"
	} else {
		p.Scheme = "ws"
	}
	p.Path = strings.TrimSuffix(p.Path, "/") + "/events"
	return p.String()
}

// call runs one REST call bounded by the request timeout and ctx. The
// ari/v5 client cannot be cancelled, so on timeout its goroutine finishes
// in the background; the caller is free at once.
func (d *Driver) call(ctx context.Context, what string, fn func() error) error {
	if err := ctx.Err(); err != nil {
		// fn cannot be cancelled once started (ari/v5 takes no context):
		// an engine that stopped (a crash, fenced) must send nothing.
		return fmt.Errorf("ari %s: %w", what, err)
	}
	ctx, cancel := context.WithTimeout(ctx, d.opts.RequestTimeout)
	defer cancel()
	done := make(chan error, 1)
	go func() { done <- fn() }()
	select {
	case err := <-done:
		if err == nil {
			return nil
		}
		if notFound(err) {
			return fmt.Errorf("ari %s: %w: %w", what, acd.ErrLegGone, err)
		}
		return fmt.Errorf("ari %s: %w", what, err)
	case <-ctx.Done():
		return fmt.Errorf("ari %s: %w", what, ctx.Err())
	}
}

func key(kind, id string) *ariv5.Key { return ariv5.NewKey(kind, id) }

// notFound reports an ARI 404 (the object is already gone).
func notFound(err error) bool { return statusOf(err) == 404 }

// statusOf returns the HTTP status of a failed ARI request, 0 if err is not
// one. ari/v5 wraps the status of a failed GET in an error that has Cause()
// but no Unwrap(), so errors.As alone does not find it there; every chain
// (Unwrap, multi-%w Unwrap, Cause) is followed.
func statusOf(err error) int {
	switch e := err.(type) {
	case nil:
		return 0
	case native.RequestError:
		return e.Code()
	case interface{ Unwrap() []error }:
		for _, x := range e.Unwrap() {
			if c := statusOf(x); c != 0 {
				return c
			}
		}
		return 0
	case interface{ Unwrap() error }:
		return statusOf(e.Unwrap())
	case interface{ Cause() error }:
		return statusOf(e.Cause())
	}
	return 0
}

var _ acd.PBX = (*Driver)(nil)

// Owner returns the driver's Stasis application: Asterisk sends the events
// of every leg this driver rings or answers there, so it is what another
// replica must take over when this one dies.
func (d *Driver) Owner() string { return d.opts.App }

// Answer answers an inbound channel.
func (d *Driver) Answer(ctx context.Context, id string) error {
	err := d.call(ctx, "answer "+id, func() error { return d.client.Channel().Answer(key(ariv5.ChannelKey, id)) })
	if err == nil {
		// A caller's leg taken back by Takeover before it was answered
		// (its replica stopped between arrival and answer) was entered as
		// a leg not yet up: up now, its end is a hang-up.
		d.markAnswered(id)
	}
	return err
}

// StartMusic starts music on hold on a channel.
func (d *Driver) StartMusic(ctx context.Context, id, class string) error {
	return d.call(ctx, "moh "+id, func() error { return d.client.Channel().MOH(key(ariv5.ChannelKey, id), class) })
}

// StopMusic stops music on hold (Asterisk answers 204 even when none plays).
func (d *Driver) StopMusic(ctx context.Context, id string) error {
	return d.call(ctx, "stop moh "+id, func() error { return d.client.Channel().StopMOH(key(ariv5.ChannelKey, id)) })
}

// Ring originates an agent leg into this driver's application. Originating
// with app= makes Asterisk report the leg to us from the first ring on, and
// the leg id is ours, so events can be matched before the reply arrives.
//
// Every leg carries either its originator (the caller's leg: the new leg
// gets the caller's formats and is linked to it in CDR/CEL) or explicit
// formats; never both, which Asterisk refuses with 400. Without either,
// Asterisk offers every format and a Local endpoint settles on slin192.
func (d *Driver) Ring(ctx context.Context, req acd.RingRequest) error {
	d.mu.Lock()
	d.legs[req.Leg] = &leg{app: d.opts.App, agent: true}
	d.mu.Unlock()
	timeout := int(req.Timeout / time.Second)
	if timeout < 1 {
		timeout = 1
	}
	or := ariv5.OriginateRequest{
		Endpoint: req.Endpoint, App: d.opts.App, AppArgs: "agent",
		CallerID: req.CallerID, Timeout: timeout, ChannelID: req.Leg, Variables: req.Vars,
		Originator: req.Originator,
	}
	if or.Originator == "" {
		or.Formats = d.opts.Formats
	}
	err := d.originate(ctx, req.Leg, or)
	if err != nil && or.Originator != "" && statusOf(err) == 400 {
		// Asterisk answers 400 when the originator is gone (the caller
		// hung up a moment ago). The leg is still rung, with the
		// configured formats, so the ring ends the way it always did: the
		// caller's hang-up cancels it, not a ring failure (which would
		// send the agent to RONA).
		d.log.Debug("originator refused; ringing with formats", "leg", req.Leg, "originator", or.Originator, "err", err)
		or.Originator, or.Formats = "", d.opts.Formats
		err = d.originate(ctx, req.Leg, or)
	}
	if err != nil {
		d.forget(req.Leg)
	}
	return err
}

func (d *Driver) originate(ctx context.Context, id string, or ariv5.OriginateRequest) error {
	return d.call(ctx, "originate "+id, func() error {
		_, err := d.client.Channel().Originate(nil, or)
		return err
	})
}

// Bridge creates a mixing bridge and joins the legs to it.
func (d *Driver) Bridge(ctx context.Context, id string, legs ...string) error {
	bk := key(ariv5.BridgeKey, id)
	if err := d.call(ctx, "create bridge "+id, func() error {
		_, err := d.client.Bridge().Create(bk, "mixing", id)
		return err
	}); err != nil {
		return err
	}
	for _, l := range legs {
		if err := addErr(d.call(ctx, "add "+l+" to bridge "+id, func() error { return d.client.Bridge().AddChannel(bk, l) })); err != nil {
			return err
		}
	}
	return nil
}

// DestroyBridge deletes a bridge; one already gone is fine.
func (d *Driver) DestroyBridge(ctx context.Context, id string) error {
	err := d.call(ctx, "delete bridge "+id, func() error { return d.client.Bridge().Delete(key(ariv5.BridgeKey, id)) })
	if errors.Is(err, acd.ErrLegGone) {
		return nil
	}
	return err
}

// Hangup hangs a channel up; one already gone is fine.
func (d *Driver) Hangup(ctx context.Context, id string, cause acd.HangupCause) error {
	reason := string(cause) // Tandem's causes are ARI's reason names
	err := d.call(ctx, "hangup "+id, func() error { return d.client.Channel().Hangup(key(ariv5.ChannelKey, id), reason) })
	if errors.Is(err, acd.ErrLegGone) {
		return nil
	}
	return err
}

// ContinueInDialplan sends a channel on from the priority after its
// Stasis() (POST /channels/{id}/continue with no location, trace 13).
// Never `move`: without app it crashes Asterisk 22.10.1 (ARCHITECTURE §9).
func (d *Driver) ContinueInDialplan(ctx context.Context, id string) error {
	return d.call(ctx, "continue "+id, func() error { return d.client.Channel().Continue(key(ariv5.ChannelKey, id), "", "", 0) })
}

// Received returns how many events of each type the driver has read from
// Asterisk since it started.
func (d *Driver) Received() map[string]int64 {
	d.mu.Lock()
	defer d.mu.Unlock()
	out := make(map[string]int64, len(d.received))
	for k, v := range d.received {
		out[k] = v
	}
	return out
}

func (d *Driver) forget(id string) {
	d.mu.Lock()
	delete(d.legs, id)
	d.mu.Unlock()
}
