package api

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"unicode"
	"unicode/utf8"

	"github.com/tandem-cc/tandem/acd"
	"github.com/tandem-cc/tandem/agents"
	"github.com/tandem-cc/tandem/config"
)

// SupervisorCore is the core's side of the supervisor overrides (issue
// 10: nothing stuck forever): end any interaction, put any agent in
// logged_out, available or idle. who is the supervisor's identity as the
// audit records it. Package acd's Engine implements it; a Core that does
// not is served 501 on these routes.
type SupervisorCore interface {
	ForceEnd(ctx context.Context, conn, who, reason string) (acd.ForceEndResult, error)
	ForceAgentState(ctx context.Context, agent string, state agents.State, idleReason, reason, who string, forceEnd bool) (acd.ForceAgentResult, error)
	// SetAgentQueues gives a logged-in agent these queues (routing follows
	// at once, the state stays); a queue not configured is a
	// *errs.FieldError "queues", a logged-out agent an illegal transition.
	SetAgentQueues(ctx context.Context, agent string, queues []string, reason, who string) (agents.Agent, error)
}

// maxNote bounds the reason a supervisor gives (it goes to the audit).
const maxNote = 256

// supervisorRoutes registers the override routes: supervisor tokens only.
func (s *server) supervisorRoutes(mux *http.ServeMux) {
	s.route(mux, "POST", "/v1/supervisor/interactions/{conn}/end", s.supervisorAs(s.forceEnd))
	s.route(mux, "POST", "/v1/supervisor/agents/{id}/state", s.supervisorAs(s.forceAgentState))
	s.route(mux, "POST", "/v1/supervisor/agents/{id}/queues", s.supervisorAs(s.setAgentQueues))
}

// supervisorAs authenticates a supervisor token and passes its identity
// on; an agent token is refused (403).
func (s *server) supervisorAs(h func(http.ResponseWriter, *http.Request, SupervisorCore, string)) http.Handler {
	return s.authenticated(func(w http.ResponseWriter, r *http.Request, who principal) {
		if !who.supervisor {
			writeError(w, http.StatusForbidden, "only a supervisor token may use the supervisor routes", "")
			return
		}
		sc, ok := s.core.(SupervisorCore)
		if !ok {
			writeError(w, http.StatusNotImplemented, "supervisor actions are not available on this server", "")
			return
		}
		h(w, r, sc, who.name)
	})
}

type forceEndRequest struct {
	Reason string `json:"reason"`
}

func (f forceEndRequest) validate() error { return checkNote(f.Reason) }

// checkNote checks a supervisor's reason: required, since the audit must
// say why, and plain text.
func checkNote(s string) error {
	switch {
	case s == "":
		return badField("reason", "is required: say why, it is audited")
	case len(s) > maxNote:
		return badField("reason", "must be at most 256 bytes")
	case !utf8.ValidString(s):
		return badField("reason", "must be valid UTF-8")
	}
	for _, c := range s {
		if !unicode.IsPrint(c) {
			return badField("reason", "must not contain control characters")
		}
	}
	return nil
}

func (s *server) forceEnd(w http.ResponseWriter, r *http.Request, sc SupervisorCore, who string) {
	conn := r.PathValue("conn")
	if !opaqueID.MatchString(conn) {
		s.fail(w, r, badField("connection_id", "must be 1-64 characters of A-Z a-z 0-9 _ -"))
		return
	}
	var req forceEndRequest
	if !s.readRequest(w, r, &req) {
		return
	}
	res, err := sc.ForceEnd(r.Context(), conn, who, req.Reason)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	s.log.InfoContext(r.Context(), "interaction force-ended", "connection_id", conn, "who", who, "path", res.Path)
	writeJSON(w, http.StatusOK, res)
}

type forceStateRequest struct {
	State  string `json:"state"`
	Reason string `json:"reason"`
	// IdleReason is the idle reason code for state idle ("supervisor" when
	// empty).
	IdleReason string `json:"idle_reason"`
	// ForceEnd ends the agent's call first if its replica runs it;
	// without it such an agent is refused (409 naming the call).
	ForceEnd bool `json:"force_end"`
}

