// Package api is the HTTP JSON API for agents and supervisors and the
// WebSocket that pushes an agent's events to their desktop. It decodes and
// checks requests, calls the core, and encodes the answer; business rules
// live in the core, behind the Core interface declared here.
package api

import (
	"context"
	"log/slog"
	"net/http"
	"time"

	"github.com/tandem-cc/tandem/acd"
	"github.com/tandem-cc/tandem/agents"
	"github.com/tandem-cc/tandem/config"
)

// Core is what the API needs from the contact-center core (implemented in
// package acd). Errors it returns are mapped to status codes by
// writeError: agents.ErrNotFound → 404, agents.ErrIllegalTransition → 409,
// *agents.FieldError → 400, anything else → 500.
type Core interface {
	Login(ctx context.Context, id, endpoint string, queues []string) (agents.Agent, error)
	SetAvailable(ctx context.Context, id string) (agents.Agent, error)
	SetIdle(ctx context.Context, id, reason string) (agents.Agent, error)
	Logout(ctx context.Context, id string) (agents.Agent, error)
	Agent(ctx context.Context, id string) (agents.Agent, error)
	Queue(ctx context.Context, name string) (acd.QueueView, error)
	// SubscribeAgent streams the agent's events until ctx ends (then the channel is closed).
	SubscribeAgent(ctx context.Context, id string) (<-chan acd.AgentEvent, error)
}

// Limits on input, checked before the core is called.
const (
	maxBody     = 64 << 10 // bytes of a request body
	maxID       = 64       // agent id and queue name
	maxEndpoint = 128
	maxReason   = 64
	maxQueues   = 32 // queues in one login
)

// wsWriteTimeout bounds one event write, so a client that stopped reading
// releases its subscription instead of holding it forever.
const wsWriteTimeout = 10 * time.Second

// server holds the handler's dependencies; it has no mutable state.
type server struct {
	core Core
	auth *authenticator
	log  *slog.Logger
}

// New returns the API's handler. The WebSocket streams end when the client
// leaves or when the request context ends: serve the handler with an
// http.Server whose BaseContext is the replica's run context, because
// Server.Shutdown does not wait for (or end) upgraded connections.
func New(core Core, auth config.Auth, logger *slog.Logger) http.Handler {
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	s := &server{core: core, auth: newAuthenticator(auth), log: logger}
	mux := http.NewServeMux()

	s.route(mux, "GET", "/healthz", http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		writeJSON(w, http.StatusOK, map[string]string{"status": "ok"})
	}))

	s.route(mux, "POST", "/v1/agents/{id}/login", s.agent(s.login))
	s.route(mux, "POST", "/v1/agents/{id}/available", s.agent(s.available))
	s.route(mux, "POST", "/v1/agents/{id}/idle", s.agent(s.idle))
	s.route(mux, "POST", "/v1/agents/{id}/logout", s.agent(s.logout))
	s.route(mux, "GET", "/v1/agents/{id}", s.agent(s.getAgent))
	s.route(mux, "GET", "/v1/agents/{id}/events", s.agentRoute(true, s.events))
	s.route(mux, "GET", "/v1/queues/{name}", s.authenticated(s.getQueue))
	// The mux does not match an empty {name}; say what is wrong rather
	// than 404.
	mux.Handle("/v1/queues/{$}", s.authenticated(func(w http.ResponseWriter, r *http.Request, _ principal) {
		writeError(w, http.StatusBadRequest, "queue name is required", "name")
	}))
	mux.HandleFunc("/", func(w http.ResponseWriter, _ *http.Request) {
		writeError(w, http.StatusNotFound, "no such route", "")
	})

	return s.logRequests(mux)
}

// route registers h for method and pattern, and a JSON 405 for the other
// methods on the same path (the mux's own 405 is plain text).
func (s *server) route(mux *http.ServeMux, method, pattern string, h http.Handler) {
	mux.Handle(method+" "+pattern, h)
	mux.HandleFunc(pattern, func(w http.ResponseWriter, _ *http.Request) {
		allow := method
		if method == http.MethodGet {
			allow += ", HEAD"
		}
		w.Header().Set("Allow", allow)
		writeError(w, http.StatusMethodNotAllowed, "method not allowed", "")
	})
}
