package api_test

import (
	"context"
	"fmt"
	"log/slog"
	"maps"
	"net/http"
	"net/http/httptest"
	"os"
	"path"
	"slices"
	"strconv"
	"strings"
	"testing"
	"testing/fstest"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/tandem-cc/tandem/acd"
	"github.com/tandem-cc/tandem/agents"
	"github.com/tandem-cc/tandem/api"
	"github.com/tandem-cc/tandem/cad"
	"github.com/tandem-cc/tandem/config"
	"github.com/tandem-cc/tandem/internal/lab"
	"github.com/tandem-cc/tandem/internal/redistest"
	"github.com/tandem-cc/tandem/media"
	"github.com/tandem-cc/tandem/pbxsim"
)

// The world the bad-input table runs against: one lab (a real
// redis-server, the simulator, one replica) for the whole table, in a
// state where every route has something to damage.
//
//	a1  connected on a call of queue sales (recorded, with call
//	    variables, a secure one among them)
//	a2  logged in to support, idle (reason break)
//	a3  logged in to support, available
//	a4  has a token, never logged in
//	a pending callback in sales, due tomorrow, with variables (a
//	secure one among them)
const (
	tokA1  = "table-token-a1"
	tokA2  = "table-token-a2"
	tokA3  = "table-token-a3"
	tokA4  = "table-token-a4"
	tokSup = "table-token-supervisor"
	// tokWrong is no one's token: a real one with its last byte changed.
	tokWrong = "table-token-a1x"
)

var tableAuth = config.Auth{
	Agents: []config.AgentToken{
		{Agent: "a1", Token: tokA1}, {Agent: "a2", Token: tokA2},
		{Agent: "a3", Token: tokA3}, {Agent: "a4", Token: tokA4},
	},
	Supervisors: []config.SupervisorToken{{Name: "table", Token: tokSup}},
}

// tableWorld is the running lab, the API in front of its replica, and the
// ids of what the setup made.
type tableWorld struct {
	lab      *lab.Lab
	srv      *httptest.Server
	conn     string // a1's call
	callback string // the pending callback
}

