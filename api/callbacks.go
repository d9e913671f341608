package api

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"net/http"
	"net/url"
	"regexp"
	"slices"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/tandem-cc/tandem/acd"
	"github.com/tandem-cc/tandem/cad"
	"github.com/tandem-cc/tandem/callbacks"
	"github.com/tandem-cc/tandem/config"
	"github.com/tandem-cc/tandem/media"
)

// Limits on callback input, checked before the core is called. The number
// is bounded like a dial target (maxTargetValue) and a variable's value like
// a call variable's (maxVariableValue): a callback's variables become the
// variables of the call that serves it.
const (
	maxCallbackName      = 128 // characters (runes)
	maxCallbackVariables = 32
	maxMedia             = 128
	maxTimeZone          = 64
)

// opaqueID is what a callback or connection id may be in a path: what the
// core makes (hex, UUIDs) with room to spare, nothing that needs escaping
// or could reach another Redis key.
var opaqueID = regexp.MustCompile(`^[A-Za-z0-9_-]{1,64}$`)

// supervisor wraps the callback routes. They read and create callbacks for
// any customer and act on any live call, so, like /v1/events, they take a
// supervisor token: a website, chatbot or IVR flow engine is given one of
// auth.supervisors. An agent token acts for one agent and is refused (403).
// Like /v1/queues, the token is read from the Authorization header only:
// these are not WebSocket routes, and a token in a URL ends up in proxies'
// logs.
func (s *server) supervisor(h func(http.ResponseWriter, *http.Request)) http.Handler {
	return s.supervisorWho(func(w http.ResponseWriter, r *http.Request, _ principal) { h(w, r) })
}

// supervisorWho is supervisor for a handler that records who acted (an
// audited reveal).
func (s *server) supervisorWho(h func(http.ResponseWriter, *http.Request, principal)) http.Handler {
	return s.authenticated(func(w http.ResponseWriter, r *http.Request, who principal) {
		if !who.supervisor {
			writeError(w, http.StatusForbidden, "only a supervisor token may use the callback routes", "")
			return
		}
		h(w, r, who)
	})
}

// onCall wraps a handler of /v1/calls/{conn}/...: it checks the call's id.
func (s *server) onCall(h func(http.ResponseWriter, *http.Request, string)) func(http.ResponseWriter, *http.Request) {
	return func(w http.ResponseWriter, r *http.Request) {
		conn := r.PathValue("conn")
		if !opaqueID.MatchString(conn) {
			s.fail(w, r, badField("connection_id", "must be 1-64 characters of A-Z a-z 0-9 _ -"))
			return
		}
		h(w, r, conn)
	}
}

// callbackID reads and checks the {callback} of /v1/callbacks/{callback}.
func callbackID(r *http.Request) (string, error) {
	id := r.PathValue("callback")
	if !opaqueID.MatchString(id) {
		return "", badField("id", "must be 1-64 characters of A-Z a-z 0-9 _ -")
	}
	return id, nil
}

// callbackView is a callback as the API shows it, as the core gives it:
// the values of secure variables masked (revealed only through the
// audited reveal route). The lease (node, expiry,
// the dial in progress, the legs serving it) and the queue score are the
// core's business and are left out.
type callbackView struct {
	ID        string            `json:"id"`
	Queue     string            `json:"queue"`
	Number    string            `json:"number"`
	Name      string            `json:"name"`
	Variables map[string]string `json:"variables"`
	Kind      callbacks.Kind    `json:"kind"`
	// State is callbacks.Callback.Status: pending, queued (waiting for an
	// agent), dialing, done, failed, cancelled or expired.
	State     string        `json:"state"`
	Due       time.Time     `json:"due"`
	WindowEnd time.Time     `json:"window_end,omitzero"`
	Attempts  []attemptView `json:"attempts"`

	MaxAttempts       int       `json:"max_attempts"`
	RetryDelaySeconds float64   `json:"retry_delay_seconds"`
	Created           time.Time `json:"created"`
	Ended             time.Time `json:"ended,omitzero"`

	CallerID string `json:"caller_id"`
	DNIS     string `json:"dnis"`
	TimeZone string `json:"time_zone"`
	Media    string `json:"media,omitempty"`
}

// attemptView is one dial of a callback.
type attemptView struct {
	At      time.Time         `json:"at"`
	Outcome callbacks.Outcome `json:"outcome"`
	Node    string            `json:"node"`
}

