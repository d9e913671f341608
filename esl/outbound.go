package esl

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/textproto"
	"strings"
	"sync"
	"time"

	"github.com/percipia/eslgo"
	"github.com/percipia/eslgo/command"
	"github.com/percipia/eslgo/command/call"
)

// Outbound mode: the dialplan's `socket <replica> async full` connects a
// call to a replica, which takes it (sets tandem_app to its owner) and
// keeps the connection until the call hangs up. From then on the call is
// the replica's like any call parked in inbound mode: its events and every
// command go through the inbound event socket (Run); the outbound socket
// only holds the call in the socket application, so that FreeSWITCH's
// dialplan moves on to the next replica's `socket` action when this
// replica's connection ends before the call was taken anywhere.
//
// Why not eslgo's own outbound server: OutboundOptions.ListenAndServe
// makes its listener itself and never closes it (its Accept loop runs for
// the life of the process), and at a linger notice it calls its racy Close
// (relay.go). So ServeOutbound accepts the connections itself and hands
// each to eslgo through a relay that greets eslgo's Dial as an event
// socket would and keeps disconnect notices from it.

// ServeOutbound accepts FreeSWITCH's socket-application connections on ln
// until ctx ends, then closes ln and returns once every session it
// started has ended. A session runs only for this driver's owner: the
// process's own seat listens, hosted seats do not.
func (d *Driver) ServeOutbound(ctx context.Context, ln net.Listener) error {
	var sessions sync.WaitGroup
	defer sessions.Wait()
	stop := context.AfterFunc(ctx, func() { _ = ln.Close() })
	defer stop()
	d.log.Info("accepting outbound socket connections", "addr", ln.Addr().String())
	for {
		nc, err := ln.Accept()
		if err != nil {
			if ctx.Err() != nil {
				return nil
			}
			_ = ln.Close()
			return fmt.Errorf("esl outbound accept: %w", err)
		}
		sessions.Add(1)
		go func() {
			defer sessions.Done()
			if err := d.outboundSession(ctx, nc); err != nil {
				d.log.Warn("outbound socket session", "remote", nc.RemoteAddr().String(), "err", err)
			}
		}()
	}
}

// outboundSession runs one socket-application connection: connect, take
// the call unless another replica already did, linger, and at the linger
// notice (the call hung up) exit, which frees FreeSWITCH's session (a
// bare linger keeps it until then, trace 09). When ctx ends first the
// connection is closed without exit: to FreeSWITCH that is a replica gone,
// and its dialplan tries the next socket action if the call still waits
// in this one.
func (d *Driver) outboundSession(ctx context.Context, nc net.Conn) error {
	sctx, cancel := context.WithCancel(ctx)
	defer cancel()
	notices := make(chan string, 4)
	r, err := startRelay(nc, cancel, nil, notices)
	if err != nil {
		return fmt.Errorf("relay: %w", err)
	}
	defer r.close()
	ec, err := d.dialSession(sctx, r)
	if err != nil {
		return err
	}
	req := func(cmd command.Command) (*eslgo.RawResponse, error) {
		rctx, rcancel := context.WithTimeout(sctx, d.opts.RequestTimeout)
		defer rcancel()
		return ec.SendCommand(rctx, cmd)
	}
	data, err := req(command.Connect{})
	if err != nil {
		return fmt.Errorf("connect: %w", err)
	}
	uuid := data.GetHeader("Unique-ID")
	if !data.IsOk() || uuid == "" {
		return fmt.Errorf("connect: %q", data.GetReply())
	}
	log := d.log.With("leg", uuid)
	owner := data.GetHeader("variable_tandem_app")
	take := owner == ""
	var sets []string
	if take {
		sets = append(sets, "tandem_app="+d.opts.App, "park_after_bridge=true")
		if data.GetHeader("variable_tandem_inbound") == "" {
			sets = append(sets, "tandem_inbound=true")
		}
	}
	for _, kv := range sets {
		k, v, _ := strings.Cut(kv, "=")
		if err := okReply(req(&call.Set{UUID: uuid, Key: k, Value: v})); err != nil {
			return fmt.Errorf("set %s: %w", k, err)
		}
	}
	if err := okReply(req(command.Linger{Enabled: true})); err != nil {
		return fmt.Errorf("linger: %w", err)
	}
	if take {
		if err := okReply(req(&call.Execute{UUID: uuid, AppName: "park"})); err != nil {
			return fmt.Errorf("park: %w", err)
		}
		log.Info("outbound socket: call taken")
		d.outboundArrived(data.Headers)
	} else {
		// The call's owner took it through an earlier socket action and
		// died: its seat (hosted by a survivor, filtering on the owner)
		// keeps it. Holding the connection keeps the dialplan from running
		// on to a hang-up.
		log.Info("outbound socket: call already owned; holding it for its owner", "owner", owner)
	}
	select {
	case h := <-notices:
		if !strings.Contains(h, "Content-Disposition: linger") {
			return nil // FreeSWITCH ended the session: nothing to exit
		}
	case <-r.down:
		return nil
	case <-sctx.Done():
		return nil
	}
	// The call hung up. exit frees the session; FreeSWITCH answers +OK bye,
	// sends its final notice and closes.
	if err := okReply(req(command.Exit{})); err != nil {
		if sctx.Err() != nil {
			return nil // stopping: closing the socket ends the session too
		}
		return fmt.Errorf("exit: %w", err)
	}
	t := time.NewTimer(d.opts.RequestTimeout)
	defer t.Stop()
	select {
	case <-r.down:
	case <-t.C:
	case <-sctx.Done():
	}
	log.Debug("outbound socket: session ended")
	return nil
}

