package esl_test

import (
	"bytes"
	"context"
	"io"
	"net"
	"strings"
	"sync"
	"testing"

	"github.com/tandem-cc/tandem/acd"
	"github.com/tandem-cc/tandem/esl"
	"github.com/tandem-cc/tandem/pbxsim"
	"github.com/tandem-cc/tandem/pbxsim/eslsim"
)

// tap is a TCP hop between the simulator's socket application and a
// driver's outbound listener: it records what the driver sends and sees
// when the connection is over, so a test can tell which commands went out
// and that the driver ended the session.
type tap struct {
	ln     net.Listener
	target string
	wg     sync.WaitGroup

	mu     sync.Mutex
	sent   bytes.Buffer // the driver's bytes, every connection in turn
	closed int          // connections over
}

func newTap(t *testing.T, target string) *tap {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	tp := &tap{ln: ln, target: target}
	tp.wg.Add(1)
	go tp.serve()
	t.Cleanup(func() { _ = ln.Close(); tp.wg.Wait() })
	return tp
}

func (tp *tap) addr() string { return tp.ln.Addr().String() }

func (tp *tap) serve() {
	defer tp.wg.Done()
	for {
		fs, err := tp.ln.Accept()
		if err != nil {
			return
		}
		drv, err := net.Dial("tcp", tp.target)
		if err != nil {
			_ = fs.Close()
			continue
		}
		tp.wg.Add(2)
		go func() { // FreeSWITCH → driver
			defer tp.wg.Done()
			_, _ = io.Copy(drv, fs)
			_ = drv.Close()
		}()
		go func() { // driver → FreeSWITCH, recorded
			defer tp.wg.Done()
			buf := make([]byte, 4096)
			for {
				n, err := drv.Read(buf)
				if n > 0 {
					tp.mu.Lock()
					tp.sent.Write(buf[:n])
					tp.mu.Unlock()
					_, _ = fs.Write(buf[:n])
				}
				if err != nil {
					break
				}
			}
			_ = fs.Close()
			tp.mu.Lock()
			tp.closed++
			tp.mu.Unlock()
		}()
	}
}

func (tp *tap) state() (string, int) {
	tp.mu.Lock()
	defer tp.mu.Unlock()
	return tp.sent.String(), tp.closed
}

// serveOutbound runs d's outbound listener until the test ends and
// returns its address.
func serveOutbound(t *testing.T, d *esl.Driver) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- d.ServeOutbound(ctx, ln) }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("ServeOutbound: %v", err)
		}
	})
	return ln.Addr().String()
}

func TestOutboundSocketTakesTheCallThenExitsAfterHangup(t *testing.T) {
	w := newWorld(t, eslsim.Options{}, nil)
	tp := newTap(t, serveOutbound(t, w.driver))
	w.sim.SetOutbound([]string{tp.addr()})
	id, err := w.sim.Call(pbxsim.Caller{ANI: "5551291", DNIS: "8002", Queue: "sales"})
	if err != nil {
		t.Fatal(err)
	}
	w.rec.waitFor(t, "the arrival through the socket", has(acd.CallArrived{Leg: id, ANI: "5551291", DNIS: "8002", Queue: "sales",
		Vars: arrivedVars(t, w.rec, id)}))
	ch, _ := w.sim.Channel(id)
	if ch.App != owner || ch.Vars["tandem_inbound"] != "true" || ch.Vars["park_after_bridge"] != "true" {
		t.Fatalf("the replica did not take the call: tandem_app %q, vars %v", ch.App, ch.Vars)
	}
	if !ch.InStasis || ch.HungUp {
		t.Fatalf("the call is not parked: %+v", ch)
	}
	// The engine's commands go through the inbound socket as in inbound mode.
	if err := w.driver.Answer(ctxT(t), id); err != nil {
		t.Fatal(err)
	}
	sent, closed := tp.state()
	for _, want := range []string{"connect", "tandem_app=" + owner, "linger", "Execute-App-Name: park"} {
		if !strings.Contains(sent, want) {
			t.Fatalf("the session did not send %q: %q", want, sent)
		}
	}
	if strings.Contains(sent, "exit") || closed != 0 {
		t.Fatalf("the session ended while the call is up (closed %d): %q", closed, sent)
	}

	if err := w.sim.HangUp(id); err != nil {
		t.Fatal(err)
	}
	w.rec.waitFor(t, "hang-up", func(evs []acd.Event) bool { return count[acd.LegHungUp](evs, id) > 0 })
	waitSim(t, "exit and the socket closed", func() bool {
		sent, closed := tp.state()
		return strings.HasSuffix(sent, "exit\r\n\r\n") && closed == 1
	})
	if n := count[acd.CallArrived](w.rec.events(), id); n != 1 {
		t.Fatalf("%d arrivals", n)
	}
}

