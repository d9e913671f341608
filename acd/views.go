package acd

import (
	"time"

	"github.com/tandem-cc/tandem/agents"
)

// QueueView is a queue as a supervisor sees it.
type QueueView struct {
	Name    string        `json:"name"`
	Waiting []WaitingCall `json:"waiting"`
	// Agents lists the queue's logged-in agents grouped by state.
	Agents map[agents.State][]string `json:"agents"`
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
	// Type is "state", "offered", "connected" or "ended".
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
}
