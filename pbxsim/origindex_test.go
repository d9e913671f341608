package pbxsim

import (
	"fmt"
	"net/url"
	"testing"

	"github.com/CyCoreSystems/ari/v5"
)

// scanConflicts is countOriginate's check as it was: a scan of every live
// channel. The index must answer the same.
func (s *Sim) scanConflicts(endpoint, conn string) (two, double bool) {
	for _, c := range s.channels {
		if c.hangingUp || c.endpoint == "" || c.half == 2 {
			continue
		}
		if c.endpoint == endpoint {
			two = true
		}
		if conn != "" && c.vars[connVar] == conn && c.dial != nil {
			double = true
		}
	}
	return two, double
}

// TestOriginateIndexMatchesScan: after originates (phones and Local
// channels, created and dialled), hang-ups and a connection id set later
// on a leg, the index gives the double-offer and two-calls checks the
// answers a scan of every live channel gives.
func TestOriginateIndexMatchesScan(t *testing.T) {
	w := newWorld(t, fastTiming)
	for _, ep := range []string{"PJSIP/a1", "PJSIP/a2", "PJSIP/a3"} {
		w.sim.SetPhone(ep, Phone{Mode: NoAnswer})
	}
	cl, rec := w.connect("acd")
	caller, err := w.sim.Call(Caller{ANI: "5551000", DNIS: "800"})
	if err != nil {
		t.Fatal(err)
	}
	rec.wait(t, "caller in stasis", isStasisStart(caller))
	orig := func(ep, conn string) string {
		t.Helper()
		req := ari.OriginateRequest{Endpoint: ep, App: "acd", Timeout: 30}
		if conn != "" {
			req.Variables = map[string]string{connVar: conn}
		}
		h, err := cl.Channel().Originate(nil, req)
		if err != nil {
			t.Fatal(err)
		}
		return h.ID()
	}
	a1 := orig("PJSIP/a1", "c1")
	orig("PJSIP/a2", "c2")
	a3 := orig("PJSIP/a3", "")
	orig("Local/100@agents", "c4")
	if st, msg := w.post("/channels/create", url.Values{"endpoint": {"Local/200@agents"}, "app": {"acd"}}); st != 200 {
		t.Fatalf("create: %d %s", st, msg)
	}
	// A connection id given to a leg after its originate counts too.
	w.sim.mu.Lock()
	w.sim.setVar(w.sim.channels[a3], connVar, "c3") // as the dialplan's Set() does
	w.sim.mu.Unlock()
	if err := cl.Channel().Hangup(ari.NewKey(ari.ChannelKey, a1), ""); err != nil {
		t.Fatal(err)
	}
	rec.wait(t, "a1 destroyed", isType("ChannelDestroyed", a1))

	probes := []struct{ ep, conn string }{
		{"PJSIP/a1", "c1"}, {"PJSIP/a2", "c2"}, {"PJSIP/a3", "c3"}, {"PJSIP/a2", "c1"},
		{"Local/100@agents", "c4"}, {"Local/200@agents", ""}, {"PJSIP/none", "c2"}, {"PJSIP/none", "nobody"},
	}
	w.sim.mu.Lock()
	defer w.sim.mu.Unlock()
	matched := 0
	for _, p := range probes {
		two, double := w.sim.originateConflicts(p.ep, p.conn)
		wantTwo, wantDouble := w.sim.scanConflicts(p.ep, p.conn)
		if two != wantTwo || double != wantDouble {
			t.Errorf("%s %s: index says two=%v double=%v, scan says %v %v", p.ep, p.conn, two, double, wantTwo, wantDouble)
		}
		if two || double {
			matched++
		}
	}
	if matched == 0 {
		t.Error("no probe found a conflict: the comparison proves nothing")
	}
	if w.sim.origins.byEndpoint["PJSIP/a1"] != nil || w.sim.origins.byConn["c1"] != nil {
		t.Error("a destroyed leg stays in the index")
	}
}

// BenchmarkOriginateConflicts: the double-offer check of one originate
// while held callers wait (live channels). With the index it does not
// grow with the callers; the scan it replaced did (see the scan=true
// sub-benchmarks).
func BenchmarkOriginateConflicts(b *testing.B) {
	for _, held := range []int{1000, 10000, 100000} {
		s := New(Options{})
		s.mu.Lock()
		for i := 0; i < held; i++ {
			s.newChannel("", fmt.Sprintf("PJSIP/pstn-%08d", i), "PJSIP")
		}
		for i := 0; i < 100; i++ {
			ep := fmt.Sprintf("PJSIP/agent-%d", i)
			a, _ := s.allocLeg(ep, "", "", params{v: map[string]string{}, vars: map[string]string{connVar: fmt.Sprint("conn-", i)}})
			a.dial = &dialState{}
		}
		s.mu.Unlock()
		for _, scan := range []bool{false, true} {
			b.Run(fmt.Sprintf("held=%d/scan=%v", held, scan), func(b *testing.B) {
				s.mu.Lock()
				defer s.mu.Unlock()
				for i := 0; i < b.N; i++ {
					ep, conn := fmt.Sprint("PJSIP/agent-", i%200), fmt.Sprint("conn-", i%200)
					if scan {
						s.scanConflicts(ep, conn)
					} else {
						s.originateConflicts(ep, conn)
					}
				}
			})
		}
	}
}
