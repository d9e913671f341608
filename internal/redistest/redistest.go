// Package redistest gives a test its own real redis-server.
package redistest

import (
	"context"
	"fmt"
	"testing"

	"github.com/redis/go-redis/v9"

	"github.com/tandem-cc/tandem/internal/redisserver"
)

// Start runs a private redis-server for t and returns its address; it is
// stopped when the test ends.
func Start(t testing.TB) string {
	t.Helper()
	srv, err := redisserver.Start(context.Background())
	if err != nil {
		t.Fatalf("redis: %v", err)
	}
	t.Cleanup(srv.Stop)
	return srv.Addr
}

// Client runs a private redis-server for t and returns a client of it.
func Client(t testing.TB) *redis.Client {
	t.Helper()
	c := redis.NewClient(&redis.Options{Addr: Start(t), ContextTimeoutEnabled: true})
	t.Cleanup(func() { _ = c.Close() })
	return c
}

// KeyName pairs a Lua expression that builds a key name (in a script's
// lib.lua) with the name internal/keyspace gives for the same key.
type KeyName struct{ Lua, Want string }

// CheckLuaKeyNames evaluates each pair's Lua expression after lib (the
// scripts' shared prelude) in the real Redis behind rdb, with ARGV = args
// and the Lua local ID set to id, and reports every name that differs
// from the keyspace one: the two sides of a key name must never drift.
func CheckLuaKeyNames(t testing.TB, rdb redis.UniversalClient, lib string, args []any, id string, pairs []KeyName) {
	t.Helper()
	argv := append(append([]any(nil), args...), id)
	body := lib + fmt.Sprintf("\nlocal ID = ARGV[%d]\nreturn {", len(argv))
	for _, p := range pairs {
		body += p.Lua + ", "
	}
	body += "}"
	got, err := rdb.Eval(context.Background(), body, nil, argv...).StringSlice()
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != len(pairs) {
		t.Fatalf("%d names back, want %d", len(got), len(pairs))
	}
	for i, p := range pairs {
		if got[i] != p.Want {
			t.Errorf("args %v id %q: lib.lua %s = %q, keyspace %q", args, id, p.Lua, got[i], p.Want)
		}
	}
}