func viewCallback(cb callbacks.Callback) callbackView {
	v := callbackView{
		ID: cb.ID, Queue: cb.Queue, Number: cb.Number, Name: cb.Name, Variables: cb.Vars,
		Kind: cb.Kind, State: cb.Status(), Due: cb.Due, WindowEnd: cb.WindowEnd,
		Attempts:    make([]attemptView, len(cb.Attempts)),
		MaxAttempts: cb.MaxAttempts, RetryDelaySeconds: cb.RetryDelay.Seconds(),
		Created: cb.Created, Ended: cb.Ended,
		CallerID: cb.CallerID, DNIS: cb.DNIS, TimeZone: cb.TimeZone, Media: cb.Media,
	}
	if v.Variables == nil {
		v.Variables = map[string]string{} // {} rather than null
	}
	for i, a := range cb.Attempts {
		v.Attempts[i] = attemptView{At: a.At, Outcome: a.Outcome, Node: a.Node}
	}
	return v
}

// createCallbackRequest is the body of POST /v1/callbacks. A scheduled
// callback gives its window either as instants (EarliestAt, WindowEnd) or
// in the customer's local time (Window), not both; with neither it is a web
// callback, due now.
type createCallbackRequest struct {
	Queue     string            `json:"queue"`
	Number    string            `json:"number"`
	Name      string            `json:"name"`
	Variables map[string]string `json:"variables"`
	// EarliestAt and WindowEnd are RFC 3339 times ("" = now, no end).
	EarliestAt string         `json:"earliest_at"`
	WindowEnd  string         `json:"window_end"`
	Window     *windowRequest `json:"window"`
}

// windowRequest is a window in the customer's time zone: From and To are
// local times ("2026-11-23T10:00") read in TimeZone, an IANA name. To is
// optional (no end).
type windowRequest struct {
	From     string `json:"from"`
	To       string `json:"to"`
	TimeZone string `json:"time_zone"`
}

// parse checks the request and turns it into the core's. Whether the queue
// exists, the number can be dialled or the window meets the queue's hours
// is the core's call (a *callbacks.FieldError).
func (c createCallbackRequest) parse() (acd.CallbackRequest, error) {
	out := acd.CallbackRequest{Queue: c.Queue, Number: c.Number, Name: c.Name, Vars: c.Variables}
	switch {
	case c.Queue == "":
		return out, badField("queue", "is required")
	case !config.ValidQueueName(c.Queue):
		return out, badField("queue", "queue name must be 1-64 characters of A-Z a-z 0-9 _ -")
	case strings.TrimSpace(c.Number) == "":
		return out, badField("number", "is required")
	case len(c.Number) > maxTargetValue:
		return out, badField("number", "must be at most 64 characters")
	case hasControl(c.Number):
		return out, badField("number", "must not contain control characters")
	case utf8.RuneCountInString(c.Name) > maxCallbackName:
		return out, badField("name", "must be at most 128 characters")
	case hasControl(c.Name):
		return out, badField("name", "must not contain control characters")
	case len(c.Variables) > maxCallbackVariables:
		return out, badField("variables", "at most 32 variables")
	}
	// In key order, so the same body always names the same field.
	for _, k := range slices.Sorted(maps.Keys(c.Variables)) {
		switch {
		case !config.ValidVariableName(k):
			return out, badField("variables", "variable names are 1-64 characters of A-Z a-z 0-9 _, not starting with a digit")
		case utf8.RuneCountInString(c.Variables[k]) > maxVariableValue:
			return out, badField("variables."+k, "max 256 characters")
		case cad.Reserved(k):
			// Whether a value fits its variable's type (and may span
			// lines) is the core's call: it knows the queue's definitions.
			return out, &callbacks.FieldError{Field: "variables." + k, Rule: cad.RuleReserved, Msg: "is set by Tandem itself and cannot be given"}
		}
	}

	if c.Window != nil {
		if c.EarliestAt != "" || c.WindowEnd != "" {
			return out, badField("window", "give either window or earliest_at and window_end, not both")
		}
		from, to, err := c.Window.parse()
		if err != nil {
			return out, err
		}
		out.EarliestAt, out.WindowEnd, out.TimeZone = from, to, c.Window.TimeZone
		return out, nil
	}
	var err error
	if out.EarliestAt, err = parseInstant("earliest_at", c.EarliestAt); err != nil {
		return out, err
	}
	if out.WindowEnd, err = parseInstant("window_end", c.WindowEnd); err != nil {
		return out, err
	}
	if !out.EarliestAt.IsZero() && !out.WindowEnd.IsZero() && !out.WindowEnd.After(out.EarliestAt) {
		return out, badField("window_end", "must be after earliest_at")
	}
	return out, nil
}

