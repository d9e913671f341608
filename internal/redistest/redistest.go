// Package redistest gives a test its own real redis-server.
package redistest

import (
	"context"
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
