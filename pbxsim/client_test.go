package pbxsim

import (
	"errors"
	"slices"
	"testing"
	"time"

	"github.com/CyCoreSystems/ari/v5"
)

var fastTiming = Timing{Playback: 50 * time.Millisecond, BusyTone: 200 * time.Millisecond}

func TestInboundCallAnsweredBridgedWithAgentAndHungUp(t *testing.T) {
	w := newWorld(t, fastTiming)
	w.sim.SetPhone("PJSIP/1001", Phone{Mode: Answer, RingFor: 100 * time.Millisecond})
	cl, rec := w.connect("acd")

	id, err := w.sim.Call(Caller{ANI: "5551000", DNIS: "8000", Queue: "sales", Vars: map[string]string{"CUST_ID": "42"}})
	if err != nil {
		t.Fatal(err)
	}
	ss := rec.wait(t, "customer StasisStart", isStasisStart(id)).(*ari.StasisStart)
	if !slices.Equal(ss.Args, []string{"inbound", "8000", "sales"}) {
		t.Errorf("args = %v", ss.Args)
	}
	if ss.Channel.State != "Ring" || ss.Channel.Caller.Number != "5551000" {
		t.Errorf("channel = %+v", ss.Channel)
	}
	if ss.Channel.ChannelVars["CUST_ID"] != "42" {
		t.Errorf("channelvars = %v", ss.Channel.ChannelVars)
	}
	if v, err := cl.Channel().GetVariable(chanKey(id), "CUST_ID"); err != nil || v != "42" {
		t.Errorf("GetVariable = %q, %v", v, err)
	}

	cust := chanKey(id)
	if err := cl.Channel().Answer(cust); err != nil {
		t.Fatal(err)
	}
	rec.wait(t, "customer Up", func(e ari.Event) bool {
		v, ok := e.(*ari.ChannelStateChange)
		return ok && v.Channel.ID == id && v.Channel.State == "Up"
	})
	if err := cl.Channel().MOH(cust, "acd"); err != nil {
		t.Fatal(err)
	}
	if v, _ := w.sim.Channel(id); v.MOHClass != "acd" {
		t.Errorf("MOH class = %q", v.MOHClass)
	}

	agent, err := cl.Channel().Originate(nil, ari.OriginateRequest{
		Endpoint: "PJSIP/1001", App: "acd", AppArgs: "agent,1001", Timeout: 10,
		CallerID:  "ACD <7000>",
		Variables: map[string]string{"TANDEM_CONNECTION_ID": "conn-1"},
	})
	if err != nil {
		t.Fatal(err)
	}
	aid := agent.ID()
	ass := rec.wait(t, "agent StasisStart", isStasisStart(aid)).(*ari.StasisStart)
	if ass.Channel.State != "Up" || !slices.Equal(ass.Args, []string{"agent", "1001"}) {
		t.Errorf("agent StasisStart = %+v", ass)
	}
	want := []string{"Dial:", "ChannelStateChange:Ringing", "Dial:RINGING", "ChannelStateChange:Up", "Dial:ANSWER", "ChannelVarset:STASISSTATUS", "StasisStart"}
	if got := rec.channelEvents(aid); !slices.Equal(got, want) {
		t.Errorf("agent events = %v, want %v", got, want)
	}

	if err := cl.Channel().StopMOH(cust); err != nil {
		t.Fatal(err)
	}
	if got := w.sim.BridgedWith(id); len(got) != 0 {
		t.Errorf("before any bridge, the customer shared one with %v", got)
	}
	br, err := cl.Bridge().Create(ari.NewKey(ari.BridgeKey, "call-1"), "mixing", "call-1")
	if err != nil {
		t.Fatal(err)
	}
	if err := br.AddChannel(id); err != nil {
		t.Fatal(err)
	}
	if err := br.AddChannel(aid); err != nil {
		t.Fatal(err)
	}
	rec.wait(t, "agent entered bridge", isType("ChannelEnteredBridge", aid))
	if bv, _ := w.sim.Bridge("call-1"); len(bv.Channels) != 2 {
		t.Errorf("bridge = %+v", bv)
	}

	if err := cl.Channel().Hangup(agent.Key(), ""); err != nil {
		t.Fatal(err)
	}
	d := rec.wait(t, "agent destroyed", isType("ChannelDestroyed", aid)).(*ari.ChannelDestroyed)
	if d.Cause != 16 {
		t.Errorf("agent cause = %d", d.Cause)
	}
	if err := cl.Channel().Hangup(cust, "normal"); err != nil {
		t.Fatal(err)
	}
	rec.wait(t, "customer StasisEnd", isType("StasisEnd", id))
	if err := br.Delete(); err != nil {
		t.Fatal(err)
	}
	rec.wait(t, "BridgeDestroyed", isType("BridgeDestroyed", ""))
	// A fence instead of a wait: events reach the socket in the order
	// they are emitted, so once a later bridge's BridgeDestroyed is in,
	// a ChannelDestroyed emitted for the customer would be too.
	fence, err := cl.Bridge().Create(ari.NewKey(ari.BridgeKey, "fence"), "mixing", "fence")
	if err != nil {
		t.Fatal(err)
	}
	if err := cl.Application().Subscribe(ari.NewKey(ari.ApplicationKey, "acd"), "bridge:fence"); err != nil {
		t.Fatal(err)
	}
	if err := fence.Delete(); err != nil {
		t.Fatal(err)
	}
	rec.wait(t, "the fence's BridgeDestroyed", func(e ari.Event) bool {
		d, ok := e.(*ari.BridgeDestroyed)
		return ok && d.Bridge.ID == "fence"
	})
	for _, typ := range rec.channelEvents(id) {
		if typ == "ChannelDestroyed" {
			t.Errorf("a dialplan-entered channel must not report ChannelDestroyed: %v", rec.channelEvents(id))
		}
	}

	media := w.sim.MediaLog(id)
	if len(media) != 2 || media[0].Kind != "moh_start" || media[0].Class != "acd" || media[1].Kind != "moh_stop" {
		t.Errorf("media log = %+v", media)
	}
	// Both are gone; the PBX still knows they were bridged together.
	if !slices.Equal(w.sim.BridgedWith(id), []string{aid}) || !slices.Equal(w.sim.BridgedWith(aid), []string{id}) {
		t.Errorf("bridged with: customer %v, agent %v", w.sim.BridgedWith(id), w.sim.BridgedWith(aid))
	}
	st := w.sim.Stats()
	if st.CallsPlaced != 1 || st.CallsBridged != 1 || st.Originates != 1 || st.OriginatesByEndpoint["PJSIP/1001"] != 1 ||
		st.Hangups != 2 || st.DoubleOffers != 0 || st.AgentsWithTwoCalls != 0 || st.CallsAbandoned != 0 {
		t.Errorf("stats = %+v", st)
	}
}

