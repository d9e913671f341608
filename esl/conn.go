package esl

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"time"

	"github.com/percipia/eslgo"
)

// errConnLost: the event socket went away (or stopped answering) while a
// command waited; its reply or job result will never come on it.
var errConnLost = errors.New("esl connection lost")

// errNotConnected: a command was sent while the driver had no event
// socket (before Run connected it, or while it reconnects).
var errNotConnected = errors.New("esl not connected")

// rawCmd is a command sent as it is (eslgo appends the blank line).
type rawCmd string

func (r rawCmd) BuildMessage() string { return string(r) }

// conn is one authenticated event socket. Commands go one at a time:
// eslgo hands a command/reply or api/response to whichever SendCommand
// happens to wait, so two commands in flight can swap replies. A command
// whose reply does not come in time poisons the socket (its late reply
// would be taken as the next command's): the socket is closed and Run
// opens a new one.
type conn struct {
	ec      *eslgo.Conn
	ctx     context.Context // eslgo's: ends when the connection is shut down
	relay   *relay
	timeout time.Duration
	log     *slog.Logger

	mu       sync.Mutex // held for a command's write and reply
	lost     chan struct{}
	lostOnce sync.Once
}

// fail closes the socket (once) and wakes everything waiting on it. Never
// eslgo's own Close: see relay.
func (c *conn) fail(why string) {
	c.lostOnce.Do(func() {
		c.log.Warn("event socket lost", "why", why)
		close(c.lost)
		c.relay.close()
	})
}

// close closes the socket without a warning: the driver is done with it.
func (c *conn) close() {
	c.lostOnce.Do(func() {
		close(c.lost)
		c.relay.close()
	})
}

// isLost reports whether the socket is gone.
func (c *conn) isLost() bool {
	select {
	case <-c.lost:
		return true
	default:
		return false
	}
}

