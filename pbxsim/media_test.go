package pbxsim

import (
	"encoding/json"
	"io"
	"net/http"
	"strings"
	"testing"

	"github.com/CyCoreSystems/ari/v5"
)

// The shapes of several media in one playback and of stopping one, as
// trace 08 recorded them (B, B0, B2, C, D).

// playRaw sends one play request as Tandem's ari driver or a raw client
// would, and returns the status and the decoded reply.
func (w *world) playRaw(t *testing.T, path, query, contentType, body string) (int, map[string]any) {
	t.Helper()
	u := w.srv.URL + "/ari" + path
	if query != "" {
		u += "?" + query
	}
	req, err := http.NewRequest(http.MethodPost, u, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	if contentType != "" {
		req.Header.Set("Content-Type", contentType)
	}
	req.SetBasicAuth(testUser, testPass)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = resp.Body.Close() }()
	raw, _ := io.ReadAll(resp.Body)
	var out map[string]any
	_ = json.Unmarshal(raw, &out)
	return resp.StatusCode, out
}

// playbackEvents lists "Type state media_uri" of playback id's events.
func playbackEvents(evs []ari.Event, id string) []string {
	var out []string
	for _, e := range evs {
		var p ari.PlaybackData
		switch v := e.(type) {
		case *ari.PlaybackStarted:
			p = v.Playback
		case *ari.PlaybackContinuing:
			p = v.Playback
		case *ari.PlaybackFinished:
			p = v.Playback
		default:
			continue
		}
		if p.ID == id {
			out = append(out, e.GetType()+" "+p.State+" "+p.MediaURI)
		}
	}
	return out
}

func answeredCall(t *testing.T, w *world) (ari.Client, *recorder, string) {
	t.Helper()
	cl, rec := w.connect("acd")
	id, err := w.sim.Call(Caller{ANI: "5550801", DNIS: "5550801"})
	if err != nil {
		t.Fatal(err)
	}
	rec.wait(t, "StasisStart", isStasisStart(id))
	if err := cl.Channel().Answer(chanKey(id)); err != nil {
		t.Fatal(err)
	}
	return cl, rec, id
}

func TestSeveralMediaPlayAsOnePlayback(t *testing.T) {
	for _, tc := range []struct {
		name, query, contentType, body string
	}{
		{"json array (trace 08 B2)", "", "application/json", `{"media":["sound:beep","digits:7","sound:hello-world"]}`},
		{"comma-separated query (trace 08 B)", "media=sound%3Abeep%2Cdigits%3A7%2Csound%3Ahello-world", "", ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			w := newWorld(t, fastTiming)
			_, rec, id := answeredCall(t, w)
			status, body := w.playRaw(t, "/channels/"+id+"/play/pb-list", tc.query, tc.contentType, tc.body)
			if status != http.StatusCreated || body["state"] != "queued" || body["media_uri"] != "sound:beep" || body["next_media_uri"] != "digits:7" {
				t.Fatalf("reply %d %v, want 201 queued sound:beep next digits:7", status, body)
			}
			rec.wait(t, "PlaybackFinished", isType("PlaybackFinished", ""))
			want := []string{
				"PlaybackStarted playing sound:beep", "PlaybackContinuing continuing sound:beep",
				"PlaybackStarted playing digits:7", "PlaybackContinuing continuing digits:7",
				"PlaybackStarted playing sound:hello-world", "PlaybackFinished done sound:hello-world",
			}
			if got := playbackEvents(rec.events(), "pb-list"); strings.Join(got, "|") != strings.Join(want, "|") {
				t.Fatalf("events\n got %q\nwant %q", got, want)
			}
			var heard []string
			for _, m := range w.sim.MediaLog(id) {
				if m.Kind == "playback_start" && m.PlaybackID == "pb-list" {
					heard = append(heard, m.MediaURI)
				}
			}
			if strings.Join(heard, ",") != "sound:beep,digits:7,sound:hello-world" {
				t.Fatalf("media log %v", heard)
			}
		})
	}
}

// TestMediaListIsNotForgiven: the two forms Asterisk does not read as a
// list are not read as one by the simulator either.
func TestMediaListIsNotForgiven(t *testing.T) {
	w := newWorld(t, fastTiming)
	_, rec, id := answeredCall(t, w)
	// B0: a repeated media parameter keeps only its last value.
	status, body := w.playRaw(t, "/channels/"+id+"/play/pb-repeated", "media=sound%3Abeep&media=digits%3A42", "", "")
	if status != http.StatusCreated || body["media_uri"] != "digits:42" || body["next_media_uri"] != nil {
		t.Fatalf("repeated media: %d %v, want digits:42 alone", status, body)
	}
	// A JSON string is one media, commas and all (ari/v5's Play sends
	// this form): no such file, the playback fails.
	status, body = w.playRaw(t, "/channels/"+id+"/play/pb-string", "", "application/json", `{"media":"sound:beep,sound:hello-world"}`)
	if status != http.StatusCreated || body["media_uri"] != "sound:beep,sound:hello-world" || body["next_media_uri"] != nil {
		t.Fatalf("json string: %d %v, want one media", status, body)
	}
	fin := rec.wait(t, "PlaybackFinished pb-string", func(e ari.Event) bool {
		v, ok := e.(*ari.PlaybackFinished)
		return ok && v.Playback.ID == "pb-string"
	}).(*ari.PlaybackFinished)
	if fin.Playback.State != "failed" {
		t.Fatalf("a comma list in a JSON string finished %q, want failed", fin.Playback.State)
	}
}

// TestStoppingAPlaybackFinishesItDone: DELETE /playbacks/{id} of a playing
// (or paused) playback answers 204 and the playback finishes "done", not
// "stopped"; it is gone afterwards (trace 08 C, D).
func TestStoppingAPlaybackFinishesItDone(t *testing.T) {
	w := newWorld(t, fastTiming)
	cl, rec, id := answeredCall(t, w)
	// A list whose first item (a tone) plays until stopped.
	status, _ := w.playRaw(t, "/channels/"+id+"/play/pb-long", "", "application/json", `{"media":["tone:ring;tonezone=us","sound:beep"]}`)
	if status != http.StatusCreated {
		t.Fatalf("play: %d", status)
	}
	rec.wait(t, "PlaybackStarted", func(e ari.Event) bool {
		v, ok := e.(*ari.PlaybackStarted)
		return ok && v.Playback.ID == "pb-long"
	})
	if err := cl.Playback().Stop(ari.NewKey(ari.PlaybackKey, "pb-long")); err != nil {
		t.Fatal(err)
	}
	fin := rec.wait(t, "PlaybackFinished", func(e ari.Event) bool {
		v, ok := e.(*ari.PlaybackFinished)
		return ok && v.Playback.ID == "pb-long"
	}).(*ari.PlaybackFinished)
	if fin.Playback.State != "done" || fin.Playback.MediaURI != "tone:ring;tonezone=us" {
		t.Fatalf("stopped playback finished %q on %s, want done on the item it was playing", fin.Playback.State, fin.Playback.MediaURI)
	}
	if _, err := cl.Playback().Data(ari.NewKey(ari.PlaybackKey, "pb-long")); err == nil {
		t.Fatal("a stopped playback can still be read")
	}
	if err := cl.Playback().Stop(ari.NewKey(ari.PlaybackKey, "pb-long")); err == nil {
		t.Fatal("stopping a finished playback succeeded; Asterisk answers 404")
	}
	if got := playbackEvents(rec.events(), "pb-long"); len(got) != 2 {
		t.Fatalf("events %q, want started then finished: the second item never plays", got)
	}
}
