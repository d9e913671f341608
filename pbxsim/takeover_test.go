package pbxsim

import (
	"slices"
	"strings"
	"testing"

	"github.com/CyCoreSystems/ari/v5"
	"github.com/CyCoreSystems/ari/v5/client/native"
)

// TestNewSocketInheritsAnInactiveAppsChannels is trace 14 from the point of
// view of a replica taking over a dead one's app: while the app has no
// socket its channels stay (a ringing leg keeps ringing, an answered one
// stays Up and in Stasis), a leg answered meanwhile fails Stasis() and dies;
// a new socket for the same name gets no backlog, and every later event of
// the app's channels, old and new.
func TestNewSocketInheritsAnInactiveAppsChannels(t *testing.T) {
	w := newWorld(t, fastTiming)
	w.sim.SetPhone("PJSIP/quick", Phone{Mode: Answer})
	w.sim.SetPhone("PJSIP/never", Phone{Mode: NoAnswer})
	w.sim.SetPhone("PJSIP/late", Phone{Mode: Answer})
	// REST only: no socket of its own, so it registers no app.
	rest := native.New(&native.Options{Application: "unused", URL: w.srv.URL + "/ari", Username: testUser, Password: testPass})
	originate := func(id, endpoint string) {
		t.Helper()
		if _, err := rest.Channel().Originate(nil, ari.OriginateRequest{Endpoint: endpoint, App: "x", ChannelID: id, Timeout: 30}); err != nil {
			t.Fatalf("originate %s: %v", id, err)
		}
	}
	first := w.dialRaw("app=x")
	eventually(t, "app x active", func() bool { a, ok := w.sim.App("x"); return ok && a.Active })
	originate("up", "PJSIP/quick")
	originate("ringing", "PJSIP/never")
	eventually(t, "StasisStart of up on the first socket", func() bool {
		return slices.ContainsFunc(first.messages(), func(m map[string]any) bool { return m["type"] == "StasisStart" })
	})

	w.sim.DropWebSockets("x")
	if a, ok := w.sim.App("x"); !ok || a.Active || !slices.Equal(a.Channels, []string{"up", "ringing"}) {
		t.Fatalf("app after its socket dropped: %+v, %v; want inactive with up and ringing", a, ok)
	}
	originate("late", "PJSIP/late")
	eventually(t, "late dies in Stasis()", func() bool { v, ok := w.sim.Channel("late"); return ok && v.HungUp })
	if _, err := rest.Channel().Data(chanKey("late")); statusCode(err) != 404 {
		t.Fatalf("GET late: %v, want 404", err)
	}
	for id, state := range map[string]string{"up": "Up", "ringing": "Ringing"} {
		d, err := rest.Channel().Data(chanKey(id))
		if err != nil || d.State != state {
			t.Fatalf("GET %s: %+v, %v; want state %s", id, d, err, state)
		}
	}

	second := w.dialRaw("app=x")
	for _, id := range []string{"up", "ringing"} {
		if err := rest.Channel().Hangup(chanKey(id), "normal"); err != nil {
			t.Fatal(err)
		}
	}
	eventually(t, "both ends on the new socket", func() bool { return countType(second, "ChannelDestroyed") == 2 })
	// No backlog: nothing of what happened in the gap (late's whole life).
	for _, f := range second.frames() {
		if strings.Contains(f, `"id":"late"`) || strings.Contains(f, "ApplicationReplaced") {
			t.Fatalf("the new socket got %s", f)
		}
	}
	if countType(second, "StasisEnd") != 1 {
		t.Fatalf("new socket frames %v, want the StasisEnd of up", second.frames())
	}
	// A third socket replaces the second: exactly one ApplicationReplaced.
	third := w.dialRaw("app=x")
	eventually(t, "ApplicationReplaced", func() bool { return countType(second, "ApplicationReplaced") == 1 })
	originate("after", "PJSIP/quick")
	eventually(t, "StasisStart on the third socket", func() bool { return countType(third, "StasisStart") == 1 })
	// A close handshake is the fence: the server writes every event it
	// emitted before it saw the close, so whatever it sent the replaced
	// socket for "after" is in by then.
	second.close()
	if n := countType(second, "StasisStart"); n != 0 {
		t.Fatalf("replaced socket got %d StasisStart", n)
	}
}

func countType(rs *rawSocket, typ string) int {
	n := 0
	for _, m := range rs.messages() {
		if m["type"] == typ {
			n++
		}
	}
	return n
}

func statusCode(err error) int {
	for err != nil {
		if re, ok := err.(native.RequestError); ok {
			return re.Code()
		}
		switch e := err.(type) {
		case interface{ Unwrap() error }:
			err = e.Unwrap()
		case interface{ Cause() error }:
			err = e.Cause()
		default:
			return 0
		}
	}
	return 0
}
