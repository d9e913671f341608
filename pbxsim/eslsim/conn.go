package eslsim

import (
	"bufio"
	"context"
	"errors"
	"io"
	"net"
	"strconv"
	"strings"
	"sync"
	"time"
)

// conn is one event-socket connection, inbound (a client connected to us)
// or outbound (we connected for the socket application). A reader
// goroutine runs its commands one at a time; a writer goroutine writes
// its queue.
type conn struct {
	p        *protocol
	nc       net.Conn
	q        *outq
	outbound bool
	uuid     string // the controlled channel (outbound)
	ctx      context.Context
	cancel   context.CancelFunc
	closeMu  sync.Once

	mu       sync.Mutex
	authed   bool
	sub      subscription
	myevents bool
	linger   int // 0 none, -1 bare linger, N seconds
	logLevel int // 0 = not logging
	frozen   bool
	ended    bool // outbound: the channel hung up
}

func (p *protocol) startConn(parent context.Context, nc net.Conn, outbound bool, uuid string) {
	ctx, cancel := context.WithCancel(parent)
	c := &conn{p: p, nc: nc, outbound: outbound, uuid: uuid, ctx: ctx, cancel: cancel, authed: outbound}
	c.sub.format = formatPlain
	c.q = newOutq(p.o.MaxQueueBytes, func() {
		p.log.Warn("eslsim: connection dropped: output queue full", "remote", nc.RemoteAddr())
		c.shut()
	})
	p.mu.Lock()
	if p.ctx.Err() != nil {
		p.mu.Unlock()
		_ = nc.Close()
		cancel()
		return
	}
	p.conns[c] = struct{}{}
	p.wg.Add(2)
	p.mu.Unlock()
	context.AfterFunc(ctx, func() {
		_ = nc.Close()
		if outbound && p.ctx.Err() == nil {
			p.sb.socketClosed(uuid) // AfterFunc's own goroutine: no lock of a caller held
		}
	})
	go c.writeLoop()
	go c.readLoop()
	if !outbound {
		c.q.reply([]byte("Content-Type: auth/request\n\n"), false)
		// A connection that never authenticates is closed after 25 s.
		t := p.clock.AfterFunc(unauthTimeout, func() {
			c.mu.Lock()
			authed := c.authed
			c.mu.Unlock()
			if !authed {
				c.q.reply(disconnectFrame(), true)
			}
		})
		context.AfterFunc(ctx, func() { t.Stop() })
	}
}

// shut closes the connection at once.
func (c *conn) shut() {
	c.closeMu.Do(func() {
		c.p.mu.Lock()
		delete(c.p.conns, c)
		c.p.mu.Unlock()
		c.cancel()
	})
}

func (c *conn) freeze() {
	c.mu.Lock()
	c.frozen = true
	c.mu.Unlock()
	c.q.freeze()
}

func (c *conn) owners() []string {
	c.mu.Lock()
	defer c.mu.Unlock()
	var out []string
	for _, f := range c.sub.filters {
		if f.name == "variable_tandem_app" {
			out = append(out, f.value)
		}
	}
	return out
}

// wants reports whether ev goes out on c and in which format.
func (c *conn) wants(ev *Event) (string, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if !c.authed || c.frozen {
		return "", false
	}
	return c.sub.format, c.sub.wants(ev)
}

func (c *conn) writeLoop() {
	defer c.p.wg.Done()
	defer c.shut()
	for {
		select {
		case <-c.ctx.Done():
			return
		case <-c.q.wake:
		}
		items := c.q.take()
		if len(items) == 0 {
			continue
		}
		bufs := make(net.Buffers, 0, len(items))
		last := false
		for _, it := range items {
			bufs = append(bufs, it.data)
			if it.closeAfter {
				last = true
				break
			}
		}
		if _, err := bufs.WriteTo(c.nc); err != nil {
			return
		}
		if last {
			return
		}
	}
}

