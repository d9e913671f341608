package ari_test

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/tandem-cc/tandem/acd"
	"github.com/tandem-cc/tandem/media"
	"github.com/tandem-cc/tandem/pbxsim"
)

// answered returns an answered inbound leg.
func (w *world) answered(t *testing.T) string {
	t.Helper()
	leg, err := w.sim.Call(pbxsim.Caller{ANI: "1", DNIS: "800"})
	if err != nil {
		t.Fatal(err)
	}
	w.waitFor(t, "call arrived", func() bool {
		return w.count(func(e acd.Event) bool { a, ok := e.(acd.CallArrived); return ok && a.Leg == leg }) == 1
	})
	if err := w.driver.Answer(context.Background(), leg); err != nil {
		t.Fatal(err)
	}
	return leg
}

// finished waits for the PlaybackFinished of playback and returns it.
func (w *world) finished(t *testing.T, playback string) acd.PlaybackFinished {
	t.Helper()
	var got acd.PlaybackFinished
	w.waitFor(t, "PlaybackFinished "+playback, func() bool {
		return w.count(func(e acd.Event) bool {
			f, ok := e.(acd.PlaybackFinished)
			if ok && f.Playback == playback {
				got = f
			}
			return ok && f.Playback == playback
		}) == 1
	})
	return got
}

// heard lists the media the simulator started for playback on leg.
func heard(sim *pbxsim.Sim, leg, playback string) []string {
	var out []string
	for _, m := range sim.MediaLog(leg) {
		if m.Kind == "playback_start" && m.PlaybackID == playback {
			out = append(out, m.MediaURI)
		}
	}
	return out
}

func TestStartMediaReturnsAtOnceAndReportsTheEnd(t *testing.T) {
	w := newWorld(t, nil, 2*time.Second)
	ctx := context.Background()
	leg := w.answered(t)
	// Several media: one playback, in order (the JSON-array request).
	if err := w.driver.StartMedia(ctx, leg, "pb-list", media.SoundOf("beep"), media.NumberOf(3), media.SoundOf("queue-callswaiting")); err != nil {
		t.Fatal(err)
	}
	if f := w.finished(t, "pb-list"); f != (acd.PlaybackFinished{Leg: leg, Playback: "pb-list", Outcome: acd.PlaybackDone}) {
		t.Fatalf("finished %+v", f)
	}
	if got := strings.Join(heard(w.sim, leg, "pb-list"), ","); got != "sound:beep,number:3,sound:queue-callswaiting" {
		t.Fatalf("the PBX played %s", got)
	}
	// One media (ari/v5's Play) that does not exist: failed.
	if err := w.driver.StartMedia(ctx, leg, "pb-missing", media.SoundOf("no-such-sound")); err != nil {
		t.Fatal(err)
	}
	if f := w.finished(t, "pb-missing"); f.Outcome != acd.PlaybackFailed || f.Leg != leg {
		t.Fatalf("finished %+v, want failed", f)
	}
}

func TestStopMediaStopsOnThePBXAndReportsStopped(t *testing.T) {
	w := newWorld(t, nil, 2*time.Second)
	ctx := context.Background()
	leg := w.answered(t)
	// A tone plays until stopped: nothing here depends on how long.
	if err := w.driver.StartMedia(ctx, leg, "pb-tone", media.ToneOf("ring"), media.SoundOf("beep")); err != nil {
		t.Fatal(err)
	}
	w.waitFor(t, "tone playing", func() bool { return len(heard(w.sim, leg, "pb-tone")) == 1 })
	if err := w.driver.StopMedia(ctx, "pb-tone"); err != nil {
		t.Fatal(err)
	}
	if f := w.finished(t, "pb-tone"); f.Outcome != acd.PlaybackStopped {
		t.Fatalf("finished %+v, want stopped (Asterisk says done)", f)
	}
	var end pbxsim.MediaEntry
	for _, m := range w.sim.MediaLog(leg) {
		if m.Kind == "playback_end" && m.PlaybackID == "pb-tone" {
			end = m
		}
	}
	if end.MediaURI != "tone:ring" {
		t.Fatalf("the PBX ended the playback on %q (%+v), want the tone, cut short", end.MediaURI, end)
	}
	if err := w.driver.StopMedia(ctx, "pb-tone"); err != nil {
		t.Fatalf("stopping a playback that has ended: %v", err)
	}
}

func TestStartMediaRefusesWhatAsteriskCannotPlay(t *testing.T) {
	w := newWorld(t, nil, 2*time.Second)
	ctx := context.Background()
	leg := w.answered(t)
	if err := w.driver.StartMedia(ctx, leg, "pb-tts", media.SoundOf("beep"), media.TextOf("hello")); err == nil {
		t.Fatal("text to speech accepted; Asterisk would never end it")
	}
	if got := heard(w.sim, leg, "pb-tts"); len(got) != 0 {
		t.Fatalf("the PBX played %v", got)
	}
	for _, items := range [][]media.Media{{media.SoundOf("beep")}, {media.SoundOf("beep"), media.DigitsOf("1")}} {
		err := w.driver.StartMedia(ctx, "no-such-channel", "pb-gone", items...)
		if !errors.Is(err, acd.ErrLegGone) {
			t.Fatalf("%d media on a gone leg: %v, want ErrLegGone", len(items), err)
		}
	}
}
