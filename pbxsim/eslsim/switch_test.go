package eslsim

import (
	"context"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/tandem-cc/tandem/pbxsim"
)

// recorder captures what the switch publishes, in order.
type recorder struct {
	mu  sync.Mutex
	evs []Event
}

func (r *recorder) add(e Event) { r.mu.Lock(); r.evs = append(r.evs, e); r.mu.Unlock() }

// names returns "NAME" or "NAME/key" for uuid's events so far.
func (r *recorder) names(uuid string, key func(Event) string) []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	var out []string
	for _, e := range r.evs {
		if e.Get("Unique-ID") == uuid {
			out = append(out, key(e))
		}
	}
	return out
}

// waitFor waits until uuid has had an event named name.
func (r *recorder) waitFor(t *testing.T, uuid, name string) Event {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for time.Now().Before(deadline) {
		r.mu.Lock()
		for _, e := range r.evs {
			if e.Get("Unique-ID") == uuid && e.Get("Event-Name") == name {
				r.mu.Unlock()
				return e
			}
		}
		r.mu.Unlock()
		time.Sleep(5 * time.Millisecond)
	}
	t.Fatalf("no %s on %s; got %v", name, uuid, r.names(uuid, evName))
	return Event{}
}

func evName(e Event) string { return e.Get("Event-Name") }

func newTestSim(t *testing.T) (*Sim, *recorder) {
	t.Helper()
	r := &recorder{}
	s := New(Options{Reorder: -1, observe: r.add, Timing: pbxsim.Timing{Second: 20 * time.Millisecond, Playback: 20 * time.Millisecond, DTMFGap: time.Millisecond}, TableDelay: time.Millisecond})
	t.Cleanup(s.Close)
	return s, r
}

func TestCallParksWithTandemVariables(t *testing.T) {
	s, r := newTestSim(t)
	b, err := s.Call(pbxsim.Caller{App: "tandem-r1", ANI: "5551234", DNIS: "8001", Queue: "sales", Vars: map[string]string{"crm_id": "42"}})
	if err != nil {
		t.Fatal(err)
	}
	park := r.waitFor(t, b, "CHANNEL_PARK")
	for k, want := range map[string]string{"variable_tandem_app": "tandem-r1", "variable_tandem_inbound": "true", "variable_tandem_dnis": "8001",
		"variable_tandem_queue": "sales", "variable_park_after_bridge": "true", "variable_crm_id": "42",
		"Answer-State": "ringing", "Channel-State": "CS_EXECUTE", "Channel-Call-State": "RINGING", "Caller-Caller-ID-Number": "5551234"} {
		if got := park.Get(k); got != want {
			t.Errorf("%s = %q, want %q", k, got, want)
		}
	}
	if v, _ := s.Channel(b); v.State != "Ring" || !v.InStasis || v.App != "tandem-r1" {
		t.Errorf("view %+v", v)
	}
	stray, _ := s.Call(pbxsim.Caller{App: "tandem-r1", ANI: "1", DNIS: "2", Args: []string{}})
	if p := r.waitFor(t, stray, "CHANNEL_PARK"); p.Get("variable_tandem_inbound") != "" {
		t.Errorf("stray call carries tandem_inbound")
	}
}

// wantSeq compares the names of uuid's events with want.
func wantSeq(t *testing.T, r *recorder, uuid string, want []string) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	var got []string
	for time.Now().Before(deadline) {
		got = r.names(uuid, evName)
		if len(got) >= len(want) {
			break
		}
		time.Sleep(5 * time.Millisecond)
	}
	if !slices.Equal(got, want) {
		t.Fatalf("events of %s:\n got %v\nwant %v", uuid, got, want)
	}
}

var originSetup = []string{"CHANNEL_UUID", "CHANNEL_OUTGOING", "CHANNEL_STATE", "CHANNEL_CREATE", "CHANNEL_ORIGINATE", "CHANNEL_STATE", "CHANNEL_STATE"}
var failTail = []string{"CHANNEL_HANGUP", "CHANNEL_STATE", "CHANNEL_CALLSTATE", "CHANNEL_STATE", "CHANNEL_HANGUP_COMPLETE", "CHANNEL_DESTROY", "CHANNEL_STATE"}

