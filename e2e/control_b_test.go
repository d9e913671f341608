package e2e

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"github.com/tandem-cc/tandem/errs"
	"github.com/tandem-cc/tandem/internal/clock"
	"github.com/tandem-cc/tandem/internal/syncbuf"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/tandem-cc/tandem/acd"
	"github.com/tandem-cc/tandem/agents"
	"github.com/tandem-cc/tandem/api"
	"github.com/tandem-cc/tandem/cad"
	"github.com/tandem-cc/tandem/config"
	"github.com/tandem-cc/tandem/internal/lab"
	"github.com/tandem-cc/tandem/pbxsim"
)

// ---- helpers of these scenarios ---------------------------------------

type syncBuffer = syncbuf.Buffer

// eventLog collects a subscription's events.
type eventLog struct {
	mu  sync.Mutex
	evs []acd.AgentEvent
}

func collect(ch <-chan acd.AgentEvent) *eventLog {
	l := &eventLog{}
	go func() {
		for ev := range ch {
			l.mu.Lock()
			l.evs = append(l.evs, ev)
			l.mu.Unlock()
		}
	}()
	return l
}

func (l *eventLog) all() []acd.AgentEvent {
	l.mu.Lock()
	defer l.mu.Unlock()
	return append([]acd.AgentEvent(nil), l.evs...)
}

// wait waits for an event matching cond and returns it.
func (l *eventLog) wait(t *testing.T, what string, cond func(acd.AgentEvent) bool) acd.AgentEvent {
	t.Helper()
	var found acd.AgentEvent
	waitFor(t, 5*time.Second, what, func() bool {
		for _, ev := range l.all() {
			if cond(ev) {
				found = ev
				return true
			}
		}
		return false
	})
	return found
}

// subscribe streams an agent's events (or every agent's, for id "") until
// the test ends.
func (l *controlLab) subscribe(id string) *eventLog {
	l.t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	l.t.Cleanup(cancel)
	var (
		ch  <-chan acd.AgentEvent
		err error
	)
	if id == "" {
		ch, err = l.engine().SubscribeSupervisor(ctx)
	} else {
		ch, err = l.engine().SubscribeAgent(ctx, id)
	}
	if err != nil {
		l.t.Fatal(err)
	}
	return collect(ch)
}

// talking places a call to queue sales and waits until an agent has it and
// the PBX bridges caller and agent (the engine has finished connecting it),
// so what the test does next cannot race the connection itself.
func (l *controlLab) talking(vars map[string]string) acd.Interaction {
	l.t.Helper()
	ix := l.callConnected(vars)
	waitFor(l.t, 5*time.Second, "caller and agent bridged", func() bool {
		return l.Bridged(ix.CallerLeg, ix.AgentLeg)
	})
	l.view(ix.Agent, "call view saved", func(v acd.CallView) bool { return v.ConnectionID == ix.ConnectionID })
	return ix
}

// flush waits until every event published to agent id so far has reached
// log (or been dropped by the subscriber): Redis delivers a channel's
// messages in order, so a marker published now arrives after them.
func (l *controlLab) flush(id string, log *eventLog) {
	l.t.Helper()
	marker := fmt.Sprintf("flush-%d", time.Now().UnixNano())
	data := jsonBody(map[string]any{"type": "test_marker", "agent": id, "name": marker, "at_ms": time.Now().UnixMilli()})
	if err := l.RDB.Publish(context.Background(), l.Replicas[0].Store.Keys().AgentChannel(id), data).Err(); err != nil {
		l.t.Fatal(err)
	}
	log.wait(l.t, "marker "+marker, func(ev acd.AgentEvent) bool { return ev.Type == "test_marker" && ev.Name == marker })
}

// liveRecording is the PBX's state of a live recording ("recording",
// "paused"), or "" if the PBX has no live recording of that name.
func (l *controlLab) liveRecording(name string) string { return l.LiveRecording(name) }

// storedRecording says whether the PBX keeps a recording file of that name.
func (l *controlLab) storedRecording(name string) bool {
	l.t.Helper()
	ok, err := l.RecordingStored(name)
	if err != nil {
		l.t.Fatal(err)
	}
	return ok
}

// hangUp hangs a leg up from the PBX side (the caller leaves).
func (l *controlLab) hangUp(leg string) {
	l.t.Helper()
	if err := l.PBX.HangUp(leg); err != nil {
		l.t.Fatalf("hang up %s: %v", leg, err)
	}
}

// recordings reads the recordings an interaction record lists.
func (l *controlLab) recordings(conn string) []acd.Recording {
	l.t.Helper()
	data, err := l.RDB.HGet(context.Background(), l.Replicas[0].Store.Keys().Interaction(conn), "recordings").Result()
	if err != nil {
		l.t.Fatalf("recordings of %s: %v", conn, err)
	}
	var out []acd.Recording
	if err := json.Unmarshal([]byte(data), &out); err != nil {
		l.t.Fatalf("recordings of %s: %v (%s)", conn, err, data)
	}
	return out
}

// field reads one field of an interaction record ("" if unset).
func (l *controlLab) field(conn, name string) string {
	l.t.Helper()
	v, err := l.RDB.HGet(context.Background(), l.Replicas[0].Store.Keys().Interaction(conn), name).Result()
	if errors.Is(err, redis.Nil) {
		return ""
	} else if err != nil {
		l.t.Fatal(err)
	}
	return v
}

// controlEvents lists the control actions recorded for conn (hold,
// recording_pause, variable_edit...), each as its fields.
func (l *controlLab) controlEvents(conn string) []map[string]any {
	l.t.Helper()
	msgs, err := l.RDB.XRange(context.Background(), l.Replicas[0].Store.Keys().Events(), "-", "+").Result()
	if err != nil {
		l.t.Fatal(err)
	}
	var out []map[string]any
	for _, m := range msgs {
		if m.Values["kind"] == "control" && m.Values["id"] == conn {
			out = append(out, m.Values)
		}
	}
	return out
}

func valueIn(v cad.View, name string) (cad.Value, bool) {
	for _, x := range v.Values {
		if x.Name == name {
			return x, true
		}
	}
	return cad.Value{}, false
}

func valueOfView(t *testing.T, v cad.View, name string) string {
	t.Helper()
	x, ok := valueIn(v, name)
	if !ok {
		t.Fatalf("variables have no %s: %+v", name, v)
	}
	return x.Value
}

// controlAPI serves the lab's engine over HTTP with a token per agent
// ("tok-<id>") and a supervisor token "tok-sup".
func (l *controlLab) controlAPI(logger *slog.Logger, ids ...string) *httptest.Server {
	l.t.Helper()
	auth := config.Auth{Supervisors: []config.SupervisorToken{{Token: "tok-sup"}}}
	for _, id := range ids {
		auth.Agents = append(auth.Agents, config.AgentToken{Agent: id, Token: "tok-" + id})
	}
	srv := httptest.NewServer(api.New(l.engine(), auth, logger))
	l.t.Cleanup(srv.Close)
	return srv
}

