package eslsim

import (
	"context"
	crand "crypto/rand"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"net"
	"sort"
	"strconv"
	"sync"
	"time"

	"github.com/tandem-cc/tandem/pbxsim"
)

// Defaults of protocolOptions.
const (
	defaultReorder  = 0.08
	defaultMaxQueue = 64 << 20 // bytes queued on one connection before it is dropped
	unauthTimeout   = 25 * time.Second
	heartbeatEvery  = 20 * time.Second
)

// protocolOptions configures the protocol half.
type protocolOptions struct {
	Password string
	Logger   *slog.Logger
	// Clock runs the 25 s unauthenticated close, the 20 s HEARTBEAT and
	// `linger N`; nil is the wall clock.
	Clock pbxsim.Clock
	// Reorder is the fraction of events delivered one position late on a
	// connection (0 = the default 0.08, as FreeSWITCH does under load;
	// negative = never).
	Reorder float64
	// Seed seeds the reordering choice (0 = random).
	Seed uint64
	// MaxQueueBytes bounds what may wait to be written on one connection
	// (0 = 64 MiB); a connection over it is closed.
	MaxQueueBytes int
	// Stamp appends the core headers FreeSWITCH puts on every event it
	// creates (Core-UUID, FreeSWITCH-Hostname/-Switchname/-IPv4/-IPv6,
	// Event-Date-Local/-GMT/-Timestamp, Event-Calling-File/-Function/
	// -Line-Number, Event-Sequence) to the events the protocol creates
	// itself (sendevent, BACKGROUND_JOB, API, HEARTBEAT). The switch passes
	// its own so Event-Sequence is global; nil = a private stamper.
	Stamp func(ev *Event, file, function string, line int)
}

// protocol is the event-socket half of the simulator: listeners,
// connections, subscriptions and delivery.
type protocol struct {
	sb    switchboard
	o     protocolOptions
	log   *slog.Logger
	clock pbxsim.Clock
	ctx   context.Context
	stop  context.CancelFunc
	wg    sync.WaitGroup

	mu    sync.Mutex
	conns map[*conn]struct{}
	hb    pbxsim.Timer
	rnd   *rand.Rand
	start time.Time
}

type wallClock struct{}

func (wallClock) Now() time.Time { return time.Now() }
func (wallClock) AfterFunc(d time.Duration, f func()) pbxsim.Timer {
	return time.AfterFunc(d, f)
}

func newProtocol(sb switchboard, o protocolOptions) *protocol {
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	if o.Clock == nil {
		o.Clock = wallClock{}
	}
	if o.Reorder == 0 {
		o.Reorder = defaultReorder
	}
	if o.MaxQueueBytes == 0 {
		o.MaxQueueBytes = defaultMaxQueue
	}
	if o.Seed == 0 {
		o.Seed = rand.Uint64()
	}
	if o.Stamp == nil {
		o.Stamp = newStamper(o.Clock).stamp
	}
	ctx, stop := context.WithCancel(context.Background())
	p := &protocol{sb: sb, o: o, log: o.Logger, clock: o.Clock, ctx: ctx, stop: stop,
		conns: map[*conn]struct{}{}, rnd: rand.New(rand.NewPCG(o.Seed, o.Seed^0x9e3779b97f4a7c15)),
		start: o.Clock.Now()}
	p.mu.Lock()
	p.hb = p.clock.AfterFunc(heartbeatEvery, p.heartbeat)
	p.mu.Unlock()
	return p
}

// close ends every connection and timer and waits for the goroutines.
func (p *protocol) close() {
	p.stop()
	p.mu.Lock()
	if p.hb != nil {
		p.hb.Stop()
		p.hb = nil
	}
	conns := p.liveLocked()
	p.mu.Unlock()
	for _, c := range conns {
		c.shut()
	}
	p.wg.Wait()
}

func (p *protocol) liveLocked() []*conn {
	out := make([]*conn, 0, len(p.conns))
	for c := range p.conns {
		out = append(out, c)
	}
	return out
}

func (p *protocol) live() []*conn {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.liveLocked()
}

