package callbacks

import "github.com/tandem-cc/tandem/internal/keyspace"

// Keys builds the callback key names (scripts/lib.lua builds the same from
// Base; keep the two in step). Every key carries the hash tag {cb}, so all
// callback keys sit in one Redis Cluster slot.
// The names themselves come from internal/keyspace.
type Keys struct{ ks keyspace.Keys }

// NewKeys returns the callback keys under prefix ("tandem:v1:{cb}:…").
func NewKeys(prefix string) Keys { return Keys{ks: keyspace.New(prefix)} }

// Base is the common start of every key; scripts get it as ARGV[1].
func (k Keys) Base() string { return k.ks.Base() }

func (k Keys) Callback(id string) string        { return k.ks.Callback(id) }
func (k Keys) Due() string                      { return k.ks.CallbacksDue() }
func (k Keys) Leases() string                   { return k.ks.CallbackLeases() }
func (k Keys) PendingIndex(queue string) string { return k.ks.CallbacksPending(queue) }
func (k Keys) Waiting(queue string) string      { return k.ks.CallbacksWaiting(queue) }
func (k Keys) Alive(node string) string         { return k.ks.NodeAlive(node) }

// Audit is the stream reveals are recorded in, shared with the reveals of
// call variables (cad.Store.AuditStream).
func (k Keys) Audit() string { return k.ks.Audit() }
