// Package keyspace builds every Redis key name Tandem uses, in one place:
// Go code never puts a key name together itself.
//
// Layout ("tandem" is the configurable prefix, v1 the schema version):
//
//	tandem:v1:ix:<conn>                   HASH   one interaction
//	tandem:v1:ix:<conn>:cad               HASH   its call-associated data (package cad)
//	tandem:v1:{q:<queue>}:waiting         ZSET   waiting calls, best first (priority band + arrival ms)
//	tandem:v1:{q:<queue>}:avail           ZSET   available agents, longest idle first (idle-since ms)
//	tandem:v1:{q:<queue>}:config          HASH   routing settings (strategy, weight, skills, gen)
//	tandem:v1:{q:<queue>}:g<gen>:elig:<c> ZSET   routing index: available agents of class c
//	tandem:v1:{q:<queue>}:g<gen>:skill:<s> ZSET  routing index: available agents with skill s
//	tandem:v1:{q:<queue>}:rr-last         STR    the agent round robin served last
//	tandem:v1:{q:<queue>}:sweep-at        STR    where the sweep's rotating window starts
//	tandem:v1:{q:<queue>}:stats:<date>    HASH   the queue's figures of one UTC day
//	tandem:v1:{q:<queue>}:history         ZSET   the wallboard's samples of the last hour, by slot ms
//	tandem:v1:agent:<id>                  HASH   one agent
//	tandem:v1:agents                      SET    logged-in agent ids
//	tandem:v1:agent-skills                HASH   agent id -> skills
//	tandem:v1:agent-day:<d>:<what>        HASH   agent id -> calls / talk ms on day d
//	tandem:v1:wrapup-due                  ZSET   agents in wrap-up by due time
//	tandem:v1:offers-due                  ZSET   agents reserved or ringing by the deadline of their offer
//	tandem:v1:active-calls                STR    calls held now (the concurrent-call cap)
//	tandem:v1:refused-full                STR    calls refused at that cap
//	tandem:v1:secure-due                  ZSET   ended interactions whose secure values are dropped at the score (Redis ms)
//	tandem:v1:events                      STREAM every interaction and agent transition
//	tandem:v1:audit                       STREAM who revealed which secure value
//	tandem:v1:node:<node>:inbox           STREAM offers and commands for calls a node owns
//	tandem:v1:node:<node>:alive           STR    seat <node>'s lease: "<holder> <token>", PX TTL; present iff held
//	tandem:v1:node:<node>:fence           STR    seat <node>'s fencing token (INCR on every acquisition)
//	tandem:v1:seats                       HASH   seat registry: node -> its Stasis application
//	tandem:v1:seat-released               PUBSUB a seat's node, published when its holder released it
//	tandem:v1:node:<node>:calls           SET    the seat's non-terminal interactions (its owner = node)
//	tandem:v1:cmd:<id>                    STR    a forwarded command id already run
//	tandem:v1:reply:<id>                  LIST   the answer to a forwarded command
//	tandem:v1:agent-events:<id>           PUBSUB live events for one agent's desktop
//	tandem:v1:{cb}:...                    callbacks (see the Callback* builders)
//
// A queue's keys share the hash tag {q:<queue>}, the callbacks' the tag
// {cb}, so each group stays in one Redis Cluster slot. The Lua scripts
// build the same names from Base(): acd/scripts/lib.lua and
// callbacks/scripts/lib.lua; TestLuaKeyBuildersMatch runs their builders
// in a real Redis and compares.
package keyspace

import "strconv"

// Version is the schema version inside every key.
const Version = "v1"

// Keys builds key names under one prefix.
type Keys struct{ base string }

// New returns the key builder for prefix.
func New(prefix string) Keys { return Keys{base: prefix + ":" + Version + ":"} }

// Base is the common start of every key; scripts get it as an argument.
func (k Keys) Base() string { return k.base }

func (k Keys) Interaction(conn string) string { return k.base + "ix:" + conn }
func (k Keys) CAD(conn string) string         { return k.base + "ix:" + conn + ":cad" }
func (k Keys) Waiting(queue string) string    { return k.queue(queue) + "waiting" }
func (k Keys) Available(queue string) string  { return k.queue(queue) + "avail" }
func (k Keys) QueueConfig(queue string) string {
	return k.queue(queue) + "config"
}

