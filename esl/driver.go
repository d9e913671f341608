// Package esl is Tandem's FreeSWITCH driver: it implements acd.PBX over
// FreeSWITCH's event socket (mod_event_socket) in inbound mode — Tandem
// dials FreeSWITCH — with the percipia/eslgo v1.5.0 client.
//
// What eslgo leaves to its user, and how the driver does it:
//   - Ordering. eslgo calls every event listener in a goroutine of its own,
//     and FreeSWITCH delivers some events out of Event-Sequence order, so
//     the driver holds events for a short window and releases them in
//     sequence order (reorder.go) to ONE delivery goroutine, and its per-leg
//     state ignores what is stale (translate.go).
//   - Replies. eslgo gives a reply to whichever SendCommand waits, so the
//     driver sends one command at a time per socket, every PBX action as
//     `bgapi` with its own short Job-UUID, and takes the result from the
//     BACKGROUND_JOB event (conn.go, jobs.go).
//   - Connections. eslgo neither bounds its dial nor reconnects: the driver
//     bounds the dial, pings the socket, and reconnects with jittered
//     backoff, re-reading the live channels each time (run.go, resync.go).
//
// Where FreeSWITCH has no counterpart of Asterisk's model the driver
// builds one: named mixing bridges are "virtual bridges" realised with
// uuid_bridge, park and three_way (bridges.go); ownership of a call is the
// tandem_app channel variable plus an ESL filter per owner (takeover.go).
package esl

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	"github.com/tandem-cc/tandem/acd"
)

// Options configure a Driver.
type Options struct {
	Addr     string // FreeSWITCH's event socket, host:port (8021)
	Password string // event_socket.conf.xml's password
	// App is the owner: the value of the tandem_app channel variable this
	// replica handles (the dialplan sets it on inbound calls, the driver on
	// every leg it rings). What Owner returns.
	App string
	// RequestTimeout bounds the dial, each command's reply and each job's
	// result. Default 5s.
	RequestTimeout time.Duration
	// AttachedVars, when set, are the channel variables kept as a call's
	// attached data (CallArrived.Vars); when empty, every variable is
	// (names lower-cased by eslgo's header parsing).
	AttachedVars []string
	// RecordingsDir is where FreeSWITCH writes recordings and finds
	// recorded media (a path on the FreeSWITCH host); RecordingFormat
	// their extension. Defaults /var/lib/freeswitch/recordings and wav.
	RecordingsDir   string
	RecordingFormat string
	// SoundsDir is the folder of prompts on the FreeSWITCH host; empty
	// (the default) sends relative names, which FreeSWITCH resolves
	// against the channel's sound_prefix (else its sounds_dir).
	// SoundFormat is their extension, default wav.
	SoundsDir   string
	SoundFormat string
	// ReorderWindow is how long events are held to restore their
	// Event-Sequence order. Default 20ms.
	ReorderWindow time.Duration
	// PingInterval is how often an idle socket is probed (`api status`);
	// a probe without a reply within RequestTimeout ends the socket (a
	// half-open connection would otherwise look quiet forever). Default 2s.
	PingInterval time.Duration
	// ReconnectBackoff and ReconnectBackoffMax bound the jittered, doubling
	// wait between two attempts to open the socket. Defaults 50ms and 2s.
	ReconnectBackoff    time.Duration
	ReconnectBackoffMax time.Duration
	Logger              *slog.Logger
}

// Driver implements acd.PBX for one FreeSWITCH and one owner.
type Driver struct {
	opts  Options
	log   *slog.Logger
	media mediaMapper

	mu         sync.Mutex
	legs       map[string]*leg       // legs this driver reports on
	ended      map[string]time.Time  // legs whose end was handled: later events are stale
	owners     map[string]*ownerUse  // owners taken over (Takeover), besides opts.App
	jobs       map[string]*job       // bgapi jobs waiting for their BACKGROUND_JOB
	playbacks  map[string]*playback  // StartMedia's playbacks not ended yet
	recordings map[string]*recording // by name
	bridges    map[string]*vbridge   // virtual bridges
	conn       *conn                 // the socket, nil while there is none
	run        *running              // set while Run runs
	connWait   chan struct{}         // closed (and replaced) when Run's socket is up
	endedAdds  int

	drain sync.Mutex // held while held events are released and translated: one drainer at a time
	bufMu sync.Mutex
	buf   *reorder
	wake  chan struct{}

	deliver   sync.Mutex     // one handler call at a time
	workers   sync.WaitGroup // goroutines Run owns (hang-ups, re-bridges, takeovers)
	connected atomic.Bool

	jobPrefix string
	jobSeq    atomic.Uint64
}

// running is what work started on Run's behalf needs: a context that ends
// with Run and its handler. (A context kept in a struct, on purpose: it is
// Run's lifetime.)
type running struct {
	ctx    context.Context
	handle func(acd.Event)
}

