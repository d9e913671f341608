package lab

import (
	"context"
	"net/http"
	"strings"
	"testing"

	"github.com/tandem-cc/tandem/internal/redistest"
)

func TestEndpointNamesEachKindsTechnology(t *testing.T) {
	for _, tc := range []struct {
		kind PBXKind
		want string
	}{
		{"", "PJSIP/1001"},
		{Asterisk, "PJSIP/1001"},
		{FreeSWITCH, "user/1001"},
	} {
		if got := tc.kind.Endpoint("1001"); got != tc.want {
			t.Errorf("%q.Endpoint(1001) = %q, want %q", tc.kind, got, tc.want)
		}
	}
}

// A kind nobody knows is refused, naming it; so is an HTTP wrapper for a
// FreeSWITCH lab, which has no HTTP to wrap.
func TestStartRefusesAPBXItCannotRun(t *testing.T) {
	ctx := context.Background()
	if _, err := Start(ctx, Options{PBX: "yate"}); err == nil || !strings.Contains(err.Error(), `"yate"`) {
		t.Fatalf("unknown kind: %v, want an error naming it", err)
	}
	_, err := Start(ctx, Options{PBX: FreeSWITCH, RedisAddr: redistest.Start(t), WrapSim: func(h http.Handler) http.Handler { return h }})
	if err == nil || !strings.Contains(err.Error(), "WrapSim") {
		t.Fatalf("FreeSWITCH with WrapSim: %v, want an error naming it", err)
	}
}

// On FreeSWITCH the portable API is the event-socket simulator's, and the
// replica's esl driver is connected once Start returns.
func TestFreeSWITCHLabServesThePortableAPI(t *testing.T) {
	l, err := Start(context.Background(), Options{PBX: FreeSWITCH, RedisAddr: redistest.Start(t)})
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	if l.Kind() != FreeSWITCH || l.PBX == nil || l.Sim != nil || l.ARIURL != "" || !l.Replicas[0].Connected() {
		t.Fatalf("lab on %q: PBX %v, Sim %v, ARI %q", l.Kind(), l.PBX, l.Sim, l.ARIURL)
	}
	if l.Bridged("nobody", "nobody-else") {
		t.Fatal("legs that do not exist are bridged")
	}
	if ok, err := l.RecordingStored("never-recorded"); err != nil || ok {
		t.Fatalf("a recording never made is stored: %v %v", ok, err)
	}
}

// The FreeSWITCH lab reads the esl driver's file names back as Tandem's
// media: numbers said as digits/<word> files, sounds, recordings.
func TestTandemMediaInvertsTheDriversFileNames(t *testing.T) {
	got := tandemMedia("file_string://queue-thereare.wav!digits/20.wav!digits/1.wav!queue-callswaiting.wav")
	want := []string{"sound:queue-thereare", "number:21", "sound:queue-callswaiting"}
	if strings.Join(got, " ") != strings.Join(want, " ") {
		t.Fatalf("got %v, want %v", got, want)
	}
	if got := tandemMedia(recordingsDir + "/cb-msg-1.wav"); len(got) != 1 || got[0] != "recording:cb-msg-1" {
		t.Fatalf("recording: %v", got)
	}
	if n := sayNumber([]string{"3", "hundred", "40", "2", "thousand", "5"}); n != 342005 {
		t.Fatalf("342005 said as words reads %d", n)
	}
}

// On Asterisk the portable API is the ARI simulator's: Lab.PBX is Lab.Sim,
// and a call's legs are bridged only once an agent has it.
func TestAsteriskLabServesThePortableAPI(t *testing.T) {
	l, err := Start(context.Background(), Options{RedisAddr: redistest.Start(t)})
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	if l.Kind() != Asterisk || l.PBX != PBXSim(l.Sim) || l.Sim == nil || l.ARIURL == "" || !l.Replicas[0].Connected() {
		t.Fatalf("lab on %q: PBX %v, Sim %v, ARI %q", l.Kind(), l.PBX, l.Sim, l.ARIURL)
	}
	if l.Bridged("nobody", "nobody-else") {
		t.Fatal("legs that do not exist are bridged")
	}
	if ok, err := l.RecordingStored("never-recorded"); err != nil || ok {
		t.Fatalf("a recording never made is stored: %v %v", ok, err)
	}
	if st := l.LiveRecording("never-recorded"); st != "" {
		t.Fatalf("a recording never made is live: %q", st)
	}
}
