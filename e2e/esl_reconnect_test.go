package e2e

import (
	"context"
	"log/slog"
	"os"
	"slices"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/tandem-cc/tandem/acd"
	"github.com/tandem-cc/tandem/agents"
	"github.com/tandem-cc/tandem/internal/lab"
	"github.com/tandem-cc/tandem/internal/redistest"
	"github.com/tandem-cc/tandem/pbxsim"
	"github.com/tandem-cc/tandem/pbxsim/eslsim"
)

// The event socket is FreeSWITCH's alone, so these tests run on the
// FreeSWITCH lab only, not in the forEachPBX table (Asterisk's WebSocket
// has its own in ari/keepalive_test.go).

// TestESLReconnectLosesNoCall: one caller talks to an agent (C1), three
// wait in queue with no agent free (C2, C3, C4), and the replica's event
// socket is lost — cut (the TCP connection closes) or half-open (open but
// silent: only the driver's ping can tell). C3 hangs up right after the
// cut: half-open, the socket never brings that event; cut, it lands in
// the driver's backoff before the reconnect (or, on a slow machine, just
// after it; the outcome must be the same). Once the driver has
// reconnected and re-read the channels: C3 is abandoned, not left waiting;
// C2 and C4 still wait in Redis with their own scores, in their order,
// hearing the queue's music; C1 is still bridged and ends normally when
// its caller (cut) or its agent (half-open) hangs up, the agent to
// wrap-up and nothing of C1 left at the PBX. Then agents free up and C2
// and C4 are offered and connected in their order, and end; nothing is
// left at the PBX (startLabWith checks it too).
func TestESLReconnectLosesNoCall(t *testing.T) {
	for _, tc := range []struct {
		name string
		cut  func(s *eslsim.Sim, owner string)
		// endedBy is who ends the connected call after the reconnect.
		endedBy string
	}{
		{"dropped", (*eslsim.Sim).DropConnections, "caller"},
		{"half-open", (*eslsim.Sim).FreezeConnections, "agent"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			l, resynced := startESLReconnectLab(t)
			sim := l.PBX.(*eslsim.Sim)
			r := l.Replicas[0]
			ctx := context.Background()
			answer := pbxsim.Phone{Mode: pbxsim.Answer, RingFor: 10 * time.Millisecond}
			call := func(ani string) (conn, leg string) {
				t.Helper()
				leg, err := l.PBX.Call(pbxsim.Caller{ANI: ani, DNIS: "800"})
				if err != nil {
					t.Fatal(err)
				}
				return interactionOfWait(t, l, leg), leg
			}

			// C1 is connected to a1; a1 stays in wrap-up (an hour) until
			// the test frees it, so C2–C4 find no agent.
			login(t, l, 0, "a1", l.Endpoint("1001"), answer, "sales")
			c1, _ := call("5550001")
			ix1 := waitState(t, l, c1, acd.StateConnected)
			var waiting []string // C2, C3, C4 in arrival order
			legs := map[string]string{}
			for _, ani := range []string{"5550002", "5550003", "5550004"} {
				waitRedisTick(t, l) // a later arrival ms: distinct scores
				c, leg := call(ani)
				waitState(t, l, c, acd.StateQueued)
				waiting, legs[c] = append(waiting, c), leg
			}
			c2, c3, c4 := waiting[0], waiting[1], waiting[2]
			before := waitingList(t, l)
			if got := members(before); !slices.Equal(got, waiting) {
				t.Fatalf("waiting before the cut: %v, want %v", got, waiting)
			}

			// The socket is lost; C3 hangs up while the driver cannot hear.
			tc.cut(sim, r.App)
			if err := l.PBX.HangUp(legs[c3]); err != nil {
				t.Fatal(err)
			}

			// The driver notices, reconnects and re-reads the channels.
			var rs acd.Resynced
			select {
			case rs = <-resynced:
			case <-time.After(60 * time.Second):
				t.Fatal("the driver never reconnected and re-read the channels")
			}
			waitFor(t, 10*time.Second, "the replica's socket up again", r.Connected)
			for _, leg := range []string{ix1.CallerLeg, ix1.AgentLeg, legs[c2], legs[c4]} {
				if !slices.Contains(rs.Live, leg) {
					t.Errorf("the re-read after the reconnect lacks live leg %s: %v", leg, rs.Live)
				}
			}
			if slices.Contains(rs.Live, legs[c3]) {
				t.Errorf("the re-read after the reconnect lists C3's hung-up leg %s", legs[c3])
			}

			// C3's hang-up, missed by the lost socket, is reconciled.
			if ix := waitState(t, l, c3, acd.StateAbandoned); ix.EndedBy != "caller" {
				t.Fatalf("C3 abandoned by %q, want caller", ix.EndedBy)
			}
			// C2 and C4 wait as before: same scores, same order, music.
			after := waitingList(t, l)
			if len(after) != 2 || after[0] != before[0] || after[1] != before[2] {
				t.Fatalf("waiting after the reconnect: %v, want %v and %v as before the cut", after, before[0], before[2])
			}
			for _, c := range []string{c2, c4} {
				if ix := interaction(t, l, c); ix.State != acd.StateQueued {
					t.Fatalf("%s after the reconnect: %s", c, ix.State)
				}
				if ch, ok := l.PBX.Channel(legs[c]); !ok || ch.HungUp || ch.MOHClass != "sales-music" {
					t.Fatalf("%s's caller after the reconnect: %+v, want live with the queue's music", c, ch)
				}
			}

			// C1 is still bridged, and ends normally.
			if !l.Bridged(ix1.CallerLeg, ix1.AgentLeg) || interaction(t, l, c1).State != acd.StateConnected {
				t.Fatalf("C1 after the reconnect: %s, bridged %v", interaction(t, l, c1).State, l.Bridged(ix1.CallerLeg, ix1.AgentLeg))
			}
			hangUp := ix1.CallerLeg
			if tc.endedBy == "agent" {
				hangUp = ix1.AgentLeg
			}
			if err := l.PBX.HangUp(hangUp); err != nil {
				t.Fatal(err)
			}
			if ix := waitState(t, l, c1, acd.StateEnded); ix.EndedBy != tc.endedBy {
				t.Fatalf("C1 ended by %q, want %s", ix.EndedBy, tc.endedBy)
			}
			waitAgent(t, l, "a1", agents.WrapUp)
			waitFor(t, 10*time.Second, "C1's legs gone from the PBX", func() bool {
				return legGone(l, ix1.CallerLeg) && legGone(l, ix1.AgentLeg)
			})

			// Agents free up: C2, then C4, offered and connected.
			if _, err := r.Engine.WrapUp(ctx, "a1", "default"); err != nil {
				t.Fatal(err)
			}
			ix2 := waitState(t, l, c2, acd.StateConnected)
			if ix2.Agent != "a1" || interaction(t, l, c4).State != acd.StateQueued {
				t.Fatalf("a1 took %s / C4 is %s: the waiting order was lost", ix2.ConnectionID, interaction(t, l, c4).State)
			}
			login(t, l, 0, "a2", l.Endpoint("1002"), answer, "sales")
			ix4 := waitState(t, l, c4, acd.StateConnected)
			if ix4.Agent != "a2" || !l.Bridged(ix4.CallerLeg, ix4.AgentLeg) || !l.Bridged(ix2.CallerLeg, ix2.AgentLeg) {
				t.Fatalf("C4 with %q (bridged %v), C2 bridged %v", ix4.Agent, l.Bridged(ix4.CallerLeg, ix4.AgentLeg), l.Bridged(ix2.CallerLeg, ix2.AgentLeg))
			}
			for _, leg := range []string{ix2.CallerLeg, ix4.CallerLeg} {
				if err := l.PBX.HangUp(leg); err != nil {
					t.Fatal(err)
				}
			}
			waitState(t, l, c2, acd.StateEnded)
			waitState(t, l, c4, acd.StateEnded)
			waitFor(t, 10*time.Second, "no channel, bridge or recording left on the PBX", func() bool {
				return len(l.PBX.Channels()) == 0 && l.PBX.Leftovers().Empty()
			})
			if n, err := l.RDB.ZCard(ctx, r.Store.Keys().Waiting("sales")).Result(); err != nil || n != 0 {
				t.Fatalf("%d calls (%v) still waiting in Redis", n, err)
			}
			checkHistory(t, l)
		})
	}
}

