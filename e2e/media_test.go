package e2e

import (
	"context"
	"log/slog"
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/tandem-cc/tandem/acd"
	"github.com/tandem-cc/tandem/internal/lab"
	"github.com/tandem-cc/tandem/internal/redistest"
	"github.com/tandem-cc/tandem/media"
	"github.com/tandem-cc/tandem/pbxsim"
)

// Media never blocks a call. In these labs every media item the simulator
// plays lasts an hour: a playback that ends did so because Tandem stopped
// it, and nothing below depends on how long anything takes.

func no() *bool { f := false; return &f }

var bargeInIVR = acd.IVRMenus{
	EntryPoints: map[string]string{"901": "menu", "902": "legal"},
	Nodes: map[string]acd.IVRNode{
		// A prompt that must be heard to its end: digits count after it.
		"legal": {
			Prompt:    media.SoundOf("legal-notice"),
			BargeIn:   no(),
			Collect:   acd.IVRCollect{MaxDigits: 1, Timeout: time.Minute},
			Branches:  map[string]acd.IVRBranch{"1": {Queue: "sales"}},
			OnFailure: acd.IVRBranch{Hangup: media.SoundOf("goodbye")},
		},
		"menu": {
			Prompt:    media.SoundOf("long-menu"),
			Collect:   acd.IVRCollect{MaxDigits: 1, Timeout: time.Minute},
			Branches:  map[string]acd.IVRBranch{"2": {Goto: "pin"}},
			OnFailure: acd.IVRBranch{Hangup: media.SoundOf("goodbye")},
		},
		"pin": {
			Prompt:    media.SoundOf("enter-pin"),
			Collect:   acd.IVRCollect{MaxDigits: 4, Timeout: time.Minute},
			Next:      acd.IVRBranch{Queue: "sales"},
			OnFailure: acd.IVRBranch{Hangup: media.SoundOf("goodbye")},
		},
	},
}

func startEndlessMediaLab(t *testing.T, pbx lab.PBXKind, queues map[string]acd.QueueSettings) *lab.Lab {
	t.Helper()
	return startMediaLab(t, pbx, queues, time.Hour)
}

// startMediaLab: a lab on pbx where each media item plays for item.
func startMediaLab(t *testing.T, pbx lab.PBXKind, queues map[string]acd.QueueSettings, item time.Duration) *lab.Lab {
	t.Helper()
	l := startLabWith(t, lab.Options{
		PBX: pbx, RedisAddr: redistest.Start(t), Queues: queues,
		DNIS:          map[string]string{"800": "sales"},
		SweepInterval: 200 * time.Millisecond,
		Logger:        slog.New(slog.DiscardHandler),
		SimTiming:     pbxsim.Timing{Playback: item},
		Engine:        acd.Options{IVR: bargeInIVR},
	})
	return l
}

// controlActions lists the history actions recorded for an interaction.
func controlActions(t *testing.T, l *lab.Lab, conn string) []string {
	t.Helper()
	msgs, err := l.RDB.XRange(context.Background(), l.Replicas[0].Store.Keys().Events(), "-", "+").Result()
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, m := range msgs {
		if m.Values["kind"] == "control" && m.Values["id"] == conn {
			out = append(out, m.Values["action"].(string))
		}
	}
	return out
}

// endPlayback ends a playback at the PBX as if it had played out: the
// simulator reports it finished, like any playback at its end.
func endPlayback(t *testing.T, l *lab.Lab, id string) {
	t.Helper()
	req, err := http.NewRequest(http.MethodDelete, l.ARIURL+"/playbacks/"+id, nil)
	if err != nil {
		t.Fatal(err)
	}
	req.SetBasicAuth("tandem", "tandem-secret") // the lab's ARI user
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	_ = resp.Body.Close()
	if resp.StatusCode != http.StatusNoContent {
		t.Fatalf("end playback %s: %s", id, resp.Status)
	}
}

// playbackOf finds the playback that started uri on leg: its id, and its
// end as the PBX logged it (zero while it plays).
func playbackOf(l *lab.Lab, leg, uri string) (id string, end pbxsim.MediaEntry) {
	log := l.Heard(leg)
	for _, m := range log {
		if m.Kind == "playback_start" && m.MediaURI == uri && id == "" {
			id = m.PlaybackID
		}
		if id != "" && m.Kind == "playback_end" && m.PlaybackID == id {
			end = m
		}
	}
	return id, end
}

