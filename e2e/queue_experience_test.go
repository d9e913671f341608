package e2e

import (
	"context"
	"log/slog"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/tandem-cc/tandem/acd"
	"github.com/tandem-cc/tandem/agents"
	"github.com/tandem-cc/tandem/cad"
	"github.com/tandem-cc/tandem/hours"
	"github.com/tandem-cc/tandem/internal/clock"
	"github.com/tandem-cc/tandem/internal/lab"
	"github.com/tandem-cc/tandem/internal/redistest"
	"github.com/tandem-cc/tandem/media"
	"github.com/tandem-cc/tandem/pbxsim"
)

func prio(p int) *int { return &p }

// testIVR: 900 → main menu. 1 → sales; 2 → support (priority 5); 3 →
// sales at priority 7; 9 → enter a PIN (secure) then sales.
var testIVR = acd.IVRMenus{
	EntryPoints: map[string]string{"900": "main"},
	Nodes: map[string]acd.IVRNode{
		"main": {
			Prompt:  media.MustParse("sound:welcome"),
			Collect: acd.IVRCollect{MaxDigits: 1, Timeout: 400 * time.Millisecond, Retries: 1, InvalidPrompt: media.MustParse("sound:invalid"), TimeoutPrompt: media.MustParse("sound:timeout")},
			Branches: map[string]acd.IVRBranch{
				"1": {Queue: "sales", Set: map[string]string{"DEPT": "sales"}},
				"2": {Queue: "support", Priority: prio(5)},
				"3": {Queue: "sales", Priority: prio(7)},
				"4": {Dial: "+1 415 555 0123"},
				"9": {Goto: "pin"},
			},
			OnFailure: acd.IVRBranch{Hangup: media.MustParse("sound:goodbye")},
		},
		"pin": {
			Prompt:    media.MustParse("sound:enter-pin"),
			Collect:   acd.IVRCollect{MaxDigits: 6, Terminator: "#", Timeout: 2 * time.Second},
			Variable:  "PIN",
			Secure:    true,
			Branches:  map[string]acd.IVRBranch{"default": {Queue: "sales"}},
			OnFailure: acd.IVRBranch{Hangup: media.MustParse("sound:goodbye")},
		},
	},
}

type qxOptions struct {
	pbx    lab.PBXKind // default Asterisk
	queues map[string]acd.QueueSettings
	now    func() time.Time
	clock  clock.Clock // runs the engine's timers (nil: the system clock)
}

// startQueueLab is a lab with the test IVR and the given queues.
func startQueueLab(t *testing.T, o qxOptions) *lab.Lab {
	t.Helper()
	logger := slog.New(slog.DiscardHandler)
	if os.Getenv("TANDEM_TEST_LOG") != "" {
		logger = slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelDebug}))
	}
	if o.queues == nil {
		o.queues = map[string]acd.QueueSettings{}
	}
	for _, q := range []string{"sales", "support"} {
		if _, ok := o.queues[q]; !ok {
			o.queues[q] = acd.QueueSettings{MOHClass: q + "-music", RingTimeout: 3 * time.Second, ServiceLevel: 20 * time.Second}
		}
	}
	l := startLabWith(t, lab.Options{
		PBX: o.pbx, RedisAddr: redistest.Start(t), Queues: o.queues,
		DNIS:          map[string]string{"800": "sales", "801": "support"},
		SweepInterval: 200 * time.Millisecond,
		Logger:        logger,
		SimTiming:     pbxsim.Timing{Playback: 50 * time.Millisecond},
		Engine:        acd.Options{IVR: testIVR, Now: o.now, Clock: o.clock, Dial: acd.DialSettings{Endpoint: o.pbx.Endpoint("{number}"), DefaultRegion: "US"}},
	})
	requireCodecsOnEveryOriginate(t, l)
	return l
}

// played lists the media played to a channel, in order.
func played(l *lab.Lab, leg string) []string {
	var out []string
	for _, m := range l.Heard(leg) {
		if m.Kind == "playback_start" {
			out = append(out, m.MediaURI)
		}
	}
	return out
}

