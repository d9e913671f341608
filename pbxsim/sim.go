// Package pbxsim is an in-process Asterisk simulator that speaks the subset of
// ARI (REST under /ari/ plus the /ari/events WebSocket) that Tandem uses. It is
// built to be indistinguishable from Asterisk 22 for the unmodified ari/v5
// native client, and to be no more forgiving than the real server: behaviour
// follows the wire traces in shared/ari-traces (see DIVERGENCES.md for the
// known gaps).
//
// One mutex guards the whole simulated world. Every state change and every
// event it causes happens under that lock, and events are appended to per-
// socket queues in emission order, so the events of a call always reach a
// client in causal order.
package pbxsim

import (
	"fmt"
	"log/slog"
	"sync"
	"time"
)

// Options configures a simulator.
type Options struct {
	Username string
	Password string
	// EntityID is reported as asterisk_id in events and system.entity_id in
	// /asterisk/info.
	EntityID string
	// SystemName, like Asterisk's asterisk.conf systemname, prefixes every
	// channel id (<name>-<epoch>.<n>), so that two Asterisks behind one
	// Tandem never hand out the same id. "" keeps bare epoch.sequence ids.
	SystemName string
	Logger     *slog.Logger
	// Timing holds every scripted delay; zero fields take the defaults.
	Timing Timing
	// Clock runs the scripted delays; nil is the wall clock. A test that
	// replays a recorded timeline passes a clock it advances itself, so
	// the simulator's timers keep their place among its requests however
	// slowly the machine runs them.
	Clock Clock
}

// Clock is the time the simulator's scripted delays count in.
type Clock interface {
	Now() time.Time
	// AfterFunc runs f in its own goroutine (or the caller advancing the
	// clock) once d has passed, unless the Timer is stopped first.
	AfterFunc(d time.Duration, f func()) Timer
}

// Timer is a pending AfterFunc; Stop reports whether it stopped f from
// running.
type Timer interface{ Stop() bool }

type wallClock struct{}

func (wallClock) Now() time.Time { return time.Now() }
func (wallClock) AfterFunc(d time.Duration, f func()) Timer {
	return time.AfterFunc(d, f)
}

// Timing holds the simulator's scripted delays. Real Asterisk takes these from
// sound-file lengths and dialplan; tests want them short and adjustable.
type Timing struct {
	// Second is how long one second of ARI and dialplan time lasts: the
	// originate and dial timeouts and the lab dialplan's Wait(${RING_SECS})
	// and Busy(5) count in it (default 1s). Trace replays run faster with a
	// smaller value.
	Second time.Duration
	// Playback is how long one media item plays (default 300ms).
	Playback time.Duration
	// Unreachable is how long an unreachable phone takes to fail (default 20ms).
	Unreachable time.Duration
	// BusyTone is how long [sim-agent-busy] plays Busy() before Hangup(17),
	// Busy(5) in the lab dialplan (default 5 Seconds).
	BusyTone time.Duration
	// AnswerSettle is the shortest time a scripted phone takes to answer,
	// report busy or reject, even with RingFor 0 (default 20ms).
	AnswerSettle time.Duration
	// StasisFail is how long a channel sent to an inactive app lingers before
	// it is torn down (default 5ms).
	StasisFail time.Duration
	// DTMFGap is the time between two digits a scripted caller presses
	// (default 50ms).
	DTMFGap time.Duration
}

func (t Timing) withDefaults() Timing {
	def := func(d *time.Duration, v time.Duration) {
		if *d <= 0 {
			*d = v
		}
	}
	def(&t.Second, time.Second)
	def(&t.Playback, 300*time.Millisecond)
	def(&t.Unreachable, 20*time.Millisecond)
	def(&t.BusyTone, 5*t.Second)
	def(&t.AnswerSettle, 20*time.Millisecond)
	def(&t.StasisFail, 5*time.Millisecond)
	def(&t.DTMFGap, 50*time.Millisecond)
	return t
}

// Sim is one simulated Asterisk. Create it with New, serve Handler, and Close
// it when done.
type Sim struct {
	opts   Options
	clock  Clock
	timing Timing
	log    *slog.Logger

	mu        sync.Mutex
	closed    bool
	epoch     int64
	uniqSeq   int // the ".1714" part of channel ids
	localSeq  int // the "-00000354" part of channel names
	channels  map[string]*channel
	origins   originIndex         // who countOriginate checks (origindex.go)
	gone      map[string]*channel // hung-up channels, kept for Channel() views
	bridges   map[string]*bridge
	playbacks map[string]*playback
	liveRecs  map[string]*recording
	stored    map[string]string // stored recording name → format
	apps      map[string]*app
	phones    map[string]Phone
	rr        int
	stats     Stats
	// originates records what every accepted originate carried (Originates).
	originates []Originate
	media      map[string][]MediaEntry
	timers     map[*simTimer]struct{}
	sockets    map[*socket]struct{}

	wg sync.WaitGroup // socket goroutines and running timer callbacks
}

