package eslsim

import (
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/tandem-cc/tandem/pbxsim"
)

// channelTraces are the traces replayed against the whole simulator.
var channelTraces = []string{
	"02-api-bgapi",
	"03-inbound-call-lifecycle",
	"04-agent-leg",
	"05-hold-music",
	"06-dtmf",
	"07-recording",
	"08-transfer-consult",
}

// rigPhone maps the rig's fake phones (contexts behind loopback/agentN/)
// onto the simulator's phone modes.
func rigPhone(cmd string) (dial string, p pbxsim.Phone, ok bool) {
	m := agentRE.FindStringSubmatch(cmd)
	if m == nil {
		return "", p, false
	}
	ring := 0 // the rig's sim-agent answers at once without ring_ms (trace 02)
	if r := ringRE.FindStringSubmatch(cmd); r != nil {
		ring, _ = strconv.Atoi(r[1])
	}
	switch m[2] {
	case "sim-agent":
		p = pbxsim.Phone{Mode: pbxsim.Answer, RingFor: time.Duration(ring) * time.Millisecond}
	case "sim-agent-noanswer":
		p = pbxsim.Phone{Mode: pbxsim.NoAnswer}
	case "sim-agent-busy":
		p = pbxsim.Phone{Mode: pbxsim.Busy}
	case "sim-agent-reject":
		p = pbxsim.Phone{Mode: pbxsim.Reject}
	default: // a context that does not exist
		p = pbxsim.Phone{Mode: pbxsim.Unreachable}
	}
	return "loopback/" + m[1] + "/" + m[2], p, true
}

func TestTraceChannels(t *testing.T) {
	if testing.Short() {
		t.Skip("channel trace replays")
	}
	for _, name := range channelTraces {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			r := newChanReplay(t, name)
			r.run(func(s *crSend) {
				if dial, p, ok := rigPhone(strings.TrimRight(s.l.Headers, "\r\n")); ok {
					r.sim.SetPhone(dial, p)
				}
			})
			r.compareReplies()
			r.compareJobs()
			r.compareLegs()
			r.checkAllowList()
			if r.compared == 0 || (name != "02-api-bgapi" && r.comparedEvents == 0) {
				t.Fatalf("compared %d replies and %d leg events: the replay checked nothing", r.compared, r.comparedEvents)
			}
			t.Logf("compared %d replies and %d trace leg events", r.compared, r.comparedEvents)
		})
	}
}
