package esl

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"strconv"
	"strings"
	"sync"
	"time"
)

// relay is a loopback hop the driver puts between eslgo and FreeSWITCH,
// because eslgo v1.5.0 cannot be closed safely: its Close deletes from a
// map that its own auth and disconnect goroutines read without a lock (a
// data race, and the race detector says so), and a socket FreeSWITCH
// closes makes eslgo call that Close by itself. Owning both sockets, the
// driver shuts a connection down the one way that never reaches it: it
// cancels eslgo's context (its goroutines return), ends eslgo's reader
// with a frame it cannot parse (an error that is not EOF makes it stop
// quietly), and closes the sockets itself. It also gives the dial the
// timeout eslgo lacks, and a way out of eslgo's unbounded wait for
// FreeSWITCH's greeting.
type relay struct {
	fs     net.Conn     // to FreeSWITCH
	ln     net.Listener // where eslgo dials in; closed once it has
	local  net.Conn     // eslgo's socket, accepted from ln
	cancel context.CancelFunc

	up       chan struct{} // closed once local is accepted (or the relay shut down first)
	fsDone   chan struct{} // the FreeSWITCH → eslgo pump has returned
	eslDone  chan struct{} // the eslgo → FreeSWITCH pump has returned
	down     chan struct{} // closed when the relay has shut down
	stop     chan struct{} // closed to ask for the shut-down
	stopOnce sync.Once
	greeted  chan struct{} // closed when FreeSWITCH's first bytes went through
	greet    chan chan error
	// onEvent is told of every plain event as it comes off the socket,
	// before eslgo sees it (reorder.go).
	onEvent func(seq uint64, at time.Time)
	// notices, when set, makes the relay an outbound session's
	// (outbound.go): it greets eslgo as an event socket would before
	// anything of FreeSWITCH's goes through, and it withholds FreeSWITCH's
	// text/disconnect-notice frames from eslgo (an inbound eslgo connection
	// closes itself on one, the racy Close above) and sends their header
	// blocks here instead (dropped if nobody took the last one).
	notices chan string
}

// dialRelay connects to FreeSWITCH (bounded by timeout) and opens the
// loopback listener eslgo is to dial. cancel ends eslgo's context.
func dialRelay(ctx context.Context, addr string, timeout time.Duration, cancel context.CancelFunc, onEvent func(uint64, time.Time)) (*relay, error) {
	d := net.Dialer{Timeout: timeout}
	fs, err := d.DialContext(ctx, "tcp", addr)
	if err != nil {
		return nil, err
	}
	return startRelay(fs, cancel, onEvent, nil)
}

// startRelay opens the loopback listener eslgo is to dial and relays
// between it and fs (see relay.notices for notices).
func startRelay(fs net.Conn, cancel context.CancelFunc, onEvent func(uint64, time.Time), notices chan string) (*relay, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		_ = fs.Close()
		return nil, err
	}
	r := &relay{fs: fs, ln: ln, cancel: cancel, up: make(chan struct{}), fsDone: make(chan struct{}),
		eslDone: make(chan struct{}), down: make(chan struct{}), stop: make(chan struct{}), greeted: make(chan struct{}),
		greet: make(chan chan error), onEvent: onEvent, notices: notices}
	go r.run()
	return r, nil
}

// addr is where eslgo must dial.
func (r *relay) addr() string { return r.ln.Addr().String() }

// close shuts the relay down and waits until it has.
func (r *relay) close() {
	r.stopOnce.Do(func() { close(r.stop) })
	<-r.down
}

// run accepts eslgo's connection, pumps bytes both ways, and shuts down
// when either side ends or close is called.
func (r *relay) run() {
	defer close(r.down)
	accepted := make(chan net.Conn, 1)
	go func() {
		c, err := r.ln.Accept()
		if err != nil {
			accepted <- nil
			return
		}
		accepted <- c
	}()
	select {
	case r.local = <-accepted:
	case <-r.stop:
	}
	_ = r.ln.Close()
	if r.local == nil {
		if c := <-accepted; c != nil { // Accept returned after ln closed: nothing, or a late conn
			_ = c.Close()
		}
		close(r.up)
		close(r.fsDone)
		close(r.eslDone)
		r.cancel()
		_ = r.fs.Close()
		return
	}
	close(r.up)
	if r.notices != nil {
		// An outbound session: FreeSWITCH says nothing before the client's
		// connect, while eslgo's Dial waits for a greeting and an auth reply.
		_ = r.local.SetDeadline(time.Now().Add(5 * time.Second))
		err := greetESL(r.local)
		_ = r.local.SetDeadline(time.Time{})
		if err != nil {
			close(r.fsDone)
			close(r.eslDone)
			r.cancel()
			_ = r.fs.Close()
			_ = r.local.Close()
			return
		}
	}
	go func() {
		defer close(r.fsDone)
		r.pumpFrames()
	}()
	go func() {
		defer close(r.eslDone)
		r.pump(r.fs, r.local)
	}()
	select {
	case <-r.fsDone:
	case <-r.eslDone:
	case <-r.stop:
	case res := <-r.greet:
		err := r.playGreeting()
		res <- err
		if err == nil {
			<-r.stop // eslgo's Dial returns; the owner closes the relay next
		}
	}
	r.shutdown()
}

