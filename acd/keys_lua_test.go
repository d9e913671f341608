package acd

import (
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
	rdb := redistest.Client(t)
	lib, err := fs.ReadFile(scriptFiles, "scripts/lib.lua")
	if err != nil {
		t.Fatal(err)
	}
	for _, prefix := range []string{"tandem", "t", "acme:cc"} {
		k := keyspace.New(prefix)
		for _, id := range []string{"c1", "9f1c-77:a", "sales.en_US", "{x}"} {
			pairs := []redistest.KeyName{
				{Lua: "k_ix(ID)", Want: k.Interaction(id)},
				{Lua: "k_waiting(ID)", Want: k.Waiting(id)},
				{Lua: "k_avail(ID)", Want: k.Available(id)},
				{Lua: "k_agent(ID)", Want: k.Agent(id)},
				{Lua: "k_events()", Want: k.Events()},
				{Lua: "k_inbox(ID)", Want: k.Inbox(id)},
				{Lua: "k_seat_calls(ID)", Want: k.SeatCalls(id)},
				{Lua: "k_agent_chan(ID)", Want: k.AgentChannel(id)},
				{Lua: "k_wrapup_due()", Want: k.WrapUpDue()},
				{Lua: "k_offers_due()", Want: k.OffersDue()},
				{Lua: "k_alive(ID)", Want: k.ReplicaAlive(id)},
				{Lua: "k_active()", Want: k.ActiveCalls()},
				{Lua: "k_refused_full()", Want: k.RefusedFull()},
				{Lua: "k_secure_due()", Want: k.SecureDue()},
				{Lua: "k_alive(ID)", Want: k.ReplicaAlive(id)},
				{Lua: "k_fence(ID)", Want: k.NodeFence(id)},
				{Lua: "k_seats()", Want: k.Seats()},
				{Lua: "k_qconf(ID)", Want: k.QueueConfig(id)},
				{Lua: "k_elig(ID, 3, 2)", Want: k.Eligible(id, 3, "2")},
				{Lua: "k_skill(ID, 3, 'spanish')", Want: k.Skilled(id, 3, "spanish")},
				{Lua: "k_rr(ID)", Want: k.RoundRobinLast(id)},
				{Lua: "k_sweep_at(ID)", Want: k.SweepAt(id)},
				{Lua: "k_skills()", Want: k.AgentSkills()},
				{Lua: "k_day(20000, 'talk')", Want: k.AgentDay(20000, "talk")},
			}
			redistest.CheckLuaKeyNames(t, rdb, string(lib), []any{k.Base(), "n1"}, id, pairs)
		}
	}
}
