package e2e

import (
	"cmp"
	"context"
	"log/slog"
	"os"
	"testing"
	"time"

	"github.com/tandem-cc/tandem/acd"
	"github.com/tandem-cc/tandem/callbacks"
	"github.com/tandem-cc/tandem/internal/clock"
	"github.com/tandem-cc/tandem/internal/lab"
	"github.com/tandem-cc/tandem/internal/redistest"
	"github.com/tandem-cc/tandem/media"
	"github.com/tandem-cc/tandem/pbxsim"
)

// Callback labs: queue "sales" offers a courtesy callback on digit 1, dials
// through the PBX's endpoint for {number} (the simulator's scripted
// phones) with its own outbound caller id, and retries quickly.
type cbOptions struct {
	pbx      lab.PBXKind // default Asterisk
	replicas int
	// sales replaces the default settings of queue sales when set.
	sales *acd.QueueSettings
	now   func() time.Time
	lease time.Duration // default 3s
	// dialRing is how long a customer may ring (default 2s).
	dialRing time.Duration
	maxCalls int
	ivr      acd.IVRMenus
	// playback is the simulator's length of a prompt (and of a recorded
	// message); default 50ms.
	playback time.Duration
	// clock runs the engines' timers (nil: the system clock).
	clock clock.Clock
	// hostSeats: replicas host the seats of crashed replicas (looked for
	// every 50ms).
	hostSeats bool
}

const cbCallerID = "+18005550177"

func salesWithCallbacks() acd.QueueSettings {
	return acd.QueueSettings{
		MOHClass: "sales-music", RingTimeout: 2 * time.Second, ServiceLevel: 20 * time.Second,
		Callback: acd.CallbackSettings{
			Digit: "1", Prompt: media.MustParse("sound:cb-enter-number"), Invalid: media.MustParse("sound:cb-invalid"), Confirm: media.MustParse("sound:cb-thanks"),
			CallerID: cbCallerID, MaxAttempts: 3, RetryDelay: 300 * time.Millisecond,
		},
	}
}

func startCallbackLab(t *testing.T, o cbOptions) *lab.Lab {
	t.Helper()
	logger := slog.New(slog.DiscardHandler)
	if os.Getenv("TANDEM_TEST_LOG") != "" {
		logger = slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelDebug}))
	}
	sales := salesWithCallbacks()
	if o.sales != nil {
		sales = *o.sales
	}
	if o.lease == 0 {
		o.lease = 3 * time.Second
	}
	if o.dialRing == 0 {
		o.dialRing = 2 * time.Second
	}
	l := startLabWith(t, lab.Options{
		PBX:       o.pbx,
		Replicas:  max(o.replicas, 1),
		RedisAddr: redistest.Start(t),
		Queues: map[string]acd.QueueSettings{
			"sales":   sales,
			"support": {MOHClass: "support-music", RingTimeout: 2 * time.Second, ServiceLevel: 20 * time.Second},
		},
		DNIS:          map[string]string{"800": "sales", "801": "support"},
		SweepInterval: 200 * time.Millisecond,
		Logger:        logger,
		SimTiming:     pbxsim.Timing{Playback: cmp.Or(o.playback, 50*time.Millisecond)},
		HostSeats:     o.hostSeats,
		Poll:          50 * time.Millisecond,
		Engine: acd.Options{
			Now:           o.now,
			Clock:         o.clock,
			IVR:           o.ivr,
			Policy:        acd.Policy{MaxConcurrentCalls: o.maxCalls},
			Dial:          acd.DialSettings{Endpoint: o.pbx.Endpoint("{number}"), DefaultRegion: "US", CallerID: "+18005550100", RingTimeout: o.dialRing},
			CallbackPoll:  50 * time.Millisecond,
			CallbackLease: o.lease,
		},
	})
	requireCodecsOnEveryOriginate(t, l)
	return l
}

// customer is the endpoint a callback to number rings on l's PBX.
func customer(l *lab.Lab, number string) string { return l.Endpoint(number) }

// originates counts the legs the simulator was asked to ring to endpoint.
func originates(l *lab.Lab, endpoint string) int {
	return l.PBX.Stats().OriginatesByEndpoint[endpoint]
}