func jsonBody(v any) string {
	b, _ := json.Marshal(v)
	return string(b)
}

// ---- 1. wrap-up ------------------------------------------------------------

// TestWrapUpWithReasonCode: when a call ends (the caller hangs up, or the
// agent ends it) both legs are hung up and the agent goes to wrap-up; an
// unknown code is refused and changes nothing, a configured one is written
// on the interaction and makes the agent available, which the desktop
// hears; the agent's next call rings a phone that is free.
func TestWrapUpWithReasonCode(t *testing.T) {
	forEachPBX(t, func(t *testing.T, pbx lab.PBXKind) {
		tests := []struct {
			name string
			end  func(l *controlLab, ix acd.Interaction)
		}{
			{"caller hangs up", func(l *controlLab, ix acd.Interaction) { l.hangUp(ix.CallerLeg) }},
			{"agent ends the call", func(l *controlLab, ix acd.Interaction) {
				if _, err := l.engine().End(context.Background(), "a1"); err != nil {
					l.t.Fatalf("end: %v", err)
				}
			}},
		}
		for _, tt := range tests {
			t.Run(tt.name, func(t *testing.T) {
				l := startControlLab(t, controlOptions{pbx: pbx})
				ctx := context.Background()
				e := l.engine()
				l.agent(0, "a1", l.Endpoint("1001"), false, "sales")
				desk := l.subscribe("a1")
				ix := l.talking(map[string]string{"ACCOUNT": "42"})

				tt.end(l, ix)
				waitState(t, l.Lab, ix.ConnectionID, acd.StateEnded)
				waitAgent(t, l.Lab, "a1", agents.WrapUp)
				waitFor(t, 5*time.Second, "caller leg hung up", func() bool { return l.channel(ix.CallerLeg).HungUp })
				// DestroyBridge is the last PBX command of ending a call: once the
				// bridge is gone (and the recording stopped: nothing of the call
				// is left at the PBX) and a1's leg has ended, every leg Tandem
				// hung up has left the phone.
				waitFor(t, 5*time.Second, "bridge destroyed", func() bool {
					return l.PBX.Leftovers().Empty() && l.channel(ix.AgentLeg).HungUp
				})
				if legs := l.PBX.LiveLegs(l.Endpoint("1001")); len(legs) != 0 {
					ch := l.channel(ix.AgentLeg)
					t.Errorf("BUG: the call is over but a1's phone still holds leg(s) %v (agent leg %s: state %s, hung up %v): Tandem never hung it up",
						legs, ix.AgentLeg, ch.State, ch.HungUp)
				}

				// An unknown code is refused with a field error and changes nothing.
				_, err := e.WrapUp(ctx, "a1", "nope")
				var fe *errs.FieldError
				if !errors.As(err, &fe) || fe.Field != "code" {
					t.Fatalf("unknown code: %v, want a FieldError on code", err)
				}
				if st := agentState(t, l.Lab, "a1"); st != agents.WrapUp {
					t.Fatalf("after a refused code the agent is %s", st)
				}
				if got := l.field(ix.ConnectionID, "wrapup:a1"); got != "" {
					t.Fatalf("a refused code was recorded: %q", got)
				}

				a, err := e.WrapUp(ctx, "a1", "follow-up")
				if err != nil || a.State != agents.Available {
					t.Fatalf("wrap-up: %+v %v", a, err)
				}
				if got := l.field(ix.ConnectionID, "wrapup:a1"); got != "follow-up" {
					t.Fatalf("interaction wrapup:a1 = %q, want follow-up", got)
				}
				// A second code once available is refused.
				if _, err := e.WrapUp(ctx, "a1", "resolved"); !errors.Is(err, acd.ErrIllegalTransition) {
					t.Fatalf("wrap-up while available: %v", err)
				}
				if got := l.field(ix.ConnectionID, "wrapup:a1"); got != "follow-up" {
					t.Fatalf("a refused wrap-up changed the code to %q", got)
				}
				wantHistory(t, l.Lab, "a1", agents.Connected, agents.WrapUp, agents.Available)

				// The desktop heard the call end and the agent's states.
				desk.wait(t, "ended on the desktop", func(ev acd.AgentEvent) bool { return ev.Type == "ended" && ev.ConnectionID == ix.ConnectionID })
				l.flush("a1", desk)
				var states []agents.State
				for _, ev := range desk.all() {
					if ev.Type == "state" {
						states = append(states, ev.State)
					}
				}
				if len(states) < 2 || states[len(states)-2] != agents.WrapUp || states[len(states)-1] != agents.Available {
					var types []string
					for _, ev := range desk.all() {
						types = append(types, ev.Type)
					}
					t.Errorf("BUG: the desktop heard state events %v, want them to end with wrapup, available (it heard %v)", states, types)
				}

				// The next call rings a1's phone, which must hold no other leg.
				leg2, err := l.PBX.Call(pbxsim.Caller{ANI: "+12025550100", DNIS: "800"})
				if err != nil {
					t.Fatal(err)
				}
				ix2 := waitState(t, l.Lab, interactionOf(t, l.Lab, leg2).ConnectionID, acd.StateConnected)
				if st := l.PBX.Stats(); st.AgentsWithTwoCalls != 0 {
					t.Errorf("BUG: the PBX rang a1's phone while it still held a leg: agents with two calls = %d, live legs of %s = %v",
						st.AgentsWithTwoCalls, l.Endpoint("1001"), l.PBX.LiveLegs(l.Endpoint("1001")))
				}
				l.hangUp(leg2)
				waitState(t, l.Lab, ix2.ConnectionID, acd.StateEnded)
				checkHistory(t, l.Lab)
			})
		}
	})
}

// ---- 2. wrap-up timeout ------------------------------------------------------