// arrivedVars is the Vars of id's arrival once it came (every channel
// variable, as without AttachedVars): the test compares the rest exactly.
func arrivedVars(t *testing.T, rec *recorder, id string) map[string]string {
	t.Helper()
	evs := rec.waitFor(t, "arrival of "+id, func(evs []acd.Event) bool { return count[acd.CallArrived](evs, id) > 0 })
	for _, e := range evs {
		if a, ok := e.(acd.CallArrived); ok && a.Leg == id {
			if a.Vars["tandem_app"] != owner {
				t.Fatalf("arrival vars without the owner: %v", a.Vars)
			}
			return a.Vars
		}
	}
	return nil
}

func TestOutboundSocketLeavesAnOwnedCallAlone(t *testing.T) {
	w := newWorld(t, eslsim.Options{}, nil)
	tp := newTap(t, serveOutbound(t, w.driver))
	w.sim.SetOutbound([]string{tp.addr()})
	// A call an earlier socket action gave to another replica (here the
	// dialplan names it): this replica holds the socket and changes nothing.
	id, err := w.sim.Call(pbxsim.Caller{App: "tandem-other", ANI: "5551292", DNIS: "8002"})
	if err != nil {
		t.Fatal(err)
	}
	waitSim(t, "the session to linger", func() bool {
		sent, _ := tp.state()
		return strings.Contains(sent, "linger")
	})
	sent, closed := tp.state()
	if strings.Contains(sent, "sendmsg") || closed != 0 {
		t.Fatalf("the session touched an owned call or let it go (closed %d): %q", closed, sent)
	}
	ch, _ := w.sim.Channel(id)
	if ch.App != "tandem-other" || ch.HungUp || !ch.InStasis {
		t.Fatalf("the owned call changed: %+v", ch)
	}
	if err := w.sim.HangUp(id); err != nil {
		t.Fatal(err)
	}
	waitSim(t, "exit and the socket closed", func() bool {
		sent, closed := tp.state()
		return strings.HasSuffix(sent, "exit\r\n\r\n") && closed == 1
	})
	if n := count[acd.CallArrived](w.rec.events(), id); n != 0 {
		t.Fatalf("another owner's call reported %d times", n)
	}
}

func TestOutboundDialplanMovesToTheNextReplicaWhenTheSocketCloses(t *testing.T) {
	w := newWorld(t, eslsim.Options{}, nil)
	// The first replica dies while the call waits in its socket: a listener
	// that takes the connection and drops it before it is used.
	dead, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		if c, err := dead.Accept(); err == nil {
			_ = c.Close()
		}
	}()
	t.Cleanup(func() { _ = dead.Close(); wg.Wait() })
	w.sim.SetOutbound([]string{dead.Addr().String(), serveOutbound(t, w.driver)})
	id, err := w.sim.Call(pbxsim.Caller{ANI: "5551293", DNIS: "8002"})
	if err != nil {
		t.Fatal(err)
	}
	w.rec.waitFor(t, "the arrival through the second socket", func(evs []acd.Event) bool { return count[acd.CallArrived](evs, id) == 1 })
	if ch, _ := w.sim.Channel(id); ch.App != owner || ch.HungUp {
		t.Fatalf("the call is not the second replica's: %+v", ch)
	}
}