// readLoop runs commands until the client goes away or a command ends
// the connection; in that case the writer closes it once the final frames
// are out.
func (c *conn) readLoop() {
	defer c.p.wg.Done()
	r := bufio.NewReaderSize(c.nc, 64<<10)
	for {
		cmd, err := readCommand(r)
		if err != nil {
			if errors.Is(err, errMalformed) {
				c.p.log.Info("eslsim: closing connection after a malformed frame", "err", err)
			} else if !errors.Is(err, io.EOF) && c.ctx.Err() == nil {
				c.p.log.Debug("eslsim: connection read ended", "err", err)
			}
			c.shut()
			return
		}
		c.mu.Lock()
		frozen := c.frozen
		c.mu.Unlock()
		if frozen {
			continue
		}
		if !c.exec(cmd) {
			return
		}
	}
}

// exec runs one command; false ends the reading (exit, failed auth).
func (c *conn) exec(cmd command) bool {
	verb, rest, _ := strings.Cut(cmd.line, " ")
	verb = strings.ToLower(verb)
	rest = strings.TrimSpace(rest)
	if verb == "exit" || verb == "..." {
		c.q.reply(replyFrame("+OK bye"), false)
		c.goodbye()
		return false
	}
	c.mu.Lock()
	authed := c.authed
	c.mu.Unlock()
	if !authed {
		if verb != "auth" {
			c.q.reply(replyFrame("-ERR command not found"), false)
			return true
		}
		if rest != c.p.o.Password {
			c.q.reply(replyFrame("-ERR invalid"), false)
			c.q.reply(disconnectFrame(), true)
			return false
		}
		c.mu.Lock()
		c.authed = true
		c.mu.Unlock()
		c.q.reply(replyFrame("+OK accepted"), false)
		return true
	}
	if text := c.dispatch(verb, rest, cmd); text != errNoReply {
		c.q.reply(replyFrame(text), false)
	}
	return true
}

// errNoReply is returned by handlers that wrote their own frame.
const errNoReply = "\x00"

// dispatch runs an authenticated command and returns its Reply-Text.
func (c *conn) dispatch(verb, rest string, cmd command) string {
	switch verb {
	case "event":
		return c.cmdEvent(rest)
	case "noevents":
		c.mu.Lock()
		defer c.mu.Unlock()
		if !c.sub.listening() {
			return "-ERR not listening for events"
		}
		c.sub.clear()
		c.myevents = false
		return "+OK no longer listening for events"
	case "nixevent":
		c.mu.Lock()
		defer c.mu.Unlock()
		if !c.sub.nix(strings.Fields(rest)) {
			return "-ERR no keywords supplied"
		}
		return "+OK events nixed"
	case "filter":
		return c.cmdFilter(rest)
	case "api":
		return c.cmdAPI(rest)
	case "bgapi":
		return c.cmdBgapi(rest, cmd)
	case "sendevent":
		return c.cmdSendevent(rest, cmd)
	case "sendmsg":
		return c.cmdSendmsg(rest, cmd)
	case "log":
		lvl := 7
		if rest != "" {
			n, err := strconv.Atoi(rest)
			if err == nil && n >= 0 && n <= 7 {
				lvl = n
			}
		}
		c.mu.Lock()
		c.logLevel = lvl
		c.mu.Unlock()
		return "+OK log level " + rest + " [" + strconv.Itoa(lvl) + "]"
	case "nolog":
		c.mu.Lock()
		defer c.mu.Unlock()
		if c.logLevel == 0 {
			return "-ERR not loging"
		}
		c.logLevel = 0
		return "+OK no longer logging"
	case "myevents":
		return c.cmdMyevents(rest)
	case "linger", "nolinger", "divert_events", "resume", "getvar", "connect":
		if !c.outbound {
			switch verb {
			case "divert_events":
				return "-ERR not controlling a session."
			case "resume", "getvar", "connect":
				return "-ERR command not found"
			}
			return "-ERR not controlling a session"
		}
		return c.sessionCommand(verb, rest)
	}
	return "-ERR command not found"
}

