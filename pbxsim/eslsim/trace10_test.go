package eslsim

import (
	"context"
	"io"
	"log/slog"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/tandem-cc/tandem/pbxsim"
)

// TestTraceErrorsFramingWholeSim replays trace 10 against the whole
// simulator (TestTraceErrorsFraming runs it against a test switchboard):
// the uuid_* errors and usage texts, the sync originate, uuid_dump and
// uuid_kill come from the switch here. Left out, as in DIVERGENCES.md
// ("where eslsim is simpler"): eval, expand, `show channels as xml`, and
// log/data frames.
func TestTraceErrorsFramingWholeSim(t *testing.T) {
	lines := loadTrace(t, "10-errors-framing")
	clock := newManualClock()
	sim := New(Options{
		Password: testPassword, Clock: clock, Reorder: -1,
		Logger: slog.New(slog.NewTextHandler(io.Discard, nil)),
		Timing: pbxsim.Timing{AnswerSettle: time.Millisecond},
	})
	sim.SetPhone("loopback/agent1/sim-agent", pbxsim.Phone{Mode: pbxsim.Answer})
	sim.SetPhone("loopback/agent9/sim-agent-busy", pbxsim.Phone{Mode: pbxsim.Busy})
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	served := make(chan struct{})
	go func() { defer close(served); _ = sim.Serve(ctx, ln) }()
	defer func() { cancel(); sim.Close(); <-served }()
	const leg = "79ab8d3d-7780-4e33-b50b-254d1c8c204c"
	replay(t, ln.Addr().String(), lines, replayOptions{
		SkipConn: func(c string) bool { return c == "hb" || c == "longjob240" },
		SkipExchange: func(_, send string) bool {
			// The json uuid_dump is one line: it cannot be compared by its
			// first line as the plain one is (same loopback-leg reason).
			for _, s := range []string{"api eval", "api expand", "api show channels as xml", "api uuid_dump 79ab8d3d-7780-4e33-b50b-254d1c8c204c json"} {
				if strings.HasPrefix(send, s) {
					return true
				}
			}
			return false
		},
		SkipRecv: func(l traceLine) bool { return strings.Contains(l.Headers, "Content-Type: log/data") },
		BeforeRecv: func(l traceLine) {
			switch {
			case l.Conn == "idle-unauth" && strings.Contains(l.Headers, "disconnect-notice"):
				clock.Advance(25 * time.Second)
			case strings.HasPrefix(l.Body, "+OK "+leg):
				// The sync originate waits for the phone to answer, on
				// the clock: let it, once the leg exists.
				deadline := time.Now().Add(10 * time.Second)
				for time.Now().Before(deadline) {
					if _, ok := sim.Channel(leg); ok {
						break
					}
					time.Sleep(time.Millisecond)
				}
				clock.Advance(time.Second)
			}
		},
		// uuid_dump dumps the rig's loopback leg (its variables, and a
		// state caught mid-transition 0.3 ms after the originate
		// returned): compared by its first line (DIVERGENCES.md,
		// uuid-dump-of-a-loopback-leg).
		LooseBody: func(send string) bool {
			return strings.HasPrefix(send, "api show modules") || strings.HasPrefix(send, "api help") ||
				strings.HasPrefix(send, "api uuid_dump ")
		},
	})
}
