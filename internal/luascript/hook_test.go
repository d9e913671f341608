package luascript

import (
	"context"
	"sync"
	"testing"
	"testing/fstest"
	"time"

	"github.com/tandem-cc/tandem/internal/redistest"
)

func TestHookTimesScriptsByName(t *testing.T) {
	files := fstest.MapFS{
		"scripts/lib.lua":            {Data: []byte("local function one() return 1 end")},
		"scripts/hook_test_one.lua":  {Data: []byte("return one()")},
		"scripts/hook_test_fail.lua": {Data: []byte("return redis.error_reply('ILLEGAL nope')")},
	}
	one, fail := Load(files, "hook_test_one"), Load(files, "hook_test_fail")
	var mu sync.Mutex
	seen := map[string]int{}
	rdb := redistest.Client(t)
	rdb.AddHook(Hook(func(name string, d time.Duration) {
		if d <= 0 {
			t.Errorf("%s took %v", name, d)
		}
		mu.Lock()
		seen[name]++
		mu.Unlock()
	}))
	ctx := context.Background()
	for range 2 { // the first run falls back from EVALSHA to EVAL: still one observation
		if err := one.Run(ctx, rdb, nil).Err(); err != nil {
			t.Fatal(err)
		}
	}
	if err := fail.Run(ctx, rdb, nil).Err(); err == nil {
		t.Fatal("the failing script succeeded")
	}
	if err := rdb.Set(ctx, "k", "v", 0).Err(); err != nil { // not a script: not observed
		t.Fatal(err)
	}
	mu.Lock()
	defer mu.Unlock()
	if seen["hook_test_one"] != 2 || seen["hook_test_fail"] != 1 || len(seen) != 2 {
		t.Fatalf("observed %v, want hook_test_one 2 and hook_test_fail 1", seen)
	}
	if name, ok := Name(one.Hash()); !ok || name != "hook_test_one" {
		t.Fatalf("Name(%s) = %q %v", one.Hash(), name, ok)
	}
}
