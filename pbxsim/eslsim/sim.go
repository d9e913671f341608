package eslsim

import (
	"context"
	"log/slog"
	"math/rand/v2"
	"sync"
	"sync/atomic"
	"time"

	"github.com/tandem-cc/tandem/pbxsim"
)

// Options configures a simulated FreeSWITCH.
type Options struct {
	// Password is what `auth` must carry.
	Password string
	Logger   *slog.Logger
	// Timing holds the scripted delays (pbxsim's, with the same defaults).
	// Timing.Second is how long one FreeSWITCH second lasts: originate_timeout
	// counts in it.
	Timing pbxsim.Timing
	// Clock runs the scripted delays; nil is the wall clock.
	Clock pbxsim.Clock
	// Reorder is the fraction of events handed to the protocol out of
	// Event-Sequence order (two neighbours swapped), as FreeSWITCH delivers
	// about 8 % of them (trace 11). 0 means the default 0.08; negative never.
	Reorder float64
	// Outbound, when set, makes Call hand each call to the socket
	// application at these addresses (the next one if a connect fails)
	// instead of parking it.
	Outbound []string
	// SoundsDir, when set, is where playback looks for relative file names,
	// and a file missing on disk plays as FILE NOT FOUND. Empty: every file
	// exists (except recordings never made, which are not checked).
	SoundsDir string
	// TableDelay is how long a new channel stays out of `show channels`
	// (FreeSWITCH updates its channel table asynchronously, trace 02);
	// default 50ms of clock time.
	TableDelay time.Duration
	// BeforeAPI, when set, is called with each api command (and each
	// bgapi job's command) just before the switch runs it, outside the
	// simulator's lock: a test makes a party act at an exact point of a
	// client's exchange with it (hang a leg up between two commands), as
	// a loaded machine may, without relying on load.
	BeforeAPI func(cmd, arg string)

	// observe, for this package's tests, sees every published event.
	observe func(Event)
}

// Sim is one simulated FreeSWITCH: the switch (channels and scripted
// parties) behind the event-socket protocol.
type Sim struct {
	opts   Options
	clock  pbxsim.Clock
	timing pbxsim.Timing
	log    *slog.Logger
	proto  *protocol

	mu         sync.Mutex
	closed     bool
	coreUUID   string
	seq        atomic.Uint64 // Event-Sequence, one counter for every event
	sessionID  int
	chanSeq    int
	channels   map[string]*channel
	gone       map[string]*channel
	phones     map[string]pbxsim.Phone
	rr         int
	stats      pbxsim.Stats
	originates []pbxsim.Originate
	media      map[string][]pbxsim.MediaEntry
	recorded   map[string]bool // files uuid_record finished
	timers     map[*simTimer]struct{}
	rnd        *rand.Rand

	// out is the ordered queue the emitter drains into proto.publish.
	out     []emitItem
	outCond *sync.Cond

	ctx    context.Context
	cancel context.CancelFunc
	wg     sync.WaitGroup
}

// outItem is an event to publish, or a function to run at that point of
// the stream (after the events before it were published).
type emitItem struct {
	ev *Event
	fn func()
}

// New creates a simulator and starts its event emitter.
func New(opts Options) *Sim {
	log := opts.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	clock := opts.Clock
	if clock == nil {
		clock = wallClock{}
	}
	if opts.Reorder == 0 {
		opts.Reorder = 0.08
	}
	if opts.TableDelay <= 0 {
		opts.TableDelay = 50 * time.Millisecond
	}
	ctx, cancel := context.WithCancel(context.Background())
	now := time.Now()
	s := &Sim{
		opts:      opts,
		clock:     clock,
		timing:    withDefaults(opts.Timing),
		log:       log.With("component", "eslsim"),
		coreUUID:  randomUUID(rand.New(rand.NewPCG(uint64(now.UnixNano()), 1))),
		sessionID: 0,
		channels:  map[string]*channel{},
		gone:      map[string]*channel{},
		phones:    map[string]pbxsim.Phone{},
		stats:     pbxsim.Stats{OriginatesByEndpoint: map[string]int{}},
		media:     map[string][]pbxsim.MediaEntry{},
		recorded:  map[string]bool{},
		timers:    map[*simTimer]struct{}{},
		rnd:       rand.New(rand.NewPCG(uint64(now.UnixNano()), 2)),
		ctx:       ctx,
		cancel:    cancel,
	}
	s.outCond = sync.NewCond(&s.mu)
	s.seq.Store(1000)
	// Reordering is the protocol's, per connection, as FreeSWITCH's
	// delivery is; the emitter keeps generation order.
	s.proto = newProtocol(s, protocolOptions{Password: opts.Password, Logger: log, Clock: clock, Reorder: opts.Reorder, Stamp: s.stamp})
	s.wg.Add(1)
	go s.emitter()
	return s
}

// Close stops every timer and the emitter and waits for them.
func (s *Sim) Close() {
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		return
	}
	s.closed = true
	for t := range s.timers {
		s.cancelTimer(t)
	}
	s.outCond.Broadcast()
	s.mu.Unlock()
	s.cancel()
	s.wg.Wait()
	s.proto.close()
}

// emitter publishes queued events in generation order, so every connection
// sees them in that order, apart from the deliberate neighbour swaps that
// model FreeSWITCH's out-of-order delivery.
func (s *Sim) emitter() {
	defer s.wg.Done()
	for {
		s.mu.Lock()
		for len(s.out) == 0 && !s.closed {
			s.outCond.Wait()
		}
		if len(s.out) == 0 {
			s.mu.Unlock()
			return
		}
		batch := s.out
		s.out = nil
		s.mu.Unlock()
		for _, it := range batch {
			if it.ev != nil {
				if s.opts.observe != nil {
					s.opts.observe(*it.ev)
				}
				s.proto.publish(*it.ev)
			} else {
				it.fn()
			}
		}
	}
}

// queue appends an event to the emitter's queue. Callers hold s.mu.
func (s *Sim) queue(ev Event) {
	s.out = append(s.out, emitItem{ev: &ev})
	s.outCond.Signal()
}

// queueFunc runs fn (without s.mu) once the events queued before it are
// published. Callers hold s.mu.
func (s *Sim) queueFunc(fn func()) {
	s.out = append(s.out, emitItem{fn: fn})
	s.outCond.Signal()
}

func withDefaults(t pbxsim.Timing) pbxsim.Timing {
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

// simTimer is a scripted delay, owned by a channel when it has one (the
// channel's hangup cancels it).
type simTimer struct {
	t       pbxsim.Timer
	stopped bool
}

// after runs fn under s.mu after d unless the simulator closes or the
// timer is cancelled. Callers hold s.mu.
func (s *Sim) after(d time.Duration, owner *channel, fn func()) *simTimer {
	st := &simTimer{}
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

// cancelTimer stops a timer. Callers hold s.mu.
func (s *Sim) cancelTimer(st *simTimer) {
	if st == nil || st.stopped {
		return
	}
	st.stopped = true
	delete(s.timers, st)
	if st.t.Stop() {
		s.wg.Done()
	}
}

// newUUID returns a random version-4 UUID. Callers hold s.mu.
func (s *Sim) newUUID() string { return randomUUID(s.rnd) }

func randomUUID(r *rand.Rand) string {
	a, b := r.Uint64(), r.Uint64()
	return fmtUUID(a, b)
}