// New creates a simulator.
func New(opts Options) *Sim {
	if opts.EntityID == "" {
		opts.EntityID = "02:42:ac:11:00:02"
	}
	log := opts.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	if opts.Clock == nil {
		opts.Clock = wallClock{}
	}
	now := time.Now()
	return &Sim{
		opts:      opts,
		clock:     opts.Clock,
		timing:    opts.Timing.withDefaults(),
		log:       log.With("component", "pbxsim"),
		epoch:     now.Unix(),
		uniqSeq:   int(now.UnixNano()/1e6) % 1000,
		channels:  map[string]*channel{},
		gone:      map[string]*channel{},
		bridges:   map[string]*bridge{},
		playbacks: map[string]*playback{},
		liveRecs:  map[string]*recording{},
		stored:    map[string]string{},
		apps:      map[string]*app{},
		phones:    map[string]Phone{},
		stats:     Stats{OriginatesByEndpoint: map[string]int{}},
		media:     map[string][]MediaEntry{},
		timers:    map[*simTimer]struct{}{},
		sockets:   map[*socket]struct{}{},
	}
}

// Close stops every timer and closes every WebSocket. It waits for the
// simulator's goroutines to end. The Handler answers 503 afterwards.
func (s *Sim) Close() {
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		return
	}
	s.closed = true
	for t := range s.timers {
		s.cancel(t)
	}
	for so := range s.sockets {
		so.drop()
	}
	s.mu.Unlock()
	s.wg.Wait()
}

// simTimer is a scripted delay owned by the simulator (and optionally by a
// channel, which cancels it when it is destroyed).
type simTimer struct {
	t       Timer
	stopped bool
	owner   *channel
}

// after runs fn under the world lock after d, unless the simulator is closed
// or the timer is cancelled first. Callers hold s.mu.
func (s *Sim) after(d time.Duration, owner *channel, fn func()) *simTimer {
	st := &simTimer{owner: owner}
	s.timers[st] = struct{}{}
	if owner != nil {
		owner.timers = append(owner.timers, st)
	}
	s.wg.Add(1)
	st.t = s.clock.AfterFunc(d, func() {
		defer s.wg.Done()
		s.mu.Lock()
		defer s.mu.Unlock()
		if s.closed || st.stopped {
			return
		}
		st.stopped = true
		delete(s.timers, st)
		fn()
	})
	return st
}

// cancel stops a timer. Callers hold s.mu.
func (s *Sim) cancel(st *simTimer) {
	if st == nil || st.stopped {
		return
	}
	st.stopped = true
	delete(s.timers, st)
	if st.t.Stop() {
		// The callback will never run, so release its WaitGroup slot.
		s.wg.Done()
	}
}

// newUniqueID returns an Asterisk-style channel id, epoch.sequence, after
// the system name if one is set.
func (s *Sim) newUniqueID() string {
	s.uniqSeq++
	if s.opts.SystemName != "" {
		return fmt.Sprintf("%s-%d.%d", s.opts.SystemName, time.Now().Unix(), s.uniqSeq)
	}
	return fmt.Sprintf("%d.%d", time.Now().Unix(), s.uniqSeq)
}

// newLocalSuffix returns the 8-hex-digit suffix Asterisk gives Local, PJSIP
// and Announcer channel names.
func (s *Sim) newLocalSuffix() string {
	s.localSeq++
	return fmt.Sprintf("%08x", s.localSeq)
}

// newUUID returns a random-looking UUID for server-chosen playback and bridge
// ids (Asterisk uses UUIDs for those).
func (s *Sim) newUUID() string {
	s.uniqSeq++
	n := time.Now().UnixNano()
	return fmt.Sprintf("%08x-%04x-4%03x-a%03x-%012x", uint32(n), uint16(n>>32), s.uniqSeq&0xfff, (n>>20)&0xfff, uint64(n)&0xffffffffffff^uint64(s.uniqSeq))
}

// tsFormat is the ARI timestamp format: millisecond precision, +0000 offset.
const tsFormat = "2006-01-02T15:04:05.000-0700"

func ts(t time.Time) string { return t.UTC().Format(tsFormat) }
