// Package api is the HTTP JSON API for agents and supervisors and the
// WebSocket that pushes an agent's events to their desktop. It decodes and
// checks requests, calls the core, and encodes the answer; business rules
// live in the core, behind the Core interface declared here.
package api

import (
	"cmp"
	"context"
	"log/slog"
	"net/http"
	"slices"
	"strings"
	"time"

	"github.com/tandem-cc/tandem/acd"
	"github.com/tandem-cc/tandem/agents"
	"github.com/tandem-cc/tandem/cad"
	"github.com/tandem-cc/tandem/callbacks"
	"github.com/tandem-cc/tandem/config"
)

// Core is what the API needs from the contact-center core (implemented in
// package acd). Errors it returns are mapped to status codes in one place,
// server.fail:
//
//	*errs.FieldError          → 400 naming the field (e.g. "number" for an undiallable number)
//	*callbacks.FieldError       → 400 with its Msg, field and rule (e.g. "number", "country-not-allowed")
//	*cad.ValueError             → 400, field "value" ("name" for read-only or reserved), with its rule
//	cad.ErrUnknownVariable      → 404, field "name"
//	errs.ErrNotFound          → 404 (also callbacks.ErrNotFound, the same error)
//	acd.ErrForbidden            → 403
//	acd.ErrNoCall               → 409 "no call"
//	*cad.ConflictError          → 409 with field and "current" (the winner's view)
//	acd.ErrConflict             → 409
//	errs.ErrIllegalTransition → 409 with the core's message (also callbacks.ErrIllegalTransition;
//	                              DELETE /v1/callbacks/{id} adds field "state" and the state)
//	anything else               → 500, logged, message withheld
//
// Answered before the core is called (WithLimits, limits.go):
//
//	a token past its write rate limit → 429 with Retry-After (seconds)
//	a body not received within http.timeouts.body → 408, connection closed
//
// Call-control methods act on the agent's current call; the agent id is
// the one in the URL, already authorised.
type Core interface {
	Login(ctx context.Context, id, endpoint string, queues []string, skills map[string]int) (agents.Agent, error)
	SetAvailable(ctx context.Context, id string) (agents.Agent, error)
	SetIdle(ctx context.Context, id, reason string) (agents.Agent, error)
	Logout(ctx context.Context, id string) (agents.Agent, error)
	// AgentView is the agent and, while a call is offered to them (or a
	// callback they answered waits for their accept), that offer's screen
	// pop: the "offered" event, secure values masked.
	AgentView(ctx context.Context, id string) (acd.AgentView, error)
	Queue(ctx context.Context, name string) (acd.QueueView, error)
	// SubscribeAgent streams the agent's events until ctx ends (then the channel is closed).
	SubscribeAgent(ctx context.Context, id string) (<-chan acd.AgentEvent, error)

	Call(ctx context.Context, agentID string) (acd.CallView, error)
	Hold(ctx context.Context, agentID string) (acd.CallView, error)
	Resume(ctx context.Context, agentID string) (acd.CallView, error)
	// Consult puts the customer on hold and calls t on a second leg.
	Consult(ctx context.Context, agentID string, t acd.Target) (acd.CallView, error)
	EndConsult(ctx context.Context, agentID string) (acd.CallView, error)
	// Transfer is a blind transfer of the customer to t.
	Transfer(ctx context.Context, agentID string, t acd.Target) (acd.CallView, error)
	// CompleteTransfer hands the customer to the consulted party.
	CompleteTransfer(ctx context.Context, agentID string) (acd.CallView, error)
	Conference(ctx context.Context, agentID string) (acd.CallView, error)
	End(ctx context.Context, agentID string) (acd.CallView, error)
	WrapUp(ctx context.Context, agentID, code string) (agents.Agent, error)
	// PauseRecording with privacy is a privacy shield that resumes by itself.
	PauseRecording(ctx context.Context, agentID string, privacy bool) (acd.CallView, error)
	ResumeRecording(ctx context.Context, agentID string) (acd.CallView, error)
	// Variables are the call's variables, secure values masked.
	Variables(ctx context.Context, agentID string) (cad.View, error)
	// EditVariable sets one variable if the call's variables are still at
	// version; otherwise it returns a *cad.ConflictError.
	EditVariable(ctx context.Context, agentID, name, value string, version int64) (cad.View, error)
	// RevealVariable returns a secure value of agentID's call in clear to
	// actor ("agent:<id>" or "supervisor:<name>"); the core audits both.
	RevealVariable(ctx context.Context, actor, agentID, name string) (string, error)
	// SubscribeSupervisor streams every agent's events until ctx ends
	// (then the channel is closed).
	SubscribeSupervisor(ctx context.Context) (<-chan acd.AgentEvent, error)

	// RequestCallback creates a web callback, or a scheduled one when
	// EarliestAt or WindowEnd is set; merged reports that the queue already
	// had a live callback for the number, which is returned instead.
	RequestCallback(ctx context.Context, r acd.CallbackRequest) (cb callbacks.Callback, merged bool, err error)
	Callback(ctx context.Context, id string) (callbacks.Callback, error)
	// CancelCallback cancels a pending callback; one being dialled is
	// refused with an error wrapping callbacks.ErrIllegalTransition.
	CancelCallback(ctx context.Context, id string) (callbacks.Callback, error)
	// CallbackFlow runs a step of the callback dialog on a live call:
	// op is acd.FlowStart (queue "" = the call's), acd.FlowRegister
	// (number "" = the caller's; media is played to the agent first) or
	// acd.FlowCancel (back to the queue in place).
	CallbackFlow(ctx context.Context, conn, op, queue, number, media string) (acd.CallView, error)
	// RevealCallbackVariable returns a callback's variable in clear; the
	// core audits it as done by who (the token's principal name).
	RevealCallbackVariable(ctx context.Context, id, name, who string) (string, error)
	// AcceptCallback is the agent accepting the callback they answered:
	// the customer is dialled now.
	AcceptCallback(ctx context.Context, agentID string) (acd.CallView, error)

	// What the browser pages read (wallboard.go).
	// Agents lists the logged-in agents, sorted by id, each with its call.
	Agents(ctx context.Context) ([]acd.AgentListing, error)
	// Queues reads every configured queue, sorted by name.
	Queues(ctx context.Context) ([]acd.QueueView, error)
	// QueueHistory is a configured queue's samples of the last hour.
	QueueHistory(ctx context.Context, name string) (acd.QueueHistory, error)
	// DesktopSettings are the reason codes, wrap-up and queue variables.
	DesktopSettings() acd.DesktopSettings
	// Callbacks lists the callbacks not over yet, oldest request first,
	// secure values masked.
	Callbacks(ctx context.Context) ([]callbacks.Callback, error)
}