// send writes one command and returns its reply (command/reply or
// api/response). Nothing is sent once ctx has ended: a stopping engine
// must send the PBX nothing more. The wait for the reply is bounded by the
// request timeout, not by ctx: abandoning a reply would desynchronise the
// socket.
func (c *conn) send(ctx context.Context, cmd string) (*eslgo.RawResponse, error) {
	if err := ctx.Err(); err != nil {
		return nil, fmt.Errorf("not sent: %w", err)
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.isLost() {
		return nil, errConnLost
	}
	wctx, cancel := context.WithTimeout(c.ctx, c.timeout)
	defer cancel()
	resp, err := c.ec.SendCommand(wctx, rawCmd(cmd))
	if err != nil {
		c.fail("no reply to " + firstWord(cmd) + ": " + err.Error())
		return nil, fmt.Errorf("%w: %w", errConnLost, err)
	}
	return resp, nil
}

func firstWord(cmd string) string {
	w, _, _ := strings.Cut(cmd, " ")
	return w
}

// eventNames are the events the driver subscribes to. CHANNEL_CREATE,
// _ORIGINATE and _PROGRESS only show that a rung leg exists (Ring's
// acceptance, abandoned legs).
var eventNames = []string{
	"CHANNEL_CREATE", "CHANNEL_ORIGINATE", "CHANNEL_PROGRESS", "CHANNEL_PARK", "CHANNEL_ANSWER",
	"CHANNEL_HANGUP", "CHANNEL_HANGUP_COMPLETE", "CHANNEL_EXECUTE_COMPLETE", "DTMF", "BACKGROUND_JOB",
}

// dial opens and authenticates an event socket, through a relay (see
// relay.go), bounded in time: eslgo's Dial has no timeout of its own.
func dial(ctx context.Context, addr, password string, timeout time.Duration, log *slog.Logger, onEvent eslgo.EventListener, forwarded func(uint64, time.Time)) (*conn, error) {
	cctx, cancel := context.WithCancel(ctx)
	r, err := dialRelay(ctx, addr, timeout, cancel, forwarded)
	if err != nil {
		cancel()
		return nil, fmt.Errorf("esl dial %s: %w", addr, err)
	}
	c := &conn{ctx: cctx, relay: r, timeout: timeout, log: log, lost: make(chan struct{})}
	io := eslgo.InboundOptions{
		Options:     eslgo.Options{Context: cctx, Logger: eslLogger{log}, ExitTimeout: timeout},
		Network:     "tcp",
		Password:    password,
		AuthTimeout: timeout,
	}
	type result struct {
		ec  *eslgo.Conn
		err error
	}
	got := make(chan result, 1)
	go func() {
		ec, err := io.Dial(r.addr())
		got <- result{ec, err}
	}()
	t := time.NewTimer(2 * timeout) // eslgo's own auth wait is timeout
	defer t.Stop()
	var res result
	select {
	case res = <-got:
	case <-t.C:
		err = fmt.Errorf("esl dial %s: no greeting in %v", addr, 2*timeout)
	case <-ctx.Done():
		err = fmt.Errorf("esl dial %s: %w", addr, ctx.Err())
	}
	if res.ec == nil && res.err == nil {
		// Given up while eslgo waits for FreeSWITCH's greeting, which it
		// would do forever: greet it, so that its Dial returns.
		if gerr := r.greetInstead(); gerr != nil {
			log.Debug("greet eslgo in FreeSWITCH's place", "err", gerr)
		}
		res = <-got
		if res.err == nil {
			res.err = err
		}
	}
	if res.err != nil {
		r.close()
		cancel()
		return nil, fmt.Errorf("esl dial %s: %w", addr, res.err)
	}
	c.ec = res.ec
	res.ec.RegisterEventListener(eslgo.EventListenAll, onEvent)
	go func() { // ends with the relay
		<-r.down
		c.fail("connection closed")
	}()
	return c, nil
}

// subscribe asks for the driver's events, in plain format (eslgo cannot
// read JSON ones), and sets the filters: FreeSWITCH filters are a whitelist
// (trace 01), so the socket gets the events of legs whose tandem_app is
// one of owners, every BACKGROUND_JOB (results of every client's jobs: the
// driver keeps its own by Job-UUID), and every DTMF: FreeSWITCH's DTMF
// events carry no channel variables (trace 06), so a tandem_app filter
// would drop them all; the driver keeps those of its legs.
func (c *conn) subscribe(ctx context.Context, owners []string) error {
	cmds := []string{"event plain " + strings.Join(eventNames, " "), "filter Event-Name BACKGROUND_JOB", "filter Event-Name DTMF"}
	for _, o := range owners {
		cmds = append(cmds, "filter variable_tandem_app "+o)
	}
	for _, cmd := range cmds {
		resp, err := c.send(ctx, cmd)
		if err != nil {
			return fmt.Errorf("esl %s: %w", cmd, err)
		}
		if !resp.IsOk() {
			return fmt.Errorf("esl %s: %s", cmd, resp.GetReply())
		}
	}
	return nil
}

// eslLogger sends eslgo's own messages to slog at debug level: it logs
// every authentication and every closed socket, which the driver already
// reports in its own words.
type eslLogger struct{ log *slog.Logger }

func (l eslLogger) Debug(f string, a ...any) {
	l.log.Debug("eslgo: " + strings.TrimSpace(fmt.Sprintf(f, a...)))
}
func (l eslLogger) Info(f string, a ...any) {
	l.log.Debug("eslgo: " + strings.TrimSpace(fmt.Sprintf(f, a...)))
}
func (l eslLogger) Warn(f string, a ...any) {
	l.log.Debug("eslgo: " + strings.TrimSpace(fmt.Sprintf(f, a...)))
}
func (l eslLogger) Error(f string, a ...any) {
	l.log.Debug("eslgo: " + strings.TrimSpace(fmt.Sprintf(f, a...)))
}
