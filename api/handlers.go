package api

import (
	"context"
	"net/http"
	"regexp"
	"strconv"
	"unicode"
	"unicode/utf8"

	"github.com/tandem-cc/tandem/acd"
	"github.com/tandem-cc/tandem/config"
)

// guard authenticates the request and passes the caller on. Browsers
// cannot set headers on a WebSocket, so the WebSocket routes (queryToken)
// also take the token from the offered subprotocols ("tandem" and
// "bearer.<base64url of the token>", see subprotocolToken) or from
// ?access_token=, in that order after the Authorization header; elsewhere
// a token anywhere else is ignored, since URLs end up in proxies' logs.
func (s *server) guard(queryToken bool, h func(http.ResponseWriter, *http.Request, principal)) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		tok := bearer(r)
		if tok == "" && queryToken {
			tok = subprotocolToken(r)
		}
		if tok == "" && queryToken {
			tok = r.URL.Query().Get("access_token")
		}
		who, ok := s.auth.identify(tok)
		if !ok {
			w.Header().Set("WWW-Authenticate", `Bearer realm="tandem"`)
			writeError(w, http.StatusUnauthorized, "missing or invalid bearer token", "")
			return
		}
		// The core reads who acted from the context (acd.WithActor): its
		// methods take the agent acted for, and record both.
		h(w, r.WithContext(acd.WithActor(r.Context(), who.name)), who)
	})
}

func (s *server) authenticated(h func(http.ResponseWriter, *http.Request, principal)) http.Handler {
	return s.guard(false, h)
}

// agent wraps a handler of /v1/agents/{id}/...: it authenticates, checks
// the id and that the caller may act for that agent.
func (s *server) agent(h func(http.ResponseWriter, *http.Request, string)) http.Handler {
	return s.agentRoute(false, h)
}

func (s *server) agentRoute(queryToken bool, h func(http.ResponseWriter, *http.Request, string)) http.Handler {
	return s.guard(queryToken, func(w http.ResponseWriter, r *http.Request, who principal) {
		id := r.PathValue("id")
		if !config.ValidAgentID(id) {
			writeError(w, http.StatusBadRequest, config.AgentIDRule, "id")
			return
		}
		if !who.mayActFor(id) {
			writeError(w, http.StatusForbidden, "this token may not act for this agent", "")
			return
		}
		h(w, r, id)
	})
}

type loginRequest struct {
	Endpoint string   `json:"endpoint"`
	Queues   []string `json:"queues"`
	// Skills are the agent's skills with levels 1..10 (optional).
	Skills map[string]int `json:"skills"`
}

// endpointChars keeps the endpoint to what PJSIP/1001 or
// sofia/internal/1001@host:5060 need. The endpoint ends up in a dial
// string, where "&", "," or "{...}" would let a caller ring extra
// destinations or set channel variables.
var endpointChars = regexp.MustCompile(`^[A-Za-z0-9_./@:+-]+$`)

func (l loginRequest) validate() error {
	switch {
	case l.Endpoint == "":
		return badField("endpoint", "is required")
	case len(l.Endpoint) > maxEndpoint:
		return badField("endpoint", "must be at most 128 characters")
	case !endpointChars.MatchString(l.Endpoint):
		return badField("endpoint", "may contain only A-Z a-z 0-9 _ . / @ : + -")
	case len(l.Queues) == 0:
		return badField("queues", "at least one queue is required")
	case len(l.Queues) > maxQueues:
		return badField("queues", "at most 32 queues")
	}
	seen := make(map[string]bool, len(l.Queues))
	for i, q := range l.Queues {
		field := "queues[" + strconv.Itoa(i) + "]"
		switch {
		case q == "":
			return badField(field, "queue name must not be empty")
		case !config.ValidQueueName(q):
			return badField(field, "queue name must be 1-64 characters of A-Z a-z 0-9 _ -")
		case seen[q]:
			return badField(field, "duplicate queue")
		}
		seen[q] = true
	}
	if len(l.Skills) > maxSkills {
		return badField("skills", "at most 32 skills")
	}
	for name, level := range l.Skills {
		field := "skills." + name
		switch {
		case !config.ValidSkillName(name):
			return badField("skills", "skill names are 1-32 characters of a-z 0-9 _ -")
		case level < 1 || level > 10:
			return badField(field, "level must be 1..10")
		}
	}
	return nil
}

