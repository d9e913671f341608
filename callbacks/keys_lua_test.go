package callbacks

import (
	"io/fs"
	"testing"

	"github.com/tandem-cc/tandem/internal/keyspace"
	"github.com/tandem-cc/tandem/internal/redistest"
)

// TestLuaKeyBuildersMatchKeyspace runs scripts/lib.lua's key builders in a
// real Redis and compares them with internal/keyspace's names.
func TestLuaKeyBuildersMatchKeyspace(t *testing.T) {
	rdb := redistest.Client(t)
	lib, err := fs.ReadFile(scriptFiles, "scripts/lib.lua")
	if err != nil {
		t.Fatal(err)
	}
	for _, prefix := range []string{"tandem", "acme:cc"} {
		k := keyspace.New(prefix)
		for _, id := range []string{"cb1", "sales.en_US", "{x}:y"} {
			pairs := []redistest.KeyName{
				{Lua: "k_cb(ID)", Want: k.Callback(id)},
				{Lua: "k_due()", Want: k.CallbacksDue()},
				{Lua: "k_leases()", Want: k.CallbackLeases()},
				{Lua: "k_pending(ID)", Want: k.CallbacksPending(id)},
				{Lua: "k_waiting(ID)", Want: k.CallbacksWaiting(id)},
				{Lua: "k_takeover(ID)", Want: k.CallbackTakeover(id)},
				{Lua: "k_alive(ID)", Want: k.NodeAlive(id)},
			}
			redistest.CheckLuaKeyNames(t, rdb, string(lib), []any{k.Base()}, id, pairs)
		}
	}
}
