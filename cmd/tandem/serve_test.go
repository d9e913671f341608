package main

import (
	"context"
	"log/slog"
	"net/http"
	"slices"
	"testing"

	"github.com/redis/go-redis/v9"

	"github.com/tandem-cc/tandem/internal/keyspace"
	"github.com/tandem-cc/tandem/internal/redistest"
	"github.com/tandem-cc/tandem/pbxsim"
)

type flag bool

func (f flag) Connected() bool { return bool(f) }
func (f flag) Ready() bool     { return bool(f) }

// TestReadinessNamesTheSeat: /readyz's check names "seat" while the home
// seat is not held or the replica drains, apart from the PBX socket.
func TestReadinessNamesTheSeat(t *testing.T) {
	rdb := redistest.Client(t)
	log := slog.New(slog.DiscardHandler)
	for _, tc := range []struct {
		pbx, seat flag
		want      []string
	}{
		{true, true, nil},
		{true, false, []string{"seat"}},
		{false, true, []string{"pbx"}},
		{false, false, []string{"seat", "pbx"}},
	} {
		got := readiness(tc.pbx, tc.seat, rdb, log)(context.Background())
		if !slices.Equal(got, tc.want) {
			t.Errorf("pbx %v seat %v: missing %v, want %v", tc.pbx, tc.seat, got, tc.want)
		}
	}
}

// TestServeDrainsInPlaceWhenAlone: the stop request (SIGTERM's context)
// with no other replica alive drains in place: /readyz names the seat, the
// API keeps serving (the agent ends the call through it), a new call is
// sent back to the dialplan, and once no call is left serve returns with
// its seat released.
func TestServeDrainsInPlaceWhenAlone(t *testing.T) {
	addr := redistest.Start(t)
	r := startServeOn(t, addr, nil, "", nil)
	if _, err := r.sim.Call(pbxsim.Caller{App: "tandem-r1", ANI: "+15550001", DNIS: "5551000"}); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "the call bridged", func() bool { return r.sim.Stats().CallsBridged == 1 })

	stopped := make(chan error, 1)
	go func() { stopped <- r.stop() }()
	waitReadyz(t, r.api, http.StatusServiceUnavailable, `{"ready":false,"not_ready":["seat"]}`)
	late, err := r.sim.Call(pbxsim.Caller{App: "tandem-r1", ANI: "+15550002", DNIS: "5551000"})
	if err != nil {
		t.Fatal(err)
	}
	waitFor(t, "the late call back in the dialplan", func() bool {
		ch, ok := r.sim.Channel(late)
		// Counted as sent back (the only stray), and out of Stasis.
		return metricValue(scrapeMetrics(t, r.api+"/metrics")["tandem_stray_channels_total"]) == 1 && (!ok || !ch.InStasis)
	})
	post(t, r.api+"/v1/agents/1001/call/end", "")
	if err := <-stopped; err != nil {
		t.Fatalf("serve: %v\n%s", err, r.logs.String())
	}
	rdb := redis.NewClient(&redis.Options{Addr: addr})
	defer func() { _ = rdb.Close() }()
	if n, err := rdb.Exists(context.Background(), keyspace.New("tandem").ReplicaAlive("r1")).Result(); err != nil || n != 0 {
		t.Fatalf("seat r1 still held after the drain: %d %v", n, err)
	}
}
