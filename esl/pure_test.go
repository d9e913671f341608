package esl

import (
	"errors"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/tandem-cc/tandem/acd"
	"github.com/tandem-cc/tandem/media"
)

func TestHangupCauseNamesMapToQ850AndReasons(t *testing.T) {
	cases := []struct {
		name   string
		code   int
		reason string
	}{
		{"USER_BUSY", 17, "busy"},
		{"NO_ANSWER", 19, "no_answer"},
		{"NO_USER_RESPONSE", 18, "no_answer"},
		{"ALLOTTED_TIMEOUT", 602, "no_answer"},
		{"CALL_REJECTED", 21, "rejected"},
		{"NO_ROUTE_DESTINATION", 3, "unreachable"},
		{"SUBSCRIBER_ABSENT", 20, "unreachable"},
		{"USER_NOT_REGISTERED", 606, "unreachable"},
		{"UNALLOCATED_NUMBER", 1, "unreachable"},
		{"ORIGINATOR_CANCEL", 487, "failed"},
		{"NORMAL_CLEARING", 16, "failed"},
		{"NORMAL_CIRCUIT_CONGESTION", 34, "failed"},
		{"", 0, "failed"},
		{"SOMETHING_NEW", 0, "failed"},
	}
	for _, c := range cases {
		if got := causeCode(c.name); got != c.code {
			t.Errorf("causeCode(%q) = %d, want %d", c.name, got, c.code)
		}
		if got := reasonFor(causeCode(c.name)); got != c.reason {
			t.Errorf("reason of %q = %q, want %q", c.name, got, c.reason)
		}
	}
	for cause, want := range map[acd.HangupCause]string{acd.CauseNormal: "NORMAL_CLEARING", acd.CauseNoAnswer: "NO_ANSWER", acd.CauseBusy: "USER_BUSY", acd.CauseCongestion: "NORMAL_CIRCUIT_CONGESTION"} {
		if got := killCause(cause); got != want {
			t.Errorf("killCause(%q) = %q, want %q", cause, got, want)
		}
	}
}

// The texts are FreeSWITCH 1.10.12's (esl-traces README, "API-body error
// texts", scenario 10).
func TestGoneLegTexts(t *testing.T) {
	gone := []string{
		"-ERR No such channel!\n",        // uuid_kill, uuid_transfer, uuid_getvar, uuid_break, uuid_park...
		"-ERROR\n",                       // uuid_answer
		"-ERR Invalid uuid\n",            // uuid_bridge
		"-ERR invalid uuid\n",            // uuid_broadcast
		"-ERR Cannot locate session!\n",  // uuid_record, uuid_send_dtmf
		"-ERR invalid session id [5c1e]", // sendmsg
	}
	for _, b := range gone {
		if !isGone(b) {
			t.Errorf("isGone(%q) = false", b)
		}
		if err := bodyErr(b); !errors.Is(err, acd.ErrLegGone) {
			t.Errorf("bodyErr(%q) = %v, want ErrLegGone", b, err)
		}
	}
	notGone := []string{"+OK Success\n", "+OK 5c1e\n", "-ERR NO_ANSWER\n", "-ERR Cannot stop record session!\n", "-USAGE: <uuid> [start|stop|mask|unmask] <path>\n", "-ERR uuid_bogus Command not found!\n", "-ERR Operation failed\n"}
	for _, b := range notGone {
		if isGone(b) {
			t.Errorf("isGone(%q) = true", b)
		}
	}
	if err := bodyErr("-ERR Operation failed\n"); err == nil || errors.Is(err, acd.ErrLegGone) {
		t.Errorf("bodyErr of a failure: %v", err)
	}
	if err := bodyErr("+OK Success\n"); err != nil {
		t.Errorf("bodyErr of success: %v", err)
	}
}

func TestOriginateStringCarriesOwnershipAndEscapesValues(t *testing.T) {
	got, err := originateArg("tandem-r1", acd.RingRequest{
		Leg: "leg-1", Endpoint: "user/1001", CallerID: "5551234", Timeout: 12300 * time.Millisecond,
		Vars: map[string]string{"TANDEM_CONNECTION_ID": "c-9", "note": "a, b", "who": "O'Brien said \"hi\""},
	})
	if err != nil {
		t.Fatal(err)
	}
	want := `{origination_uuid=leg-1,tandem_app=tandem-r1,park_after_bridge=true,ignore_early_media=true,originate_timeout=13,` +
		`origination_caller_id_number=5551234,origination_caller_id_name=5551234,TANDEM_CONNECTION_ID=c-9,note='a, b',who='O\'Brien said "hi"'}user/1001 &park()`
	if got != want {
		t.Fatalf("got  %s\nwant %s", got, want)
	}
	if got, _ := originateArg("o", acd.RingRequest{Leg: "l", Endpoint: "user/1"}); !strings.Contains(got, "originate_timeout=1}") || strings.Contains(got, "caller_id") {
		t.Fatalf("no timeout, no caller id: %s", got)
	}
	for _, bad := range []acd.RingRequest{
		{Leg: "l", Endpoint: "user/1 &bridge(x)"},
		{Leg: "l", Endpoint: ""},
		{Leg: "l,x", Endpoint: "user/1"},
		{Leg: "l", Endpoint: "user/1", Vars: map[string]string{"a=b": "c"}},
	} {
		if _, err := originateArg("o", bad); err == nil {
			t.Errorf("originateArg(%+v) accepted", bad)
		}
	}
}

