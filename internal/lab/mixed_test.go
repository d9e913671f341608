package lab

import (
	"context"
	"log/slog"
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/tandem-cc/tandem/acd"
	"github.com/tandem-cc/tandem/internal/redistest"
	"github.com/tandem-cc/tandem/pbxsim"
)

func TestMixedEndpointSpreadsExtensionsOverBothNodes(t *testing.T) {
	for ext, want := range map[string]string{
		"1001":     "ast1/PJSIP/1001",
		"1002":     "fs1/user/1002",
		"1010":     "fs1/user/1010",
		"+1202555": "ast1/PJSIP/+1202555",
		"{number}": "ast1/PJSIP/{number}",
	} {
		if got := Mixed.Endpoint(ext); got != want {
			t.Errorf("Mixed.Endpoint(%q) = %q, want %q", ext, got, want)
		}
	}
	if k, err := ParseKind("mixed"); err != nil || k != Mixed {
		t.Fatalf("ParseKind(mixed) = %q, %v", k, err)
	}
	if k, err := ParseKind(""); err != nil || k != Asterisk {
		t.Fatalf("ParseKind(\"\") = %q, %v, want the default", k, err)
	}
}

// A mixed lab serves the portable API through its composite simulator,
// has no ARI-only handle, and its replicas' muxes are connected to both
// nodes once Start returns.
func TestMixedLabServesThePortableAPI(t *testing.T) {
	ctx := context.Background()
	if _, err := Start(ctx, Options{PBX: Mixed, RedisAddr: redistest.Start(t), WrapSim: func(h http.Handler) http.Handler { return h }}); err == nil || !strings.Contains(err.Error(), "WrapSim") {
		t.Fatalf("mixed with WrapSim: %v, want an error naming it", err)
	}
	l, err := Start(ctx, Options{PBX: Mixed, RedisAddr: redistest.Start(t)})
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	m, ok := l.PBX.(*MixedSim)
	if l.Kind() != Mixed || !ok || m.Asterisk == nil || m.FreeSWITCH == nil || l.Sim != nil || l.ARIURL != "" || !l.Replicas[0].Connected() {
		t.Fatalf("lab on %q: PBX %T, Sim %v, ARI %q", l.Kind(), l.PBX, l.Sim, l.ARIURL)
	}
	if l.Bridged("nobody", "nobody-else") || l.Heard("nobody") != nil {
		t.Fatal("legs that do not exist are bridged or heard something")
	}
	if ok, err := l.RecordingStored("never-recorded"); err != nil || ok {
		t.Fatalf("a recording never made is stored: %v %v", ok, err)
	}
	if err := l.PBX.HangUp("nobody"); err == nil {
		t.Fatal("hanging up a leg neither node has: no error")
	}
}

