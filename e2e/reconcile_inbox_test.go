package e2e

import (
	"context"
	"sync/atomic"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/tandem-cc/tandem/acd"
	"github.com/tandem-cc/tandem/internal/clock"
	"github.com/tandem-cc/tandem/internal/keyspace"
	"github.com/tandem-cc/tandem/internal/lab"
	"github.com/tandem-cc/tandem/pbxsim"
)

// inboxFirstPBX holds, while armed, the reconciliation's read of the legs
// (Takeover) until the seat's inbox is empty: the inbox entries the engine
// reads at start are handled before the rebuild, as they were in the chaos
// run that found the bug (an inbox read is one round trip, the rebuild
// waits for the PBX socket).
type inboxFirstPBX struct {
	acd.PBX
	armed *atomic.Bool
	rdb   *redis.Client
	inbox string
}

func (p inboxFirstPBX) Takeover(ctx context.Context, owner string, legs []string) ([]acd.LegState, error) {
	for p.armed.Load() {
		if n, err := p.rdb.XLen(ctx, p.inbox).Result(); err == nil && n == 0 {
			break
		}
		select {
		case <-ctx.Done():
			return nil, ctx.Err()
		case <-time.After(5 * time.Millisecond):
		}
	}
	return p.PBX.Takeover(ctx, owner, legs)
}

// TestRestartDropsAnInboxOfferItsRebuildGaveBack: the replica stops between
// an offer and its ring (the call's actor is busy with an announcement
// while the offer waits in its mailbox), with the offer also in its inbox,
// delivered and never acknowledged (as when the offer came from another
// replica). The restarted engine reads the entry again before it rebuilds
// the call (the call is still offered then, so the entry is not stale
// yet); the rebuild gives the offer back and routing offers the call again
// (attempt 2). The entry's offer (attempt 1) must then be dropped: carried
// out, it rang the agent for attempt 1 while attempt 2 reserved them
// (chaos sigstop: an agent rung while on another leg), and the call never
// connected.
func TestRestartDropsAnInboxOfferItsRebuildGaveBack(t *testing.T) {
	forEachPBX(t, func(t *testing.T, pbx lab.PBXKind) {
		fc := clock.NewFake(time.Now())
		var armed, inboxFirst atomic.Bool
		held, release, ended := make(chan string, 1), make(chan struct{}), make(chan error, 1)
		defer close(release)
		keys := keyspace.New("tandem")
		var rdb *redis.Client
		l := startAnnounceLab(t, pbx, fc, &mediaHoldPBX{armed: &armed, held: held, release: release, ended: ended}, func(pbx acd.PBX) acd.PBX {
			return inboxFirstPBX{PBX: pbx, armed: &inboxFirst, rdb: rdb, inbox: keys.Inbox("r1")}
		})
		ctx := context.Background()
		rdb = l.RDB
		leg, err := l.PBX.Call(pbxsim.Caller{ANI: "5550001", DNIS: "800"})
		if err != nil {
			t.Fatal(err)
		}
		c1 := interactionOfWait(t, l, leg)
		waitState(t, l, c1, acd.StateQueued)
		armed.Store(true)
		playAnnouncement(fc)
		<-held
		login(t, l, 0, "a1", l.Endpoint("1001"), pbxsim.Phone{Mode: pbxsim.Answer, RingFor: 10 * time.Millisecond}, "sales")
		if ix := waitState(t, l, c1, acd.StateOffered); ix.AgentLeg != "" || ix.Offers != 1 {
			t.Fatalf("before the stop: agent leg %q after %d offers", ix.AgentLeg, ix.Offers)
		}
		if err := l.Replicas[0].Stop(); err != nil {
			t.Fatal(err)
		}
		if err := <-ended; err == nil {
			t.Fatal("the held announcement was released; the engine's stop should have ended it")
		}
		// The same offer, delivered to the seat's consumer and never
		// acknowledged.
		inbox := keys.Inbox("r1")
		if err := l.RDB.XAdd(ctx, &redis.XAddArgs{Stream: inbox, Values: map[string]any{"conn": c1, "agent": "a1", "endpoint": l.Endpoint("1001"), "attempt": 1}}).Err(); err != nil {
			t.Fatal(err)
		}
		if err := l.RDB.XReadGroup(ctx, &redis.XReadGroupArgs{Group: "owner", Consumer: "r1", Streams: []string{inbox, ">"}, Count: 10, Block: -1}).Err(); err != nil {
			t.Fatal(err)
		}
		inboxFirst.Store(true)
		l.RestartEngine(0)
		ix := waitState(t, l, c1, acd.StateConnected)
		if ix.Agent != "a1" || ix.AgentLeg != c1+"-a2" {
			t.Fatalf("connected to %s on %s, want a1 on the second offer's leg", ix.Agent, ix.AgentLeg)
		}
		if st := l.PBX.Stats(); st.AgentsWithTwoCalls != 0 || st.DoubleOffers != 0 {
			t.Fatalf("agent rung while on another leg %d times, call offered twice %d times", st.AgentsWithTwoCalls, st.DoubleOffers)
		}
		for _, o := range l.PBX.Originates() {
			if o.Channel == c1+"-a1" {
				t.Fatalf("the given-back offer's leg %s was rung", o.Channel)
			}
		}
		if err := l.PBX.HangUp(leg); err != nil {
			t.Fatal(err)
		}
		waitState(t, l, c1, acd.StateEnded)
		checkHistory(t, l)
	})
}
