package acd

import (
	"time"

	"github.com/tandem-cc/tandem/agents"
	"github.com/tandem-cc/tandem/cad"
)

// QueueView is a queue as a supervisor sees it.
type QueueView struct {
	Name    string        `json:"name"`
	Waiting []WaitingCall `json:"waiting"`
	// Agents lists the queue's logged-in agents grouped by state.
	Agents map[agents.State][]string `json:"agents"`
	// Stats are today's figures (service level, abandons, ASA, longest wait).
	Stats *QueueStats `json:"stats,omitempty"`
	// PendingCallbacks counts the queue's callbacks not over yet (pending,
	// waiting for an agent or being dialled).
	PendingCallbacks int64 `json:"pending_callbacks"`
}

// WaitingCall is one call waiting in a queue, best first.
type WaitingCall struct {
	ConnectionID string    `json:"connection_id"`
	ANI          string    `json:"ani"`
	Priority     int       `json:"priority"`
	QueuedAt     time.Time `json:"queued_at"`
	WaitSeconds  float64   `json:"wait_seconds"`
}

// AgentEvent is pushed to an agent's desktop.
type AgentEvent struct {
	// Type is "state", "offered", "connected" or "ended" (among others);
	// "queues" when a supervisor changed the agent's queues (Queues).
	Type  string       `json:"type"`
	Agent string       `json:"agent"`
	State agents.State `json:"state,omitempty"`
	At    time.Time    `json:"at"`
	// The screen pop (offered) and call events carry the interaction.
	ConnectionID string            `json:"connection_id,omitempty"`
	ANI          string            `json:"ani,omitempty"`
	DNIS         string            `json:"dnis,omitempty"`
	Queue        string            `json:"queue,omitempty"`
	Attached     map[string]string `json:"attached,omitempty"`
	Disposition  string            `json:"disposition,omitempty"`
	// Variables are the pop-up variables (secure ones masked).
	Variables []cad.Value `json:"variables,omitempty"`
	// From is who asks for a consult (consult_request).
	From *ConsultingAgent `json:"from,omitempty"`
	// Call is the call after a change (consult_connected, ...).
	Call *CallView `json:"call,omitempty"`
	// Version and Name report a change of call-associated data.
	Version int64  `json:"version,omitempty"`
	Name    string `json:"name,omitempty"`
	// Kind is "callback" for a callback's pop-up and connection, and
	// "transfer" for the pop-up of a call an agent blind-transferred (to
	// this agent, or to a queue this agent serves); Number is
	// the customer's number, RequestedAt when the callback was asked for
	// and WaitingSeconds how long ago that was when the agent was offered.
	Kind           string    `json:"kind,omitempty"`
	Number         string    `json:"number,omitempty"`
	RequestedAt    time.Time `json:"requested_at,omitzero"`
	WaitingSeconds int       `json:"waiting_seconds,omitempty"`
	// Queues are the agent's queues after a "queues" event.
	Queues []string `json:"queues,omitempty"`
}

// ConsultingAgent is who asks for a consult: name, DN (their endpoint) and
// team (their queues).
type ConsultingAgent struct {
	ID   string `json:"id"`
	DN   string `json:"dn"`
	Team string `json:"team"`
}