// QueueIndex is the start of every routing-index key of queue's
// generation gen (Eligible, Skilled): deleting a generation deletes the
// keys under it.
func (k Keys) QueueIndex(queue string, gen int64) string {
	return k.queue(queue) + "g" + strconv.FormatInt(gen, 10) + ":"
}
func (k Keys) Eligible(queue string, gen int64, class string) string {
	return k.QueueIndex(queue, gen) + "elig:" + class
}
func (k Keys) Skilled(queue string, gen int64, skill string) string {
	return k.QueueIndex(queue, gen) + "skill:" + skill
}
func (k Keys) RoundRobinLast(queue string) string { return k.queue(queue) + "rr-last" }
func (k Keys) SweepAt(queue string) string        { return k.queue(queue) + "sweep-at" }

// QueueStats are queue's figures of one UTC day, date as 2006-01-02.
func (k Keys) QueueStats(queue, date string) string { return k.queue(queue) + "stats:" + date }

// QueueHistory holds queue's wallboard samples (waiting calls and service
// level) of the last hour, one per sampling slot, scored by the slot's
// start in ms (acd/queue_history.go).
func (k Keys) QueueHistory(queue string) string { return k.queue(queue) + "history" }

func (k Keys) queue(q string) string { return k.base + "{q:" + q + "}:" }

func (k Keys) Agent(id string) string { return k.base + "agent:" + id }
func (k Keys) Agents() string         { return k.base + "agents" }
func (k Keys) AgentSkills() string    { return k.base + "agent-skills" }

// AgentDay is an agent figure (what: "calls", "talk") of day d (days
// since 1970, UTC).
func (k Keys) AgentDay(d int64, what string) string {
	return k.base + "agent-day:" + strconv.FormatInt(d, 10) + ":" + what
}
func (k Keys) WrapUpDue() string        { return k.base + "wrapup-due" }
func (k Keys) OffersDue() string        { return k.base + "offers-due" }
func (k Keys) ActiveCalls() string      { return k.base + "active-calls" }
func (k Keys) RefusedFull() string      { return k.base + "refused-full" }
func (k Keys) Events() string           { return k.base + "events" }
func (k Keys) Audit() string            { return k.base + "audit" }
func (k Keys) Inbox(node string) string { return k.base + "node:" + node + ":inbox" }
func (k Keys) ReplicaAlive(node string) string {
	return k.base + "node:" + node + ":alive"
}

// NodeFence is seat node's fencing token: the lease's acquisitions count
// it up, and a script run with an older token is refused (lib.lua).
func (k Keys) NodeFence(node string) string { return k.base + "node:" + node + ":fence" }

// Seats is the seat registry: node -> Stasis application, so a survivor
// knows which application a dead seat's calls are in.
func (k Keys) Seats() string { return k.base + "seats" }

// SeatReleased is the channel a holder releasing a seat publishes its node
// on, so a survivor claims it at once instead of at its next poll.
func (k Keys) SeatReleased() string { return k.base + "seat-released" }

// SeatCalls is the set of the interactions owned by node that are not over
// yet: what the next holder of the seat rebuilds (acd/reconcile.go). The
// scripts that set an interaction's owner add it, finish removes it.
func (k Keys) SeatCalls(node string) string  { return k.base + "node:" + node + ":calls" }
func (k Keys) CommandDone(id string) string  { return k.base + "cmd:" + id }
func (k Keys) CommandReply(id string) string { return k.base + "reply:" + id }
func (k Keys) AgentChannel(id string) string { return k.base + "agent-events:" + id }
func (k Keys) Callback(id string) string     { return k.base + "{cb}:cb:" + id }
func (k Keys) CallbacksDue() string          { return k.base + "{cb}:due" }
func (k Keys) CallbackLeases() string        { return k.base + "{cb}:leases" }
func (k Keys) CallbacksPending(q string) string {
	return k.base + "{cb}:pending:" + q
}
func (k Keys) CallbacksWaiting(q string) string { return k.base + "{cb}:waiting:" + q }
func (k Keys) CallbackTakeover(owner string) string {
	return k.base + "{cb}:takeover:" + owner
}
func (k Keys) NodeAlive(node string) string { return k.base + "{cb}:alive:" + node }

// SecureDue lists the ended interactions whose secure values are kept a
// while after the end (retention.secure_values > 0), scored by when they
// are dropped.
func (k Keys) SecureDue() string { return k.base + "secure-due" }
