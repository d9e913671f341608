package callbacks

import "github.com/tandem-cc/tandem/internal/keyspace"

// Keys builds the callback key names (scripts/lib.lua builds the same from
// Base; keep the two in step). Every key carries the hash tag {cb}, so all
// callback keys sit in one Redis Cluster slot.
type Keys struct{ base string }

// NewKeys returns the callback keys under prefix ("tandem:v1:{cb}:…").
func NewKeys(prefix string) Keys { return Keys{base: keyspace.New(prefix).Base()} }

// Base is the common start of every key; scripts get it as ARGV[1].
func (k Keys) Base() string { return k.base }

func (k Keys) Callback(id string) string        { return k.base + "{cb}:cb:" + id }
func (k Keys) Due() string                      { return k.base + "{cb}:due" }
func (k Keys) Leases() string                   { return k.base + "{cb}:leases" }
func (k Keys) PendingIndex(queue string) string { return k.base + "{cb}:pending:" + queue }
func (k Keys) Waiting(queue string) string      { return k.base + "{cb}:waiting:" + queue }
func (k Keys) Alive(node string) string         { return k.base + "{cb}:alive:" + node }