// probeSeat runs one seat's mux of a mixed rig with no engine, so that a
// test rings through it exactly what it wants.
func probeSeat(t *testing.T) (*mixedRig, acd.PBX) {
	t.Helper()
	r, err := startMixed(Options{Logger: slog.New(slog.DiscardHandler), RequestTimeout: 5 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	d, err := r.driver(acd.Seat{Node: "probe", App: "tandem-probe"}, slog.New(slog.DiscardHandler))
	if err != nil {
		r.close()
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() {
		defer close(done)
		_ = d.pbx.Run(ctx, func(acd.Event) {})
	}()
	t.Cleanup(func() {
		cancel()
		<-done
		r.close()
	})
	deadline := time.Now().Add(10 * time.Second)
	for !d.connected() {
		if time.Now().After(deadline) {
			t.Fatal("the probe seat never connected to both nodes")
		}
		time.Sleep(5 * time.Millisecond)
	}
	return r, d.pbx
}

// A phone is one phone on both nodes: rung directly on its own node and
// through the trunk on the other at once, it has two calls, and an offer
// of one call on both nodes is a double offer, though each node alone saw
// one leg. The composite names both legs' endpoint as the phone's.
func TestMixedSimCountsAPhoneRungOnBothNodes(t *testing.T) {
	r, pbx := probeSeat(t)
	m := r.s
	m.SetPhone("ast1/PJSIP/1001", pbxsim.Phone{Mode: pbxsim.NoAnswer})
	m.SetPhone("fs1/user/1002", pbxsim.Phone{Mode: pbxsim.NoAnswer})
	ctx := context.Background()
	ring := func(leg, endpoint, conn string) {
		t.Helper()
		err := pbx.Ring(ctx, acd.RingRequest{Leg: leg, Endpoint: endpoint, Timeout: 30 * time.Second,
			Vars: map[string]string{"TANDEM_CONNECTION_ID": conn}})
		if err != nil {
			t.Fatalf("ring %s at %s: %v", leg, endpoint, err)
		}
	}
	ring("c1-a1", "ast1/PJSIP/1001", "c1")
	ring("c2-a1", "fs1/user/1002", "c2") // another phone, another call: no conflict
	if st := m.Stats(); st.AgentsWithTwoCalls != 0 || st.DoubleOffers != 0 {
		t.Fatalf("two phones, two calls: %+v", st)
	}
	// fs1 rings ast1's phone 1001 through the trunk, for the same call.
	ring("c1-a2", "fs1/sofia/gateway/ast1/1001", "c1")

	st := m.Stats()
	if st.AgentsWithTwoCalls != 1 || st.DoubleOffers != 1 {
		t.Fatalf("phone 1001 rung on both nodes for one call: %+v", st)
	}
	if a, f := m.Asterisk.Stats(), m.FreeSWITCH.Stats(); a.AgentsWithTwoCalls+f.AgentsWithTwoCalls+a.DoubleOffers+f.DoubleOffers != 0 {
		t.Fatalf("a node alone saw the conflict (the check would count it twice): ast1 %+v fs1 %+v", a, f)
	}
	if n := st.OriginatesByEndpoint["ast1/PJSIP/1001"]; n != 2 {
		t.Fatalf("originates to phone 1001: %d, want 2 (%v)", n, st.OriginatesByEndpoint)
	}
	if got := m.LiveLegs("ast1/PJSIP/1001"); !slices.Equal(got, []string{"c1-a1", "c1-a2"}) {
		t.Fatalf("live legs of phone 1001: %v", got)
	}
	if o := m.FreeSWITCH.Originates(); len(o) != 2 || o[1].Endpoint != "sofia/gateway/ast1/1001" {
		t.Fatalf("fs1 dialled %+v, want the trunk to ast1 last", o)
	}
	if c, ok := m.Channel("c1-a2"); !ok || c.Endpoint != "ast1/PJSIP/1001" {
		t.Fatalf("the trunk leg reads %+v, %v", c, ok)
	}
	for _, leg := range []string{"c1-a1", "c1-a2", "c2-a1"} {
		if err := m.HangUp(leg); err != nil {
			t.Fatalf("hang up %s: %v", leg, err)
		}
	}
	if !m.WaitIdle(10 * time.Second) {
		t.Fatalf("legs left: %+v", m.Channels())
	}
}

// Callers arrive on ast1 and fs1 in turn, and each leg is found on its
// node through the composite.
func TestMixedSimSpreadsCallersOverBothNodes(t *testing.T) {
	r, _ := probeSeat(t)
	m := r.s
	var legs []string
	for _, ani := range []string{"5550001", "5550002"} {
		leg, err := m.Call(pbxsim.Caller{ANI: ani, DNIS: "800"})
		if err != nil {
			t.Fatal(err)
		}
		legs = append(legs, leg)
	}
	if _, ok := m.Asterisk.Channel(legs[0]); !ok || !strings.HasPrefix(legs[0], MixedAsteriskNode+"-") {
		t.Fatalf("first caller %s is not on ast1", legs[0])
	}
	if _, ok := m.FreeSWITCH.Channel(legs[1]); !ok {
		t.Fatalf("second caller %s is not on fs1", legs[1])
	}
	if st := m.Stats(); st.CallsPlaced != 2 || len(m.Channels()) != 2 {
		t.Fatalf("stats %+v, channels %+v", st, m.Channels())
	}
	for _, leg := range legs {
		if c, ok := m.Channel(leg); !ok || c.HungUp {
			t.Fatalf("caller %s: %+v %v", leg, c, ok)
		}
		if err := m.HangUp(leg); err != nil {
			t.Fatal(err)
		}
	}
	if !m.WaitIdle(10 * time.Second) {
		t.Fatalf("legs left: %+v", m.Channels())
	}
}