// TestWrapUpTimeoutAppliesDefaultCode: an agent who gives no code leaves
// wrap-up by itself when its time runs out, with the default code; one who
// asked for idle during the call ends idle with their reason.
func TestWrapUpTimeoutAppliesDefaultCode(t *testing.T) {
	forEachPBX(t, func(t *testing.T, pbx lab.PBXKind) {
		tests := []struct {
			name       string
			idleReason string // asked during the call; "" = none
			want       agents.State
		}{
			{"agent becomes available", "", agents.Available},
			{"agent asked for idle during the call", "lunch", agents.Idle},
		}
		for _, tt := range tests {
			t.Run(tt.name, func(t *testing.T) {
				l := startControlLab(t, controlOptions{pbx: pbx, wrapUp: 300 * time.Millisecond})
				ctx := context.Background()
				l.agent(0, "a1", l.Endpoint("1001"), false, "sales")
				ix := l.talking(nil)
				if tt.idleReason != "" {
					a, err := l.engine().SetIdle(ctx, "a1", tt.idleReason)
					if err != nil || a.State != agents.Connected {
						t.Fatalf("idle during the call: %+v %v (the call must go on)", a, err)
					}
				}
				l.hangUp(ix.CallerLeg)
				waitState(t, l.Lab, ix.ConnectionID, acd.StateEnded)
				waitFor(t, 5*time.Second, "agent out of wrap-up", func() bool {
					return l.field(ix.ConnectionID, "wrapup:a1") != ""
				})
				waitAgent(t, l.Lab, "a1", tt.want)
				if got := l.field(ix.ConnectionID, "wrapup:a1"); got != "resolved" {
					t.Fatalf("wrapup:a1 = %q, want the default code resolved", got)
				}
				a, err := l.engine().Agent(ctx, "a1")
				if err != nil || a.ConnectionID != "" {
					t.Fatalf("agent after wrap-up: %+v %v", a, err)
				}
				if tt.idleReason != "" && a.Reason != tt.idleReason {
					t.Fatalf("idle reason %q, want %q", a.Reason, tt.idleReason)
				}
				wantHistory(t, l.Lab, "a1", agents.Connected, agents.WrapUp, tt.want)
				msgs, err := l.RDB.XRange(ctx, l.Replicas[0].Store.Keys().Events(), "-", "+").Result()
				if err != nil {
					t.Fatal(err)
				}
				var wrapups []string
				for _, m := range msgs {
					if m.Values["kind"] == "wrapup" && m.Values["id"] == "a1" {
						wrapups = append(wrapups, fmt.Sprintf("%v by %v on %v", m.Values["to"], m.Values["by"], m.Values["conn"]))
					}
				}
				if want := "resolved by timeout on " + ix.ConnectionID; len(wrapups) != 1 || wrapups[0] != want {
					t.Fatalf("wrap-up history %v, want [%s]", wrapups, want)
				}
				checkHistory(t, l.Lab)
			})
		}
	})
}

// ---- 3. recording ------------------------------------------------------------

// TestRecordingStartsPausesResumesAndAutoResumes: a call of a recorded
// queue is recorded from the moment it connects, in a file named by its
// connection id; the agent pauses and resumes it; a privacy-shield pause
// resumes by itself; the interaction lists the recording and its pauses.
func TestRecordingStartsPausesResumesAndAutoResumes(t *testing.T) {
	forEachPBX(t, func(t *testing.T, pbx lab.PBXKind) {
		// The privacy shield's timer runs on fake time: it ends when the test
		// moves the clock past it, not before.
		fc := clock.NewFake(time.Now())
		l := startControlLab(t, controlOptions{pbx: pbx, clock: fc})
		ctx := context.Background()
		e := l.engine()
		l.agent(0, "a1", l.Endpoint("1001"), false, "sales")
		desk := l.subscribe("a1")
		ix := l.talking(nil)
		conn := ix.ConnectionID

		v := l.view("a1", "recording", func(v acd.CallView) bool { return v.Recording != nil && v.Recording.Active })
		if v.Recording.Name != conn || v.Recording.Paused {
			t.Fatalf("recording %+v, want %s, running", v.Recording, conn)
		}
		if st := l.liveRecording(conn); st != "recording" {
			t.Fatalf("PBX recording %s is %q", conn, st)
		}
		if _, err := e.ResumeRecording(ctx, "a1"); !errors.Is(err, acd.ErrIllegalTransition) {
			t.Fatalf("resume of a running recording: %v", err)
		}

		// Pause and resume by the agent.
		v, err := e.PauseRecording(ctx, "a1", false)
		if err != nil || v.Recording == nil || !v.Recording.Paused || v.Recording.Privacy {
			t.Fatalf("pause: %+v %v", v.Recording, err)
		}
		if st := l.liveRecording(conn); st != "paused" {
			t.Fatalf("PBX recording after pause: %q", st)
		}
		if _, err := e.PauseRecording(ctx, "a1", true); !errors.Is(err, acd.ErrIllegalTransition) {
			t.Fatalf("second pause: %v", err)
		}
		v, err = e.ResumeRecording(ctx, "a1")
		if err != nil || v.Recording == nil || v.Recording.Paused {
			t.Fatalf("resume: %+v %v", v.Recording, err)
		}
		if st := l.liveRecording(conn); st != "recording" {
			t.Fatalf("PBX recording after resume: %q", st)
		}

		// A privacy shield resumes by itself.
		v, err = e.PauseRecording(ctx, "a1", true)
		if err != nil || v.Recording == nil || !v.Recording.Paused || !v.Recording.Privacy || v.Recording.ResumesAt.IsZero() {
			t.Fatalf("privacy pause: %+v %v", v.Recording, err)
		}
		if st := l.liveRecording(conn); st != "paused" {
			t.Fatalf("PBX recording in a privacy pause: %q", st)
		}
		// The shield cannot end early: its timer starts at the pause, and
		// until it fires the recording stays paused.
		fc.WaitTimers(fc.Now().Add(privacyShield), 1)
		fc.Advance(privacyShield - time.Millisecond)
		if v, err := e.Call(ctx, "a1"); err != nil || v.Recording == nil || !v.Recording.Paused {
			t.Fatalf("privacy pause ended before the shield: %+v %v", v.Recording, err)
		}
		if st := l.liveRecording(conn); st != "paused" {
			t.Fatalf("PBX recording before the shield ended: %q", st)
		}
		fc.Advance(time.Millisecond)
		l.view("a1", "recording resumed after the privacy shield", func(v acd.CallView) bool {
			return v.Recording != nil && !v.Recording.Paused
		})
		waitFor(t, 5*time.Second, "PBX recording resumed", func() bool { return l.liveRecording(conn) == "recording" })
		// The desktop is told the shield is over.
		ev := desk.wait(t, "recording_resumed on the desktop", func(ev acd.AgentEvent) bool { return ev.Type == "recording_resumed" })
		if ev.ConnectionID != conn || ev.Call == nil || ev.Call.Recording == nil || ev.Call.Recording.Paused {
			t.Fatalf("recording_resumed event %+v", ev)
		}

		recs := l.recordings(conn)
		if len(recs) != 1 || recs[0].Name != conn || recs[0].Started.IsZero() || !recs[0].Stopped.IsZero() {
			t.Fatalf("recordings while live: %+v", recs)
		}
		p := recs[0].Pauses
		if len(p) != 2 || p[0].Privacy || !p[1].Privacy {
			t.Fatalf("pauses %+v, want a plain one then a privacy one", p)
		}
		for i, x := range p {
			if x.From.IsZero() || x.To.IsZero() || x.To.Before(x.From) {
				t.Fatalf("pause %d: %+v", i, x)
			}
		}
		if p[1].From.Before(p[0].To) {
			t.Fatalf("pauses overlap: %+v", p)
		}
		var byShield bool
		for _, ev := range l.controlEvents(conn) {
			if ev["action"] == "recording_resume" && ev["by"] == "privacy_shield" {
				byShield = true
			}
		}
		if !byShield {
			t.Fatalf("no recording_resume by privacy_shield in the history: %v", l.controlEvents(conn))
		}

		// The call ends: the recording stops and is kept.
		if _, err := e.End(ctx, "a1"); err != nil {
			t.Fatal(err)
		}
		waitState(t, l.Lab, conn, acd.StateEnded)
		recs = l.recordings(conn)
		if len(recs) != 1 || recs[0].Stopped.IsZero() || recs[0].Stopped.Before(recs[0].Pauses[1].To) {
			t.Fatalf("recordings after the call: %+v", recs)
		}
		if st := l.liveRecording(conn); st != "" {
			t.Fatalf("PBX recording still live after the call: %q", st)
		}
		if !l.storedRecording(conn) {
			t.Fatalf("PBX kept no recording named %s", conn)
		}
		checkHistory(t, l.Lab)
	})
}