// Limits on input, checked before the core is called.
const (
	maxBody     = 64 << 10 // bytes of a request body
	maxID       = 64       // agent id and queue name
	maxEndpoint = 128
	maxReason   = 64
	maxQueues   = 32 // queues in one login
	maxSkills   = 32 // skills in one login
)

// wsWriteTimeout bounds one event write, so a client that stopped reading
// releases its subscription instead of holding it forever.
const wsWriteTimeout = 10 * time.Second

// Event sockets are pinged every defaultPingInterval; a client that has
// not answered within defaultPongTimeout is dropped (see WithKeepalive).
const (
	defaultPingInterval = 15 * time.Second
	defaultPongTimeout  = 10 * time.Second
)

// server holds the handler's dependencies; once built it has no mutable
// state.
type server struct {
	core    Core
	auth    *authenticator
	log     *slog.Logger
	metrics http.Handler
	// ready lists what keeps the replica from serving (see WithReadiness).
	ready func(context.Context) []string
	// pingInterval and pongTimeout: the event sockets' keepalive.
	pingInterval, pongTimeout time.Duration
	limits                    limitSettings // see WithLimits (limits.go)
	// origins are the cross-origin pages allowed (WithAllowedOrigins,
	// cors.go); wsOrigins the same as the WebSocket library's patterns.
	origins   map[string]bool
	wsOrigins []string
	// web serves the pages (WithWeb, web.go); nil: no pages.
	web http.Handler
	// replicas are the base URLs GET /v1/settings gives the pages
	// (WithReplicas).
	replicas []string
	// registered lists the routes as New registers them (for Routes);
	// it is only appended to while the handler is built.
	registered []Route
}

// Option adds to the API.
type Option func(*server)

// WithMetrics serves h (the replica's Prometheus registry) at GET
// /metrics, without a token: the figures are counts and latencies by
// queue, state and kind, nothing about a caller or an agent by name, and
// Prometheus scrapes without credentials by default.
func WithMetrics(h http.Handler) Option { return func(s *server) { s.metrics = h } }

// WithReadiness serves GET /readyz, without a token like /healthz: 200
// {"ready":true} when check returns nothing, else 503
// {"ready":false,"not_ready":[...]} naming what is not ready ("pbx",
// "redis"), so a load balancer or Kubernetes stops sending agents to a
// replica that does not hold its application or cannot reach Redis. check
// must return within the request's context; it runs on every probe.
func WithReadiness(check func(context.Context) []string) Option {
	return func(s *server) { s.ready = check }
}