func (c *conn) cmdEvent(rest string) string {
	words := strings.Fields(rest)
	format := formatPlain
	if len(words) > 0 {
		switch strings.ToLower(words[0]) {
		case formatPlain, formatJSON, formatXML:
			format = strings.ToLower(words[0])
			words = words[1:]
		}
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if !c.sub.add(words) {
		return "-ERR no keywords supplied"
	}
	c.sub.format = format
	return "+OK event listener enabled " + format
}

func (c *conn) cmdFilter(rest string) string {
	if rest == "" {
		return "-ERR command not found"
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	name, value, _ := strings.Cut(rest, " ")
	if strings.EqualFold(name, "delete") {
		dn, dv, _ := strings.Cut(value, " ")
		if dn == "" {
			return "-ERR invalid syntax"
		}
		if strings.EqualFold(dn, "all") {
			c.sub.filters = nil
			return "+OK filter deleted. [all][]"
		}
		kept := c.sub.filters[:0]
		for _, f := range c.sub.filters {
			if strings.EqualFold(f.name, dn) && (dv == "" || f.value == dv) {
				continue
			}
			kept = append(kept, f)
		}
		c.sub.filters = kept
		return "+OK filter deleted. [" + dn + "][" + dv + "]"
	}
	if value == "" {
		return "-ERR invalid syntax"
	}
	c.sub.filters = append(c.sub.filters, newFilter(name, value))
	return "+OK filter added. [" + name + "]=[" + value + "]"
}

// cmdAPI runs a synchronous api: events on this connection wait until the
// api/response is written, as with the real blocking api.
func (c *conn) cmdAPI(rest string) string {
	if rest == "" {
		return "-ERR command not found"
	}
	name, arg, _ := strings.Cut(rest, " ")
	arg = strings.TrimSpace(arg)
	c.q.hold()
	body := c.p.runAPI(c.ctx, name, arg)
	c.q.release(apiFrame(body))
	return errNoReply
}

func (c *conn) cmdBgapi(rest string, cmd command) string {
	if rest == "" {
		return "-ERR command not found"
	}
	job, ok := cmd.header("Job-UUID")
	if !ok || job == "" {
		job = newUUID()
	}
	job = job[:min(len(job), maxJobUUID)]
	c.q.reply(bgapiReplyFrame(job), false)
	name, arg, _ := strings.Cut(rest, " ")
	arg = strings.TrimSpace(arg)
	p := c.p
	p.mu.Lock()
	if p.ctx.Err() != nil {
		p.mu.Unlock()
		return errNoReply
	}
	p.wg.Add(1)
	p.mu.Unlock()
	go func() {
		defer p.wg.Done()
		body := p.runAPI(p.ctx, name, arg)
		ev := Event{Headers: []Header{{Name: "Event-Name", Value: "BACKGROUND_JOB"}}}
		p.o.Stamp(&ev, "mod_event_socket.c", "api_exec", 1572)
		ev.Headers = append(ev.Headers, Header{Name: "Job-UUID", Value: job}, Header{Name: "Job-Command", Value: name})
		if arg != "" {
			ev.Headers = append(ev.Headers, Header{Name: "Job-Command-Arg", Value: arg})
		}
		ev.Body = body
		p.publish(ev)
	}()
	return errNoReply
}

func (c *conn) cmdSendevent(rest string, cmd command) string {
	name := strings.ToUpper(strings.TrimSpace(rest))
	if !eventNames[name] || name == "ALL" {
		name = "MESSAGE"
	}
	var ev Event
	sub, hasSub := cmd.header("Event-Subclass")
	if hasSub {
		ev.Headers = append(ev.Headers, Header{Name: "Event-Subclass", Value: sub})
	}
	ev.Headers = append(ev.Headers, Header{Name: "Command", Value: cmd.line})
	id := ""
	for _, h := range cmd.headers {
		switch {
		case strings.EqualFold(h.Name, "Event-Subclass"):
			continue
		case strings.EqualFold(h.Name, "Event-UUID"):
			id = h.Value
			continue
		case strings.EqualFold(h.Name, "Event-Name"):
			continue
		}
		ev.Headers = append(ev.Headers, h)
	}
	if id == "" {
		id = newUUID()
	}
	ev.Headers = append(ev.Headers, Header{Name: "Event-UUID", Value: id}, Header{Name: "Event-Name", Value: name})
	c.p.o.Stamp(&ev, "mod_event_socket.c", "parse_command", 2275)
	ev.Body = cmd.body
	c.q.reply(replyFrame("+OK "+id), false)
	c.p.publish(ev)
	return errNoReply
}

func (c *conn) cmdSendmsg(rest string, cmd command) string {
	uuid := rest
	if c.outbound && uuid == "" {
		uuid = c.uuid
	}
	if uuid == "" {
		return "-ERR invalid session id []"
	}
	return c.p.sb.sendmsg(uuid, cmd.headers, cmd.body)
}

func (c *conn) cmdMyevents(rest string) string {
	words := strings.Fields(rest)
	format := formatPlain
	uuid := ""
	for _, w := range words {
		switch strings.ToLower(w) {
		case formatPlain, formatJSON, formatXML:
			format = strings.ToLower(w)
		default:
			uuid = w
		}
	}
	if !c.outbound {
		if uuid == "" {
			return "-ERR command not found"
		}
		if _, ok := c.p.sb.channelData(uuid); !ok {
			return "-ERR invalid uuid"
		}
	} else {
		uuid = c.uuid
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.myevents {
		return "-ERR aready enabled."
	}
	c.myevents = true
	c.sub.all = true
	c.sub.session = uuid
	c.sub.format = format
	return "+OK Events Enabled"
}

// sessionCommand runs the outbound-only commands.
func (c *conn) sessionCommand(verb, rest string) string {
	switch verb {
	case "connect":
		hs, ok := c.p.sb.channelData(c.uuid)
		if !ok {
			return "-ERR invalid session id [" + c.uuid + "]"
		}
		hs = append(hs,
			Header{Name: "Content-Type", Value: "command/reply"},
			Header{Name: "Reply-Text", Value: "+OK\n"},
			Header{Name: "Socket-Mode", Value: "async"},
			Header{Name: "Control", Value: "full"})
		c.q.reply(headerBlock(hs), false)
		return errNoReply
	case "linger":
		c.mu.Lock()
		defer c.mu.Unlock()
		if n, err := strconv.Atoi(rest); err == nil && n > 0 {
			c.linger = n
			return "+OK will linger " + rest + " seconds"
		}
		c.linger = -1
		return "+OK will linger"
	case "nolinger":
		c.mu.Lock()
		defer c.mu.Unlock()
		c.linger = 0
		return "+OK will not linger"
	case "divert_events":
		if strings.EqualFold(rest, "on") {
			return "+OK events diverted"
		}
		return "+OK events not diverted"
	case "resume":
		return "+OK"
	case "getvar":
		hs, _ := c.p.sb.channelData(c.uuid)
		for _, h := range hs {
			if h.Name == "variable_"+rest {
				return h.Value
			}
		}
		return ""
	}
	return "-ERR command not found"
}

// goodbye queues the final notice and ends the connection after it.
func (c *conn) goodbye() {
	if c.outbound {
		c.q.reply(sessionDisconnectFrame(c.uuid), true)
		return
	}
	c.q.reply(disconnectFrame(), true)
}

// hungUp handles the controlled channel's hangup (outbound).
func (c *conn) hungUp() {
	c.mu.Lock()
	if c.ended {
		c.mu.Unlock()
		return
	}
	c.ended = true
	linger := c.linger
	c.mu.Unlock()
	if linger == 0 {
		c.goodbye()
		return
	}
	name := ""
	if hs, ok := c.p.sb.channelData(c.uuid); ok {
		for _, h := range hs {
			if h.Name == "Channel-Name" {
				name = h.Value
			}
		}
	}
	c.q.reply(lingerFrame(c.uuid, name, linger), false)
	if linger > 0 {
		t := c.p.clock.AfterFunc(time.Duration(linger)*time.Second, c.goodbye)
		context.AfterFunc(c.ctx, func() { t.Stop() })
	}
}