// ---- 4. recording during consults ---------------------------------------------

// TestRecordingPauseRefusedDuringConsult: during a consult and a conference
// the recording can be neither paused nor resumed; the PBX keeps recording.
func TestRecordingPauseRefusedDuringConsult(t *testing.T) {
	forEachPBX(t, func(t *testing.T, pbx lab.PBXKind) {
		l := startControlLab(t, controlOptions{pbx: pbx})
		ctx := context.Background()
		e := l.engine()
		l.agent(0, "a1", l.Endpoint("1001"), false, "sales")
		l.agent(0, "a2", l.Endpoint("1002"), true, "sales")
		ix := l.talking(nil)
		conn := ix.ConnectionID
		l.view("a1", "recording", func(v acd.CallView) bool { return v.Recording != nil })

		if _, err := e.Consult(ctx, "a1", acd.Target{Kind: acd.TargetAgent, Value: "a2"}); err != nil {
			t.Fatalf("consult: %v", err)
		}
		l.view("a1", "consult connected", func(v acd.CallView) bool { return v.Consult != nil && v.Consult.State == "connected" })

		refused := func(when string) {
			t.Helper()
			for _, privacy := range []bool{false, true} {
				if _, err := e.PauseRecording(ctx, "a1", privacy); !errors.Is(err, acd.ErrIllegalTransition) {
					t.Fatalf("%s: pause (privacy %v): %v, want ErrIllegalTransition", when, privacy, err)
				}
			}
			if _, err := e.PauseRecording(ctx, "a2", false); err == nil {
				t.Fatalf("%s: the consulted agent paused the recording", when)
			}
			if st := l.liveRecording(conn); st != "recording" {
				t.Fatalf("%s: PBX recording is %q after refused pauses", when, st)
			}
			v, err := e.Call(ctx, "a1")
			if err != nil || v.Recording == nil || v.Recording.Paused {
				t.Fatalf("%s: view after refused pauses: %+v %v", when, v.Recording, err)
			}
			if recs := l.recordings(conn); len(recs) != 1 || len(recs[0].Pauses) != 0 {
				t.Fatalf("%s: refused pauses were recorded: %+v", when, recs)
			}
		}
		refused("consult")

		if _, err := e.Conference(ctx, "a1"); err != nil {
			t.Fatalf("conference: %v", err)
		}
		l.view("a1", "conference", func(v acd.CallView) bool { return v.State == "conferenced" })
		refused("conference")

		// Once the consult is over, the agent may pause again.
		if _, err := e.EndConsult(ctx, "a1"); err != nil {
			t.Fatalf("end consult: %v", err)
		}
		v := l.view("a1", "consult over", func(v acd.CallView) bool { return v.Consult == nil })
		if v.CustomerHeld {
			if _, err := e.Resume(ctx, "a1"); err != nil {
				t.Fatal(err)
			}
		}
		if _, err := e.PauseRecording(ctx, "a1", false); err != nil {
			t.Fatalf("pause after the consult: %v", err)
		}
		if st := l.liveRecording(conn); st != "paused" {
			t.Fatalf("PBX recording after a pause outside a consult: %q", st)
		}
		if _, err := e.End(ctx, "a1"); err != nil {
			t.Fatal(err)
		}
		waitState(t, l.Lab, conn, acd.StateEnded)
		checkHistory(t, l.Lab)
	})
}

// TestRecordingContinuesAfterConsultTransfer: in a recorded queue the
// customer's conversation stays recorded when a consult transfer hands it
// to the consulted agent, in a new file named after the connection id (as
// a blind transfer does: "<conn>-2"), which that agent may pause.
func TestRecordingContinuesAfterConsultTransfer(t *testing.T) {
	forEachPBX(t, func(t *testing.T, pbx lab.PBXKind) {
		l := startControlLab(t, controlOptions{pbx: pbx})
		ctx := context.Background()
		e := l.engine()
		l.agent(0, "a1", l.Endpoint("1001"), false, "sales")
		l.agent(0, "a2", l.Endpoint("1002"), true, "sales")
		ix := l.talking(nil)
		conn := ix.ConnectionID
		l.view("a1", "recording", func(v acd.CallView) bool { return v.Recording != nil })
		if _, err := e.Consult(ctx, "a1", acd.Target{Kind: acd.TargetAgent, Value: "a2"}); err != nil {
			t.Fatal(err)
		}
		l.view("a1", "consult connected", func(v acd.CallView) bool { return v.Consult != nil && v.Consult.State == "connected" })
		if _, err := e.CompleteTransfer(ctx, "a1"); err != nil {
			t.Fatalf("complete transfer: %v", err)
		}
		v := l.view("a2", "a2 has the customer", func(v acd.CallView) bool { return v.Agent == "a2" && v.Consult == nil })
		if !l.Bridged(ix.CallerLeg, conn+"-c1") {
			t.Fatal("customer not bridged with a2")
		}
		recs := l.recordings(conn)
		if len(recs) == 0 || recs[0].Name != conn || recs[0].Stopped.IsZero() {
			t.Fatalf("a1's part: recordings %+v", recs)
		}
		if v.Recording == nil || !v.Recording.Active || v.Recording.Name != conn+"-2" || l.liveRecording(conn+"-2") != "recording" {
			t.Errorf("BUG: after a consult transfer the call is not recorded: view recording %+v, PBX %s-2 %q, interaction recordings %+v",
				v.Recording, conn, l.liveRecording(conn+"-2"), recs)
		}
		if _, err := e.PauseRecording(ctx, "a2", false); err != nil {
			t.Errorf("a2 cannot pause the recording of the call they now have: %v", err)
		}
		if _, err := e.End(ctx, "a2"); err != nil {
			t.Fatal(err)
		}
		waitState(t, l.Lab, conn, acd.StateEnded)
		checkHistory(t, l.Lab)
	})
}