// WithKeepalive pings every event socket each interval and drops a client
// whose pong has not come within timeout (defaults 15s and 10s).
func WithKeepalive(interval, timeout time.Duration) Option {
	return func(s *server) { s.pingInterval, s.pongTimeout = interval, timeout }
}

// New returns the API's handler. The WebSocket streams end when the client
// leaves or when the request context ends: serve the handler with an
// http.Server whose BaseContext is the replica's run context, because
// Server.Shutdown does not wait for (or end) upgraded connections.
func New(core Core, auth config.Auth, logger *slog.Logger, opts ...Option) http.Handler {
	h, _ := build(core, auth, logger, opts...)
	return h
}

// Route is one method and path pattern the API serves (as registered on
// the mux: "POST", "/v1/agents/{id}/login").
type Route struct {
	Method, Pattern string
}

// Routes lists every route New registers when every optional route is on
// (WithMetrics, WithReadiness, WithWeb), sorted by pattern then method. It runs the
// same registration New runs, so a route added there is listed here: the
// table test of bad input (api/badinput_test.go) fails for a route it does
// not cover. The catch-alls that only answer "name is required" or "no such
// route" are not routes and are not listed.
func Routes() []Route {
	_, list := build(nil, config.Auth{}, nil,
		WithMetrics(http.NotFoundHandler()),
		WithReadiness(func(context.Context) []string { return nil }),
		WithWeb(http.NotFoundHandler()))
	return list
}

// build is New, also returning the routes it registered.
func build(core Core, auth config.Auth, logger *slog.Logger, opts ...Option) (http.Handler, []Route) {
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	s := &server{core: core, auth: newAuthenticator(auth), log: logger}
	for _, o := range opts {
		o(s)
	}
	if s.pingInterval <= 0 {
		s.pingInterval = defaultPingInterval
	}
	if s.pongTimeout <= 0 {
		s.pongTimeout = defaultPongTimeout
	}
	mux := http.NewServeMux()
	if s.metrics != nil {
		s.route(mux, "GET", "/metrics", s.metrics)
	}

	s.route(mux, "GET", "/healthz", http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		writeJSON(w, http.StatusOK, map[string]string{"status": "ok"})
	}))
	if s.ready != nil {
		s.route(mux, "GET", "/readyz", http.HandlerFunc(s.readyz))
	}

	s.route(mux, "POST", "/v1/agents/{id}/login", s.agent(s.login))
	s.route(mux, "POST", "/v1/agents/{id}/available", s.agent(s.available()))
	s.route(mux, "POST", "/v1/agents/{id}/idle", s.agent(s.idle()))
	s.route(mux, "POST", "/v1/agents/{id}/logout", s.agent(s.logout()))
	s.route(mux, "GET", "/v1/agents/{id}", s.agent(s.getAgent))
	s.route(mux, "GET", "/v1/agents/{id}/events", s.agentRoute(true, s.events))
	s.route(mux, "GET", "/v1/queues/{name}", s.authenticated(s.getQueue))
	// What the pages read (wallboard.go): any token, but supervisors'
	// see more of the agents.
	s.route(mux, "GET", "/v1/agents", s.authenticated(s.listAgents))
	s.route(mux, "GET", "/v1/queues", s.authenticated(s.listQueues))
	s.route(mux, "GET", "/v1/queues/{name}/history", s.authenticated(s.queueHistory))
	s.route(mux, "GET", "/v1/settings", s.authenticated(s.settings))

	// Call control: the agent's current call.
	s.route(mux, "GET", "/v1/agents/{id}/call", s.agent(s.getCall))
	s.route(mux, "POST", "/v1/agents/{id}/call/hold", s.agent(s.callAction(Core.Hold)))
	s.route(mux, "POST", "/v1/agents/{id}/call/resume", s.agent(s.callAction(Core.Resume)))
	s.route(mux, "POST", "/v1/agents/{id}/call/consult", s.agent(s.targetAction(Core.Consult)))
	s.route(mux, "POST", "/v1/agents/{id}/call/consult/end", s.agent(s.callAction(Core.EndConsult)))
	s.route(mux, "POST", "/v1/agents/{id}/call/transfer", s.agent(s.targetAction(Core.Transfer)))
	s.route(mux, "POST", "/v1/agents/{id}/call/transfer/complete", s.agent(s.callAction(Core.CompleteTransfer)))
	s.route(mux, "POST", "/v1/agents/{id}/call/conference", s.agent(s.callAction(Core.Conference)))
	s.route(mux, "POST", "/v1/agents/{id}/call/end", s.agent(s.callAction(Core.End)))
	s.route(mux, "POST", "/v1/agents/{id}/call/recording/pause", s.agent(s.pauseRecording()))
	s.route(mux, "POST", "/v1/agents/{id}/call/recording/resume", s.agent(s.callAction(Core.ResumeRecording)))
	s.route(mux, "POST", "/v1/agents/{id}/wrapup", s.agent(s.wrapUp()))
	s.route(mux, "POST", "/v1/agents/{id}/call/callback-accept", s.agent(s.callAction(Core.AcceptCallback)))
	s.route(mux, "GET", "/v1/agents/{id}/call/variables", s.agent(s.variables))
	s.route(mux, "PUT", "/v1/agents/{id}/call/variables/{name}", s.agent(s.editVariable))
	s.route(mux, "POST", "/v1/agents/{id}/call/variables/{name}/reveal", s.agent(s.revealVariable))
	mux.Handle("/v1/agents/{id}/call/variables/{$}", s.agent(func(w http.ResponseWriter, _ *http.Request, _ string) {
		writeError(w, http.StatusBadRequest, "variable name is required", "name")
	}))

	// Every agent's events, for supervisors.
	s.route(mux, "GET", "/v1/events", s.guard(true, s.supervisorEvents))
	// The mux does not match an empty {name}; say what is wrong rather
	// than 404.
	mux.Handle("/v1/queues/{$}", s.authenticated(func(w http.ResponseWriter, r *http.Request, _ principal) {
		writeError(w, http.StatusBadRequest, "queue name is required", "name")
	}))

	// Callbacks and the callback dialog of a live call: supervisor tokens
	// only (see supervisor in callbacks.go).
	s.routes(mux, "/v1/callbacks", map[string]http.Handler{
		"GET":  s.supervisor(s.listCallbacks),
		"POST": s.supervisor(s.createCallback),
	})
	s.routes(mux, "/v1/callbacks/{callback}", map[string]http.Handler{
		"GET":    s.supervisor(s.getCallback),
		"DELETE": s.supervisor(s.cancelCallback),
	})
	s.route(mux, "POST", "/v1/callbacks/{callback}/variables/{name}/reveal", s.supervisorWho(s.revealCallbackVariable))
	mux.Handle("/v1/callbacks/{$}", s.supervisor(func(w http.ResponseWriter, _ *http.Request) {
		writeError(w, http.StatusBadRequest, "callback id is required", "id")
	}))
	s.route(mux, "POST", "/v1/calls/{conn}/callback/start", s.supervisor(s.onCall(s.flowStart())))
	s.route(mux, "POST", "/v1/calls/{conn}/callback/register", s.supervisor(s.onCall(s.flowRegister())))
	s.route(mux, "POST", "/v1/calls/{conn}/callback/cancel", s.supervisor(s.onCall(s.flowCancel())))

	// Supervisor overrides (supervisor.go): end any call, force an
	// agent's state, set an agent's queues; audited.
	s.supervisorRoutes(mux)

	// The desktop and the wallboard (web.go), when WithWeb is given.
	s.webRoutes(mux)

	mux.HandleFunc("/", func(w http.ResponseWriter, _ *http.Request) {
		writeError(w, http.StatusNotFound, "no such route", "")
	})

	slices.SortFunc(s.registered, func(a, b Route) int {
		return cmp.Or(cmp.Compare(a.Pattern, b.Pattern), cmp.Compare(a.Method, b.Method))
	})
	return s.logRequests(s.cors(s.limit(mux))), s.registered
}

