package main

import (
	"bytes"
	"context"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/CyCoreSystems/ari/v5"
	"github.com/CyCoreSystems/ari/v5/client/native"
)

// TestSimCallerVariablesAndDigits runs `tandem sim` as the command line
// does, with --caller-var and --caller-dtmf, and watches it with the real
// ARI client: the caller it places enters Stasis carrying the variables,
// and once answered presses the digits, in order, across the w / W pauses.
func TestSimCallerVariablesAndDigits(t *testing.T) {
	listen := freeAddr(t)
	ctx, cancel := context.WithCancel(context.Background())
	var logs syncBuffer
	done := make(chan error, 1)
	go func() {
		done <- simCmd(ctx, []string{"--listen", listen, "--user", "tandem", "--password", "pw",
			"--call-every", "50ms", "--patience", "0s", "--log-level", "warn",
			"--caller-var", "CARD_NUMBER=4111111111111111", "--caller-var", "LANGUAGE=fr=CA",
			"--caller-dtmf", "12w3W#", "--caller-dtmf-after", "10ms"}, &logs)
	}()
	t.Cleanup(func() {
		cancel()
		select {
		case err := <-done:
			if err != nil {
				t.Errorf("sim: %v\n%s", err, logs.String())
			}
		case <-time.After(15 * time.Second):
			t.Error("sim did not stop")
		}
	})

	base := "http://" + listen
	waitFor(t, "the simulator", func() bool { return simUp(base) })
	cl, err := native.Connect(&native.Options{
		Application: "t1", URL: base + "/ari", WebsocketURL: "ws://" + listen + "/ari/events",
		Username: "tandem", Password: "pw",
	})
	if err != nil {
		t.Fatal(err)
	}
	// No cl.Close(): ari/v5's Close races its reconnect loop (see
	// pbxsim/helpers_test.go); the subscription is cancelled instead.
	sub := cl.Bus().Subscribe(nil, ari.Events.StasisStart, ari.Events.ChannelDtmfReceived)
	defer sub.Cancel()

	var caller string
	for caller == "" {
		ss := nextEvent(t, sub).(*ari.StasisStart) // the only other kind subscribed is DTMF, sent after an answer
		caller = ss.Channel.ID
		for name, want := range map[string]string{"CARD_NUMBER": "4111111111111111", "LANGUAGE": "fr=CA"} {
			if got := ss.Channel.ChannelVars[name]; got != want {
				t.Errorf("caller variable %s = %q, want %q (all: %v)", name, got, want, ss.Channel.ChannelVars)
			}
		}
	}
	if err := cl.Channel().Answer(ari.NewKey(ari.ChannelKey, caller)); err != nil {
		t.Fatal(err)
	}
	var digits string
	for len(digits) < 4 {
		// Other callers keep arriving (never answered, so they press nothing).
		if d, ok := nextEvent(t, sub).(*ari.ChannelDtmfReceived); ok {
			if d.Channel.ID != caller {
				t.Fatalf("digit %q from %s, which nobody answered", d.Digit, d.Channel.ID)
			}
			digits += d.Digit
		}
	}
	if digits != "123#" {
		t.Errorf("the caller pressed %q, want 123# (the pauses pressed nothing)", digits)
	}
}

// simUp says whether the simulator's ARI answers.
func simUp(base string) bool {
	req, _ := http.NewRequest(http.MethodGet, base+"/ari/applications", nil)
	req.SetBasicAuth("tandem", "pw")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return false
	}
	_ = resp.Body.Close()
	return resp.StatusCode == http.StatusOK
}

func nextEvent(t *testing.T, sub ari.Subscription) ari.Event {
	t.Helper()
	select {
	case e := <-sub.Events():
		return e
	case <-time.After(10 * time.Second):
		t.Fatal("no ARI event in 10s")
		return nil
	}
}

// TestSimCallerFlagsRefuseBadInput: a bad --caller-var or --caller-dtmf
// is a usage error naming the flag, before anything listens.
func TestSimCallerFlagsRefuseBadInput(t *testing.T) {
	base := []string{"sim", "--user", "u", "--password", "p", "--listen", "127.0.0.1:1", "--call-every", "1s"}
	for _, tc := range []struct {
		args []string
		out  string
	}{
		{[]string{"--caller-var", "CARD_NUMBER"}, `--caller-var "CARD_NUMBER": want NAME=VALUE`},
		{[]string{"--caller-var", "1X=2"}, `--caller-var "1X=2": the name must be`},
		{[]string{"--caller-var", "A B=2"}, `--caller-var "A B=2": the name must be`},
		{[]string{"--caller-var", "X=1", "--caller-var", "X=2"}, "--caller-var X: given twice"},
		{[]string{"--caller-dtmf", "12x"}, `--caller-dtmf "12x": only 0-9`},
		{[]string{"--caller-dtmf", "1", "--caller-dtmf-after", "-1s"}, "--caller-dtmf-after -1s: must not be negative"},
	} {
		t.Run(strings.Join(tc.args, " "), func(t *testing.T) {
			var out bytes.Buffer
			if code := run(append(base, tc.args...), &out, &out); code != exitUsage {
				t.Errorf("exit code %d, want %d; output:\n%s", code, exitUsage, out.String())
			}
			if !strings.Contains(out.String(), tc.out) {
				t.Errorf("output does not mention %q:\n%s", tc.out, out.String())
			}
		})
	}
	var out bytes.Buffer
	if code := run([]string{"sim", "--user", "u", "--password", "p", "--caller-dtmf", "1"}, &out, &out); code != exitUsage || !strings.Contains(out.String(), "give --call-every too") {
		t.Errorf("--caller-dtmf without --call-every: exit %d\n%s", code, out.String())
	}
}