// ---- 5. call-associated data ------------------------------------------------

// TestCADEditWithStaleVersionConflict: edits are versioned; one based on a
// stale version is refused with the current values (engine and HTTP), bad
// values and read-only variables are refused and change nothing, and the
// other party of a consult hears of an edit.
func TestCADEditWithStaleVersionConflict(t *testing.T) {
	forEachPBX(t, func(t *testing.T, pbx lab.PBXKind) {
		l := startControlLab(t, controlOptions{pbx: pbx})
		ctx := context.Background()
		e := l.engine()
		l.agent(0, "a1", l.Endpoint("1001"), false, "sales")
		l.agent(0, "a2", l.Endpoint("1002"), true, "sales")
		srv := l.controlAPI(nil, "a1", "a2")
		ix := l.talking(map[string]string{"ACCOUNT": "42", "BALANCE": "10.5", "CARD": "4111111111111111"})
		conn := ix.ConnectionID

		v, err := e.Variables(ctx, "a1")
		if err != nil || v.Version != 1 || v.ConnectionID != conn {
			t.Fatalf("variables: %+v %v", v, err)
		}
		if valueOfView(t, v, "BALANCE") != "10.5" || valueOfView(t, v, "ACCOUNT") != "42" || valueOfView(t, v, "CARD") != cad.Masked {
			t.Fatalf("variables %+v", v.Values)
		}

		v, err = e.EditVariable(ctx, "a1", "BALANCE", "12", 1)
		if err != nil || v.Version != 2 || valueOfView(t, v, "BALANCE") != "12" {
			t.Fatalf("edit at version 1: %+v %v", v, err)
		}
		// A second edit based on version 1 lost the race.
		_, err = e.EditVariable(ctx, "a1", "BALANCE", "13", 1)
		var ce *cad.ConflictError
		if !errors.As(err, &ce) || !errors.Is(err, acd.ErrConflict) {
			t.Fatalf("stale edit: %v, want *cad.ConflictError", err)
		}
		if ce.Current.Version != 2 || valueOfView(t, ce.Current, "BALANCE") != "12" || valueOfView(t, ce.Current, "CARD") != cad.Masked {
			t.Fatalf("conflict's current view %+v", ce.Current)
		}

		// The same through the HTTP API: 409 with the current view.
		st, body := call(t, srv, "PUT", "/v1/agents/a1/call/variables/BALANCE", "tok-a1", `{"value":"14","version":1}`)
		cur, _ := body["current"].(map[string]any)
		if st != http.StatusConflict || cur == nil || cur["version"] != float64(2) || body["field"] != "BALANCE" {
			t.Fatalf("stale edit over HTTP: %d %v", st, body)
		}
		var current cad.View
		if err := json.Unmarshal([]byte(jsonBody(cur)), &current); err != nil || valueOfView(t, current, "BALANCE") != "12" || valueOfView(t, current, "CARD") != cad.Masked {
			t.Fatalf("409 current does not show BALANCE 12 (CARD masked): %v %v", cur, err)
		}

		unchanged := func(when string) {
			t.Helper()
			v, err := e.Variables(ctx, "a1")
			if err != nil || v.Version != 2 || valueOfView(t, v, "BALANCE") != "12" || valueOfView(t, v, "NOTE") != "" || valueOfView(t, v, "ACCOUNT") != "42" {
				t.Fatalf("%s changed the variables: %+v %v", when, v, err)
			}
		}
		unchanged("a stale edit")

		// Too long: 257 characters.
		long := strings.Repeat("é", 257)
		var ve *cad.ValueError
		if _, err := e.EditVariable(ctx, "a1", "NOTE", long, 2); !errors.As(err, &ve) || ve.Rule != cad.RuleMaxLength {
			t.Fatalf("257-character note: %v, want a ValueError naming the max-length rule", err)
		}
		st, body = call(t, srv, "PUT", "/v1/agents/a1/call/variables/NOTE", "tok-a1", jsonBody(map[string]any{"value": long, "version": 2}))
		if st != http.StatusBadRequest || body["field"] != "value" {
			t.Fatalf("257-character note over HTTP: %d %v", st, body)
		}
		unchanged("a 257-character note")
		// 256 characters are fine.
		v, err = e.EditVariable(ctx, "a1", "NOTE", strings.Repeat("é", 256), 2)
		if err != nil || v.Version != 3 {
			t.Fatalf("256-character note: %+v %v", v, err)
		}
		v, err = e.EditVariable(ctx, "a1", "NOTE", "", 3)
		if err != nil || v.Version != 4 {
			t.Fatalf("clear note: %+v %v", v, err)
		}

		// Type-checked.
		for _, tc := range []struct{ name, value string }{{"BALANCE", "twelve"}, {"VIP", "yes"}} {
			if _, err := e.EditVariable(ctx, "a1", tc.name, tc.value, 4); !errors.As(err, &ve) || ve.Name != tc.name {
				t.Fatalf("%s = %q: %v, want a ValueError naming the variable", tc.name, tc.value, err)
			}
		}
		if v, _ := e.Variables(ctx, "a1"); v.Version != 4 {
			t.Fatalf("refused edits moved the version to %d", v.Version)
		}

		// Read-only: ACCOUNT is not editable.
		if _, err := e.EditVariable(ctx, "a1", "ACCOUNT", "43", 4); err == nil || errors.Is(err, acd.ErrConflict) {
			t.Fatalf("edit of read-only ACCOUNT: %v", err)
		}
		st, body = call(t, srv, "PUT", "/v1/agents/a1/call/variables/ACCOUNT", "tok-a1", `{"value":"43","version":4}`)
		if st != http.StatusBadRequest {
			t.Fatalf("edit of read-only ACCOUNT over HTTP: %d %v", st, body)
		}
		// api.Core's contract: a *cad.ValueError is a 400 with its rule, field
		// "name" for a read-only variable (the variable, not the value, is wrong).
		if body["field"] != "name" || body["rule"] != cad.RuleReadOnly {
			t.Errorf("read-only edit over HTTP answered %v, want field name and rule %s (api.Core contract)", body, cad.RuleReadOnly)
		}
		if v, _ := e.Variables(ctx, "a1"); v.Version != 4 || valueOfView(t, v, "ACCOUNT") != "42" {
			t.Fatalf("refused read-only edit changed the variables: %+v", v)
		}

		// During a consult the other agent hears of an edit.
		a2ev := l.subscribe("a2")
		if _, err := e.Consult(ctx, "a1", acd.Target{Kind: acd.TargetAgent, Value: "a2"}); err != nil {
			t.Fatal(err)
		}
		l.view("a1", "consult connected", func(v acd.CallView) bool { return v.Consult != nil && v.Consult.State == "connected" })
		v, err = e.EditVariable(ctx, "a1", "NOTE", "wants a call back", 4)
		if err != nil || v.Version != 5 {
			t.Fatalf("edit during the consult: %+v %v", v, err)
		}
		ev := a2ev.wait(t, "variables_changed for a2", func(ev acd.AgentEvent) bool { return ev.Type == "variables_changed" })
		if ev.ConnectionID != conn || ev.Name != "NOTE" || ev.Version != 5 {
			t.Fatalf("a2 heard %+v", ev)
		}
		if v, err := e.Variables(ctx, "a2"); err != nil || v.Version != 5 || valueOfView(t, v, "NOTE") != "wants a call back" {
			t.Fatalf("consulted agent's variables: %+v %v", v, err)
		}

		if _, err := e.EndConsult(ctx, "a1"); err != nil {
			t.Fatal(err)
		}
		if _, err := e.Resume(ctx, "a1"); err != nil {
			t.Fatal(err)
		}
		if _, err := e.End(ctx, "a1"); err != nil {
			t.Fatal(err)
		}
		waitState(t, l.Lab, conn, acd.StateEnded)
		checkHistory(t, l.Lab)
	})
}

