package acd

import (
	"context"
	"io/fs"
	"testing"

	"github.com/tandem-cc/tandem/internal/keyspace"
	"github.com/tandem-cc/tandem/internal/redistest"
)

// TestLuaKeyBuildersMatchKeyspace runs scripts/lib.lua's key builders in a
// real Redis (EVAL, lib.lua in front as every script has it) for sample
// ids — ones with the characters ids may carry, hash tags included — and
// compares each name with internal/keyspace's: the two sides must name
// the same keys.
func TestLuaKeyBuildersMatchKeyspace(t *testing.T) {
	ctx := context.Background()
	rdb := redistest.Client(t)
	lib, err := fs.ReadFile(scriptFiles, "scripts/lib.lua")
	if err != nil {
		t.Fatal(err)
	}
	for _, prefix := range []string{"tandem", "t", "acme:cc"} {
		k := keyspace.New(prefix)
		for _, id := range []string{"c1", "9f1c-77:a", "sales.en_US", "{x}"} {
			pairs := []struct{ lua, want string }{
				{"k_ix(ID)", k.Interaction(id)},
				{"k_waiting(ID)", k.Waiting(id)},
				{"k_avail(ID)", k.Available(id)},
				{"k_agent(ID)", k.Agent(id)},
				{"k_events()", k.Events()},
				{"k_inbox(ID)", k.Inbox(id)},
				{"k_agent_chan(ID)", k.AgentChannel(id)},
				{"k_wrapup_due()", k.WrapUpDue()},
				{"k_active()", k.ActiveCalls()},
				{"k_refused_full()", k.RefusedFull()},
				{"k_qconf(ID)", k.QueueConfig(id)},
				{"k_elig(ID, 3, 2)", k.Eligible(id, 3, "2")},
				{"k_skill(ID, 3, 'spanish')", k.Skilled(id, 3, "spanish")},
				{"k_rr(ID)", k.RoundRobinLast(id)},
				{"k_sweep_at(ID)", k.SweepAt(id)},
				{"k_skills()", k.AgentSkills()},
				{"k_day(20000, 'talk')", k.AgentDay(20000, "talk")},
			}
			body := string(lib) + "\nlocal ID = ARGV[3]\nreturn {"
			for _, p := range pairs {
				body += p.lua + ", "
			}
			body += "}"
			got, err := rdb.Eval(ctx, body, nil, k.Base(), "n1", id).StringSlice()
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