func TestOriginateOutcomesFollowTrace04(t *testing.T) {
	cases := []struct {
		name  string
		phone pbxsim.Phone
		want  string
		rings bool
	}{
		{"answer", pbxsim.Phone{Mode: pbxsim.Answer, RingFor: 10 * time.Millisecond}, "+OK ", true},
		{"busy", pbxsim.Phone{Mode: pbxsim.Busy}, "-ERR USER_BUSY\n", false},
		{"reject", pbxsim.Phone{Mode: pbxsim.Reject}, "-ERR CALL_REJECTED\n", false},
		{"noanswer", pbxsim.Phone{Mode: pbxsim.NoAnswer}, "-ERR NO_ANSWER\n", true},
		{"noroute", pbxsim.Phone{Mode: pbxsim.Unreachable}, "-ERR NO_ROUTE_DESTINATION\n", false},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			s, r := newTestSim(t)
			s.SetPhone("user/1001", tc.phone)
			g := "aaaaaaaa-0000-4000-8000-000000000001"
			res := s.api(context.Background(), "originate", "{origination_uuid="+g+",tandem_app=r1,park_after_bridge=true,ignore_early_media=true,originate_timeout=2}user/1001 &park()")
			if !strings.HasPrefix(res, tc.want) {
				t.Fatalf("result %q, want %q", res, tc.want)
			}
			want := slices.Clone(originSetup)
			if tc.rings {
				want = append(want, "CHANNEL_PROGRESS", "CHANNEL_CALLSTATE")
			}
			if tc.name == "answer" {
				if res != "+OK "+g+"\n" {
					t.Fatalf("result %q", res)
				}
				want = append(want, "CHANNEL_ANSWER", "CHANNEL_CALLSTATE", "CALL_UPDATE", "CHANNEL_STATE", "CHANNEL_EXECUTE", "CHANNEL_PARK")
			} else {
				want = append(want, failTail...)
			}
			wantSeq(t, r, g, want)
		})
	}
	s, r := newTestSim(t)
	if res := s.api(context.Background(), "originate", "{origination_uuid=x}user/9999 &park()"); res != "-ERR SUBSCRIBER_ABSENT\n" {
		t.Errorf("unknown user: %q", res)
	}
	if n := r.names("x", evName); len(n) != 0 {
		t.Errorf("unknown user created a channel: %v", n)
	}
}

// answeredPair sets up a parked, answered customer and a parked agent leg.
func answeredPair(t *testing.T, s *Sim, r *recorder) (b, g string) {
	t.Helper()
	b, _ = s.Call(pbxsim.Caller{App: "r1", ANI: "5551234", DNIS: "8001"})
	r.waitFor(t, b, "CHANNEL_PARK")
	if res := s.api(context.Background(), "uuid_answer", b); res != "+OK\n" {
		t.Fatal(res)
	}
	s.SetPhone("user/1001", pbxsim.Phone{Mode: pbxsim.Answer})
	g = "aaaaaaaa-0000-4000-8000-0000000000a1"
	if res := s.api(context.Background(), "originate", "{origination_uuid="+g+",originate_timeout=5}user/1001 &park()"); !strings.HasPrefix(res, "+OK") {
		t.Fatal(res)
	}
	return b, g
}

func TestBridgePeerHangupWithAndWithoutParkAfterBridge(t *testing.T) {
	for _, pab := range []bool{true, false} {
		s, r := newTestSim(t)
		b, g := answeredPair(t, s, r)
		if !pab {
			s.api(context.Background(), "uuid_setvar", b+" park_after_bridge")
		}
		if res := s.api(context.Background(), "uuid_bridge", b+" "+g); res != "+OK "+g+"\n" {
			t.Fatal(res)
		}
		br := r.waitFor(t, b, "CHANNEL_BRIDGE")
		if br.Get("Bridge-A-Unique-ID") != b || br.Get("Bridge-B-Unique-ID") != g || br.Get("Other-Leg-Unique-ID") != g {
			t.Errorf("bridge headers %v", br.Headers[:16])
		}
		if n := r.names(g, evName); slices.Contains(n, "CHANNEL_BRIDGE") {
			t.Errorf("second leg got CHANNEL_BRIDGE")
		}
		s.api(context.Background(), "uuid_kill", g)
		r.waitFor(t, b, "CHANNEL_UNBRIDGE")
		if pab {
			p := r.waitFor(t, b, "CHANNEL_STATE") // first state event exists; check the last park
			_ = p
			wantTail(t, r, b, []string{"CHANNEL_UNBRIDGE", "CHANNEL_STATE", "CHANNEL_PARK"})
			if s.api(context.Background(), "uuid_exists", b) != "true" {
				t.Error("customer gone despite park_after_bridge")
			}
		} else {
			r.waitFor(t, b, "CHANNEL_DESTROY")
			if v, _ := s.Channel(b); !v.HungUp || v.Cause != 16 {
				t.Errorf("customer %+v", v)
			}
		}
		if got := s.BridgedWith(b); !slices.Equal(got, []string{g}) {
			t.Errorf("BridgedWith %v", got)
		}
	}
}