// dialSession has eslgo dial the relay, bounded by the request timeout.
func (d *Driver) dialSession(ctx context.Context, r *relay) (*eslgo.Conn, error) {
	io := eslgo.InboundOptions{
		Options:     eslgo.Options{Context: ctx, Logger: eslLogger{d.log}, ExitTimeout: d.opts.RequestTimeout},
		Network:     "tcp",
		Password:    "outbound", // the relay's greeting accepts any
		AuthTimeout: d.opts.RequestTimeout,
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
	res := <-got // the relay greets at once, or fails and closes (Dial then errs)
	if res.err != nil {
		return nil, fmt.Errorf("eslgo dial: %w", res.err)
	}
	return res.ec, nil
}

// outboundArrived reports a call taken through an outbound socket. The
// socket application parked the channel before the replica set
// tandem_app, and a later `execute park` completes at once with no new
// CHANNEL_PARK (trace 09), so the inbound socket never sees the park that
// reports arrivals in inbound mode: the connect reply (CHANNEL_DATA, the
// same headers as any channel event) stands in for it. Without a running
// Run nothing is delivered: its first re-read finds the parked call.
func (d *Driver) outboundArrived(h textproto.MIMEHeader) {
	d.mu.Lock()
	running := d.run != nil
	d.mu.Unlock()
	if !running {
		return
	}
	// The channel as the session left it: tandem_app is this owner, and
	// tandem_inbound true unless the dialplan had set it (else a stray).
	h = textproto.MIMEHeader(http.Header(h).Clone())
	h.Set("Event-Name", "CHANNEL_PARK")
	h.Del("Event-Sequence")
	h.Set("Variable_tandem_app", d.opts.App)
	if h.Get("Variable_tandem_inbound") == "" {
		h.Set("Variable_tandem_inbound", "true")
	}
	ev := fromESL(&eslgo.Event{Headers: h}, d.opts.AttachedVars)
	d.intake(ev, time.Now())
}

// okReply turns a command's reply into an error unless it is +OK.
func okReply(resp *eslgo.RawResponse, err error) error {
	if err != nil {
		return err
	}
	if !resp.IsOk() {
		return errors.New(strings.TrimSpace(resp.GetReply()))
	}
	return nil
}