// ---- 6. secure variables ------------------------------------------------------

// TestSecureVariablesNeverInLogsOrEvents: a card number attached to a call
// reaches no log line and no event (screen pop, consult request, history),
// the desktop shows it masked, and only an audited reveal gives it in clear.
func TestSecureVariablesNeverInLogsOrEvents(t *testing.T) {
	forEachPBX(t, func(t *testing.T, pbx lab.PBXKind) {
		const card = "4111111111111111"
		var buf syncBuffer
		logger := slog.New(slog.NewJSONHandler(&buf, &slog.HandlerOptions{Level: slog.LevelDebug}))
		l := startControlLab(t, controlOptions{pbx: pbx, logger: logger})
		ctx := context.Background()
		e := l.engine()
		l.agent(0, "a1", l.Endpoint("1001"), false, "sales")
		l.agent(0, "a2", l.Endpoint("1002"), true, "sales")
		srv := l.controlAPI(logger, "a1", "a2")
		a1ev, a2ev, supEv := l.subscribe("a1"), l.subscribe("a2"), l.subscribe("")

		ix := l.talking(map[string]string{"ACCOUNT": "42", "BALANCE": "10.5", "CARD": card})
		conn := ix.ConnectionID

		// The screen pop: CARD masked in the attached data, not a pop-up variable.
		pop := a1ev.wait(t, "screen pop", func(ev acd.AgentEvent) bool { return ev.Type == "offered" })
		if pop.Attached["CARD"] != cad.Masked || pop.Attached["ACCOUNT"] != "42" {
			t.Fatalf("screen pop attached %v", pop.Attached)
		}
		for _, x := range pop.Variables {
			if x.Name == "CARD" && x.Value != cad.Masked {
				t.Fatalf("screen pop variables show CARD: %+v", x)
			}
		}
		if len(pop.Variables) == 0 {
			t.Fatalf("screen pop has no pop-up variables: %+v", pop)
		}
		// The desktop's variables mask it.
		v, err := e.Variables(ctx, "a1")
		if err != nil || valueOfView(t, v, "CARD") != cad.Masked {
			t.Fatalf("variables: %+v %v", v, err)
		}
		st, body := call(t, srv, "GET", "/v1/agents/a1/call/variables", "tok-a1", "")
		if st != http.StatusOK || strings.Contains(jsonBody(body), card) {
			t.Fatalf("variables over HTTP: %d %v", st, body)
		}
		if _, err := e.EditVariable(ctx, "a1", "NOTE", "card on file", v.Version); err != nil {
			t.Fatal(err)
		}

		// A consult: the consulted agent's pop-up masks it too.
		if _, err := e.Consult(ctx, "a1", acd.Target{Kind: acd.TargetAgent, Value: "a2"}); err != nil {
			t.Fatal(err)
		}
		req := a2ev.wait(t, "consult request", func(ev acd.AgentEvent) bool { return ev.Type == "consult_request" })
		if req.Attached["CARD"] != cad.Masked {
			t.Fatalf("consult request attached %v", req.Attached)
		}
		l.view("a1", "consult connected", func(v acd.CallView) bool { return v.Consult != nil && v.Consult.State == "connected" })

		// An explicit reveal gives it in clear, and is audited without it.
		got, err := e.RevealVariable(ctx, "agent:a1", "a1", "CARD")
		if err != nil || got != card {
			t.Fatalf("reveal: %q %v", got, err)
		}
		st, body = call(t, srv, "POST", "/v1/agents/a2/call/variables/CARD/reveal", "tok-a2", "")
		if st != http.StatusOK || body["value"] != card {
			t.Fatalf("reveal over HTTP by the consulted agent: %d %v", st, body)
		}
		audit, err := l.RDB.XRange(ctx, "tandem:v1:audit", "-", "+").Result()
		if err != nil || len(audit) != 2 {
			t.Fatalf("audit entries %v %v", audit, err)
		}
		for i, who := range []string{"a1", "a2"} {
			a := audit[i].Values
			if a["kind"] != "reveal" || a["actor"] != "agent:"+who || a["agent"] != who || a["who"] != "agent:"+who ||
				a["name"] != "CARD" || a["connection_id"] != conn || a["at"] == "" {
				t.Fatalf("audit entry %d: %v", i, a)
			}
			if strings.Contains(fmt.Sprint(a), card) {
				t.Fatalf("audit entry %d holds the card: %v", i, a)
			}
		}

		if _, err := e.EndConsult(ctx, "a1"); err != nil {
			t.Fatal(err)
		}
		if _, err := e.Resume(ctx, "a1"); err != nil {
			t.Fatal(err)
		}
		if _, err := e.End(ctx, "a1"); err != nil {
			t.Fatal(err)
		}
		waitState(t, l.Lab, conn, acd.StateEnded)
		supEv.wait(t, "a1's call ended (supervisor)", func(ev acd.AgentEvent) bool {
			return ev.Agent == "a1" && ev.Type == "ended"
		})
		waitAgent(t, l.Lab, "a1", agents.WrapUp)

		// No event carries the card.
		for who, log := range map[string]*eventLog{"a1": a1ev, "a2": a2ev, "supervisor": supEv} {
			evs := log.all()
			if len(evs) == 0 {
				t.Fatalf("%s got no events", who)
			}
			for _, ev := range evs {
				if s := jsonBody(ev); strings.Contains(s, card) {
					t.Errorf("%s event carries the card: %s", who, s)
				}
			}
		}
		// Nor does the shared history.
		msgs, err := l.RDB.XRange(ctx, l.Replicas[0].Store.Keys().Events(), "-", "+").Result()
		if err != nil {
			t.Fatal(err)
		}
		for _, m := range msgs {
			if strings.Contains(fmt.Sprint(m.Values), card) {
				t.Errorf("history entry carries the card: %v", m.Values)
			}
		}
		// Nor does any log line of Tandem (engine, driver, API). The
		// simulator shares the logger but is the PBX, not Tandem: its lines have
		// no "replica" attribute and are only reported.
		var tandemLines, lines int
		for _, line := range strings.Split(strings.TrimSpace(buf.String()), "\n") {
			lines++
			var rec map[string]any
			_ = json.Unmarshal([]byte(line), &rec)
			_, fromReplica := rec["replica"]
			if fromReplica {
				tandemLines++
			}
			if strings.Contains(line, card) {
				if fromReplica || rec["method"] != nil {
					t.Errorf("a log line of Tandem carries the card: %s", line)
				} else {
					t.Logf("simulator (PBX) log line carries the card: %s", line)
				}
			}
		}
		if tandemLines == 0 || !strings.Contains(buf.String(), `"variable revealed"`) {
			t.Fatalf("the logger saw no Tandem lines (%d lines) or no reveal", lines)
		}
		checkHistory(t, l.Lab)
	})
}

