package api

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"os"
	"strconv"
	"strings"

	"github.com/tandem-cc/tandem/acd"
	"github.com/tandem-cc/tandem/cad"
	"github.com/tandem-cc/tandem/callbacks"
	"github.com/tandem-cc/tandem/errs"
)

// errorBody is every error response.
type errorBody struct {
	Error string `json:"error"`
	Field string `json:"field,omitempty"`
	// Rule is the rule the input broke (cad.Rule* for a call variable, a
	// callbacks rule such as "country-not-allowed" for a callback), so a
	// client can branch without parsing Error.
	Rule string `json:"rule,omitempty"`
}

// conflictBody answers an edit that lost a race: Current is the winner's
// view, so the loser can show it and retry at its version.
type conflictBody struct {
	Error   string   `json:"error"`
	Field   string   `json:"field"`
	Current cad.View `json:"current"`
}

// stateBody answers a step refused in the state the thing is in: State is
// that state, read back after the refusal (Field is "state").
type stateBody struct {
	Error string `json:"error"`
	Field string `json:"field"`
	State string `json:"state"`
}

// stateError is an illegal transition with the state it was refused in,
// for the handlers that read the state back (cancelling a callback).
type stateError struct {
	err   error
	state string
}

func (e *stateError) Error() string { return e.err.Error() }
func (e *stateError) Unwrap() error { return e.err }

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

// retryAfterSeconds is the Retry-After of a 503: about one liveness TTL
// (acd.DefaultLivenessTTL), the time a restarted replica needs to be seen.
const retryAfterSeconds = 5

// fail answers a failed request. It is the one place errors become status
// codes.
func (s *server) fail(w http.ResponseWriter, r *http.Request, err error) {
	var (
		re  *requestError
		fe  *errs.FieldError
		cfe *callbacks.FieldError
		ve  *cad.ValueError
		ce  *cad.ConflictError
		se  *stateError
	)
	switch {
	case errors.As(err, &re):
		writeError(w, re.status, re.msg, re.field)
	case errors.As(err, &fe):
		writeError(w, http.StatusBadRequest, fe.Msg, fe.Field)
	case errors.As(err, &cfe):
		// Msg is written for the person who typed the value; Rule lets a
		// web form branch ("country-not-allowed", "outside-hours").
		writeJSON(w, http.StatusBadRequest, errorBody{Error: cfe.Msg, Field: cfe.Field, Rule: cfe.Rule})
	case errors.As(err, &ve):
		// The message names the variable and the rule, never the value.
		field := "value"
		if ve.Rule == cad.RuleReadOnly || ve.Rule == cad.RuleDefinition || ve.Rule == cad.RuleReserved {
			field = "name" // the variable, not the value, is the problem
		}
		writeJSON(w, http.StatusBadRequest, errorBody{Error: ve.Error(), Field: field, Rule: ve.Rule})
	case errors.Is(err, cad.ErrUnknownVariable):
		writeError(w, http.StatusNotFound, "unknown variable", "name")
	case errors.Is(err, errs.ErrNotFound):
		writeError(w, http.StatusNotFound, "not found", "")
	case errors.Is(err, acd.ErrForbidden):
		writeError(w, http.StatusForbidden, "not allowed to act on this call", "")
	case errors.Is(err, acd.ErrNoCall):
		writeError(w, http.StatusConflict, "no call", "")
	case errors.As(err, &ce):
		writeJSON(w, http.StatusConflict, conflictBody{Error: ce.Error(), Field: ce.Name, Current: ce.Current})
	case errors.As(err, &se):
		writeJSON(w, http.StatusConflict, stateBody{Error: se.Error(), Field: "state", State: se.state})
	case errors.Is(err, acd.ErrConflict):
		writeError(w, http.StatusConflict, "changed by someone else; read it again and retry", "")
	case errors.Is(err, errs.ErrIllegalTransition):
		// The core's message names the problem ("resume: customer is not
		// on hold: illegal transition"); it carries states, not internals.
		writeError(w, http.StatusConflict, err.Error(), "")
	case errors.Is(err, errs.ErrOwnerUnavailable):
		// The call's replica is gone; the request was not run (or its
		// outcome is unknown, which the core logs). Retrying is safe: the
		// call is then served by its owner back, or ends.
		s.log.WarnContext(r.Context(), "owner replica unavailable", append(attrs(r), "error", err)...)
		w.Header().Set("Retry-After", strconv.Itoa(retryAfterSeconds))
		writeError(w, http.StatusServiceUnavailable, "the replica that runs this call is not running; retry in a few seconds", "")
	case errors.Is(err, errs.ErrFenced):
		// This replica lost the seat that ran the call (its lease was taken
		// while it was paused, or it is handing over): the new holder
		// rebuilds the call, and a retry reaches it through forwarding.
		s.log.WarnContext(r.Context(), "seat fenced while serving a request", append(attrs(r), "error", err)...)
		w.Header().Set("Retry-After", strconv.Itoa(retryAfterSeconds))
		writeError(w, http.StatusServiceUnavailable, "this call is moving to another replica; retry in a few seconds", "")
	case errors.Is(err, errs.ErrOwnerTimeout):
		s.log.WarnContext(r.Context(), "owner replica did not answer", append(attrs(r), "error", err)...)
		writeError(w, http.StatusGatewayTimeout, "the replica that runs this call did not answer in time; read the call again before retrying", "")
	case errors.Is(err, context.Canceled) && r.Context().Err() != nil:
		// The client went away; nobody reads the answer.
		s.log.InfoContext(r.Context(), "request abandoned by client", attrs(r)...)
	default:
		// The error may carry Redis keys or addresses: log it, answer blandly.
		s.log.ErrorContext(r.Context(), "request failed", append(attrs(r), "error", err)...)
		writeError(w, http.StatusInternalServerError, "internal error", "")
	}
}

func attrs(r *http.Request) []any {
	return append([]any{"method", r.Method, "route", r.Pattern}, pathIDs(r)...)
}

// pathIDs are the log attributes of the ids in the request's path: the
// agent of /v1/agents/{id}, the call of /v1/calls/{conn}, the callback of
// /v1/callbacks/{callback}. The wildcards are named apart so that no id is
// logged as another kind.
func pathIDs(r *http.Request) []any {
	var a []any
	for _, p := range [...]struct{ wildcard, attr string }{
		{"id", "agent_id"}, {"conn", "connection_id"}, {"callback", "callback_id"},
	} {
		if v := r.PathValue(p.wildcard); v != "" {
			a = append(a, p.attr, v)
		}
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

// readRequest decodes a required JSON body into req and validates it,
// answering the client itself when either fails (false: the handler is
// done).
func (s *server) readRequest(w http.ResponseWriter, r *http.Request, req interface{ validate() error }) bool {
	if err := decodeBody(w, r, req, true); err != nil {
		s.fail(w, r, err)
		return false
	}
	if err := req.validate(); err != nil {
		s.fail(w, r, err)
		return false
	}
	return true
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
	case errors.Is(err, os.ErrDeadlineExceeded):
		// http.timeouts.body passed (WithLimits): the client sends too slowly.
		return &requestError{status: http.StatusRequestTimeout, msg: "request body not received in time"}
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
