package acd

import (
	"context"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
)

func redisZ(member string) redis.Z { return redis.Z{Score: 1, Member: member} }

// waitRedisPast waits until Redis TIME, the clock the scripts read, shows
// a later millisecond than at: the event a due time waits for.
func waitRedisPast(t *testing.T, rdb redis.UniversalClient, at time.Time) {
	t.Helper()
	ctx := context.Background()
	deadline := time.Now().Add(30 * time.Second)
	for {
		now, err := rdb.Time(ctx).Result()
		if err != nil {
			t.Fatalf("redis time: %v", err)
		}
		if now.UnixMilli() > at.UnixMilli() {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("redis time %v never passed %v", now, at)
		}
		time.Sleep(time.Millisecond)
	}
}

// waitRedisTick waits until Redis TIME shows a later millisecond than now,
// so that what comes next is strictly later on the scripts' ms clock
// (arrival and idle order).
func waitRedisTick(t *testing.T, rdb redis.UniversalClient) {
	t.Helper()
	now, err := rdb.Time(context.Background()).Result()
	if err != nil {
		t.Fatalf("redis time: %v", err)
	}
	waitRedisPast(t, rdb, now)
}
