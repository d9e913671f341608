package api

import (
	"context"
	"net/http"

	"unicode/utf8"

	"github.com/tandem-cc/tandem/acd"
	"github.com/tandem-cc/tandem/cad"
	"github.com/tandem-cc/tandem/config"
)

// Limits on call-control input, checked before the core is called.
const (
	maxTargetValue   = 64  // agent id, queue name or dial number
	maxVariableValue = 256 // characters (runes) of a call variable's value
)

// getCall answers the agent's current call.
func (s *server) getCall(w http.ResponseWriter, r *http.Request, id string) {
	c, err := s.core.Call(r.Context(), id)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, c)
}

// callAction serves a call-control step that takes no input: the body is
// empty or {}.
func (s *server) callAction(do func(Core, context.Context, string) (acd.CallView, error)) func(http.ResponseWriter, *http.Request, string) {
	return post(s, false, func(ctx context.Context, id string, _ noBody) (any, error) { return do(s.core, ctx, id) })
}

// targetRequest is the body of consult and (blind) transfer.
type targetRequest struct {
	Kind  acd.TargetKind `json:"kind"`
	Value string         `json:"value"`
}

// validate checks the shape of the target. Whether a number can be dialled
// is the core's call (it answers a FieldError naming "number"); agents and
// queues are checked against the same syntax config and login use.
func (t targetRequest) validate() error {
	switch t.Kind {
	case acd.TargetAgent, acd.TargetQueue, acd.TargetNumber:
	case "":
		return badField("kind", "is required: agent, queue or number")
	default:
		return badField("kind", "must be agent, queue or number")
	}
	switch {
	case t.Value == "":
		return badField("value", "is required")
	case len(t.Value) > maxTargetValue:
		return badField("value", "must be at most 64 characters")
	}
	switch t.Kind {
	case acd.TargetAgent:
		if !config.ValidAgentID(t.Value) {
			return badField("value", "agent id "+config.AgentIDRule)
		}
	case acd.TargetQueue:
		if !config.ValidQueueName(t.Value) {
			return badField("value", "queue name must be 1-64 characters of A-Z a-z 0-9 _ -")
		}
	case acd.TargetNumber:
		if hasControl(t.Value) {
			return badField("value", "must not contain control characters")
		}
	}
	return nil
}

// targetAction serves consult and transfer.
func (s *server) targetAction(do func(Core, context.Context, string, acd.Target) (acd.CallView, error)) func(http.ResponseWriter, *http.Request, string) {
	return post(s, true, func(ctx context.Context, id string, req targetRequest) (any, error) {
		return do(s.core, ctx, id, acd.Target{Kind: req.Kind, Value: req.Value})
	})
}

type pauseRequest struct {
	// Privacy makes the pause a privacy shield that resumes by itself.
	Privacy bool `json:"privacy"`
}

func (s *server) pauseRecording() func(http.ResponseWriter, *http.Request, string) {
	// No body is a plain pause.
	return post(s, false, func(ctx context.Context, id string, req pauseRequest) (any, error) {
		return s.core.PauseRecording(ctx, id, req.Privacy)
	})
}

type wrapUpRequest struct {
	Code string `json:"code"`
}

func (w wrapUpRequest) validate() error {
	switch {
	case w.Code == "":
		return badField("code", "is required")
	case !config.ValidCode(w.Code):
		return badField("code", "must be 1-32 characters of a-z 0-9 _ -")
	}
	return nil
}

func (s *server) wrapUp() func(http.ResponseWriter, *http.Request, string) {
	return post(s, true, func(ctx context.Context, id string, req wrapUpRequest) (any, error) {
		return s.core.WrapUp(ctx, id, req.Code)
	})
}

func (s *server) variables(w http.ResponseWriter, r *http.Request, id string) {
	v, err := s.core.Variables(r.Context(), id)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, v)
}

// variableName reads and checks the {name} of a variables route.
func variableName(r *http.Request) (string, error) {
	name := r.PathValue("name")
	if !config.ValidVariableName(name) {
		return "", badField("name", "must be 1-64 characters of A-Z a-z 0-9 _, not starting with a digit")
	}
	return name, nil
}

type editRequest struct {
	// Value is a pointer so a forgotten value is an error rather than a
	// silent clear; "" clears the variable.
	Value *string `json:"value"`
	// Version is the version of the variables the edit is based on.
	Version int64 `json:"version"`
}

func (e editRequest) validate() error {
	switch {
	case e.Value == nil:
		return badField("value", "is required (\"\" clears the variable)")
	case utf8.RuneCountInString(*e.Value) > maxVariableValue:
		// Whether the value fits the variable's type is the core's call.
		return badField("value", "max 256 characters")
	case e.Version < 1:
		return badField("version", "is required: the version the edit is based on (≥ 1)")
	}
	return nil
}

func (s *server) editVariable(w http.ResponseWriter, r *http.Request, id string) {
	name, err := variableName(r)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	var req editRequest
	if !s.readRequest(w, r, &req) {
		return
	}
	v, err := s.core.EditVariable(r.Context(), id, name, *req.Value, req.Version)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, v)
}

// revealBody is the answer of a reveal. writeJSON sends it with
// Cache-Control: no-store; it is never logged.
type revealBody struct {
	Name  string `json:"name"`
	Value string `json:"value"`
}

func (s *server) revealVariable(w http.ResponseWriter, r *http.Request, id string) {
	name, err := variableName(r)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	if err := decodeBody(w, r, &struct{}{}, false); err != nil {
		s.fail(w, r, err)
		return
	}
	v, err := s.core.RevealVariable(r.Context(), actorOf(r.Context()), id, name)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, revealBody{Name: name, Value: v})
}

// hasControl reports whether s holds a character no one-line text a
// client sends may hold: the one rule of cad.ForbiddenRune, so names,
// reasons, codes and variable values refuse the same characters.
func hasControl(s string) bool {
	_, found := cad.ForbiddenRune(s, false)
	return found
}