func TestAgentPhoneBusyNoAnswerRejectUnreachable(t *testing.T) {
	w := newWorld(t, fastTiming)
	w.sim.SetPhone("PJSIP/busy", Phone{Mode: Busy})
	w.sim.SetPhone("PJSIP/away", Phone{Mode: NoAnswer})
	w.sim.SetPhone("PJSIP/rej", Phone{Mode: Reject, RingFor: 50 * time.Millisecond})
	w.sim.SetPhone("PJSIP/gone", Phone{Mode: Unreachable})
	cl, rec := w.connect("acd")

	cases := []struct {
		endpoint string
		cause    int
		events   []string
	}{
		{"PJSIP/busy", 17, []string{"Dial:", "Dial:BUSY", "ChannelHangupRequest", "ChannelDestroyed"}},
		{"PJSIP/away", 19, []string{"Dial:", "ChannelStateChange:Ringing", "Dial:RINGING", "ChannelHangupRequest", "ChannelDestroyed"}},
		{"PJSIP/rej", 21, []string{"Dial:", "ChannelHangupRequest", "Dial:NOANSWER", "ChannelDestroyed"}},
		{"PJSIP/gone", 20, []string{"Dial:", "ChannelHangupRequest", "Dial:CHANUNAVAIL", "ChannelDestroyed"}},
	}
	for _, tc := range cases {
		t.Run(tc.endpoint, func(t *testing.T) {
			h, err := cl.Channel().Originate(nil, ari.OriginateRequest{Endpoint: tc.endpoint, App: "acd", Timeout: 1})
			if err != nil {
				t.Fatal(err)
			}
			d := rec.wait(t, "destroyed", isType("ChannelDestroyed", h.ID())).(*ari.ChannelDestroyed)
			if d.Cause != tc.cause {
				t.Errorf("cause = %d, want %d", d.Cause, tc.cause)
			}
			if got := rec.channelEvents(h.ID()); !slices.Equal(got, tc.events) {
				t.Errorf("events = %v, want %v", got, tc.events)
			}
		})
	}
	// An unregistered PJSIP endpoint does not exist: allocation fails.
	if _, err := cl.Channel().Originate(nil, ari.OriginateRequest{Endpoint: "PJSIP/nobody", App: "acd"}); err == nil {
		t.Error("originate to an unknown endpoint succeeded")
	}
}