// ---- 7. maximum concurrent calls ---------------------------------------------

// TestMaxConcurrentCallsRefusesWithBusyMessage: past the contact center's
// maximum of concurrent calls a new call hears the busy message and is
// hung up, leaves no interaction and is counted; once a call ends, a new
// one is taken again.
func TestMaxConcurrentCallsRefusesWithBusyMessage(t *testing.T) {
	forEachPBX(t, func(t *testing.T, pbx lab.PBXKind) {
		l := startControlLab(t, controlOptions{pbx: pbx, maxCalls: 2})
		ctx := context.Background()
		place := func(ani string) (string, acd.Interaction) {
			t.Helper()
			leg, err := l.PBX.Call(pbxsim.Caller{ANI: ani, DNIS: "800"})
			if err != nil {
				t.Fatal(err)
			}
			ix := interactionOf(t, l.Lab, leg)
			return leg, waitState(t, l.Lab, ix.ConnectionID, acd.StateQueued)
		}
		leg1, ix1 := place("+12025550001")
		leg2, ix2 := place("+12025550002")

		leg3, err := l.PBX.Call(pbxsim.Caller{ANI: "+12025550003", DNIS: "800"})
		if err != nil {
			t.Fatal(err)
		}
		waitFor(t, 5*time.Second, "third call hung up", func() bool { return l.channel(leg3).HungUp })
		var started, finished bool
		for _, m := range l.Heard(leg3) {
			if m.MediaURI == "sound:all-circuits-busy-now" {
				started = started || m.Kind == "playback_start"
				finished = finished || (m.Kind == "playback_end" && m.State == "done")
			}
		}
		if !started || !finished {
			t.Fatalf("third caller did not hear the whole busy message: %+v", l.Heard(leg3))
		}
		for _, ix := range interactions(t, l.Lab) {
			if ix.CallerLeg == leg3 {
				t.Fatalf("the refused call has an interaction: %+v", ix)
			}
		}
		refused := func() string {
			n, err := l.RDB.Get(ctx, "tandem:v1:refused-full").Result()
			if err != nil && !errors.Is(err, redis.Nil) {
				t.Fatal(err)
			}
			return n
		}
		if n := refused(); n != "1" {
			t.Fatalf("refused-full = %q, want 1", n)
		}
		for _, ix := range []acd.Interaction{ix1, ix2} {
			if got := interaction(t, l.Lab, ix.ConnectionID); got.State != acd.StateQueued {
				t.Fatalf("call %s is %s after the refusal", ix.ConnectionID, got.State)
			}
		}
		if l.channel(leg1).HungUp || l.channel(leg2).HungUp {
			t.Fatal("an accepted call was hung up")
		}

		// One caller leaves: a new call is taken.
		l.hangUp(leg1)
		waitState(t, l.Lab, ix1.ConnectionID, acd.StateAbandoned)
		leg4, ix4 := place("+12025550004")
		if l.channel(leg4).HungUp {
			t.Fatal("the fourth call was hung up")
		}
		if n := refused(); n != "1" {
			t.Fatalf("refused-full = %q after an accepted call", n)
		}
		q, err := l.engine().Queue(ctx, "sales")
		if err != nil || len(q.Waiting) != 2 || q.Waiting[0].ConnectionID != ix2.ConnectionID || q.Waiting[1].ConnectionID != ix4.ConnectionID {
			t.Fatalf("queue %+v %v", q.Waiting, err)
		}

		l.hangUp(leg2)
		l.hangUp(leg4)
		waitState(t, l.Lab, ix2.ConnectionID, acd.StateAbandoned)
		waitState(t, l.Lab, ix4.ConnectionID, acd.StateAbandoned)
		checkHistory(t, l.Lab)
	})
}

// ---- 8. illegal actions through the API ---------------------------------------

