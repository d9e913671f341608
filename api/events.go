package api

import (
	"context"
	"log/slog"
	"net/http"
	"strings"
	"time"

	"golang.org/x/net/websocket"

	"github.com/tandem-cc/tandem/acd"
)

// maxClientFrame bounds what a client may send on the event socket; the
// stream is one-way, so anything the client sends is read and dropped.
const maxClientFrame = 4 << 10

// events upgrades to a WebSocket and sends the agent's events, one JSON
// text frame each, in the order the core delivers them.
func (s *server) events(w http.ResponseWriter, r *http.Request, id string) {
	if !isUpgrade(r) {
		w.Header().Set("Upgrade", "websocket")
		writeError(w, http.StatusUpgradeRequired, "websocket upgrade required", "")
		return
	}
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
	if !isUpgrade(r) {
		w.Header().Set("Upgrade", "websocket")
		writeError(w, http.StatusUpgradeRequired, "websocket upgrade required", "")
		return
	}
	ctx, cancel := context.WithCancel(r.Context())
	defer cancel()
	events, err := s.core.SubscribeSupervisor(ctx)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	s.upgrade(ctx, cancel, w, r, events, s.log.With("stream", "supervisor"))
}

// upgrade completes the WebSocket handshake and streams events on it.
func (s *server) upgrade(ctx context.Context, cancel context.CancelFunc, w http.ResponseWriter, r *http.Request, events <-chan acd.AgentEvent, log *slog.Logger) {
	ws := websocket.Server{
		// No Origin check: callers authenticate with a bearer token, not a
		// cookie, so a foreign page gains nothing by connecting.
		Handshake: func(*websocket.Config, *http.Request) error { return nil },
		Handler: func(conn *websocket.Conn) {
			s.stream(ctx, cancel, conn, events, log)
		},
	}
	ws.ServeHTTP(w, r)
}

// stream writes events to conn until the subscription ends, ctx ends, or
// the client leaves.
func (s *server) stream(ctx context.Context, cancel context.CancelFunc, conn *websocket.Conn, events <-chan acd.AgentEvent, log *slog.Logger) {
	log.InfoContext(ctx, "event stream opened")
	conn.MaxPayloadBytes = maxClientFrame

	// x/net/websocket notices a client leaving only while reading, so a
	// reader runs for the connection's life; when its read fails it ends
	// the subscription. It stops once conn is closed below.
	readerDone := make(chan struct{})
	go func() {
		defer close(readerDone)
		defer cancel()
		var discard []byte
		for {
			if err := websocket.Message.Receive(conn, &discard); err != nil {
				return
			}
		}
	}()
	defer func() {
		_ = conn.Close() // sends a close frame, then unblocks the reader
		<-readerDone
		log.InfoContext(context.WithoutCancel(ctx), "event stream closed")
	}()

	for {
		select {
		case <-ctx.Done():
			return
		case ev, ok := <-events:
			if !ok {
				return
			}
			_ = conn.SetWriteDeadline(time.Now().Add(wsWriteTimeout))
			if err := websocket.JSON.Send(conn, ev); err != nil {
				log.InfoContext(ctx, "event stream write failed", "error", err)
				return
			}
		}
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