func startTableWorld(t *testing.T) *tableWorld {
	t.Helper()
	logger := slog.New(slog.DiscardHandler)
	if os.Getenv("TANDEM_TEST_LOG") != "" {
		logger = slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelDebug}))
	}
	sales := acd.QueueSettings{
		MOHClass: "sales-music", RingTimeout: 10 * time.Second, Record: true,
		Variables: []cad.Variable{
			{Name: "ACCOUNT", Label: "Account", Type: "string", Order: 1, PopUp: true},
			{Name: "BALANCE", Label: "Balance", Type: "number", Editable: true, Order: 2, PopUp: true},
			{Name: "VIP", Label: "VIP", Type: "boolean", Editable: true, Order: 3, PopUp: true},
			{Name: "CARD", Label: "Card number", Type: "string", Secure: true, Order: 4},
			{Name: "NOTE", Label: "Note", Type: "string", Editable: true, Order: 5},
		},
		Callback: acd.CallbackSettings{
			Digit: "1", Prompt: media.MustParse("sound:cb-enter-number"),
			Invalid: media.MustParse("sound:cb-invalid"), Confirm: media.MustParse("sound:cb-thanks"),
			CallerID: "+18005550177", MaxAttempts: 3, RetryDelay: time.Minute,
		},
	}
	l, err := lab.Start(context.Background(), lab.Options{
		RedisAddr: redistest.Start(t),
		Queues: map[string]acd.QueueSettings{
			"sales":   sales,
			"support": {MOHClass: "support-music", RingTimeout: 10 * time.Second},
		},
		DNIS:   map[string]string{"800": "sales", "801": "support"},
		Logger: logger,
		// The sweep and the callback poll move nothing in this state, but
		// they need not run often either.
		SweepInterval: 200 * time.Millisecond,
		Engine: acd.Options{
			// Wrap-up and the privacy shield never run out during the table.
			Policy:            acd.Policy{WrapUp: time.Hour},
			WrapUpCodes:       []string{"resolved", "follow-up"},
			DefaultWrapUpCode: "resolved",
			IdleReasons:       []string{"break", "lunch"},
			Dial:              acd.DialSettings{Endpoint: "PJSIP/{number}", DefaultRegion: "US", CallerID: "+18005550100", RingTimeout: 10 * time.Second},
			PrivacyShield:     time.Hour,
			CallbackPoll:      50 * time.Millisecond,
		},
	})
	if err != nil {
		t.Fatalf("lab: %v", err)
	}
	t.Cleanup(l.Close)
	e := l.Replicas[0].Engine
	h := api.New(e, tableAuth, logger,
		api.WithMetrics(l.Replicas[0].Metrics.Handler()),
		api.WithReadiness(func(context.Context) []string { return nil }),
		// The pages' routes, served from a stand-in for package web's
		// files: the table only sends requests the routes refuse.
		api.WithWeb(http.FileServerFS(fstest.MapFS{
			"desktop/index.html":   {Data: []byte("<!doctype html><title>desktop</title>")},
			"wallboard/index.html": {Data: []byte("<!doctype html><title>wallboard</title>")},
			"assets/tandem.js":     {Data: []byte("export {};")},
		})))
	srv := httptest.NewServer(h)
	t.Cleanup(srv.Close)
	w := &tableWorld{lab: l, srv: srv}

	ctx := context.Background()
	for _, a := range []struct {
		id, endpoint, queue string
		state               agents.State
	}{
		{"a1", "PJSIP/1001", "sales", agents.Available},
		{"a2", "PJSIP/1002", "support", agents.Idle},
		{"a3", "PJSIP/1003", "support", agents.Available},
	} {
		l.Sim.SetPhone(a.endpoint, pbxsim.Phone{Mode: pbxsim.Answer, RingFor: 20 * time.Millisecond})
		if _, err := e.Login(ctx, a.id, a.endpoint, []string{a.queue}, nil); err != nil {
			t.Fatalf("login %s: %v", a.id, err)
		}
		if a.state == agents.Available {
			_, err = e.SetAvailable(ctx, a.id)
		} else {
			_, err = e.SetIdle(ctx, a.id, "break")
		}
		if err != nil {
			t.Fatalf("%s %s: %v", a.id, a.state, err)
		}
	}

	// The call is settled once a1's desktop is told it is connected: the
	// engine publishes that after the bridge, the recording and the
	// call's view are written.
	subCtx, unsubscribe := context.WithTimeout(ctx, 30*time.Second)
	defer unsubscribe()
	events, err := e.SubscribeAgent(subCtx, "a1")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := l.Sim.Call(pbxsim.Caller{ANI: "+12025550199", DNIS: "800",
		Vars: map[string]string{"ACCOUNT": "AC-1", "BALANCE": "12.5", "CARD": "4111111111111111"}}); err != nil {
		t.Fatal(err)
	}
	for w.conn == "" {
		ev, ok := <-events
		if !ok {
			t.Fatal("a1's call never connected")
		}
		if ev.Type == "connected" {
			w.conn = ev.ConnectionID
		}
	}
	unsubscribe()

	cb, _, err := e.RequestCallback(ctx, acd.CallbackRequest{
		Queue: "sales", Number: "+12025550123", Name: "Ann",
		Vars:       map[string]string{"ORDER": "42", "CARD": "4111111111111111"},
		EarliestAt: time.Now().Add(24 * time.Hour),
	})
	if err != nil {
		t.Fatalf("callback: %v", err)
	}
	w.callback = cb.ID
	return w
}

// snapshot is every key of the Redis: its name, type, whether it
// expires, and its value as lines (a hash's "field=value" and a set's
// members sorted; a sorted set's, a list's and a stream's entries in
// order).
type snapshot map[string]keyState

type keyState struct {
	kind  string // "hash expires=false"
	lines []string
}

// ignoredKeys are keys that move by themselves, without any request; a
// change there says nothing about the request. Each with why.
var ignoredKeys = []struct{ pattern, why string }{
	{"*:sweep-at", "the routing sweep's rotating window: the sweep moves it on its own period"},
	{"*:node:*:alive", "the replica's lease: renewed on its own period; a stalled test machine can let it lapse and be taken again with a new token"},
	{"*:node:*:fence", "the seat's fencing token: counted up whenever the lease is taken again (above)"},
	{"*:{cb}:alive:*", "the callback scheduler's heartbeat, beaten on its own period"},
	{"*:{cb}:takeover:*", "the callback scheduler's takeover lease, renewed with the heartbeat"},
}

func ignored(key string) bool {
	for _, i := range ignoredKeys {
		if ok, _ := path.Match(i.pattern, key); ok {
			return true
		}
	}
	return false
}

