package esl

import (
	"context"
	"errors"
	"math/rand/v2"
	"sync"
	"time"

	"github.com/tandem-cc/tandem/acd"
)

// Run connects to FreeSWITCH and delivers its events to handle, in order
// per leg and one at a time, until ctx ends. When the socket drops (or
// stops answering its pings) it reconnects with jittered backoff. Once the
// first socket is up, and after every reconnect, it re-reads the live
// channels and reports them (acd.Resynced; Initial on the first), because
// FreeSWITCH never replays the events a lost socket missed; calls that
// parked meanwhile are reported then (resync.go). Run returns nil when
// ctx ends; every goroutine it started has ended by then.
func (d *Driver) Run(ctx context.Context, handle func(acd.Event)) error {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	handle = d.serialised(handle)
	d.mu.Lock()
	if d.run != nil {
		d.mu.Unlock()
		return errors.New("esl run: already running")
	}
	d.run = &running{ctx: ctx, handle: handle}
	d.mu.Unlock()
	d.forgetEarlierArrivals()

	var loop sync.WaitGroup
	loop.Add(1)
	go func() {
		defer loop.Done()
		d.deliverLoop(ctx, handle)
	}()
	defer func() {
		d.mu.Lock()
		d.run = nil
		c := d.conn
		d.conn = nil
		d.mu.Unlock()
		d.connected.Store(false)
		if c != nil {
			c.close()
		}
		cancel()
		loop.Wait()
		d.workers.Wait()
		d.bufMu.Lock()
		d.buf = newReorder(d.opts.ReorderWindow) // a later Run starts from a new socket
		d.bufMu.Unlock()
	}()

	bo := d.backoff()
	initial := true
	for ctx.Err() == nil {
		c, err := d.connect(ctx)
		if err != nil {
			if ctx.Err() != nil {
				break
			}
			wait := bo.next()
			d.log.Warn("event socket connect failed", "err", err, "retry_in", wait)
			sleep(ctx, wait)
			continue
		}
		if initial {
			d.log.Info("event socket connected", "addr", d.opts.Addr)
		} else {
			d.log.Warn("event socket reconnected; events may have been lost, re-reading channels")
		}
		if err := d.resync(ctx, handle, initial); err != nil {
			d.log.Error("re-read the channels", "initial", initial, "err", err)
			c.fail("re-read failed")
		} else {
			initial = false // Initial is said once, when it was delivered
			bo.reset()
			d.markConnected()
			d.keepalive(ctx, c)
		}
		d.connected.Store(false)
		d.dropConn(c)
		if ctx.Err() != nil {
			break // the engine stops: nothing more is delivered
		}
		d.flushHeld(handle)
		wait := bo.next()
		d.log.Info("event socket reconnecting", "in", wait)
		sleep(ctx, wait)
	}
	return nil
}

// connect opens, authenticates and subscribes a socket for the driver's
// owners, and makes it the one commands go through.
func (d *Driver) connect(ctx context.Context) (*conn, error) {
	c, err := dial(ctx, d.opts.Addr, d.opts.Password, d.opts.RequestTimeout, d.log, d.onEvent, d.forwarded)
	if err != nil {
		return nil, err
	}
	d.mu.Lock()
	owners := []string{d.opts.App}
	for o := range d.owners {
		owners = append(owners, o)
	}
	d.conn = c
	d.mu.Unlock()
	if err := c.subscribe(ctx, owners); err != nil {
		d.dropConn(c)
		return nil, err
	}
	return c, nil
}

// dropConn closes c and forgets it and the ring jobs whose results it
// would have brought (they go only to connected sockets; the re-read
// tells what became of those legs).
func (d *Driver) dropConn(c *conn) {
	c.close()
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.conn == c {
		d.conn = nil
	}
	for id, j := range d.jobs {
		if j.ringLeg != "" {
			delete(d.jobs, id)
		}
	}
}

// keepalive probes the socket every PingInterval until it is lost or ctx
// ends. A probe unanswered within the request timeout fails the socket
// (conn.send): a half-open TCP connection delivers nothing and reports no
// error, so silence alone would never end it.
func (d *Driver) keepalive(ctx context.Context, c *conn) {
	t := time.NewTicker(d.opts.PingInterval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-c.lost:
			return
		case <-t.C:
		}
		if _, err := c.send(ctx, "api status"); err != nil {
			return
		}
	}
}

// serialised wraps handle so that its calls never overlap: the delivery
// goroutine, Run's re-reads and work done for Run all report through it.
func (d *Driver) serialised(handle func(acd.Event)) func(acd.Event) {
	return func(ev acd.Event) {
		d.deliver.Lock()
		defer d.deliver.Unlock()
		handle(ev)
	}
}

// forgetEarlierArrivals forgets the callers an earlier Run reported: a new
// Run serves a new engine (the seat's next term), which knows only what
// Redis has, so the first re-read reports them again. Legs Tandem rang
// stay: their events are needed whoever rebuilds the call.
func (d *Driver) forgetEarlierArrivals() {
	d.mu.Lock()
	defer d.mu.Unlock()
	for id, l := range d.legs {
		if !l.agent {
			delete(d.legs, id)
		}
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

// backoff is the wait between two attempts to open the socket: it doubles
// from ReconnectBackoff up to ReconnectBackoffMax, each wait a random
// 50–100 % of it, so replicas that lost FreeSWITCH together do not all
// come back in the same millisecond.
type backoff struct {
	min, max, cur time.Duration
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