func (s *server) login(w http.ResponseWriter, r *http.Request, id string) {
	var req loginRequest
	if !s.readRequest(w, r, &req) {
		return
	}
	a, err := s.core.Login(r.Context(), id, req.Endpoint, req.Queues, req.Skills)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	s.log.InfoContext(r.Context(), "agent logged in", "agent_id", id, "endpoint", req.Endpoint, "queues", req.Queues)
	writeJSON(w, http.StatusOK, a)
}

func (s *server) available() func(http.ResponseWriter, *http.Request, string) {
	return post(s, false, func(ctx context.Context, id string, _ noBody) (any, error) {
		return s.core.SetAvailable(ctx, id)
	})
}

type idleRequest struct {
	Reason string `json:"reason"`
}

func (i idleRequest) validate() error {
	switch {
	case len(i.Reason) > maxReason:
		return badField("reason", "must be at most 64 bytes")
	case !utf8.ValidString(i.Reason):
		return badField("reason", "must be valid UTF-8")
	}
	for _, c := range i.Reason {
		if !unicode.IsPrint(c) {
			return badField("reason", "must not contain control characters")
		}
	}
	return nil
}

func (s *server) idle() func(http.ResponseWriter, *http.Request, string) {
	// The body is optional: no body is idle without a reason code.
	return post(s, false, func(ctx context.Context, id string, req idleRequest) (any, error) {
		return s.core.SetIdle(ctx, id, req.Reason)
	})
}

func (s *server) logout() func(http.ResponseWriter, *http.Request, string) {
	return post(s, false, func(ctx context.Context, id string, _ noBody) (any, error) {
		a, err := s.core.Logout(ctx, id)
		if err == nil {
			s.log.InfoContext(ctx, "agent logged out", "agent_id", id)
		}
		return a, err
	})
}

// validator is a request body that checks its own shape.
type validator interface{ validate() error }

// noBody is the request of a step that takes no input: empty or {}.
type noBody struct{}

// post serves the shape the API's POSTs share: decode the body (required
// or optional), check it, call the core, write its answer. The check runs
// before the core is called, so bad input changes nothing.
func post[Req any](s *server, required bool, call func(ctx context.Context, id string, req Req) (any, error)) func(http.ResponseWriter, *http.Request, string) {
	return func(w http.ResponseWriter, r *http.Request, id string) {
		var req Req
		if err := decodeBody(w, r, &req, required); err != nil {
			s.fail(w, r, err)
			return
		}
		if v, ok := any(req).(validator); ok {
			if err := v.validate(); err != nil {
				s.fail(w, r, err)
				return
			}
		}
		out, err := call(r.Context(), id, req)
		if err != nil {
			s.fail(w, r, err)
			return
		}
		writeJSON(w, http.StatusOK, out)
	}
}

// getAgent answers GET /v1/agents/{id}: the agent, with "offer" (the
// pending offer's screen pop) while one is pending, so a desktop that
// reconnects or reloads shows the request it missed.
func (s *server) getAgent(w http.ResponseWriter, r *http.Request, id string) {
	a, err := s.core.AgentView(r.Context(), id)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, a)
}

// getQueue serves any authenticated caller: agents see the queues too
// (wallboard on the desktop), without the waiting callers' numbers
// (callersFor).
func (s *server) getQueue(w http.ResponseWriter, r *http.Request, who principal) {
	name := r.PathValue("name")
	if !config.ValidQueueName(name) {
		s.fail(w, r, badField("name", "queue name must be 1-64 characters of A-Z a-z 0-9 _ -"))
		return
	}
	q, err := s.core.Queue(r.Context(), name)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	callersFor(who, &q)
	writeJSON(w, http.StatusOK, q)
}