func ivrNode(t *testing.T, l *lab.Lab, conn string) string {
	t.Helper()
	v, _ := l.RDB.HGet(context.Background(), l.Replicas[0].Store.Keys().Interaction(conn), "ivr_node").Result()
	return v
}

func TestIVRMenuAttachesDataShownInScreenPop(t *testing.T) {
	forEachPBX(t, func(t *testing.T, pbx lab.PBXKind) {
		l := startQueueLab(t, qxOptions{pbx: pbx})
		ctx := context.Background()
		login(t, l, 0, "a1", l.Endpoint("1001"), pbxsim.Phone{Mode: pbxsim.Answer, RingFor: 20 * time.Millisecond}, "sales")
		desk, err := l.Replicas[0].Engine.SubscribeAgent(ctx, "a1")
		if err != nil {
			t.Fatal(err)
		}
		leg, err := l.PBX.Call(pbxsim.Caller{ANI: "+12025550100", DNIS: "900", Digits: "9", DigitsAfter: 10 * time.Millisecond})
		if err != nil {
			t.Fatal(err)
		}
		ix := interactionOf(t, l, leg)
		waitFor(t, 5*time.Second, "PIN menu", func() bool { return ivrNode(t, l, ix.ConnectionID) == "pin" })
		waitFor(t, 5*time.Second, "PIN prompt played", func() bool {
			p := played(l, leg)
			return len(p) > 0 && p[len(p)-1] == "sound:enter-pin"
		})
		if err := l.PBX.InjectDTMF(leg, "4321#"); err != nil {
			t.Fatal(err)
		}
		pop := waitEvent(t, desk, "offered")
		if pop.Attached["PIN"] != cad.Masked || pop.Queue != "sales" {
			t.Fatalf("screen pop %+v: the secure PIN must be masked", pop)
		}
		got := interaction(t, l, ix.ConnectionID)
		if got.Attached["PIN"] != "4321" {
			t.Fatalf("attached data %v", got.Attached)
		}
		if p := played(l, leg); p[0] != "sound:welcome" {
			t.Fatalf("played %v", p)
		}
	})
}

func TestIVRInvalidDigitThenRetry(t *testing.T) {
	forEachPBX(t, func(t *testing.T, pbx lab.PBXKind) {
		l := startQueueLab(t, qxOptions{pbx: pbx})
		leg, err := l.PBX.Call(pbxsim.Caller{ANI: "+12025550101", DNIS: "900", Digits: "7", DigitsAfter: 10 * time.Millisecond})
		if err != nil {
			t.Fatal(err)
		}
		ix := interactionOf(t, l, leg)
		waitFor(t, 5*time.Second, "invalid prompt and the menu again", func() bool {
			p := strings.Join(played(l, leg), ",")
			return strings.Contains(p, "sound:welcome,sound:invalid,sound:welcome")
		})
		if err := l.PBX.InjectDTMF(leg, "2"); err != nil {
			t.Fatal(err)
		}
		got := waitState(t, l, ix.ConnectionID, "queued")
		if got.Queue != "support" || got.Priority != 5 {
			t.Fatalf("routed %+v", got)
		}
	})
}

func TestIVRTimeoutEndsAtTheNodeWhereItHappened(t *testing.T) {
	forEachPBX(t, func(t *testing.T, pbx lab.PBXKind) {
		// The digit timer runs on fake time: each collect times out when the
		// test moves the clock, once that collect's timer is armed.
		fc := clock.NewFake(time.Now())
		l := startQueueLab(t, qxOptions{pbx: pbx, clock: fc})
		leg, err := l.PBX.Call(pbxsim.Caller{ANI: "+12025550102", DNIS: "900"})
		if err != nil {
			t.Fatal(err)
		}
		ix := interactionOf(t, l, leg)
		timeout := testIVR.Nodes["main"].Collect.Timeout
		for range 2 { // the first try and its one retry
			fc.WaitTimers(fc.Now().Add(timeout), 1)
			fc.Advance(timeout)
		}
		got := waitState(t, l, ix.ConnectionID, "ended")
		res, _ := l.RDB.HGet(context.Background(), l.Replicas[0].Store.Keys().Interaction(ix.ConnectionID), "ivr_result").Result()
		if res != "timeout" || ivrNode(t, l, ix.ConnectionID) != "main" || got.EndedBy != "ivr" {
			t.Fatalf("ivr result %q at %q, ended by %s", res, ivrNode(t, l, ix.ConnectionID), got.EndedBy)
		}
		if p := strings.Join(played(l, leg), ","); p != "sound:welcome,sound:timeout,sound:welcome,sound:goodbye" {
			t.Fatalf("played %s", p)
		}
		waitFor(t, 5*time.Second, "caller hung up", func() bool { ch, _ := l.PBX.Channel(leg); return ch.HungUp })
		checkHistory(t, l)
	})
}

