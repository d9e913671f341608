package redisserver

import (
	"context"
	"fmt"
	"net"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
)

// TestAOFEverysecSurvivesAProcessCrash backs docs/REDIS.md: with
// appendfsync everysec, Redis hands every write to the kernel before it
// replies, so a killed redis-server (SIGKILL, no SHUTDOWN) loses nothing
// it acknowledged once it is started again on the same directory.
func TestAOFEverysecSurvivesAProcessCrash(t *testing.T) {
	ctx := context.Background()
	s, err := StartWith(ctx, Config{AppendOnly: true, Fsync: "everysec"})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Stop()
	c := redis.NewClient(&redis.Options{Addr: s.Addr})
	defer func() { _ = c.Close() }()
	const n = 2000
	for i := 0; i < n; i++ {
		if err := c.Set(ctx, fmt.Sprintf("k%d", i), i, 0).Err(); err != nil {
			t.Fatal(err)
		}
	}
	s.Kill()
	if err := s.Restart(ctx); err != nil {
		t.Fatal(err)
	}
	if got, err := c.DBSize(ctx).Result(); err != nil || got != n {
		t.Fatalf("after a crash and restart: %d keys (%v), want %d", got, err, n)
	}
	// Shutdown then Restart, on the same port, keeps them too.
	if err := s.Shutdown(ctx); err != nil {
		t.Fatal(err)
	}
	if err := s.Restart(ctx); err != nil {
		t.Fatal(err)
	}
	if got, err := c.Get(ctx, fmt.Sprintf("k%d", n-1)).Int(); err != nil || got != n-1 {
		t.Fatalf("after a shutdown and restart: %d (%v)", got, err)
	}
}

// TestSentinelFindsThePrimaryAndItsReplica: a Sentinel started by
// StartSentinel monitors the primary it was given and learns its replica.
func TestSentinelFindsThePrimaryAndItsReplica(t *testing.T) {
	ctx := context.Background()
	primary, err := StartWith(ctx, Config{})
	if err != nil {
		t.Fatal(err)
	}
	defer primary.Stop()
	replica, err := StartWith(ctx, Config{ReplicaOf: primary.Addr})
	if err != nil {
		t.Fatal(err)
	}
	defer replica.Stop()
	s, err := StartSentinel(ctx, SentinelConfig{MasterName: "m", Primary: primary.Addr})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Stop()
	sc := redis.NewSentinelClient(&redis.Options{Addr: s.Addr})
	defer func() { _ = sc.Close() }()
	addr, err := sc.GetMasterAddrByName(ctx, "m").Result()
	if err != nil || net.JoinHostPort(addr[0], addr[1]) != primary.Addr {
		t.Fatalf("master address %v (%v), want %s", addr, err, primary.Addr)
	}
	// The replica shows up once the primary's INFO lists it (the replica
	// connects within moments; the Sentinel asks at once and then every
	// 10 s), so this waits on a blocking read of the Sentinel's events.
	ps := sc.Subscribe(ctx, "+slave")
	defer func() { _ = ps.Close() }()
	if _, err := ps.Receive(ctx); err != nil { // the subscription's confirmation
		t.Fatal(err)
	}
	_, rport, _ := net.SplitHostPort(replica.Addr)
	known := func() bool {
		rs, err := sc.Replicas(ctx, "m").Result()
		return err == nil && len(rs) == 1 && rs[0]["port"] == rport
	}
	for !known() {
		wctx, cancel := context.WithTimeout(ctx, time.Minute)
		_, err := ps.ReceiveMessage(wctx)
		cancel()
		if err != nil {
			t.Fatalf("sentinel never listed the replica: %v", err)
		}
	}
}