func wantTail(t *testing.T, r *recorder, uuid string, tail []string) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	var got []string
	for time.Now().Before(deadline) {
		got = r.names(uuid, evName)
		if len(got) >= len(tail) && slices.Equal(got[len(got)-len(tail):], tail) {
			return
		}
		time.Sleep(5 * time.Millisecond)
	}
	t.Fatalf("events of %s end %v, want tail %v", uuid, got, tail)
}

func TestHoldMusicBroadcastAndBreak(t *testing.T) {
	s, r := newTestSim(t)
	b, _ := s.Call(pbxsim.Caller{App: "r1", ANI: "1", DNIS: "8001"})
	if res := s.api(context.Background(), "uuid_broadcast", b+" local_stream://default aleg"); res != "+OK Message sent\n" {
		t.Fatal(res)
	}
	if st := r.waitFor(t, b, "PLAYBACK_START"); st.Get("Playback-File-Path") != "local_stream://default" {
		t.Error(st.Get("Playback-File-Path"))
	}
	if v, _ := s.Channel(b); v.MOHClass != "default" {
		t.Errorf("MOH %q", v.MOHClass)
	}
	s.api(context.Background(), "uuid_break", b+" all")
	// The broadcast's COMMAND event comes last, PRIVATE_COMMAND headers
	// appended (one frame, first Event-Name COMMAND, trace 05).
	wantTail(t, r, b, []string{"PLAYBACK_STOP", "CHANNEL_EXECUTE_COMPLETE", "COMMAND"})
	log := s.MediaLog(b)
	if len(log) != 2 || log[0].Kind != "moh_start" || log[1].Kind != "moh_stop" {
		t.Errorf("media log %+v", log)
	}
	if s.api(context.Background(), "uuid_break", "nope") != "-ERR No such channel!\n" {
		t.Error("break on unknown uuid")
	}
}

func TestRecordingEventsAndNoneForPauseResume(t *testing.T) {
	s, r := newTestSim(t)
	b, _ := s.Call(pbxsim.Caller{App: "r1", ANI: "1", DNIS: "8001"})
	r.waitFor(t, b, "CHANNEL_PARK")
	ctx := context.Background()
	if res := s.api(ctx, "uuid_record", b+" start /rec/x.wav"); res != "+OK Success\n" {
		t.Fatal(res)
	}
	wantTail(t, r, b, []string{"RECORD_START", "MEDIA_BUG_START"})
	before := len(r.names(b, evName))
	for _, op := range []string{"mask", "unmask", "pause", "resume"} {
		if res := s.api(ctx, "uuid_record", b+" "+op+" /rec/x.wav"); res != "+OK Success\n" {
			t.Fatalf("%s: %q", op, res)
		}
	}
	if len(s.Leftovers().Recordings) != 1 {
		t.Error("recording not listed as leftover")
	}
	s.api(ctx, "uuid_record", b+" stop /rec/x.wav")
	wantTail(t, r, b, []string{"RECORD_STOP", "MEDIA_BUG_STOP"})
	if got := r.names(b, evName)[before:]; !slices.Equal(got, []string{"RECORD_STOP", "MEDIA_BUG_STOP"}) {
		t.Errorf("events after start: %v", got)
	}
	if res := s.api(ctx, "uuid_record", b+" stop /rec/x.wav"); res != "-ERR Cannot stop record session!\n" {
		t.Error(res)
	}
}

func TestThreeWayJoinsAndLeaves(t *testing.T) {
	s, r := newTestSim(t)
	b, g := answeredPair(t, s, r)
	ctx := context.Background()
	s.api(ctx, "uuid_bridge", b+" "+g)
	s.SetPhone("user/1002", pbxsim.Phone{Mode: pbxsim.Answer})
	g2 := "aaaaaaaa-0000-4000-8000-0000000000a2"
	s.api(ctx, "originate", "{origination_uuid="+g2+",park_after_bridge=true}user/1002 &park()")
	if res := s.api(ctx, "uuid_transfer", g2+" three_way:"+b+" inline"); res != "+OK\n" {
		t.Fatal(res)
	}
	r.waitFor(t, b, "MEDIA_BUG_START")
	if e := r.waitFor(t, g2, "CHANNEL_EXECUTE"); e.Get("Application") == "" {
		t.Error("no application")
	}
	if l := s.Leftovers(); len(l.Snoops) != 1 || l.Snoops[0].ID != g2 {
		t.Errorf("leftovers %v", l)
	}
	if got := s.BridgedWith(g2); !slices.Equal(got, slices.Sorted(slices.Values([]string{b, g}))) {
		t.Errorf("three_way shares with %v", got)
	}
	s.api(ctx, "uuid_park", g2)
	r.waitFor(t, b, "MEDIA_BUG_STOP")
	if l := s.Leftovers(); !l.Empty() {
		t.Errorf("leftovers after leaving: %v", l)
	}
}

