package api

import (
	"net/http"
	"time"

	"github.com/tandem-cc/tandem/acd"
	"github.com/tandem-cc/tandem/callbacks"
	"github.com/tandem-cc/tandem/config"
)

// The reads the browser pages draw themselves with: the agents (the
// wallboard's table, the desktop's consult list), the queues, a queue's
// last hour, the settings, the callbacks not over yet.

// WithReplicas sets the base URLs of the replicas GET /v1/settings gives
// the pages (web.replicas; empty: the replica that served the page).
func WithReplicas(bases []string) Option {
	return func(s *server) { s.replicas = append([]string(nil), bases...) }
}

// agentsBody answers GET /v1/agents.
type agentsBody struct {
	Agents []acd.AgentListing `json:"agents"`
}

// listAgents lists the logged-in agents to any token. An agent token sees
// each agent's id, state, since, idle reason and queues, enough to pick
// someone to consult; the endpoint and the call (whose connection id lets
// a supervisor act on it) are for supervisor tokens only.
func (s *server) listAgents(w http.ResponseWriter, r *http.Request, who principal) {
	list, err := s.core.Agents(r.Context())
	if err != nil {
		s.fail(w, r, err)
		return
	}
	if list == nil {
		list = []acd.AgentListing{}
	}
	if !who.supervisor {
		for i := range list {
			list[i].Endpoint, list[i].Call = "", nil
		}
	}
	writeJSON(w, http.StatusOK, agentsBody{Agents: list})
}

// queuesBody answers GET /v1/queues.
type queuesBody struct {
	Queues []acd.QueueView `json:"queues"`
}

// listQueues reads every configured queue, to any token, as GET
// /v1/queues/{name} shows each (callersFor).
func (s *server) listQueues(w http.ResponseWriter, r *http.Request, who principal) {
	qs, err := s.core.Queues(r.Context())
	if err != nil {
		s.fail(w, r, err)
		return
	}
	if qs == nil {
		qs = []acd.QueueView{}
	}
	for i := range qs {
		callersFor(who, &qs[i])
	}
	writeJSON(w, http.StatusOK, queuesBody{Queues: qs})
}

// callersFor blanks the waiting callers' numbers (ANI) of a queue view
// unless who is a supervisor: an agent's desktop shows how many wait and
// for how long, not who is calling before the call is offered to it (the
// offer carries the number of the call it is given).
func callersFor(who principal, q *acd.QueueView) {
	if who.supervisor {
		return
	}
	for i := range q.Waiting {
		q.Waiting[i].ANI = ""
	}
}

// queueHistory answers GET /v1/queues/{name}/history: the queue's samples
// of the last hour, oldest first.
func (s *server) queueHistory(w http.ResponseWriter, r *http.Request, _ principal) {
	name := r.PathValue("name")
	if !config.ValidQueueName(name) {
		s.fail(w, r, badField("name", "queue name must be 1-64 characters of A-Z a-z 0-9 _ -"))
		return
	}
	h, err := s.core.QueueHistory(r.Context(), name)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	if h.Samples == nil {
		h.Samples = []acd.QueueSample{}
	}
	writeJSON(w, http.StatusOK, h)
}

// settingsBody answers GET /v1/settings.
type settingsBody struct {
	acd.DesktopSettings
	// Replicas are the base URLs the pages use (web.replicas); empty: the
	// replica that served the page.
	Replicas []string `json:"replicas"`
}

func (s *server) settings(w http.ResponseWriter, _ *http.Request, _ principal) {
	body := settingsBody{DesktopSettings: s.core.DesktopSettings(), Replicas: s.replicas}
	if body.Replicas == nil {
		body.Replicas = []string{}
	}
	writeJSON(w, http.StatusOK, body)
}

// callbackRow is a callback as the wallboard lists it.
type callbackRow struct {
	ID    string         `json:"id"`
	Queue string         `json:"queue"`
	Kind  callbacks.Kind `json:"kind"`
	// Number is the customer's number as GET /v1/callbacks/{id} shows it.
	Number string `json:"number"`
	// State is pending, queued (waiting for an agent) or dialing.
	State       string    `json:"state"`
	RequestedAt time.Time `json:"requested_at"`
	// DueAt is when a scheduled callback is due.
	DueAt time.Time `json:"due_at,omitzero"`
	// Attempts is how many dials have been made.
	Attempts int `json:"attempts"`
}

// callbacksBody answers GET /v1/callbacks.
type callbacksBody struct {
	Callbacks []callbackRow `json:"callbacks"`
}

// listCallbacks lists the callbacks not over yet, oldest request first
// (supervisor tokens only, like every callback route).
func (s *server) listCallbacks(w http.ResponseWriter, r *http.Request) {
	cbs, err := s.core.Callbacks(r.Context())
	if err != nil {
		s.fail(w, r, err)
		return
	}
	rows := make([]callbackRow, len(cbs))
	for i, cb := range cbs {
		rows[i] = callbackRow{ID: cb.ID, Queue: cb.Queue, Kind: cb.Kind, Number: cb.Number, State: cb.Status(),
			RequestedAt: cb.Created, Attempts: len(cb.Attempts)}
		if cb.Kind == callbacks.KindScheduled {
			rows[i].DueAt = cb.Due
		}
	}
	writeJSON(w, http.StatusOK, callbacksBody{Callbacks: rows})
}