// parseInstant reads an RFC 3339 time; "" is the zero time.
func parseInstant(field, v string) (time.Time, error) {
	if v == "" {
		return time.Time{}, nil
	}
	t, err := time.Parse(time.RFC3339, v)
	if err != nil {
		return time.Time{}, badField(field, "must be an RFC 3339 time such as 2026-11-23T10:00:00-05:00")
	}
	return t, nil
}

func (w windowRequest) parse() (from, to time.Time, err error) {
	switch {
	case w.TimeZone == "":
		return from, to, badField("window.time_zone", "is required: an IANA time zone such as America/New_York")
	case len(w.TimeZone) > maxTimeZone || w.TimeZone == "Local":
		// LoadLocation reads "Local" as the server's zone, not a customer's.
		return from, to, badField("window.time_zone", "must be an IANA time zone such as America/New_York")
	}
	loc, lerr := time.LoadLocation(w.TimeZone)
	if lerr != nil {
		return from, to, badField("window.time_zone", fmt.Sprintf("unknown time zone %q (an IANA name such as America/New_York)", w.TimeZone))
	}
	if w.From == "" {
		return from, to, badField("window.from", "is required: a local time such as 2026-11-23T10:00")
	}
	if from, err = parseLocal("window.from", w.From, loc); err != nil {
		return from, to, err
	}
	if w.To == "" {
		return from, to, nil
	}
	if to, err = parseLocal("window.to", w.To, loc); err != nil {
		return from, to, err
	}
	if !to.After(from) {
		return from, to, badField("window.to", "must be after window.from")
	}
	return from, to, nil
}

// localLayouts are the local times a window accepts.
var localLayouts = []string{"2006-01-02T15:04", "2006-01-02T15:04:05"}

// parseLocal reads v as a wall-clock time in loc. A time the clocks skip
// (the hour lost when daylight saving time starts) is refused rather than
// moved: the customer did not ask for the time Go would pick.
func parseLocal(field, v string, loc *time.Location) (time.Time, error) {
	for _, layout := range localLayouts {
		wall, err := time.Parse(layout, v) // the fields as written, in UTC
		if err != nil {
			continue
		}
		t := time.Date(wall.Year(), wall.Month(), wall.Day(), wall.Hour(), wall.Minute(), wall.Second(), wall.Nanosecond(), loc)
		const full = "2006-01-02T15:04:05.999999999"
		if t.Format(full) != wall.Format(full) {
			return time.Time{}, badField(field, fmt.Sprintf("%s does not exist in %s: the clocks skip it", v, loc))
		}
		return t, nil
	}
	if _, err := time.Parse(time.RFC3339, v); err == nil {
		return time.Time{}, badField(field, "must be a local time without offset (the zone is window.time_zone), such as 2026-11-23T10:00")
	}
	return time.Time{}, badField(field, "must be a local date and time such as 2026-11-23T10:00")
}

// windowField names, in a refusal of the core, the field the client wrote:
// a window given in local time (window.from, window.to) reaches the core as
// earliest_at and window_end.
func windowField(req createCallbackRequest, err error) error {
	var fe *callbacks.FieldError
	if req.Window == nil || !errors.As(err, &fe) {
		return err
	}
	local := map[string]string{"earliest_at": "window.from", "window_end": "window.to"}[fe.Field]
	if local == "" {
		return err
	}
	named := *fe
	named.Field = local
	return &named
}

// createdBody answers POST /v1/callbacks.
type createdBody struct {
	Callback callbackView `json:"callback"`
	// Merged: the queue already had a live callback for the number; it is
	// the one returned, and nothing was created.
	Merged bool `json:"merged"`
}

// createCallback answers 201 with the new callback, or 200 with the live
// one the request was merged into.
func (s *server) createCallback(w http.ResponseWriter, r *http.Request) {
	var req createCallbackRequest
	if err := decodeBody(w, r, &req, true); err != nil {
		s.fail(w, r, err)
		return
	}
	cr, err := req.parse()
	if err != nil {
		s.fail(w, r, err)
		return
	}
	cb, merged, err := s.core.RequestCallback(r.Context(), cr)
	if err != nil {
		s.fail(w, r, windowField(req, err))
		return
	}
	// No number or name: they are the customer's.
	s.log.InfoContext(r.Context(), "callback requested", "callback_id", cb.ID, "queue", cb.Queue, "kind", cb.Kind, "merged", merged)
	status := http.StatusOK
	if !merged {
		status = http.StatusCreated
		w.Header().Set("Location", "/v1/callbacks/"+url.PathEscape(cb.ID))
	}
	writeJSON(w, status, createdBody{Callback: viewCallback(cb), Merged: merged})
}