func TestDTMF(t *testing.T) {
	s, r := newTestSim(t)
	b, g := answeredPair(t, s, r)
	ctx := context.Background()
	if res := s.api(ctx, "uuid_recv_dtmf", b+" 09"); res != "+OK "+b+" received DTMF 09.\n" {
		t.Fatal(res)
	}
	s.api(ctx, "uuid_bridge", b+" "+g)
	if res := s.api(ctx, "uuid_send_dtmf", g+" 8@500"); res != "+OK "+g+" sent DTMF 8@500.\n" {
		t.Fatal(res)
	}
	if err := s.InjectDTMF(b, "12"); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(5 * time.Second)
	var got []string
	for time.Now().Before(deadline) {
		got = r.names(b, func(e Event) string {
			if evName(e) != "DTMF" {
				return ""
			}
			return e.Get("DTMF-Digit") + "/" + e.Get("DTMF-Duration") + "/" + e.Get("DTMF-Source")
		})
		got = slices.DeleteFunc(got, func(x string) bool { return x == "" })
		if len(got) >= 5 {
			break
		}
		time.Sleep(5 * time.Millisecond)
	}
	want := []string{"0/2000/APP", "9/2000/APP", "8/4000/UNKNOWN", "1/2000/UNKNOWN", "2/2000/UNKNOWN"}
	if !slices.Equal(got, want) {
		t.Errorf("DTMF %v, want %v", got, want)
	}
}

func TestShowChannelsAsJSON(t *testing.T) {
	clk := newManualClock()
	s := New(Options{Reorder: -1, Clock: clk, TableDelay: time.Second})
	t.Cleanup(s.Close)
	ctx := context.Background()
	if got := s.api(ctx, "show", "channels as json"); got != "{\"row_count\": 0}\n" {
		t.Fatalf("empty: %q", got)
	}
	b, _ := s.Call(pbxsim.Caller{App: "r1", ANI: "5551234", DNIS: "8001"})
	if got := s.api(ctx, "show", "channels as json"); got != "{\"row_count\": 0}\n" {
		t.Errorf("new channel listed at once: %q", got)
	}
	clk.Advance(2 * time.Second)
	got := s.api(ctx, "show", "channels as json")
	if !strings.HasPrefix(got, "{\"row_count\":1,\"rows\":[{\"uuid\":\""+b+"\",\"direction\":\"inbound\"") || !strings.Contains(got, "\"application\":\"park\"") {
		t.Errorf("listing %q", got)
	}
}

// The leg a three_way joined hangs up: the third leg's inline dialplan goes
// on with what followed three_way (park), and one with nothing after it
// hangs up, as a dialplan that runs out does; park_after_bridge is for
// bridges, not for three_way's eavesdrop.
func TestThreeWayEndsIntoWhatFollowsItInline(t *testing.T) {
	for _, tc := range []struct {
		then     string
		survives bool
	}{{",park", true}, {"", false}} {
		t.Run("then"+tc.then, func(t *testing.T) {
			s, r := newTestSim(t)
			b, g := answeredPair(t, s, r)
			ctx := context.Background()
			s.api(ctx, "uuid_bridge", b+" "+g)
			s.SetPhone("user/1002", pbxsim.Phone{Mode: pbxsim.Answer})
			g2 := "aaaaaaaa-0000-4000-8000-0000000000a2"
			s.api(ctx, "originate", "{origination_uuid="+g2+",park_after_bridge=true}user/1002 &park()")
			if res := s.api(ctx, "uuid_transfer", g2+" three_way:"+b+tc.then+" inline"); res != "+OK\n" {
				t.Fatal(res)
			}
			r.waitFor(t, b, "MEDIA_BUG_START")
			s.api(ctx, "uuid_kill", b)
			if tc.survives {
				r.waitFor(t, g2, "CHANNEL_PARK")
				if ch, _ := s.Channel(g2); ch.HungUp {
					t.Fatal("the third leg hung up although park followed three_way")
				}
				return
			}
			r.waitFor(t, g2, "CHANNEL_HANGUP_COMPLETE")
		})
	}
}
