package redistest

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"

	"github.com/redis/go-redis/v9"
)

// Dump reads every key matching pattern (SCAN) the way redis-cli would
// show it: the key's name, then its value read by type (GET, HGETALL,
// LRANGE, SMEMBERS, ZRANGE WITHSCORES, XRANGE), and its DUMP. It returns
// key name -> everything read, as one string per key. Reading by type
// matters: Redis stores a short digit string as an integer inside a
// hash or list, so the DUMP alone would not show it as text.
func Dump(t testing.TB, rdb redis.UniversalClient, pattern string) map[string]string {
	t.Helper()
	ctx := context.Background()
	out := map[string]string{}
	iter := rdb.Scan(ctx, 0, pattern, 1000).Iterator()
	for iter.Next(ctx) {
		key := iter.Val()
		var b strings.Builder
		b.WriteString(key)
		b.WriteByte('\n')
		typ, err := rdb.Type(ctx, key).Result()
		if err != nil {
			t.Fatalf("type %s: %v", key, err)
		}
		var v any
		switch typ {
		case "none":
			continue // expired between SCAN and now
		case "string":
			v, err = rdb.Get(ctx, key).Result()
		case "hash":
			v, err = rdb.HGetAll(ctx, key).Result()
		case "list":
			v, err = rdb.LRange(ctx, key, 0, -1).Result()
		case "set":
			v, err = rdb.SMembers(ctx, key).Result()
		case "zset":
			v, err = rdb.ZRangeWithScores(ctx, key, 0, -1).Result()
		case "stream":
			v, err = rdb.XRange(ctx, key, "-", "+").Result()
		default:
			t.Fatalf("key %s of unexpected type %s", key, typ)
		}
		if err != nil && !errors.Is(err, redis.Nil) {
			t.Fatalf("read %s (%s): %v", key, typ, err)
		}
		fmt.Fprintf(&b, "%v\n", v)
		raw, err := rdb.Dump(ctx, key).Result()
		if err != nil && !errors.Is(err, redis.Nil) {
			t.Fatalf("dump %s: %v", key, err)
		}
		b.WriteString(raw)
		out[key] = b.String()
	}
	if err := iter.Err(); err != nil {
		t.Fatalf("scan %s: %v", pattern, err)
	}
	return out
}

// RequireAbsent fails t for every key matching pattern whose name, value
// or DUMP holds one of secrets (see Dump), naming the key and the secret.
// It returns the number of keys read, so a caller can check it read any.
func RequireAbsent(t testing.TB, rdb redis.UniversalClient, pattern string, secrets ...string) int {
	t.Helper()
	dump := Dump(t, rdb, pattern)
	for key, content := range dump {
		for _, s := range secrets {
			if s == "" {
				t.Fatal("RequireAbsent: an empty secret is in everything")
			}
			if strings.Contains(content, s) {
				t.Errorf("key %s holds secret %q", key, s)
			}
		}
	}
	return len(dump)
}