func TestHigherPriorityCallOvertakes(t *testing.T) {
	forEachPBX(t, func(t *testing.T, pbx lab.PBXKind) {
		l := startQueueLab(t, qxOptions{pbx: pbx})
		first, err := l.PBX.Call(pbxsim.Caller{ANI: "+12025550103", DNIS: "900", Digits: "1", DigitsAfter: 10 * time.Millisecond})
		if err != nil {
			t.Fatal(err)
		}
		low := waitState(t, l, interactionOf(t, l, first).ConnectionID, "queued")
		second, err := l.PBX.Call(pbxsim.Caller{ANI: "+12025550104", DNIS: "900", Digits: "3", DigitsAfter: 10 * time.Millisecond})
		if err != nil {
			t.Fatal(err)
		}
		high := waitState(t, l, interactionOf(t, l, second).ConnectionID, "queued")
		if high.Priority != 7 || low.Priority != 0 {
			t.Fatalf("priorities %d %d", high.Priority, low.Priority)
		}
		login(t, l, 0, "a1", l.Endpoint("1001"), pbxsim.Phone{Mode: pbxsim.Answer, RingFor: 20 * time.Millisecond}, "sales")
		if got := waitState(t, l, high.ConnectionID, "connected"); got.Agent != "a1" {
			t.Fatal("the later, higher-priority call was not served first")
		}
		if st := interaction(t, l, low.ConnectionID).State; st != "queued" {
			t.Fatalf("low-priority call %s", st)
		}
	})
}

func TestOverflowByTimeKeepsArrival(t *testing.T) {
	forEachPBX(t, func(t *testing.T, pbx lab.PBXKind) {
		// The overflow timer runs on fake time: the call overflows when the
		// test moves the clock, not after a guess at the machine's speed.
		const after = 300 * time.Millisecond
		fc := clock.NewFake(time.Now())
		l := startQueueLab(t, qxOptions{pbx: pbx, clock: fc, queues: map[string]acd.QueueSettings{
			"sales": {MOHClass: "sales-music", RingTimeout: 3 * time.Second,
				Overflow: acd.Overflow{After: after, Action: acd.Treatment{Type: "queue", Queue: "support"}}},
		}})
		login(t, l, 0, "s1", l.Endpoint("2001"), pbxsim.Phone{Mode: pbxsim.Answer, RingFor: 20 * time.Millisecond}, "support")
		if _, err := l.Replicas[0].Engine.SetIdle(context.Background(), "s1", "break"); err != nil {
			t.Fatal(err)
		}
		leg, err := l.PBX.Call(pbxsim.Caller{ANI: "+12025550105", DNIS: "800"})
		if err != nil {
			t.Fatal(err)
		}
		ix := waitState(t, l, interactionOf(t, l, leg).ConnectionID, "queued")
		fc.WaitTimers(fc.Now().Add(after), 1)
		if q := interaction(t, l, ix.ConnectionID).Queue; q != "sales" {
			t.Fatalf("in %s before the overflow time", q)
		}
		fc.Advance(after)
		waitFor(t, 5*time.Second, "overflow to support", func() bool { return interaction(t, l, ix.ConnectionID).Queue == "support" })
		got := interaction(t, l, ix.ConnectionID)
		if !got.Queued.Equal(ix.Queued) {
			t.Fatalf("overflow changed the arrival: %v → %v", ix.Queued, got.Queued)
		}
		waitFor(t, 5*time.Second, "support's music after overflow", func() bool {
			ch, _ := l.PBX.Channel(leg)
			return ch.MOHClass == "support-music"
		})
		if _, err := l.Replicas[0].Engine.SetAvailable(context.Background(), "s1"); err != nil {
			t.Fatal(err)
		}
		waitState(t, l, ix.ConnectionID, "connected")
		if err := l.PBX.HangUp(leg); err != nil {
			t.Fatal(err)
		}
		waitState(t, l, ix.ConnectionID, "ended")
		checkHistory(t, l)
	})
}