func (s *server) getCallback(w http.ResponseWriter, r *http.Request) {
	id, err := callbackID(r)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	cb, err := s.core.Callback(r.Context(), id)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, viewCallback(cb))
}

// cancelCallback cancels a pending callback. One the core refuses to
// cancel (being dialled, or over) is answered 409 with its current state,
// read back, so the caller can tell "try later" from "too late".
func (s *server) cancelCallback(w http.ResponseWriter, r *http.Request) {
	id, err := callbackID(r)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	cb, err := s.core.CancelCallback(r.Context(), id)
	if errors.Is(err, callbacks.ErrIllegalTransition) {
		// Without the state (the read failed too) it is a plain 409.
		if cur, rerr := s.core.Callback(r.Context(), id); rerr == nil {
			err = &stateError{err: err, state: cur.Status()}
		}
	}
	if err != nil {
		s.fail(w, r, err)
		return
	}
	s.log.InfoContext(r.Context(), "callback cancelled", "callback_id", cb.ID, "queue", cb.Queue)
	writeJSON(w, http.StatusOK, viewCallback(cb))
}

// revealCallbackVariable answers POST
// /v1/callbacks/{callback}/variables/{name}/reveal: one variable of a
// callback in clear. The core writes the audit entry (who: the token's
// principal, the callback, the name; never the value) in the same script
// that reads the value. The answer is sent with Cache-Control: no-store
// and never logged.
func (s *server) revealCallbackVariable(w http.ResponseWriter, r *http.Request, who principal) {
	id, err := callbackID(r)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	name, err := variableName(r)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	if err := decodeBody(w, r, &struct{}{}, false); err != nil {
		s.fail(w, r, err)
		return
	}
	v, err := s.core.RevealCallbackVariable(r.Context(), id, name, who.name)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, revealBody{Name: name, Value: v})
}

// flowStartRequest is the body of POST /v1/calls/{conn}/callback/start.
type flowStartRequest struct {
	// Queue the callback waits in ("" = the call's).
	Queue string `json:"queue"`
}

func (f flowStartRequest) validate() error {
	if f.Queue != "" && !config.ValidQueueName(f.Queue) {
		return badField("queue", "queue name must be 1-64 characters of A-Z a-z 0-9 _ -")
	}
	return nil
}

// flowRegisterRequest is the body of POST /v1/calls/{conn}/callback/register.
type flowRegisterRequest struct {
	// Number to call back ("" = the number the caller calls from).
	Number string `json:"number"`
	// Media is played to the agent before the customer is dialled ("" =
	// none), e.g. the message the caller recorded.
	Media string `json:"media"`
}

func (f flowRegisterRequest) validate() error {
	switch {
	case len(f.Number) > maxTargetValue:
		return badField("number", "must be at most 64 characters")
	case hasControl(f.Number):
		return badField("number", "must not contain control characters")
	case f.Media == "":
		return nil
	case len(f.Media) > maxMedia:
		return badField("media", "must be at most 128 characters")
	}
	// The media package is the one judge of a media, here as in the
	// configuration: only Tandem's schemes (no http:, file:), names that
	// stay in their folder (no "..", no leading /, a recording without /).
	if _, err := media.Parse(f.Media); err != nil {
		return badField("media", "must be one media such as recording:msg-1 or sound:custom/thanks: "+strings.TrimPrefix(err.Error(), media.ErrInvalid.Error()+": "))
	}
	return nil
}

// The callback dialog of a live call, driven by an external flow engine
// (IVR, bot). Each step answers the call's view; register's carries the
// callback_id.

func (s *server) flowStart() func(http.ResponseWriter, *http.Request, string) {
	return post(s, false, func(ctx context.Context, conn string, req flowStartRequest) (any, error) {
		return s.core.CallbackFlow(ctx, conn, acd.FlowStart, req.Queue, "", "")
	})
}

func (s *server) flowRegister() func(http.ResponseWriter, *http.Request, string) {
	return post(s, false, func(ctx context.Context, conn string, req flowRegisterRequest) (any, error) {
		return s.core.CallbackFlow(ctx, conn, acd.FlowRegister, "", req.Number, req.Media)
	})
}

func (s *server) flowCancel() func(http.ResponseWriter, *http.Request, string) {
	return post(s, false, func(ctx context.Context, conn string, _ noBody) (any, error) {
		return s.core.CallbackFlow(ctx, conn, acd.FlowCancel, "", "", "")
	})
}
