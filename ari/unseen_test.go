package ari_test

import (
	"context"
	"net/http"
	"net/url"
	"slices"
	"testing"

	"github.com/coder/websocket"

	"github.com/tandem-cc/tandem/acd"
	"github.com/tandem-cc/tandem/pbxsim"
)

// TestArrivalOnAPausedSocketIsReportedByTheNextOne: a socket of the
// application that is open but not read (its replica SIGSTOPped) takes the
// StasisStart of a call the dialplan sends there; a new socket for the
// application (a survivor hosting the seat) replaces it, and Asterisk never
// replays the event (trace 14). The new driver's first read reports the
// caller as a CallArrived with its ANI, DNIS and arguments, once, while a
// leg in the application without "inbound", and an answered caller (a
// leftover of a call some Tandem handled), stay for the ACD's sweep (not
// reported as calls).
func TestArrivalOnAPausedSocketIsReportedByTheNextOne(t *testing.T) {
	c := newCluster(t)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	u := "ws" + c.srv.URL[len("http"):] + "/ari/events?" + url.Values{"app": {"tandem-a"}}.Encode()
	paused, _, err := websocket.Dial(ctx, u, &websocket.DialOptions{HTTPHeader: http.Header{"Authorization": {"Basic dTpw"}}}) // u:p
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = paused.CloseNow() }()
	eventually(t, "the paused socket registered", func() bool { return c.appActive("tandem-a") })
	caller, err := c.sim.Call(pbxsim.Caller{App: "tandem-a", ANI: "5550101", DNIS: "800", Queue: "sales"})
	if err != nil {
		t.Fatal(err)
	}
	stray, err := c.sim.Call(pbxsim.Caller{App: "tandem-a", ANI: "5550102", DNIS: "800", Args: []string{"agent"}})
	if err != nil {
		t.Fatal(err)
	}
	// An answered caller was seen by a Tandem (it answers right after it
	// records the arrival): a leftover whose call may be over, not news.
	answered, err := c.sim.Call(pbxsim.Caller{App: "tandem-a", ANI: "5550103", DNIS: "800", Queue: "sales"})
	if err != nil {
		t.Fatal(err)
	}
	req, _ := http.NewRequest(http.MethodPost, c.srv.URL+"/ari/channels/"+answered+"/answer", nil)
	req.SetBasicAuth("u", "p")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	_ = resp.Body.Close()
	if resp.StatusCode/100 != 2 {
		t.Fatalf("answer %s: %s", answered, resp.Status)
	}

	b := c.start(t, "tandem-a")
	eventually(t, "the unseen caller reported", func() bool {
		return slices.ContainsFunc(b.got(), func(e acd.Event) bool { a, ok := e.(acd.CallArrived); return ok && a.Leg == caller })
	})
	var arrived []acd.CallArrived
	for _, e := range b.got() {
		if a, ok := e.(acd.CallArrived); ok {
			arrived = append(arrived, a)
		}
	}
	if len(arrived) != 1 {
		t.Fatalf("arrivals %+v, want only %s's", arrived, caller)
	}
	if a := arrived[0]; a.ANI != "5550101" || a.DNIS != "800" || len(a.Args) < 3 || a.Args[0] != "inbound" || a.Args[2] != "sales" {
		t.Fatalf("arrival %+v", a)
	}
	if ch, ok := c.sim.Channel(stray); !ok || !ch.InStasis {
		t.Fatalf("the stray %s should still wait in Stasis for the ACD's sweep: %+v", stray, ch)
	}
	// The caller is the new driver's own leg: its hang-up reaches it.
	if err := b.driver.Hangup(ctx, caller, acd.CauseNormal); err != nil {
		t.Fatal(err)
	}
	eventually(t, "the caller's hang-up reported", func() bool {
		return slices.ContainsFunc(b.got(), func(e acd.Event) bool { h, ok := e.(acd.LegHungUp); return ok && h.Leg == caller })
	})
}

// TestRunAgainReportsACallerItCouldNotRecord: a driver's Run ends (its
// engine was fenced after hearing a caller arrive, before recording it)
// and runs again for the next term: the first read reports the caller,
// still waiting unanswered, again.
func TestRunAgainReportsACallerItCouldNotRecord(t *testing.T) {
	c := newCluster(t)
	a := c.start(t, "tandem-a")
	caller, err := c.sim.Call(pbxsim.Caller{App: "tandem-a", ANI: "5550111", DNIS: "800"})
	if err != nil {
		t.Fatal(err)
	}
	eventually(t, "the arrival", func() bool {
		return slices.ContainsFunc(a.got(), func(e acd.Event) bool { ev, ok := e.(acd.CallArrived); return ok && ev.Leg == caller })
	})
	a.cancel()
	if err := a.wait(t); err != nil {
		t.Fatal(err)
	}
	again := &replica{app: "tandem-a", driver: a.driver, finished: make(chan struct{})}
	ctx, cancel := context.WithCancel(context.Background())
	defer func() { cancel(); <-again.finished }()
	go func() {
		defer close(again.finished)
		again.runErr = again.driver.Run(ctx, again.record)
	}()
	eventually(t, "the arrival reported again", func() bool {
		return slices.ContainsFunc(again.got(), func(e acd.Event) bool { ev, ok := e.(acd.CallArrived); return ok && ev.Leg == caller })
	})
}