func TestMediaBecomeFreeSWITCHFiles(t *testing.T) {
	mm := mediaMapper{soundsDir: "/usr/share/freeswitch/sounds/en/us/callie", soundFormat: "wav", recordingsDir: "/rec/", recFormat: "wav"}
	rel := mediaMapper{soundFormat: "wav", recordingsDir: "/rec", recFormat: "wav"}
	s := "/usr/share/freeswitch/sounds/en/us/callie/"
	cases := []struct {
		mm   mediaMapper
		in   []media.Media
		want string
	}{
		{mm, []media.Media{media.SoundOf("ivr/ivr-welcome")}, s + "ivr/ivr-welcome.wav"},
		{rel, []media.Media{media.SoundOf("ivr/ivr-welcome")}, "ivr/ivr-welcome.wav"},
		{mm, []media.Media{media.RecordingOf("cb-1")}, "/rec/cb-1.wav"},
		{rel, []media.Media{media.DigitsOf("4*#")}, "file_string://digits/4.wav!digits/star.wav!digits/pound.wav"},
		{rel, []media.Media{media.NumberOf(0)}, "digits/0.wav"},
		{rel, []media.Media{media.NumberOf(42)}, "file_string://digits/40.wav!digits/2.wav"},
		{rel, []media.Media{media.NumberOf(115)}, "file_string://digits/1.wav!digits/hundred.wav!digits/15.wav"},
		{rel, []media.Media{media.NumberOf(1_002_030)}, "file_string://digits/1.wav!digits/million.wav!digits/2.wav!digits/thousand.wav!digits/30.wav"},
		{rel, []media.Media{media.CharactersOf("Ab1")}, "file_string://ascii/97.wav!ascii/98.wav!ascii/49.wav"},
		{rel, []media.Media{media.ToneOf("ring;tonezone=us")}, "tone_stream://%(2000,4000,440,480);loops=-1"},
		{rel, []media.Media{media.SoundOf("a"), media.NumberOf(3), media.SoundOf("b")}, "file_string://a.wav!digits/3.wav!b.wav"},
	}
	for _, c := range cases {
		got, err := c.mm.playArg(c.in)
		if err != nil || got != c.want {
			t.Errorf("playArg(%v) = %q, %v; want %q", c.in, got, err, c.want)
		}
	}
	for _, bad := range [][]media.Media{{media.TextOf("hello")}, {media.ToneOf("!350+440/100")}, {media.NumberOf(-3)}, {media.CharactersOf("é")}, {}} {
		if _, err := rel.playArg(bad); !errors.Is(err, ErrUnsupportedMedia) {
			t.Errorf("playArg(%v) = %v, want ErrUnsupportedMedia", bad, err)
		}
	}
	if _, err := rel.playArg([]media.Media{media.TextOf("hi")}); err == nil || !strings.Contains(err.Error(), "TTS module") {
		t.Errorf("text refusal does not name the TTS module: %v", err)
	}
}

func TestVirtualBridgePlans(t *testing.T) {
	cases := []struct {
		name     string
		from, to []string
		want     []string
	}{
		{"create with two", nil, []string{"a", "b"}, []string{"uuid_bridge a b"}},
		{"create with one", nil, []string{"a"}, nil},
		{"third joins", []string{"a", "b"}, []string{"a", "b", "c"}, []string{"uuid_transfer c three_way:a,park inline"}},
		{"create with three", nil, []string{"a", "b", "c"}, []string{"uuid_bridge a b", "uuid_transfer c three_way:a,park inline"}},
		{"third leaves", []string{"a", "b", "c"}, []string{"a", "b"}, []string{"uuid_park c"}},
		{"second leaves a three-way", []string{"a", "b", "c"}, []string{"a", "c"}, []string{"uuid_park b", "uuid_bridge a c"}},
		{"first leaves a three-way", []string{"a", "b", "c"}, []string{"b", "c"}, []string{"uuid_park a", "uuid_bridge b c"}},
		{"hold: one leaves a pair", []string{"a", "b"}, []string{"a"}, []string{"uuid_park b"}},
		{"destroy", []string{"a", "b"}, nil, []string{"uuid_park a", "uuid_park b"}},
		{"nothing changes", []string{"a", "b"}, []string{"a", "b"}, nil},
		{"after the pair broke up", nil, []string{"b", "c"}, []string{"uuid_bridge b c"}},
	}
	for _, c := range cases {
		if got := plan(c.from, c.to); !reflect.DeepEqual(got, c.want) {
			t.Errorf("%s: plan(%v, %v) = %q, want %q", c.name, c.from, c.to, got, c.want)
		}
	}
	if got := afterHangup([]string{"a", "b", "c"}, "a"); got != nil {
		t.Errorf("pair member hung up: %v", got)
	}
	if got := afterHangup([]string{"a", "b", "c"}, "c"); !reflect.DeepEqual(got, []string{"a", "b"}) {
		t.Errorf("third hung up: %v", got)
	}
}