// route registers h for method and pattern, and a JSON 405 for the other
// methods on the same path (the mux's own 405 is plain text).
func (s *server) route(mux *http.ServeMux, method, pattern string, h http.Handler) {
	s.routes(mux, pattern, map[string]http.Handler{method: h})
}

// routes is route for a path served under several methods.
func (s *server) routes(mux *http.ServeMux, pattern string, byMethod map[string]http.Handler) {
	var allow []string
	for method, h := range byMethod {
		mux.Handle(method+" "+pattern, h)
		s.registered = append(s.registered, Route{Method: method, Pattern: pattern})
		allow = append(allow, method)
		if method == http.MethodGet {
			allow = append(allow, http.MethodHead)
		}
	}
	slices.Sort(allow)
	mux.HandleFunc(pattern, func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Allow", strings.Join(allow, ", "))
		writeError(w, http.StatusMethodNotAllowed, "method not allowed", "")
	})
}

// readyz answers the readiness probe (see WithReadiness).
func (s *server) readyz(w http.ResponseWriter, r *http.Request) {
	if missing := s.ready(r.Context()); len(missing) > 0 {
		writeJSON(w, http.StatusServiceUnavailable, struct {
			Ready    bool     `json:"ready"`
			NotReady []string `json:"not_ready"`
		}{false, missing})
		return
	}
	writeJSON(w, http.StatusOK, map[string]bool{"ready": true})
}