func TestRONADeleteOfRingingLegReportsNoAnswer(t *testing.T) {
	w := newWorld(t, fastTiming)
	w.sim.SetPhone("SIP/agent7", Phone{Mode: NoAnswer})
	cl, rec := w.connect("acd")
	h, err := cl.Channel().Originate(nil, ari.OriginateRequest{Endpoint: "SIP/agent7", App: "acd", Timeout: 30})
	if err != nil {
		t.Fatal(err)
	}
	rec.wait(t, "ringing", isType("Dial", h.ID()))
	eventually(t, "Dial RINGING", func() bool { return slices.Contains(rec.channelEvents(h.ID()), "Dial:RINGING") })
	if err := h.Hangup(); err != nil {
		t.Fatal(err)
	}
	d := rec.wait(t, "destroyed", isType("ChannelDestroyed", h.ID())).(*ari.ChannelDestroyed)
	want := []string{"Dial:", "ChannelStateChange:Ringing", "Dial:RINGING", "ChannelHangupRequest", "Dial:NOANSWER", "ChannelDestroyed"}
	if got := rec.channelEvents(h.ID()); !slices.Equal(got, want) || d.Cause != 16 {
		t.Errorf("events = %v cause %d, want %v cause 16", got, d.Cause, want)
	}
}

func TestSecondWebSocketReplacesFirst(t *testing.T) {
	w := newWorld(t, fastTiming)
	// ari/v5's bus never delivers ApplicationReplaced (its Keys() is
	// empty), so the first socket is a raw one that sees every frame.
	first := w.dialRaw("app=acd")
	_, rec := w.connect("acd")
	eventually(t, "ApplicationReplaced", func() bool { return len(first.messages()) == 1 })
	m := first.messages()[0]
	if m["type"] != "ApplicationReplaced" || m["application"] != "acd" || m["asterisk_id"] == nil {
		t.Errorf("first frame = %v", m)
	}
	id, err := w.sim.Call(Caller{ANI: "1", DNIS: "2"})
	if err != nil {
		t.Fatal(err)
	}
	rec.wait(t, "StasisStart on the new socket", isStasisStart(id))
	// The replaced socket is not closed by the server.
	select {
	case <-first.done:
		t.Error("replaced socket was closed")
	default:
	}
	// A close handshake is the fence: the server writes every event it
	// emitted before it saw the close, so a StasisStart sent to the
	// replaced socket would be in by then.
	first.close()
	if n := len(first.messages()); n != 1 {
		t.Errorf("replaced socket got %d frames, want exactly 1: %v", n, first.frames())
	}
}

func TestDroppedWebSocketLosesEventsAndClientReconnects(t *testing.T) {
	w := newWorld(t, fastTiming)
	cl, rec := w.connect("acd")
	id, err := w.sim.Call(Caller{ANI: "1", DNIS: "2"})
	if err != nil {
		t.Fatal(err)
	}
	rec.wait(t, "StasisStart", isStasisStart(id))
	w.sim.DropWebSockets("acd")
	// The channel stays in Stasis, and REST keeps working.
	if v, _ := w.sim.Channel(id); !v.InStasis {
		t.Fatalf("channel left Stasis after the socket dropped: %+v", v)
	}
	// ari/v5 reconnects on its own about 10 ms later; a new call then works.
	var id2 string
	eventually(t, "a call to the reconnected app", func() bool {
		id2, err = w.sim.Call(Caller{ANI: "3", DNIS: "4"})
		return err == nil
	})
	rec.wait(t, "StasisStart after reconnect", isStasisStart(id2))
	if err := cl.Channel().Answer(chanKey(id)); err != nil {
		t.Fatal(err)
	}
}