func getCallback(t *testing.T, l *lab.Lab, id string) callbacks.Callback {
	t.Helper()
	cb, err := l.Replicas[0].Engine.Callback(context.Background(), id)
	if err != nil {
		t.Fatal(err)
	}
	return cb
}

func waitCallback(t *testing.T, l *lab.Lab, id string, st callbacks.State) callbacks.Callback {
	t.Helper()
	var cb callbacks.Callback
	waitFor(t, 15*time.Second, "callback "+id+" "+string(st), func() bool {
		cb = getCallback(t, l, id)
		return cb.State == st
	})
	return cb
}

// callbackInteraction waits for the live interaction serving callback id.
func callbackInteraction(t *testing.T, l *lab.Lab, id, state string) acd.Interaction {
	t.Helper()
	var found acd.Interaction
	waitFor(t, 10*time.Second, "interaction of callback "+id+" "+state, func() bool {
		for _, ix := range interactions(t, l) {
			if ix.Attached["callback_id"] == id && ix.State == state {
				found = ix
				return true
			}
		}
		return false
	})
	return found
}

// registeredCallback reads the callback a caller's interaction registered.
func registeredCallback(t *testing.T, l *lab.Lab, conn string) string {
	t.Helper()
	var id string
	waitFor(t, 10*time.Second, "callback registered by "+conn, func() bool {
		msgs, err := l.RDB.XRange(context.Background(), l.Replicas[0].Store.Keys().Events(), "-", "+").Result()
		if err != nil {
			t.Fatal(err)
		}
		for _, m := range msgs {
			if m.Values["id"] == conn && m.Values["action"] == "callback_registered" {
				id, _ = m.Values["callback_id"].(string)
				return true
			}
		}
		return false
	})
	return id
}

// waitPlayed waits until media was played to leg.
func waitPlayed(t *testing.T, l *lab.Lab, leg, media string) {
	t.Helper()
	waitFor(t, 5*time.Second, media+" played to "+leg, func() bool {
		for _, m := range played(l, leg) {
			if m == media {
				return true
			}
		}
		return false
	})
}

// nextEvent reads desktop events until one of type typ.
func nextEvent(t *testing.T, ch <-chan acd.AgentEvent, typ string) acd.AgentEvent {
	t.Helper()
	timeout := time.After(10 * time.Second)
	for {
		select {
		case ev, ok := <-ch:
			if !ok {
				t.Fatalf("event stream closed before %s", typ)
			}
			if ev.Type == typ {
				return ev
			}
		case <-timeout:
			t.Fatalf("no %s event", typ)
		}
	}
}

// waitBridged waits until the call's agent shares media at the PBX with
// another leg: the customer it was dialled to.
func waitBridged(t *testing.T, l *lab.Lab, conn string) {
	t.Helper()
	waitFor(t, 10*time.Second, "agent and customer bridged in "+conn, func() bool {
		agent := interaction(t, l, conn).AgentLeg
		return agent != "" && len(bridgedNow(l, agent)) == 1
	})
}

// bridgedNow lists the live legs that share media with leg now.
func bridgedNow(l *lab.Lab, leg string) []string {
	var out []string
	for _, c := range l.PBX.Channels() {
		if c.ID != leg && l.Bridged(leg, c.ID) {
			out = append(out, c.ID)
		}
	}
	return out
}

// askForCallback places a call to queue sales (DNIS 800) from ani, waits
// until it is queued, presses the callback digit and waits for the prompt
// asking for the number: the callback is started.
func askForCallback(t *testing.T, l *lab.Lab, ani string) (string, acd.Interaction) {
	t.Helper()
	leg, err := l.PBX.Call(pbxsim.Caller{ANI: ani, DNIS: "800"})
	if err != nil {
		t.Fatal(err)
	}
	ix := waitState(t, l, interactionOf(t, l, leg).ConnectionID, acd.StateQueued)
	if err := l.PBX.InjectDTMF(leg, "1"); err != nil {
		t.Fatal(err)
	}
	waitPlayed(t, l, leg, "sound:cb-enter-number")
	return leg, ix
}
