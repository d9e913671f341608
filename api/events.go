package api

import (
	"context"
	"fmt"
	"log/slog"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/coder/websocket"
	"github.com/coder/websocket/wsjson"

	"github.com/tandem-cc/tandem/acd"
)

// maxClientFrame bounds what a client may send on the event socket; the
// stream is one-way, so anything the client sends is read and dropped.
const maxClientFrame = 4 << 10

// events upgrades to a WebSocket and sends the agent's events, one JSON
// text frame each, in the order the core delivers them.
func (s *server) events(w http.ResponseWriter, r *http.Request, id string) {
	if !s.checkSocket(w, r) {
		return
	}
	release, ok := s.openStream(w, r, principalOf(r))
	if !ok {
		return
	}
	defer release()
	ctx, cancel := context.WithCancel(r.Context())
	defer cancel()
	// Subscribe before upgrading, so an unknown agent is a plain 404.
	events, err := s.core.SubscribeAgent(ctx, id)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	s.upgrade(ctx, cancel, w, r, events, s.log.With("agent_id", id))
}

// supervisorEvents upgrades to a WebSocket and sends every agent's events.
// Only supervisor tokens may open it.
func (s *server) supervisorEvents(w http.ResponseWriter, r *http.Request, who principal) {
	if !who.supervisor {
		writeError(w, http.StatusForbidden, "only a supervisor token may read every agent's events", "")
		return
	}
	if !s.checkSocket(w, r) {
		return
	}
	release, ok := s.openStream(w, r, who)
	if !ok {
		return
	}
	defer release()
	ctx, cancel := context.WithCancel(r.Context())
	defer cancel()
	events, err := s.core.SubscribeSupervisor(ctx)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	s.upgrade(ctx, cancel, w, r, events, s.log.With("stream", "supervisor"))
}

// checkSocket answers a request that cannot become an event socket: not
// an upgrade (426), or from a page whose origin may not open one (403,
// see socketOriginAllowed). It reports whether the request may go on.
func (s *server) checkSocket(w http.ResponseWriter, r *http.Request) bool {
	if !isUpgrade(r) {
		w.Header().Set("Upgrade", "websocket")
		writeError(w, http.StatusUpgradeRequired, "websocket upgrade required", "")
		return false
	}
	if !s.socketOriginAllowed(r) {
		writeError(w, http.StatusForbidden, "a page of this origin may not open the event socket: list it in http.allowed_origins", "")
		return false
	}
	return true
}

// openStream counts a stream for who against its cap (WithLimits,
// http.max_streams), before the upgrade so that a client over the cap
// gets a plain 429 rather than a socket. When ok, the caller must defer
// release: the handler returns only once the stream has ended, however it
// ended (the client leaving, no pong, the replica stopping, a failed
// subscription or upgrade), so the count cannot leak.
func (s *server) openStream(w http.ResponseWriter, r *http.Request, who principal) (release func(), ok bool) {
	release, limit, ok := s.limits.streams.acquire(who)
	if ok {
		return release, true
	}
	// A stream ends when its client leaves, or at the latest one ping and
	// one pong timeout after its client went silent: by then a slot held
	// by a client that is gone has been given back.
	secs := retryAfter(s.pingInterval + s.pongTimeout)
	s.log.InfoContext(r.Context(), "event stream refused: too many open for this token",
		"who", who.name, "max_streams", limit)
	w.Header().Set("Retry-After", strconv.Itoa(secs))
	writeError(w, http.StatusTooManyRequests,
		fmt.Sprintf("this token holds %d event streams already, its limit; retry in %d s", limit, secs), "")
	return nil, false
}

// upgrade completes the WebSocket handshake and streams events on it.
func (s *server) upgrade(ctx context.Context, cancel context.CancelFunc, w http.ResponseWriter, r *http.Request, events <-chan acd.AgentEvent, log *slog.Logger) {
	conn, err := websocket.Accept(w, r, &websocket.AcceptOptions{
		// A browser that offered the token as a subprotocol is answered
		// with "tandem", never with the token's; a client that offered
		// none gets none.
		Subprotocols: []string{wsProtocol},
		// Pages of this replica's origin, and of the listed ones
		// (http.allowed_origins, cors.go); a client that sends no Origin
		// (not a browser) is not asked. The token authenticates anyway;
		// this keeps pages of other sites off the socket.
		OriginPatterns: s.wsOrigins,
	})
	if err != nil {
		// Accept has answered the request itself.
		log.InfoContext(ctx, "event stream upgrade failed", "error", err)
		return
	}
	s.stream(ctx, cancel, conn, events, log)
}

