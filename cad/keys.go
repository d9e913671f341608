package cad

import "github.com/tandem-cc/tandem/internal/keyspace"

// keys names this package's Redis keys, next to the ACD's (see
// internal/keyspace):
//
//	<prefix>:v1:ix:<conn>:cad  HASH    an interaction's variables: "v:<name>" -> value, "_version", "_secure" (JSON array of the secure names)
//	<prefix>:v1:audit          STREAM  who revealed which secure value of which call, when
//
// Values live under "v:<name>" because "_version" is itself a legal
// variable name (config allows A-Z a-z 0-9 _), and a variable must never be
// able to overwrite the version.
type keys struct{ ks keyspace.Keys }

func newKeys(prefix string) keys { return keys{ks: keyspace.New(prefix)} }

func (k keys) cad(conn string) string { return k.ks.CAD(conn) }
func (k keys) audit() string          { return k.ks.Audit() }

const (
	versionField = "_version"
	valuePrefix  = "v:"
)

func valueField(name string) string { return valuePrefix + name }
