package api

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"strconv"
	"strings"

	"github.com/tandem-cc/tandem/acd"
	"github.com/tandem-cc/tandem/agents"
	"github.com/tandem-cc/tandem/cad"
)

// errorBody is every error response.
type errorBody struct {
	Error string `json:"error"`
	Field string `json:"field,omitempty"`
	// Rule is the call-variable rule an edit broke (cad.Rule*), so a
	// desktop can branch without parsing Error.
	Rule string `json:"rule,omitempty"`
}

// conflictBody answers an edit that lost a race: Current is the winner's
// view, so the loser can show it and retry at its version.
type conflictBody struct {
	Error   string   `json:"error"`
	Field   string   `json:"field"`
	Current cad.View `json:"current"`
}

// requestError is bad input found by the API itself, before the core.
type requestError struct {
	status int
	msg    string
	field  string
}

func (e *requestError) Error() string {
	if e.field == "" {
		return e.msg
	}
	return e.field + ": " + e.msg
}

func badField(field, msg string) error {
	return &requestError{status: http.StatusBadRequest, msg: msg, field: field}
}

// fail answers a failed request. It is the one place errors become status
// codes. agentID may be empty when the request is not about an agent.
func (s *server) fail(w http.ResponseWriter, r *http.Request, agentID string, err error) {
	var (
		re *requestError
		fe *agents.FieldError
		ve *cad.ValueError
		ce *cad.ConflictError
	)
	switch {
	case errors.As(err, &re):
		writeError(w, re.status, re.msg, re.field)
	case errors.As(err, &fe):
		writeError(w, http.StatusBadRequest, fe.Msg, fe.Field)
	case errors.As(err, &ve):
		// The message names the variable and the rule, never the value.
		field := "value"
		if ve.Rule == cad.RuleReadOnly || ve.Rule == cad.RuleDefinition {
			field = "name" // the variable, not the value, is the problem
		}
		writeJSON(w, http.StatusBadRequest, errorBody{Error: ve.Error(), Field: field, Rule: ve.Rule})
	case errors.Is(err, cad.ErrUnknownVariable):
		writeError(w, http.StatusNotFound, "unknown variable", "name")
	case errors.Is(err, agents.ErrNotFound):
		writeError(w, http.StatusNotFound, "not found", "")
	case errors.Is(err, acd.ErrForbidden):
		writeError(w, http.StatusForbidden, "not allowed to act on this call", "")
	case errors.Is(err, acd.ErrNoCall):
		writeError(w, http.StatusConflict, "no call", "")
	case errors.As(err, &ce):
		writeJSON(w, http.StatusConflict, conflictBody{Error: ce.Error(), Field: ce.Name, Current: ce.Current})
	case errors.Is(err, acd.ErrConflict):
		writeError(w, http.StatusConflict, "changed by someone else; read it again and retry", "")
	case errors.Is(err, agents.ErrIllegalTransition):
		// The core's message names the problem ("resume: customer is not
		// on hold: illegal transition"); it carries states, not internals.
		writeError(w, http.StatusConflict, err.Error(), "")
	case errors.Is(err, context.Canceled) && r.Context().Err() != nil:
		// The client went away; nobody reads the answer.
		s.log.InfoContext(r.Context(), "request abandoned by client", attrs(r, agentID)...)
	default:
		// The error may carry Redis keys or addresses: log it, answer blandly.
		s.log.ErrorContext(r.Context(), "request failed", append(attrs(r, agentID), "error", err)...)
		writeError(w, http.StatusInternalServerError, "internal error", "")
	}
}

func attrs(r *http.Request, agentID string) []any {
	a := []any{"method", r.Method, "route", r.Pattern}
	if agentID != "" {
		a = append(a, "agent_id", agentID)
	}
	return a
}

func writeError(w http.ResponseWriter, status int, msg, field string) {
	writeJSON(w, status, errorBody{Error: msg, Field: field})
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	h := w.Header()
	h.Set("Content-Type", "application/json")
	h.Set("X-Content-Type-Options", "nosniff")
	h.Set("Cache-Control", "no-store")
	w.WriteHeader(status)
	// The status is sent; a failed write means the client left.
	_ = json.NewEncoder(w).Encode(v)
}

// decodeBody reads one JSON object into dst, refusing unknown fields,
// trailing data and bodies over maxBody. With required false an empty
// body is accepted and leaves dst as it is.
func decodeBody(w http.ResponseWriter, r *http.Request, dst any, required bool) error {
	if r.ContentLength > maxBody {
		return tooLarge()
	}
	r.Body = http.MaxBytesReader(w, r.Body, maxBody)
	dec := json.NewDecoder(r.Body)
	dec.DisallowUnknownFields()
	if err := dec.Decode(dst); err != nil {
		if errors.Is(err, io.EOF) && !required {
			return nil
		}
		return decodeError(err)
	}
	if err := dec.Decode(&struct{}{}); !errors.Is(err, io.EOF) {
		var mbe *http.MaxBytesError
		if errors.As(err, &mbe) {
			return tooLarge()
		}
		return &requestError{status: http.StatusBadRequest, msg: "body must hold exactly one JSON object"}
	}
	return nil
}

func tooLarge() error {
	return &requestError{status: http.StatusRequestEntityTooLarge, msg: "body must be at most " + strconv.Itoa(maxBody) + " bytes"}
}

// decodeError turns what encoding/json reports into a requestError that
// names the field when there is one.
func decodeError(err error) error {
	var (
		mbe *http.MaxBytesError
		ute *json.UnmarshalTypeError
	)
	switch {
	case errors.Is(err, io.EOF):
		return &requestError{status: http.StatusBadRequest, msg: "request body is required"}
	case errors.As(err, &mbe):
		return tooLarge()
	case errors.As(err, &ute):
		return badField(ute.Field, "wrong type: got a JSON "+ute.Value)
	}
	// encoding/json has no type for this one; its text is stable.
	if name, ok := strings.CutPrefix(err.Error(), "json: unknown field "); ok {
		if unq, uerr := strconv.Unquote(name); uerr == nil {
			name = unq
		}
		return badField(name, "unknown field")
	}
	return &requestError{status: http.StatusBadRequest, msg: "malformed JSON"}
}