func TestIVRPromptStopsAtTheFirstDigit(t *testing.T) {
	forEachPBX(t, func(t *testing.T, pbx lab.PBXKind) {
		l := startEndlessMediaLab(t, pbx, map[string]acd.QueueSettings{"sales": {RingTimeout: 3 * time.Second}})
		leg, err := l.PBX.Call(pbxsim.Caller{ANI: "+12025550150", DNIS: "901"})
		if err != nil {
			t.Fatal(err)
		}
		ix := interactionOf(t, l, leg)
		waitFor(t, 5*time.Second, "the menu's prompt playing", func() bool { id, _ := playbackOf(l, leg, "sound:long-menu"); return id != "" })
		if err := l.PBX.InjectDTMF(leg, "2"); err != nil {
			t.Fatal(err)
		}
		// The digit stopped the prompt on the PBX and chose the branch: the
		// next node runs and plays its own prompt.
		waitFor(t, 5*time.Second, "the next node's prompt", func() bool { id, _ := playbackOf(l, leg, "sound:enter-pin"); return id != "" })
		if _, end := playbackOf(l, leg, "sound:long-menu"); end.Kind != "playback_end" {
			t.Fatalf("the menu's hour-long prompt was not stopped on the PBX: %+v", l.Heard(leg))
		}
		if node := ivrNode(t, l, ix.ConnectionID); node != "pin" {
			t.Fatalf("ivr node %q, want pin", node)
		}
		// The same at the next node, whose first digit is one of four.
		if err := l.PBX.InjectDTMF(leg, "1234"); err != nil {
			t.Fatal(err)
		}
		got := waitState(t, l, ix.ConnectionID, "queued")
		if _, end := playbackOf(l, leg, "sound:enter-pin"); end.Kind != "playback_end" || got.Queue != "sales" {
			t.Fatalf("pin prompt end %+v, queue %q", end, got.Queue)
		}
		if n := strings.Count(strings.Join(controlActions(t, l, ix.ConnectionID), ","), "ivr_barge_in"); n != 2 {
			t.Fatalf("%d barge-ins recorded, want 2: %v", n, controlActions(t, l, ix.ConnectionID))
		}
	})
}

// TestIVRPromptWithoutBargeInKeepsTheDigits: with barge_in: false a digit
// does not stop the prompt; it counts once the prompt has ended.
func TestIVRPromptWithoutBargeInKeepsTheDigits(t *testing.T) {
	l := startEndlessMediaLab(t, lab.Asterisk, map[string]acd.QueueSettings{"sales": {RingTimeout: 3 * time.Second}})
	leg, err := l.Sim.Call(pbxsim.Caller{ANI: "+12025550154", DNIS: "902"})
	if err != nil {
		t.Fatal(err)
	}
	ix := interactionOf(t, l, leg)
	var prompt string
	waitFor(t, 5*time.Second, "the notice playing", func() bool { prompt, _ = playbackOf(l, leg, "sound:legal-notice"); return prompt != "" })
	if err := l.Sim.InjectDTMF(leg, "1"); err != nil {
		t.Fatal(err)
	}
	waitFor(t, 5*time.Second, "the digit kept", func() bool {
		return slices.Contains(controlActions(t, l, ix.ConnectionID), "ivr_type_ahead")
	})
	// Kept, not acted on: the prompt plays on, nothing is collected yet.
	if _, end := playbackOf(l, leg, "sound:legal-notice"); end.Kind != "" {
		t.Fatalf("the prompt was stopped: %+v", end)
	}
	if st := interaction(t, l, ix.ConnectionID).State; st == "queued" {
		t.Fatal("the digit counted before the prompt ended")
	}
	// The prompt ends (as if played out): the kept digit chooses the branch.
	endPlayback(t, l, prompt)
	got := waitState(t, l, ix.ConnectionID, "queued")
	if got.Queue != "sales" {
		t.Fatalf("queued in %q", got.Queue)
	}
	if acts := controlActions(t, l, ix.ConnectionID); slices.Contains(acts, "ivr_barge_in") {
		t.Fatalf("the prompt was interrupted: %v", acts)
	}
}