func TestOverflowWhenNoAgentsAndQueueFull(t *testing.T) {
	forEachPBX(t, func(t *testing.T, pbx lab.PBXKind) {
		l := startQueueLab(t, qxOptions{pbx: pbx, queues: map[string]acd.QueueSettings{
			"sales": {MOHClass: "sales-music", RingTimeout: 3 * time.Second,
				Overflow: acd.Overflow{NoAgents: true, Action: acd.Treatment{Type: "message", Message: media.MustParse("sound:nobody-here")}}},
			"support": {MOHClass: "support-music", RingTimeout: 3 * time.Second,
				MaxSize: 1, WhenFull: acd.Treatment{Type: "message", Message: media.MustParse("sound:queue-full")}},
		}})
		// sales has nobody logged in: the caller hears the message at once.
		leg, err := l.PBX.Call(pbxsim.Caller{ANI: "+12025550106", DNIS: "800"})
		if err != nil {
			t.Fatal(err)
		}
		ix := waitState(t, l, interactionOf(t, l, leg).ConnectionID, "ended")
		if ix.EndedBy != "no_agents" || strings.Join(played(l, leg), ",") != "sound:nobody-here" {
			t.Fatalf("no-agents treatment: %+v, played %v", ix, played(l, leg))
		}
		// support holds one waiting call at most.
		first, err := l.PBX.Call(pbxsim.Caller{ANI: "+12025550107", DNIS: "801"})
		if err != nil {
			t.Fatal(err)
		}
		waitState(t, l, interactionOf(t, l, first).ConnectionID, "queued")
		second, err := l.PBX.Call(pbxsim.Caller{ANI: "+12025550108", DNIS: "801"})
		if err != nil {
			t.Fatal(err)
		}
		full := waitState(t, l, interactionOf(t, l, second).ConnectionID, "ended")
		if full.EndedBy != "full" || strings.Join(played(l, second), ",") != "sound:queue-full" {
			t.Fatalf("queue-full treatment %+v, played %v", full, played(l, second))
		}
	})
}

func TestAfterHoursTreatmentWithFixedClock(t *testing.T) {
	forEachPBX(t, func(t *testing.T, pbx lab.PBXKind) {
		sunday := time.Date(2026, 11, 22, 10, 0, 0, 0, time.UTC) // a Sunday
		l := startQueueLab(t, qxOptions{pbx: pbx, now: func() time.Time { return sunday }, queues: map[string]acd.QueueSettings{
			"sales": {MOHClass: "sales-music", RingTimeout: 3 * time.Second, Hours: acd.OpeningHours{
				Hours: hours.Hours{
					TimeZone: "Europe/Paris",
					Weekly:   []hours.Window{{Days: []string{"mon", "tue", "wed", "thu", "fri"}, From: "09:00", To: "17:00"}},
				},
				Closed: acd.Treatment{Type: "message", Message: media.MustParse("sound:closed")},
			}},
		}})
		leg, err := l.PBX.Call(pbxsim.Caller{ANI: "+12025550109", DNIS: "800"})
		if err != nil {
			t.Fatal(err)
		}
		ix := waitState(t, l, interactionOf(t, l, leg).ConnectionID, "ended")
		if ix.EndedBy != "closed" || strings.Join(played(l, leg), ",") != "sound:closed" {
			t.Fatalf("after hours %+v, played %v", ix, played(l, leg))
		}
	})
}