func (f forceStateRequest) validate() error {
	switch agents.State(f.State) {
	case agents.LoggedOut, agents.Available, agents.Idle:
	case "":
		return badField("state", "is required: logged_out, available or idle")
	default:
		return badField("state", "must be logged_out, available or idle")
	}
	if err := checkNote(f.Reason); err != nil {
		return err
	}
	if f.IdleReason != "" && agents.State(f.State) != agents.Idle {
		return badField("idle_reason", "applies to state idle only")
	}
	var re *requestError
	if err := (idleRequest{Reason: f.IdleReason}).validate(); errors.As(err, &re) {
		return badField("idle_reason", re.msg)
	} else if err != nil {
		return err
	}
	return nil
}

// agentOnCallBody answers a refused forced state: the call that holds
// the agent, so the supervisor can end it (or ask with force_end).
type agentOnCallBody struct {
	Error        string `json:"error"`
	Field        string `json:"field"`
	ConnectionID string `json:"connection_id"`
	Owner        string `json:"owner"`
}

func (s *server) forceAgentState(w http.ResponseWriter, r *http.Request, sc SupervisorCore, who string) {
	id := r.PathValue("id")
	if !config.ValidAgentID(id) {
		s.fail(w, r, badField("id", config.AgentIDRule))
		return
	}
	var req forceStateRequest
	if !s.readRequest(w, r, &req) {
		return
	}
	res, err := sc.ForceAgentState(r.Context(), id, agents.State(req.State), req.IdleReason, req.Reason, who, req.ForceEnd)
	var busy *acd.AgentOnCallError
	if errors.As(err, &busy) {
		writeJSON(w, http.StatusConflict, agentOnCallBody{Error: busy.Error(), Field: "force_end",
			ConnectionID: busy.ConnectionID, Owner: busy.Owner})
		return
	}
	if err != nil {
		s.fail(w, r, err)
		return
	}
	s.log.InfoContext(r.Context(), "agent state forced", "agent_id", id, "who", who, "state", req.State)
	writeJSON(w, http.StatusOK, res)
}

// setQueuesRequest is the body of POST /v1/supervisor/agents/{id}/queues.
type setQueuesRequest struct {
	Queues []string `json:"queues"`
	Reason string   `json:"reason"`
}

// validate checks the list's shape; whether each queue is configured is
// the core's call. Every refusal of the list names "queues", the field
// the client wrote, with the position in the message.
func (q setQueuesRequest) validate() error {
	switch {
	case len(q.Queues) == 0:
		return badField("queues", "at least one queue is required")
	case len(q.Queues) > maxQueues:
		return badField("queues", "at most 32 queues")
	}
	seen := make(map[string]bool, len(q.Queues))
	for i, name := range q.Queues {
		switch {
		case !config.ValidQueueName(name):
			return badField("queues", fmt.Sprintf("queue %d: a queue name is 1-64 characters of A-Z a-z 0-9 _ -", i))
		case seen[name]:
			return badField("queues", fmt.Sprintf("queue %d: %s is named twice", i, name))
		}
		seen[name] = true
	}
	return checkNote(q.Reason)
}

// setAgentQueues answers POST /v1/supervisor/agents/{id}/queues with the
// agent as GET /v1/agents/{id} shows it.
func (s *server) setAgentQueues(w http.ResponseWriter, r *http.Request, sc SupervisorCore, who string) {
	id := r.PathValue("id")
	if !config.ValidAgentID(id) {
		s.fail(w, r, badField("id", config.AgentIDRule))
		return
	}
	var req setQueuesRequest
	if !s.readRequest(w, r, &req) {
		return
	}
	a, err := sc.SetAgentQueues(r.Context(), id, req.Queues, req.Reason, who)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	s.log.InfoContext(r.Context(), "agent queues set", "agent_id", id, "who", who, "queues", req.Queues)
	writeJSON(w, http.StatusOK, a)
}