func TestOfferDuringAnnouncementStopsItAndRingsTheAgent(t *testing.T) {
	forEachPBX(t, func(t *testing.T, pbx lab.PBXKind) {
		l := startEndlessMediaLab(t, pbx, map[string]acd.QueueSettings{"sales": {
			MOHClass: "sales-music", RingTimeout: 3 * time.Second,
			Announce: acd.Announcements{Interval: 20 * time.Millisecond, Position: true, YouAreNext: media.SoundOf("custom/you-are-next")},
		}})
		leg, err := l.PBX.Call(pbxsim.Caller{ANI: "+12025550151", DNIS: "800"})
		if err != nil {
			t.Fatal(err)
		}
		ix := interactionOf(t, l, leg)
		// The first caller in line hears the configured "you are next".
		waitFor(t, 5*time.Second, "the announcement playing", func() bool {
			id, _ := playbackOf(l, leg, "sound:custom/you-are-next")
			return id != ""
		})
		login(t, l, 0, "a1", l.Endpoint("1001"), pbxsim.Phone{Mode: pbxsim.Answer, RingFor: 10 * time.Millisecond}, "sales")
		got := waitState(t, l, ix.ConnectionID, "connected")
		if got.Agent != "a1" {
			t.Fatalf("connected to %q", got.Agent)
		}
		waitFor(t, 5*time.Second, "caller and agent bridged", func() bool {
			with := bridgedNow(l, leg)
			return len(with) == 1 && with[0] == got.AgentLeg
		})
		// The hour-long announcement was stopped, so the agent's phone rang
		// and the caller was bridged while it would still have been playing.
		_, end := playbackOf(l, leg, "sound:custom/you-are-next")
		if end.Kind != "playback_end" {
			t.Fatalf("the announcement was not stopped: %+v", l.Heard(leg))
		}
		// After the stop: music while the phone rings, then the bridge.
		var after []string
		for _, m := range l.Heard(leg) {
			if !m.Time.Before(end.Time) && m.Kind != "playback_end" {
				after = append(after, m.Kind)
			}
		}
		if !slices.Equal(after, []string{"moh_start", "moh_stop"}) {
			t.Fatalf("after the announcement: %v, want music until the agent answers; log %+v", after, l.Heard(leg))
		}
	})
}

func TestFirstInLineHearsYouAreNext(t *testing.T) {
	forEachPBX(t, func(t *testing.T, pbx lab.PBXKind) {
		// Short media: the test waits for all three items of the second
		// caller's announcement to have played (a position is announced only
		// when it changes, and nobody leaves the queue).
		l := startMediaLab(t, pbx, map[string]acd.QueueSettings{"sales": {
			RingTimeout: 3 * time.Second,
			Announce:    acd.Announcements{Interval: 20 * time.Millisecond, Position: true},
		}}, 20*time.Millisecond)
		first, err := l.PBX.Call(pbxsim.Caller{ANI: "+12025550152", DNIS: "800"})
		if err != nil {
			t.Fatal(err)
		}
		waitState(t, l, interactionOf(t, l, first).ConnectionID, "queued")
		second, err := l.PBX.Call(pbxsim.Caller{ANI: "+12025550153", DNIS: "800"})
		if err != nil {
			t.Fatal(err)
		}
		waitFor(t, 5*time.Second, "both announced", func() bool {
			return len(played(l, first)) > 0 && len(played(l, second)) >= 3
		})
		if p := played(l, first); p[0] != "sound:queue-youarenext" {
			t.Fatalf("first in line heard %v, want sound:queue-youarenext (not 1 calls waiting)", p)
		}
		// The second hears their position as one playback of three media.
		var ids []string
		for _, m := range l.Heard(second) {
			if m.Kind == "playback_start" {
				ids = append(ids, m.PlaybackID)
			}
		}
		if p := strings.Join(played(l, second)[:3], ","); p != "sound:queue-thereare,number:2,sound:queue-callswaiting" || ids[0] != ids[2] {
			t.Fatalf("second in line heard %s in playbacks %v, want one playback", p, ids)
		}
	})
}
