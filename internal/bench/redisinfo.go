package bench

import (
	"context"
	"fmt"
	"strconv"
	"strings"

	"github.com/redis/go-redis/v9"
)

// redisSample is what INFO says at one moment.
type redisSample struct {
	UsedMemory int64            // bytes (INFO memory used_memory)
	Dataset    int64            // bytes (used_memory_dataset: without buffers, script caches, key tables)
	Keys       int64            // keys in db0
	CPU        float64          // seconds, used_cpu_user + used_cpu_sys
	Commands   map[string]int64 // INFO commandstats calls, by command
}

// sampleRedis reads INFO memory, cpu and commandstats in one command.
func sampleRedis(ctx context.Context, rdb *redis.Client) (redisSample, error) {
	txt, err := rdb.Info(ctx, "memory", "cpu", "commandstats", "keyspace").Result()
	if err != nil {
		return redisSample{}, fmt.Errorf("redis INFO: %w", err)
	}
	s := redisSample{Commands: map[string]int64{}}
	for line := range strings.Lines(txt) {
		k, v, ok := strings.Cut(strings.TrimSpace(line), ":")
		if !ok {
			continue
		}
		switch {
		case k == "used_memory":
			s.UsedMemory, _ = strconv.ParseInt(v, 10, 64)
		case k == "used_memory_dataset":
			s.Dataset, _ = strconv.ParseInt(v, 10, 64)
		case k == "db0":
			// keys=12,expires=3,avg_ttl=0
			if n, ok := strings.CutPrefix(v, "keys="); ok {
				n, _, _ = strings.Cut(n, ",")
				s.Keys, _ = strconv.ParseInt(n, 10, 64)
			}
		case k == "used_cpu_user" || k == "used_cpu_sys":
			f, _ := strconv.ParseFloat(v, 64)
			s.CPU += f
		case strings.HasPrefix(k, "cmdstat_"):
			// calls=2,usec=7,usec_per_call=3.50,...
			for kv := range strings.SplitSeq(v, ",") {
				if n, ok := strings.CutPrefix(kv, "calls="); ok {
					s.Commands[strings.TrimPrefix(k, "cmdstat_")], _ = strconv.ParseInt(n, 10, 64)
				}
			}
		}
	}
	return s, nil
}

// redisPID is redis-server's process id (INFO server).
func redisPID(ctx context.Context, rdb *redis.Client) (int, error) {
	txt, err := rdb.Info(ctx, "server").Result()
	if err != nil {
		return 0, fmt.Errorf("redis INFO server: %w", err)
	}
	for line := range strings.Lines(txt) {
		if v, ok := strings.CutPrefix(strings.TrimSpace(line), "process_id:"); ok {
			return strconv.Atoi(v)
		}
	}
	return 0, fmt.Errorf("redis INFO server: no process_id")
}

// commandDelta is b − a per command, without the commands that stayed.
func commandDelta(a, b map[string]int64) map[string]int64 {
	d := map[string]int64{}
	for k, v := range b {
		if n := v - a[k]; n > 0 {
			d[k] = n
		}
	}
	return d
}