func TestCallWithoutAppFails(t *testing.T) {
	w := newWorld(t, fastTiming)
	if _, err := w.sim.Call(Caller{ANI: "1", DNIS: "2"}); !errors.Is(err, ErrNoApp) {
		t.Fatalf("err = %v, want ErrNoApp", err)
	}
	if st := w.sim.Stats(); st.CallsFailed != 1 || st.CallsPlaced != 1 {
		t.Errorf("stats = %+v", st)
	}
}

func TestCallerScriptPatienceTalkAndDigits(t *testing.T) {
	w := newWorld(t, fastTiming)
	w.sim.SetPhone("PJSIP/1", Phone{Mode: Answer})
	cl, rec := w.connect("acd")

	// A caller nobody bridges gives up.
	lost, _ := w.sim.Call(Caller{ANI: "1", DNIS: "9", Patience: 100 * time.Millisecond})
	h := rec.wait(t, "abandon", isType("ChannelHangupRequest", lost)).(*ari.ChannelHangupRequest)
	if h.Cause != 16 || h.Soft {
		t.Errorf("abandon hangup = %+v", h)
	}
	rec.wait(t, "StasisEnd", isType("StasisEnd", lost))

	// A caller that is answered presses digits, is bridged and talks.
	id, _ := w.sim.Call(Caller{ANI: "2", DNIS: "9", Patience: time.Second, TalkFor: 150 * time.Millisecond, Digits: "12#", DigitsAfter: 20 * time.Millisecond})
	rec.wait(t, "StasisStart", isStasisStart(id))
	if err := cl.Channel().Answer(chanKey(id)); err != nil {
		t.Fatal(err)
	}
	eventually(t, "3 digits", func() bool {
		n := 0
		for _, e := range rec.channelEvents(id) {
			if e == "ChannelDtmfReceived" {
				n++
			}
		}
		return n == 3
	})
	agent, err := cl.Channel().Originate(nil, ari.OriginateRequest{Endpoint: "PJSIP/1", App: "acd"})
	if err != nil {
		t.Fatal(err)
	}
	rec.wait(t, "agent up", isStasisStart(agent.ID()))
	br, err := cl.Bridge().Create(ari.NewKey(ari.BridgeKey, "b"), "mixing", "")
	if err != nil {
		t.Fatal(err)
	}
	_ = br.AddChannel(id)
	_ = br.AddChannel(agent.ID())
	rec.wait(t, "caller hangs up after talking", isType("StasisEnd", id))
	st := w.sim.Stats()
	if st.CallsAbandoned != 1 || st.CallsBridged != 1 {
		t.Errorf("stats = %+v", st)
	}
	// The invariant counters see a second leg to a busy agent.
	if _, err := cl.Channel().Originate(nil, ari.OriginateRequest{Endpoint: "PJSIP/1", App: "acd", Variables: map[string]string{"TANDEM_CONNECTION_ID": "x"}}); err != nil {
		t.Fatal(err)
	}
	if _, err := cl.Channel().Originate(nil, ari.OriginateRequest{Endpoint: "PJSIP/1", App: "acd", Variables: map[string]string{"TANDEM_CONNECTION_ID": "x"}}); err != nil {
		t.Fatal(err)
	}
	if st := w.sim.Stats(); st.AgentsWithTwoCalls != 2 || st.DoubleOffers != 1 {
		t.Errorf("stats = %+v", st)
	}
}

func TestVarsetBurstArrivesComplete(t *testing.T) {
	w := newWorld(t, fastTiming)
	_, rec := w.connect("acd")
	id, _ := w.sim.Call(Caller{ANI: "1", DNIS: "2"})
	rec.wait(t, "StasisStart", isStasisStart(id))
	if err := w.sim.EmitVarsetBurst(id, 80); err != nil {
		t.Fatal(err)
	}
	eventually(t, "80 varsets", func() bool {
		n := 0
		for _, e := range rec.channelEvents(id) {
			if e == "ChannelVarset:SIM_BURST" {
				n++
			}
		}
		return n == 80
	})
}
