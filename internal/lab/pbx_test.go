package lab

import (
	"context"
	"errors"
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

// The seam where FreeSWITCH plugs in says so until it is built, and a kind
// nobody knows is refused, naming it.
func TestStartRefusesAPBXItCannotRun(t *testing.T) {
	ctx := context.Background()
	if _, err := Start(ctx, Options{PBX: "yate"}); err == nil || !strings.Contains(err.Error(), `"yate"`) {
		t.Fatalf("unknown kind: %v, want an error naming it", err)
	}
	_, err := Start(ctx, Options{PBX: FreeSWITCH, RedisAddr: redistest.Start(t)})
	if !errors.Is(err, ErrFreeSWITCHNotBuilt) {
		t.Fatalf("FreeSWITCH: %v, want ErrFreeSWITCHNotBuilt", err)
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