// stream writes events to conn until the subscription ends, ctx ends, the
// client leaves, or the client stops answering pings. Every end but the
// last is a close handshake: normal closure when the subscription ends,
// going away when the replica stops.
func (s *server) stream(ctx context.Context, cancel context.CancelFunc, conn *websocket.Conn, events <-chan acd.AgentEvent, log *slog.Logger) {
	log.InfoContext(ctx, "event stream opened")
	conn.SetReadLimit(maxClientFrame)

	// The stream is one-way, but control frames (pongs, the client's
	// close) only arrive while someone reads: a reader runs for the
	// connection's life, dropping what the client sends, and ends the
	// subscription when the connection ends. Its context is not ctx: a
	// cancelled read would close the connection without the handshake.
	readerDone := make(chan struct{})
	go func() {
		defer cancel() // after readerDone is closed, so stream sees why ctx ended
		defer close(readerDone)
		for {
			if _, _, err := conn.Read(context.WithoutCancel(ctx)); err != nil {
				return
			}
		}
	}()

	// Pings detect a client that is gone without a word (a half-open TCP
	// connection, a frozen desktop): no pong within pongTimeout drops it.
	// A ping's context is never cancelled from here: the library closes
	// the connection outright when a write's context ends mid-frame, which
	// would turn our close handshake into a dropped socket. Closing the
	// connection ends a ping in flight instead.
	pingFailed := make(chan error, 1)
	stopPings := make(chan struct{})
	pingerDone := make(chan struct{})
	go func() {
		defer close(pingerDone)
		t := time.NewTicker(s.pingInterval)
		defer t.Stop()
		for {
			select {
			case <-stopPings:
				return
			case <-t.C:
			}
			pctx, cancelPing := context.WithTimeout(context.WithoutCancel(ctx), s.pongTimeout)
			err := conn.Ping(pctx)
			cancelPing()
			if err != nil {
				pingFailed <- err // buffered: the pinger's only send
				return
			}
		}
	}()

	code, reason := websocket.StatusNormalClosure, "subscription ended"
	defer func() {
		close(stopPings)
		switch code {
		case websocket.StatusAbnormalClosure:
			_ = conn.CloseNow() // the client is not there to shake hands
		default:
			// The handshake waits (bounded by the library) for the
			// client's close frame, which the reader receives.
			if err := conn.Close(code, reason); err != nil {
				log.DebugContext(context.WithoutCancel(ctx), "event stream close", "error", err)
			}
		}
		<-pingerDone // a ping in flight ended with the connection
		<-readerDone
		log.InfoContext(context.WithoutCancel(ctx), "event stream closed", "reason", reason)
	}()

	for {
		select {
		case <-ctx.Done():
			code, reason = whyDone(readerDone)
			return
		case err := <-pingFailed:
			select {
			case <-readerDone: // the ping failed because the client left
				code, reason = websocket.StatusNormalClosure, "client closed"
			default:
				log.InfoContext(ctx, "event stream client stopped answering pings", "error", err)
				code, reason = websocket.StatusAbnormalClosure, "no pong"
			}
			return
		case ev, ok := <-events:
			if !ok {
				if ctx.Err() != nil {
					// The core ends a subscription when ctx ends: that is
					// the replica stopping or the client leaving.
					code, reason = whyDone(readerDone)
				}
				return
			}
			// Not ctx: a write cut short by the replica stopping would
			// drop the socket instead of closing it (see the pinger).
			wctx, cancelWrite := context.WithTimeout(context.WithoutCancel(ctx), wsWriteTimeout)
			err := wsjson.Write(wctx, conn, ev)
			cancelWrite()
			if err != nil {
				log.InfoContext(ctx, "event stream write failed", "error", err)
				code, reason = websocket.StatusAbnormalClosure, "write failed"
				return
			}
		}
	}
}

// whyDone says why a stream's context ended: the reader saw the client
// leave (it cancels the context after closing readerDone), or else the
// replica is stopping.
func whyDone(readerDone <-chan struct{}) (websocket.StatusCode, string) {
	select {
	case <-readerDone:
		return websocket.StatusNormalClosure, "client closed"
	default:
		return websocket.StatusGoingAway, "replica stopping"
	}
}

func isUpgrade(r *http.Request) bool {
	return strings.EqualFold(r.Header.Get("Upgrade"), "websocket") &&
		headerHasToken(r.Header.Get("Connection"), "upgrade")
}

func headerHasToken(v, token string) bool {
	for _, t := range strings.Split(v, ",") {
		if strings.EqualFold(strings.TrimSpace(t), token) {
			return true
		}
	}
	return false
}