// TestIllegalActionsChangeNothing drives refused actions through the HTTP
// API with agent tokens and reads the state back after each: nothing moved.
func TestIllegalActionsChangeNothing(t *testing.T) {
	forEachPBX(t, func(t *testing.T, pbx lab.PBXKind) {
		l := startControlLab(t, controlOptions{pbx: pbx})
		l.agent(0, "a1", l.Endpoint("1001"), false, "sales")
		l.agent(0, "a2", l.Endpoint("2002"), true, "sales")
		l.PBX.SetPhone(l.Endpoint("2002"), pbxsim.Phone{Mode: pbxsim.NoAnswer})
		l.agent(0, "a3", l.Endpoint("1003"), false, "support")
		l.PBX.SetPhone(l.Endpoint("1003"), pbxsim.Phone{Mode: pbxsim.NoAnswer})
		srv := l.controlAPI(nil, "a1", "a2", "a3")
		ix := l.talking(map[string]string{"ACCOUNT": "42", "BALANCE": "10"})
		conn := ix.ConnectionID

		get := func(path, token string) map[string]any {
			t.Helper()
			st, body := call(t, srv, "GET", path, token, "")
			if st != http.StatusOK {
				t.Fatalf("GET %s: %d %v", path, st, body)
			}
			return body
		}
		agentIs := func(id string, want agents.State) {
			t.Helper()
			if got := get("/v1/agents/"+id, "tok-"+id)["state"]; got != string(want) {
				t.Fatalf("agent %s is %v, want %s", id, got, want)
			}
		}
		callIs := func(state string, held bool) map[string]any {
			t.Helper()
			v := get("/v1/agents/a1/call", "tok-a1")
			if v["state"] != state || v["customer_held"] != held || v["agent"] != "a1" {
				t.Fatalf("call view %v, want %s held=%v", v, state, held)
			}
			if bridged := !l.alone(ix.CallerLeg); bridged == held {
				t.Fatalf("caller bridged: %v (with %v), customer held: %v", bridged, bridgedNow(l.Lab, ix.CallerLeg), held)
			}
			return v
		}
		versionIs := func(want float64) {
			t.Helper()
			if got := get("/v1/agents/a1/call/variables", "tok-a1")["version"]; got != want {
				t.Fatalf("variables version %v, want %v", got, want)
			}
		}
		refused := func(what, method, path, token, body string, status int, field, msg string) {
			t.Helper()
			st, b := call(t, srv, method, path, token, body)
			if st != status {
				t.Fatalf("%s: %d %v, want %d", what, st, b, status)
			}
			if field != "" && b["field"] != field {
				t.Fatalf("%s: field %v, want %s (%v)", what, b["field"], field, b)
			}
			if msg != "" && !strings.Contains(fmt.Sprint(b["error"]), msg) {
				t.Fatalf("%s: message %q should say %q", what, b["error"], msg)
			}
		}

		// Resume when nobody is held.
		refused("resume when not held", "POST", "/v1/agents/a1/call/resume", "tok-a1", "", 409, "", "not on hold")
		callIs("connected", false)
		agentIs("a1", agents.Connected)

		// Another agent's call: a2 has none; a2's token cannot act for a1.
		refused("a2 holds with no call", "POST", "/v1/agents/a2/call/hold", "tok-a2", "", 409, "", "no call")
		refused("a2 holds a1's call", "POST", "/v1/agents/a1/call/hold", "tok-a2", "", 403, "", "")
		refused("a2 ends a1's call", "POST", "/v1/agents/a1/call/end", "tok-a2", "", 403, "", "")
		refused("a2 edits a1's variables", "PUT", "/v1/agents/a1/call/variables/NOTE", "tok-a2", `{"value":"x","version":1}`, 403, "", "")
		refused("a2 reveals a1's card", "POST", "/v1/agents/a1/call/variables/CARD/reveal", "tok-a2", "", 403, "", "")
		callIs("connected", false)
		agentIs("a2", agents.Idle)
		versionIs(1)

		// Variables: too long, wrong type.
		refused("257-character value", "PUT", "/v1/agents/a1/call/variables/NOTE", "tok-a1",
			jsonBody(map[string]any{"value": strings.Repeat("x", 257), "version": 1}), 400, "value", "")
		refused("not a number", "PUT", "/v1/agents/a1/call/variables/BALANCE", "tok-a1", `{"value":"ten","version":1}`, 400, "value", "")
		versionIs(1)
		if vars := get("/v1/agents/a1/call/variables", "tok-a1"); strings.Contains(jsonBody(vars), "xxxx") || !strings.Contains(jsonBody(vars), `"value":"10"`) {
			t.Fatalf("variables after refused edits: %v", vars)
		}

		// Complete a transfer before the consulted agent answers.
		st, body := call(t, srv, "POST", "/v1/agents/a1/call/consult", "tok-a1", `{"kind":"agent","value":"a2"}`)
		if st != 200 {
			t.Fatalf("consult: %d %v", st, body)
		}
		waitAgent(t, l.Lab, "a2", agents.Ringing)
		refused("complete transfer while ringing", "POST", "/v1/agents/a1/call/transfer/complete", "tok-a1", "", 409, "", "has not answered")
		refused("conference while ringing", "POST", "/v1/agents/a1/call/conference", "tok-a1", "", 409, "", "has not answered")
		v := callIs("consulting", true)
		if c, _ := v["consult"].(map[string]any); c == nil || c["state"] != "ringing" || c["agent"] != "a2" {
			t.Fatalf("consult after refused transfer: %v", v)
		}
		agentIs("a1", agents.Connected)
		agentIs("a2", agents.Ringing)
		if got := interaction(t, l.Lab, conn); got.Agent != "a1" || got.State != acd.StateConnected {
			t.Fatalf("interaction after refused transfer: %+v", got)
		}
		if st, body := call(t, srv, "POST", "/v1/agents/a1/call/consult/end", "tok-a1", ""); st != 200 {
			t.Fatalf("end consult: %d %v", st, body)
		}
		if st, body := call(t, srv, "POST", "/v1/agents/a1/call/resume", "tok-a1", ""); st != 200 {
			t.Fatalf("resume: %d %v", st, body)
		}
		callIs("connected", false)

		// Logout while ringing.
		leg, err := l.PBX.Call(pbxsim.Caller{ANI: "+12025550123", DNIS: "801"})
		if err != nil {
			t.Fatal(err)
		}
		ix3 := interactionOf(t, l.Lab, leg)
		waitAgent(t, l.Lab, "a3", agents.Ringing)
		refused("logout while ringing", "POST", "/v1/agents/a3/logout", "tok-a3", "", 409, "", "")
		agentIs("a3", agents.Ringing)
		if got := interaction(t, l.Lab, ix3.ConnectionID); got.State != acd.StateOffered || got.Agent != "a3" {
			t.Fatalf("call to a3 after refused logout: %+v", got)
		}
		l.hangUp(leg)
		waitState(t, l.Lab, ix3.ConnectionID, acd.StateAbandoned)

		// Unknown wrap-up code.
		if st, body := call(t, srv, "POST", "/v1/agents/a1/call/end", "tok-a1", ""); st != 200 {
			t.Fatalf("end: %d %v", st, body)
		}
		waitAgent(t, l.Lab, "a1", agents.WrapUp)
		refused("unknown wrap-up code", "POST", "/v1/agents/a1/wrapup", "tok-a1", `{"code":"nope"}`, 400, "code", "")
		refused("a2 wraps up a1", "POST", "/v1/agents/a1/wrapup", "tok-a2", `{"code":"resolved"}`, 403, "", "")
		agentIs("a1", agents.WrapUp)
		if got := l.field(conn, "wrapup:a1"); got != "" {
			t.Fatalf("a refused code was recorded: %q", got)
		}
		if st, body := call(t, srv, "POST", "/v1/agents/a1/wrapup", "tok-a1", `{"code":"resolved"}`); st != 200 || body["state"] != string(agents.Available) {
			t.Fatalf("wrap-up: %d %v", st, body)
		}
		checkHistory(t, l.Lab)
	})
}
