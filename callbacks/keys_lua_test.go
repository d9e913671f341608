package callbacks

import (
	"context"
	"io/fs"
	"testing"

	"github.com/tandem-cc/tandem/internal/keyspace"
	"github.com/tandem-cc/tandem/internal/redistest"
)

// TestLuaKeyBuildersMatchKeyspace runs scripts/lib.lua's key builders in a
// real Redis and compares them with internal/keyspace's names.
func TestLuaKeyBuildersMatchKeyspace(t *testing.T) {
	ctx := context.Background()
	rdb := redistest.Client(t)
	lib, err := fs.ReadFile(scriptFiles, "scripts/lib.lua")
	if err != nil {
		t.Fatal(err)
	}
	for _, prefix := range []string{"tandem", "acme:cc"} {
		k := keyspace.New(prefix)
		for _, id := range []string{"cb1", "sales.en_US", "{x}:y"} {
			pairs := []struct{ lua, want string }{
				{"k_cb(ID)", k.Callback(id)},
				{"k_due()", k.CallbacksDue()},
				{"k_leases()", k.CallbackLeases()},
				{"k_pending(ID)", k.CallbacksPending(id)},
				{"k_waiting(ID)", k.CallbacksWaiting(id)},
				{"k_takeover(ID)", k.CallbackTakeover(id)},
				{"k_alive(ID)", k.NodeAlive(id)},
			}
			body := string(lib) + "\nlocal ID = ARGV[2]\nreturn {"
			for _, p := range pairs {
				body += p.lua + ", "
			}
			body += "}"
			got, err := rdb.Eval(ctx, body, nil, k.Base(), id).StringSlice()
			if err != nil {
				t.Fatal(err)
			}
			if len(got) != len(pairs) {
				t.Fatalf("%d names back, want %d", len(got), len(pairs))
			}
			for i, p := range pairs {
				if got[i] != p.want {
					t.Errorf("prefix %q id %q: lib.lua %s = %q, keyspace %q", prefix, id, p.lua, got[i], p.want)
				}
			}
		}
	}
}
