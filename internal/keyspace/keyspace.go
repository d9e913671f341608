// Package keyspace builds every Redis key name Tandem uses, in one place.
//
// Layout ("tandem" is the configurable prefix, v1 the schema version):
//
//	tandem:v1:ix:<conn>            HASH   one interaction
//	tandem:v1:{q:<queue>}:waiting  ZSET   waiting calls, best first (priority band + arrival ms)
//	tandem:v1:{q:<queue>}:avail    ZSET   available agents, longest idle first (idle-since ms)
//	tandem:v1:agent:<id>           HASH   one agent
//	tandem:v1:agents               SET    logged-in agent ids
//	tandem:v1:events               STREAM every interaction and agent transition
//	tandem:v1:node:<node>:inbox    STREAM offers for calls a node owns, made elsewhere
//	tandem:v1:agent-events:<id>    PUBSUB live events for one agent's desktop
//
// A queue's keys share the hash tag {q:<queue>} so they stay in one Redis
// Cluster slot. The Lua scripts build the same names from Base(); keep the
// two in step (scripts/lib.lua).
package keyspace

// Version is the schema version inside every key.
const Version = "v1"

// Keys builds key names under one prefix.
type Keys struct{ base string }

// New returns the key builder for prefix.
func New(prefix string) Keys { return Keys{base: prefix + ":" + Version + ":"} }

// Base is the common start of every key; scripts get it as an argument.
func (k Keys) Base() string { return k.base }

func (k Keys) Interaction(conn string) string { return k.base + "ix:" + conn }
func (k Keys) Waiting(queue string) string    { return k.base + "{q:" + queue + "}:waiting" }
func (k Keys) Available(queue string) string  { return k.base + "{q:" + queue + "}:avail" }
func (k Keys) Agent(id string) string         { return k.base + "agent:" + id }
func (k Keys) Agents() string                 { return k.base + "agents" }
func (k Keys) Events() string                 { return k.base + "events" }
func (k Keys) Inbox(node string) string       { return k.base + "node:" + node + ":inbox" }
func (k Keys) AgentChannel(id string) string  { return k.base + "agent-events:" + id }
