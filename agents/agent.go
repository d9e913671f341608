// Package agents holds the agent state machine and the agent records kept
// in Redis.
package agents

import "time"

// Agent is an agent as stored in Redis.
type Agent struct {
	ID       string    `json:"id"`
	Endpoint string    `json:"endpoint,omitempty"`
	Queues   []string  `json:"queues"`
	State    State     `json:"state"`
	Since    time.Time `json:"since"`
	// Reason is the idle reason code while State is idle.
	Reason string `json:"reason,omitempty"`
	// ConnectionID is the interaction the agent is reserved for or on.
	ConnectionID string `json:"connection_id,omitempty"`
	// Skills are the agent's skills and levels (1..10), given at login;
	// routing offers a call only to an agent whose levels meet the call's
	// requirements.
	Skills map[string]int `json:"skills,omitempty"`
}