// pump copies eslgo's commands to FreeSWITCH until either side fails.
func (r *relay) pump(dst, src net.Conn) {
	_, _ = io.Copy(dst, src)
}

// pumpFrames copies FreeSWITCH's frames to eslgo, one whole frame per
// write, and reports each plain event's Event-Sequence as it passes.
func (r *relay) pumpFrames() {
	br := bufio.NewReaderSize(r.fs, 64<<10)
	var frame []byte
	first := true
	for {
		frame = frame[:0]
		length, plain, notice := 0, false, false
		for start := len(frame); ; start = len(frame) {
			line, err := br.ReadSlice('\n')
			for err == bufio.ErrBufferFull { // a long header value (FreeSWITCH allows 1 MiB+)
				frame = append(frame, line...)
				line, err = br.ReadSlice('\n')
			}
			if err != nil {
				return
			}
			frame = append(frame, line...)
			text := strings.TrimRight(string(frame[start:]), "\r\n")
			if text == "" {
				break
			}
			if v, ok := strings.CutPrefix(text, "Content-Length: "); ok {
				length, _ = strconv.Atoi(v)
			}
			if text == "Content-Type: text/event-plain" {
				plain = true
			}
			if text == "Content-Type: text/disconnect-notice" {
				notice = true
			}
		}
		bodyAt := len(frame)
		if length > 0 {
			frame = append(frame, make([]byte, length)...)
			if _, err := io.ReadFull(br, frame[bodyAt:]); err != nil {
				return
			}
		}
		if first {
			first = false
			close(r.greeted)
		}
		if notice && r.notices != nil {
			select {
			case r.notices <- string(frame[:bodyAt]):
			default:
			}
			continue
		}
		if plain && r.onEvent != nil {
			if seq := eventSequence(frame[bodyAt:]); seq != 0 {
				r.onEvent(seq, time.Now()) // before eslgo can have it
			}
		}
		if _, err := r.local.Write(frame); err != nil {
			return
		}
	}
}

// eventSequence finds Event-Sequence in a plain event body; 0 if none.
func eventSequence(body []byte) uint64 {
	const key = "Event-Sequence: "
	i := bytes.Index(body, []byte("\n"+key))
	if i < 0 {
		if !bytes.HasPrefix(body, []byte(key)) {
			return 0
		}
		i = -1
	}
	rest := body[i+1+len(key):]
	if j := bytes.IndexByte(rest, '\n'); j >= 0 {
		rest = rest[:j]
	}
	seq, _ := strconv.ParseUint(strings.TrimSpace(string(rest)), 10, 64)
	return seq
}

// unparsable is a frame eslgo cannot read (its Content-Length is not a
// number): its reader stops with that error, which is not EOF, so eslgo
// neither reports a disconnect nor closes itself.
const unparsable = "Content-Length: closed-by-tandem\n\n"

// shutdown is the safe way to end eslgo (see relay): its context first,
// then its reader, then the sockets.
func (r *relay) shutdown() {
	r.cancel()
	_ = r.fs.Close()
	<-r.fsDone // nothing else writes to local from now on
	_ = r.local.SetWriteDeadline(time.Now().Add(time.Second))
	_, _ = io.WriteString(r.local, unparsable)
	_ = r.local.Close()
	<-r.eslDone
}

// greetInstead makes eslgo's Dial return when FreeSWITCH accepted the TCP
// connection but never greeted: eslgo waits for the greeting without any
// timeout. Nothing has come from FreeSWITCH, so the driver plays it: it
// greets, reads eslgo's auth command and accepts it; the connection is then
// shut down like any other (close).
func (r *relay) greetInstead() error {
	res := make(chan error, 1)
	select {
	case r.greet <- res:
		return <-res
	case <-r.down:
		return errors.New("relay down")
	}
}

// playGreeting is greetInstead on the relay's goroutine.
func (r *relay) playGreeting() error {
	select {
	case <-r.greeted:
		return errors.New("FreeSWITCH greeted meanwhile")
	default:
	}
	// Stop both pumps without closing eslgo's socket: FreeSWITCH's side is
	// closed (its pump ends), eslgo's pump is woken by a read deadline.
	_ = r.fs.Close()
	<-r.fsDone
	_ = r.local.SetReadDeadline(time.Now())
	<-r.eslDone
	_ = r.local.SetReadDeadline(time.Now().Add(time.Second))
	_ = r.local.SetWriteDeadline(time.Now().Add(time.Second))
	return greetESL(r.local)
}

// greetESL plays an event socket's greeting to eslgo's Dial on local: the
// auth request, eslgo's auth command read, and its acceptance.
func greetESL(local net.Conn) error {
	if _, err := io.WriteString(local, "Content-Type: auth/request\n\n"); err != nil {
		return err
	}
	br := bufio.NewReader(local)
	for {
		line, err := br.ReadString('\n')
		if err != nil {
			return fmt.Errorf("read eslgo's auth: %w", err)
		}
		if strings.TrimSpace(line) == "" {
			break
		}
	}
	_, err := io.WriteString(local, "Content-Type: command/reply\nReply-Text: +OK accepted\n\n")
	return err
}
