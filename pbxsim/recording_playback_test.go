package pbxsim

import (
	"testing"

	"github.com/CyCoreSystems/ari/v5"
)

// TestStoredRecordingPlaysLikeAPrompt: once a recording is stored,
// recording:<name> plays and finishes "done" (Asterisk plays stored
// recordings); the channel view carries the caller id and creation time.
func TestStoredRecordingPlaysLikeAPrompt(t *testing.T) {
	w := newWorld(t, fastTiming)
	cl, rec := w.connect("acd")
	id, err := w.sim.Call(Caller{ANI: "5551000", DNIS: "8000"})
	if err != nil {
		t.Fatal(err)
	}
	rec.wait(t, "StasisStart", isStasisStart(id))
	key := chanKey(id)
	if err := cl.Channel().Answer(key); err != nil {
		t.Fatal(err)
	}
	if v, ok := w.sim.Channel(id); !ok || v.CallerID != "5551000" || v.Created.IsZero() {
		t.Fatalf("channel view %+v", v)
	}
	live, err := cl.Channel().Record(key, "msg-1", &ari.RecordingOptions{Format: "wav"})
	if err != nil {
		t.Fatal(err)
	}
	rec.wait(t, "RecordingStarted", func(e ari.Event) bool { _, ok := e.(*ari.RecordingStarted); return ok })
	if err := live.Stop(); err != nil {
		t.Fatal(err)
	}
	rec.wait(t, "RecordingFinished", func(e ari.Event) bool { _, ok := e.(*ari.RecordingFinished); return ok })
	if _, err := cl.Channel().Play(key, "pb-msg", "recording:msg-1"); err != nil {
		t.Fatal(err)
	}
	fin := rec.wait(t, "PlaybackFinished", func(e ari.Event) bool {
		v, ok := e.(*ari.PlaybackFinished)
		return ok && v.Playback.ID == "pb-msg"
	}).(*ari.PlaybackFinished)
	if fin.Playback.State != "done" {
		t.Fatalf("stored recording played %q", fin.Playback.State)
	}
}