// takeSnapshot reads every key's type, whether it expires, and its whole
// value (a stream's entries, a sorted set's members with their scores).
// The time left to live is not compared: it runs down by itself.
func takeSnapshot(t *testing.T, rdb *redis.Client) snapshot {
	t.Helper()
	ctx := context.Background()
	var keys []string
	iter := rdb.Scan(ctx, 0, "*", 1000).Iterator()
	for iter.Next(ctx) {
		if !ignored(iter.Val()) {
			keys = append(keys, iter.Val())
		}
	}
	if err := iter.Err(); err != nil {
		t.Fatalf("scan: %v", err)
	}
	types := make([]*redis.StatusCmd, len(keys))
	ttls := make([]*redis.DurationCmd, len(keys))
	if _, err := rdb.Pipelined(ctx, func(p redis.Pipeliner) error {
		for i, k := range keys {
			types[i], ttls[i] = p.Type(ctx, k), p.PTTL(ctx, k)
		}
		return nil
	}); err != nil {
		t.Fatalf("types: %v", err)
	}
	values := make([]redis.Cmder, len(keys))
	if _, err := rdb.Pipelined(ctx, func(p redis.Pipeliner) error {
		for i, k := range keys {
			switch types[i].Val() {
			case "string":
				values[i] = p.Get(ctx, k)
			case "hash":
				values[i] = p.HGetAll(ctx, k)
			case "set":
				values[i] = p.SMembers(ctx, k)
			case "zset":
				values[i] = p.ZRangeWithScores(ctx, k, 0, -1)
			case "list":
				values[i] = p.LRange(ctx, k, 0, -1)
			case "stream":
				values[i] = p.XRange(ctx, k, "-", "+")
			}
		}
		return nil
	}); err != nil && err != redis.Nil {
		t.Fatalf("values: %v", err)
	}
	s := make(snapshot, len(keys))
	for i, k := range keys {
		typ := types[i].Val()
		if typ == "none" {
			continue // gone between SCAN and TYPE: absent
		}
		expires := ttls[i].Val() >= 0
		s[k] = keyState{kind: typ + " expires=" + strconv.FormatBool(expires), lines: valueLines(values[i])}
	}
	return s
}

// valueLines prints a value so that equal values print equal.
func valueLines(c redis.Cmder) []string {
	var out []string
	switch c := c.(type) {
	case *redis.StringCmd:
		out = append(out, strconv.Quote(c.Val()))
	case *redis.MapStringStringCmd:
		for f, v := range c.Val() {
			out = append(out, strconv.Quote(f)+"="+strconv.Quote(v))
		}
		slices.Sort(out)
	case *redis.StringSliceCmd:
		for _, v := range c.Val() {
			out = append(out, strconv.Quote(v))
		}
		if c.Name() == "smembers" {
			slices.Sort(out) // a set's members come in no order
		}
	case *redis.ZSliceCmd:
		for _, z := range c.Val() {
			out = append(out, fmt.Sprintf("%v %v", z.Member, z.Score))
		}
	case *redis.XMessageSliceCmd:
		for _, m := range c.Val() {
			out = append(out, fmt.Sprintf("%s %v", m.ID, m.Values)) // fmt prints a map's keys sorted
		}
	default:
		out = append(out, fmt.Sprintf("unreadable %T", c))
	}
	return out
}

// diff lists what changed from a to b: keys created, deleted, changed
// in type or expiry, and the lines of a value that went and came.
func (a snapshot) diff(b snapshot) []string {
	var out []string
	for _, k := range slices.Sorted(maps.Keys(a)) {
		va, vb := a[k], b[k]
		_, ok := b[k]
		switch {
		case !ok:
			out = append(out, "deleted "+k+" ("+va.kind+")")
		case va.kind != vb.kind:
			out = append(out, "changed "+k+": "+va.kind+" -> "+vb.kind)
		case !slices.Equal(va.lines, vb.lines):
			out = append(out, "changed "+k+" ("+va.kind+"):")
			n := len(out)
			for _, l := range va.lines {
				if !slices.Contains(vb.lines, l) {
					out = append(out, "  - "+l)
				}
			}
			for _, l := range vb.lines {
				if !slices.Contains(va.lines, l) {
					out = append(out, "  + "+l)
				}
			}
			if len(out) == n {
				out = append(out, "  (the same entries in another order)")
			}
		}
	}
	for _, k := range slices.Sorted(maps.Keys(b)) {
		vb := b[k]
		if _, ok := a[k]; !ok {
			out = append(out, "created "+k+" ("+vb.kind+"): "+strings.Join(vb.lines, " "))
		}
	}
	return out
}