func (p *protocol) reorderNow() bool {
	if p.o.Reorder < 0 {
		return false
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.rnd.Float64() < p.o.Reorder
}

// publish delivers ev to every connection that wants it. The switch calls
// it for every event; it only encodes and appends to per-connection queues
// (never blocks on a socket) and never calls the switchboard.
func (p *protocol) publish(ev Event) {
	var cache [3]string
	var done [3]bool
	for _, c := range p.live() {
		format, ok := c.wants(&ev)
		if !ok {
			continue
		}
		i := map[string]int{formatPlain: 0, formatJSON: 1, formatXML: 2}[format]
		if !done[i] {
			cache[i] = serialize(&ev, format)
			done[i] = true
		}
		c.q.event(eventFrame(contentTypeOf(format), cache[i]), p.reorderNow())
	}
}

func (p *protocol) heartbeat() {
	p.mu.Lock()
	if p.hb == nil {
		p.mu.Unlock()
		return
	}
	p.hb = p.clock.AfterFunc(heartbeatEvery, p.heartbeat)
	p.mu.Unlock()
	up := p.clock.Now().Sub(p.start)
	ev := Event{Headers: []Header{{Name: "Event-Name", Value: "HEARTBEAT"}}}
	p.o.Stamp(&ev, "switch_core.c", "send_heartbeat", 95)
	ev.Headers = append(ev.Headers,
		Header{Name: "Event-Info", Value: "System Ready"},
		Header{Name: "Up-Time", Value: upTime(up)},
		Header{Name: "FreeSWITCH-Version", Value: "1.10.12-release~64bit"},
		Header{Name: "Uptime-msec", Value: strconv.FormatInt(up.Milliseconds(), 10)},
		Header{Name: "Session-Count", Value: "0"},
		Header{Name: "Max-Sessions", Value: "4000"},
		Header{Name: "Session-Per-Sec", Value: "500"},
		Header{Name: "Session-Per-Sec-Last", Value: "0"},
		Header{Name: "Session-Per-Sec-Max", Value: "0"},
		Header{Name: "Session-Per-Sec-FiveMin", Value: "0"},
		Header{Name: "Session-Since-Startup", Value: "0"},
		Header{Name: "Session-Peak-Max", Value: "0"},
		Header{Name: "Session-Peak-FiveMin", Value: "0"},
		Header{Name: "Idle-CPU", Value: "95.000000"},
	)
	p.publish(ev)
}

// serve accepts inbound event-socket connections on ln until ctx ends.
func (p *protocol) serve(ctx context.Context, ln net.Listener) error {
	stop := context.AfterFunc(ctx, func() { _ = ln.Close() })
	defer stop()
	for {
		nc, err := ln.Accept()
		if err != nil {
			if ctx.Err() != nil || p.ctx.Err() != nil {
				return nil
			}
			return fmt.Errorf("eslsim: accepting: %w", err)
		}
		p.startConn(ctx, nc, false, "")
	}
}

// dialSocket opens the socket application's connection to addr.
func (p *protocol) dialSocket(ctx context.Context, addr string) (net.Conn, error) {
	var d net.Dialer
	nc, err := d.DialContext(ctx, "tcp", addr)
	if err != nil {
		return nil, fmt.Errorf("eslsim: socket %s: %w", addr, err)
	}
	return nc, nil
}

// dialOutbound is the dialplan's `socket <addr> async full` for channel
// uuid: it connects to the first address that accepts (the next on
// failure). Nothing is sent until the client's `connect`.
func (p *protocol) dialOutbound(ctx context.Context, addrs []string, uuid string) error {
	var errs []error
	var d net.Dialer
	for _, a := range addrs {
		nc, err := d.DialContext(ctx, "tcp", a)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		p.startConn(p.ctx, nc, true, uuid)
		return nil
	}
	return fmt.Errorf("eslsim: socket for %s: no address accepted: %w", uuid, errors.Join(errs...))
}

// channelHungUp tells the outbound connections controlling uuid that their
// channel hung up. The switch calls it after publishing the channel's
// CHANNEL_HANGUP_COMPLETE (and the socket application's
// CHANNEL_EXECUTE_COMPLETE): a lingering connection gets the linger notice
// (and, after `linger N`, the final notice and close N seconds later);
// otherwise the final notice and close follow at once.
func (p *protocol) channelHungUp(uuid string) {
	for _, c := range p.live() {
		if c.outbound && c.uuid == uuid {
			c.hungUp()
		}
	}
}

// owners lists the owners named by `filter variable_tandem_app <owner>`
// on live connections, sorted, for the switch's round robin.
func (p *protocol) owners() []string {
	set := map[string]bool{}
	for _, c := range p.live() {
		for _, o := range c.owners() {
			set[o] = true
		}
	}
	out := make([]string, 0, len(set))
	for o := range set {
		out = append(out, o)
	}
	sort.Strings(out)
	return out
}

func (p *protocol) byOwner(owner string) []*conn {
	var out []*conn
	for _, c := range p.live() {
		for _, o := range c.owners() {
			if o == owner {
				out = append(out, c)
				break
			}
		}
	}
	return out
}

// dropConnections cuts the TCP connections that filter on owner.
func (p *protocol) dropConnections(owner string) {
	for _, c := range p.byOwner(owner) {
		c.shut()
	}
}

// freezeConnections makes the connections that filter on owner half-open:
// they stay open but nothing is read from or written to them any more.
func (p *protocol) freezeConnections(owner string) {
	for _, c := range p.byOwner(owner) {
		c.freeze()
	}
}

// newUUID returns a random version-4 UUID.
func newUUID() string {
	var b [16]byte
	_, _ = crand.Read(b[:])
	b[6] = b[6]&0x0f | 0x40
	b[8] = b[8]&0x3f | 0x80
	return fmt.Sprintf("%x-%x-%x-%x-%x", b[0:4], b[4:6], b[6:8], b[8:10], b[10:])
}