func TestAnnouncementCadence(t *testing.T) {
	forEachPBX(t, func(t *testing.T, pbx lab.PBXKind) {
		// The announcement timers run on fake time: the test moves it an
		// interval at a time, once both callers' timers are armed.
		const interval = 300 * time.Millisecond
		fc := clock.NewFake(time.Now())
		l := startQueueLab(t, qxOptions{pbx: pbx, clock: fc, queues: map[string]acd.QueueSettings{
			"sales": {MOHClass: "sales-music", RingTimeout: 3 * time.Second,
				Announce: acd.Announcements{Interval: interval, Position: true, EWT: true}},
		}})
		// One agent is busy on a call: the queue is served, so waits can be
		// estimated (3 minutes a call until the queue has history).
		login(t, l, 0, "a1", l.Endpoint("1001"), pbxsim.Phone{Mode: pbxsim.Answer, RingFor: 10 * time.Millisecond}, "sales")
		busy, err := l.PBX.Call(pbxsim.Caller{ANI: "+12025550112", DNIS: "800"})
		if err != nil {
			t.Fatal(err)
		}
		waitState(t, l, interactionOf(t, l, busy).ConnectionID, "connected")
		first, err := l.PBX.Call(pbxsim.Caller{ANI: "+12025550110", DNIS: "800"})
		if err != nil {
			t.Fatal(err)
		}
		waitState(t, l, interactionOf(t, l, first).ConnectionID, "queued")
		waitRedisTick(t, l) // queue order is by arrival in Redis ms
		second, err := l.PBX.Call(pbxsim.Caller{ANI: "+12025550111", DNIS: "800"})
		if err != nil {
			t.Fatal(err)
		}
		waitState(t, l, interactionOf(t, l, second).ConnectionID, "queued")
		// Several intervals pass with nothing changing: each caller hears its
		// position and wait once, not again. Each interval ends once both
		// callers' next announcements are armed again (after the first one has
		// played): the actors handled it.
		// At first the busy call's timer is there too (it queued before it
		// was offered; it fires as a no-op).
		fc.WaitTimers(fc.Now().Add(interval), 3)
		fc.Advance(interval)
		for range 4 {
			fc.WaitTimers(fc.Now().Add(interval), 2)
			fc.Advance(interval)
		}
		fc.WaitTimers(fc.Now().Add(interval), 2)
		count := func(leg, media string) int {
			n := 0
			for _, m := range played(l, leg) {
				if m == media {
					n++
				}
			}
			return n
		}
		// The first in line hears "you are next" (not "there are 1 calls
		// waiting"), the second their position.
		if count(first, "sound:queue-youarenext") != 1 || count(first, "sound:queue-thereare") != 0 {
			t.Fatalf("caller 1 heard %v", played(l, first))
		}
		if count(second, "sound:queue-thereare") != 1 || count(second, "number:2") < 1 {
			t.Fatalf("caller 2 heard %v", played(l, second))
		}
		for i, leg := range []string{first, second} {
			if count(leg, "sound:queue-holdtime") != 1 || !containsSeq(played(l, leg), "sound:queue-holdtime", "number:"+string(rune('3'+3*i))) {
				t.Fatalf("caller %d heard %v", i+1, played(l, leg))
			}
		}
		// The first caller leaves: the second moves to position 1 and is told
		// at its next announcement.
		firstConn := interactionOf(t, l, first).ConnectionID
		if err := l.PBX.HangUp(first); err != nil {
			t.Fatal(err)
		}
		waitFor(t, 10*time.Second, "caller 1 gone", func() bool { return interaction(t, l, firstConn).Terminal() })
		fc.WaitTimers(fc.Now().Add(interval), 1)
		fc.Advance(interval)
		waitFor(t, 5*time.Second, "new position and wait announced", func() bool {
			return count(second, "sound:queue-youarenext") == 1 && count(second, "sound:queue-minutes") == 2
		})
		waitFor(t, 5*time.Second, "music back", func() bool { ch, _ := l.PBX.Channel(second); return ch.MOHClass == "sales-music" })
		if p := played(l, second); !containsSeq(p, "sound:queue-youarenext", "sound:queue-holdtime") || count(second, "sound:queue-holdtime") != 2 || !containsSeq(p, "sound:queue-holdtime", "number:3") {
			t.Fatalf("second caller heard %v", p)
		}
		if ch, _ := l.PBX.Channel(second); ch.MOHClass != "sales-music" {
			t.Fatal("music did not resume after the announcement")
		}
		_ = agents.Available
	})
}