// startESLReconnectLab is a one-replica FreeSWITCH lab whose replica's
// driver reports on the returned channel each re-read after a reconnect
// (acd.Resynced, not Initial): the sign that the socket was lost and is
// back, waited on instead of a guessed time.
func startESLReconnectLab(t *testing.T) (*lab.Lab, <-chan acd.Resynced) {
	t.Helper()
	resynced := make(chan acd.Resynced, 8)
	l := startLabWith(t, lab.Options{
		PBX:       lab.FreeSWITCH,
		Replicas:  1,
		RedisAddr: redistest.Start(t),
		Queues: map[string]acd.QueueSettings{
			// A ring timeout no step reaches: ringing ends by the phone.
			"sales": {MOHClass: "sales-music", RingTimeout: time.Minute},
		},
		DNIS:          map[string]string{"800": "sales"},
		SweepInterval: 200 * time.Millisecond,
		Logger:        reconnectLogger(),
		WrapPBX: func(_ string, pbx acd.PBX) acd.PBX {
			return resyncWatch{PBX: pbx, resynced: resynced}
		},
		// Wrap-up lasts until the test frees the agent.
		Engine: acd.Options{Policy: acd.Policy{WrapUp: time.Hour}},
	})
	return l, resynced
}

// resyncWatch passes every event on and copies the driver's re-reads
// after a reconnect to resynced.
type resyncWatch struct {
	acd.PBX
	resynced chan<- acd.Resynced
}

func (w resyncWatch) Run(ctx context.Context, handle func(acd.Event)) error {
	return w.PBX.Run(ctx, func(ev acd.Event) {
		if r, ok := ev.(acd.Resynced); ok && !r.Initial {
			select {
			case w.resynced <- r:
			default: // a test waits for the first; later ones may drop
			}
		}
		handle(ev)
	})
}

// waitingList is the sales queue's waiting list, head first, with scores.
func waitingList(t *testing.T, l *lab.Lab) []redis.Z {
	t.Helper()
	zs, err := l.RDB.ZRangeWithScores(context.Background(), l.Replicas[0].Store.Keys().Waiting("sales"), 0, -1).Result()
	if err != nil {
		t.Fatal(err)
	}
	return zs
}

// members are the connection ids of a waiting list, in order.
func members(zs []redis.Z) []string {
	out := make([]string, 0, len(zs))
	for _, z := range zs {
		out = append(out, z.Member.(string))
	}
	return out
}

// legGone says whether the PBX has hung leg up (or forgotten it).
func legGone(l *lab.Lab, leg string) bool {
	ch, ok := l.PBX.Channel(leg)
	return !ok || ch.HungUp
}

// reconnectLogger logs to stderr when TANDEM_TEST_LOG is set, else
// nowhere.
func reconnectLogger() *slog.Logger {
	if os.Getenv("TANDEM_TEST_LOG") != "" {
		return slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelDebug}))
	}
	return slog.New(slog.DiscardHandler)
}
