package pbxsim

import (
	"strings"
	"testing"
	"time"

	"github.com/CyCoreSystems/ari/v5"
)

// TestAnswerPhonePicksUpARingingLegByHand: a phone scripted NoAnswer rings
// until the test answers it; the leg then goes Up and enters the
// application, as an answered originate does. Answering twice, answering a
// leg that is gone, or a phone that answers by itself is an error.
func TestAnswerPhonePicksUpARingingLegByHand(t *testing.T) {
	w := newWorld(t, fastTiming)
	w.sim.SetPhone("PJSIP/1001", Phone{Mode: NoAnswer})
	w.sim.SetPhone("Local/1002@sim-agent", Phone{Mode: NoAnswer})
	w.sim.SetPhone("PJSIP/1003", Phone{Mode: Answer, RingFor: time.Hour})
	cl, rec := w.connect("acd")

	for _, ep := range []string{"PJSIP/1001", "Local/1002@sim-agent"} {
		h, err := cl.Channel().Originate(nil, ari.OriginateRequest{Endpoint: ep, App: "acd", Timeout: 30})
		if err != nil {
			t.Fatal(err)
		}
		leg := h.ID()
		eventually(t, ep+" ringing", func() bool {
			v, ok := w.sim.Channel(leg)
			return ok && v.State == "Ringing"
		})
		if err := w.sim.AnswerPhone(leg); err != nil {
			t.Fatalf("%s: %v", ep, err)
		}
		rec.wait(t, ep+" answered into the app", isStasisStart(leg))
		if v, _ := w.sim.Channel(leg); v.State != "Up" || !v.InStasis {
			t.Fatalf("%s after answer: %+v", ep, v)
		}
		if err := w.sim.AnswerPhone(leg); err == nil || !strings.Contains(err.Error(), "not ringing") {
			t.Fatalf("%s answered twice: err = %v", ep, err)
		}
		if err := w.sim.HangUp(leg); err != nil {
			t.Fatal(err)
		}
		if err := w.sim.AnswerPhone(leg); err == nil || !strings.Contains(err.Error(), "not found") {
			t.Fatalf("%s answered after hang-up: err = %v", ep, err)
		}
	}

	h, err := cl.Channel().Originate(nil, ari.OriginateRequest{Endpoint: "PJSIP/1003", App: "acd", Timeout: 30})
	if err != nil {
		t.Fatal(err)
	}
	eventually(t, "PJSIP/1003 ringing", func() bool {
		v, ok := w.sim.Channel(h.ID())
		return ok && v.State == "Ringing"
	})
	if err := w.sim.AnswerPhone(h.ID()); err == nil || !strings.Contains(err.Error(), "NoAnswer") {
		t.Fatalf("a phone that answers by itself answered by hand: err = %v", err)
	}
}