func containsSeq(list []string, a, b string) bool {
	for i := 0; i+1 < len(list); i++ {
		if list[i] == a && list[i+1] == b {
			return true
		}
	}
	return false
}

func TestIVRHangupIsRecordedAtItsNode(t *testing.T) {
	forEachPBX(t, func(t *testing.T, pbx lab.PBXKind) {
		l := startQueueLab(t, qxOptions{pbx: pbx})
		leg, err := l.PBX.Call(pbxsim.Caller{ANI: "+12025550120", DNIS: "900", Digits: "9", DigitsAfter: 10 * time.Millisecond, Patience: 400 * time.Millisecond})
		if err != nil {
			t.Fatal(err)
		}
		ix := interactionOf(t, l, leg)
		got := waitState(t, l, ix.ConnectionID, "abandoned")
		res, _ := l.RDB.HGet(context.Background(), l.Replicas[0].Store.Keys().Interaction(ix.ConnectionID), "ivr_result").Result()
		if res != "hangup" || ivrNode(t, l, ix.ConnectionID) != "pin" || got.EndedBy != "caller" {
			t.Fatalf("ivr hang-up recorded as %q at %q, ended by %s", res, ivrNode(t, l, ix.ConnectionID), got.EndedBy)
		}
	})
}

func TestIVRDialsAnOutsideNumber(t *testing.T) {
	forEachPBX(t, func(t *testing.T, pbx lab.PBXKind) {
		l := startQueueLab(t, qxOptions{pbx: pbx})
		// Option 4 of the menu sends the caller to an outside number.
		l.PBX.SetPhone(l.Endpoint("+14155550123"), pbxsim.Phone{Mode: pbxsim.Answer, RingFor: 20 * time.Millisecond, TalkFor: 200 * time.Millisecond})
		leg, err := l.PBX.Call(pbxsim.Caller{ANI: "+12025550121", DNIS: "900", Digits: "4", DigitsAfter: 10 * time.Millisecond})
		if err != nil {
			t.Fatal(err)
		}
		ix := interactionOf(t, l, leg)
		got := waitState(t, l, ix.ConnectionID, "ended")
		if n := l.PBX.Stats().OriginatesByEndpoint[l.Endpoint("+14155550123")]; n != 1 || got.EndedBy == "" {
			t.Fatalf("outside number rung %d times; %+v", n, got)
		}
		checkHistory(t, l)
	})
}

func TestQueueFiguresAreLive(t *testing.T) {
	forEachPBX(t, func(t *testing.T, pbx lab.PBXKind) {
		l := startQueueLab(t, qxOptions{pbx: pbx})
		ctx := context.Background()
		// One caller gives up, one is answered.
		gone, err := l.PBX.Call(pbxsim.Caller{ANI: "+12025550130", DNIS: "800", Patience: 200 * time.Millisecond})
		if err != nil {
			t.Fatal(err)
		}
		waitState(t, l, interactionOf(t, l, gone).ConnectionID, "abandoned")
		login(t, l, 0, "a1", l.Endpoint("1001"), pbxsim.Phone{Mode: pbxsim.Answer, RingFor: 20 * time.Millisecond}, "sales")
		leg, err := l.PBX.Call(pbxsim.Caller{ANI: "+12025550131", DNIS: "800"})
		if err != nil {
			t.Fatal(err)
		}
		waitState(t, l, interactionOf(t, l, leg).ConnectionID, "connected")
		// A third waits (a1 is busy).
		if _, err := l.PBX.Call(pbxsim.Caller{ANI: "+12025550132", DNIS: "800"}); err != nil {
			t.Fatal(err)
		}
		var v acd.QueueView
		waitFor(t, 5*time.Second, "figures", func() bool {
			v, err = l.Replicas[0].Engine.Queue(ctx, "sales")
			return err == nil && v.Stats != nil && v.Stats.Answered == 1 && v.Stats.Abandoned == 1 && len(v.Waiting) == 1
		})
		st := v.Stats
		if st.ServiceLevel != 0.5 || st.AbandonRate != 0.5 || st.AnsweredWithinSL != 1 || st.ServiceLevelS != 20 || st.LongestWaitSeconds <= 0 {
			t.Fatalf("figures %+v", st)
		}
	})
}