// leg is what the driver remembers about a channel.
type leg struct {
	owner string // its tandem_app
	agent bool   // rung by Tandem (Ring, or taken over with Takeover)
	stray bool   // reported as StrayArrived
	up    bool   // answered (agent legs)
	// seen: an event showed FreeSWITCH has the leg (read on arrival,
	// before reordering: Ring waits for it).
	seen   bool
	seenCh chan struct{} // closed when seen becomes true (Ring waits on it)
	// abandoned: Ring got no answer in time (acd.ErrRingUnknown); the leg
	// is hung up whenever it shows up, and its answer never reported.
	abandoned time.Time
	killed    bool   // a hang-up was sent since it was seen (abandoned legs)
	lastSeq   uint64 // highest Event-Sequence delivered for it
	bridge    string // the virtual bridge it is in, "" if none
}

// New returns a driver; Run connects it.
func New(opts Options) *Driver {
	if opts.Logger == nil {
		opts.Logger = slog.Default()
	}
	if opts.RequestTimeout <= 0 {
		opts.RequestTimeout = 5 * time.Second
	}
	if opts.RecordingsDir == "" {
		opts.RecordingsDir = "/var/lib/freeswitch/recordings"
	}
	if opts.RecordingFormat == "" {
		opts.RecordingFormat = "wav"
	}
	if opts.SoundFormat == "" {
		opts.SoundFormat = "wav"
	}
	if opts.ReorderWindow <= 0 {
		opts.ReorderWindow = 20 * time.Millisecond
	}
	if opts.PingInterval <= 0 {
		opts.PingInterval = 2 * time.Second
	}
	if opts.ReconnectBackoff <= 0 {
		opts.ReconnectBackoff = 50 * time.Millisecond
	}
	if opts.ReconnectBackoffMax <= 0 {
		opts.ReconnectBackoffMax = 2 * time.Second
	}
	opts.ReconnectBackoffMax = max(opts.ReconnectBackoffMax, opts.ReconnectBackoff)
	var r [4]byte
	_, _ = rand.Read(r[:])
	return &Driver{
		opts: opts,
		log:  opts.Logger.With("driver", "esl", "app", opts.App),
		media: mediaMapper{
			soundsDir: opts.SoundsDir, soundFormat: opts.SoundFormat,
			recordingsDir: opts.RecordingsDir, recFormat: opts.RecordingFormat,
		},
		legs: map[string]*leg{}, ended: map[string]time.Time{}, owners: map[string]*ownerUse{},
		jobs: map[string]*job{}, playbacks: map[string]*playback{}, recordings: map[string]*recording{},
		bridges: map[string]*vbridge{}, connWait: make(chan struct{}),
		buf: newReorder(opts.ReorderWindow), wake: make(chan struct{}, 1),
		// Job-UUIDs are short (FreeSWITCH truncates replies past ~235
		// characters) and unique across replicas: every client subscribed
		// to BACKGROUND_JOB receives every job's result.
		jobPrefix: "tj-" + hex.EncodeToString(r[:]) + "-",
	}
}

var _ acd.PBX = (*Driver)(nil)

// Owner returns the owner name: the tandem_app value of this replica's
// legs, which another replica passes to Takeover when this one dies.
func (d *Driver) Owner() string { return d.opts.App }

// Connected reports whether Run's event socket is up (and was re-read
// after a reconnect). False before the first socket, while reconnecting,
// and once Run returned. Safe from any goroutine: readiness probes read it.
func (d *Driver) Connected() bool { return d.connected.Load() }

// markConnected records that the socket is up and wakes waitConnected.
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

// endedTTL is how long an ended leg's later events are recognised as
// stale. FreeSWITCH sends a leg's last events within milliseconds; the
// bound only keeps the map small.
const endedTTL = 5 * time.Minute

// endLocked forgets a leg and remembers that it ended. d.mu must be held.
func (d *Driver) endLocked(id string) {
	delete(d.legs, id)
	now := time.Now()
	d.ended[id] = now
	d.endedAdds++
	if d.endedAdds%1024 == 0 {
		for k, at := range d.ended {
			if now.Sub(at) > endedTTL {
				delete(d.ended, k)
			}
		}
	}
}

// goAsync runs fn in a goroutine Run owns (it gets Run's context, and Run
// waits for it); nothing runs when Run does not.
func (d *Driver) goAsync(fn func(ctx context.Context)) {
	d.mu.Lock()
	r := d.run
	if r == nil || r.ctx.Err() != nil {
		d.mu.Unlock()
		return
	}
	d.workers.Add(1)
	d.mu.Unlock()
	go func() {
		defer d.workers.Done()
		fn(r.ctx)
	}()
}
