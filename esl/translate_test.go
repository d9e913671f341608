package esl

import (
	"math/rand/v2"
	"net/url"
	"reflect"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/tandem-cc/tandem/acd"
)

// Every test here feeds real FreeSWITCH 1.10.12 plain events (copied from
// shared/esl-traces into testdata) through eslgo's parsing, the reorder
// buffer and the translation, shuffled as FreeSWITCH and eslgo's
// goroutines shuffle them, and checks the port events that come out.

func shuffled(bodies []string, seed uint64) []string {
	out := append([]string(nil), bodies...)
	r := rand.New(rand.NewPCG(seed, seed))
	r.Shuffle(len(out), func(i, j int) { out[i], out[j] = out[j], out[i] })
	return out
}

func byUUID(bodies []string, uuid string) []string {
	var out []string
	for _, b := range bodies {
		if header(b, "Unique-ID") == uuid || (header(b, "Event-Name") == "BACKGROUND_JOB" && strings.Contains(b, uuid)) {
			out = append(out, b)
		}
	}
	return out
}

// ringLeg registers leg as Ring does, and the trace's originate job for it
// as the driver's own.
func ringLeg(d *Driver, bodies []string, id string) {
	d.legs[id] = &leg{owner: d.opts.App, agent: true}
	for _, b := range bodies {
		if header(b, "Event-Name") == "BACKGROUND_JOB" && strings.Contains(b, id) {
			d.jobs[header(b, "Job-UUID")] = &job{result: make(chan string, 1), ringLeg: id}
		}
	}
}

func TestRingOutcomesFromRealEventsInAnyOrder(t *testing.T) {
	all := loadTrace(t, "04-agent-legs.jsonl")
	cases := []struct {
		name, leg string
		want      []acd.Event
	}{
		{"answered then hung up", "5e5d1985-18be-4949-9a7c-d2e7ec289098",
			[]acd.Event{acd.LegAnswered{Leg: "5e5d1985-18be-4949-9a7c-d2e7ec289098"}, acd.LegHungUp{Leg: "5e5d1985-18be-4949-9a7c-d2e7ec289098", Cause: 16}}},
		{"no answer", "973ab008-b354-4368-81a2-ae44ae8f0812",
			[]acd.Event{acd.RingFailed{Leg: "973ab008-b354-4368-81a2-ae44ae8f0812", Cause: 19, Reason: "no_answer"}}},
		{"busy", "65cb5b3d-8dda-45b2-8f18-8d9fc8081fdf",
			[]acd.Event{acd.RingFailed{Leg: "65cb5b3d-8dda-45b2-8f18-8d9fc8081fdf", Cause: 17, Reason: "busy"}}},
		{"rejected", "3bac8e2d-1e6c-4708-80ad-1e8dfdb387d5",
			[]acd.Event{acd.RingFailed{Leg: "3bac8e2d-1e6c-4708-80ad-1e8dfdb387d5", Cause: 21, Reason: "rejected"}}},
		{"no route", "1a0de66c-00f1-4864-9759-08be7340e6cd",
			[]acd.Event{acd.RingFailed{Leg: "1a0de66c-00f1-4864-9759-08be7340e6cd", Cause: 3, Reason: "unreachable"}}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			bodies := byUUID(all, c.leg)
			if len(bodies) < 3 {
				t.Fatalf("testdata has %d events of %s", len(bodies), c.leg)
			}
			for seed := range uint64(20) {
				d := quietDriver(Options{})
				ringLeg(d, bodies, c.leg)
				rec := &recorder{}
				feed(t, d, rec, shuffled(bodies, seed))
				if got := rec.events(); !reflect.DeepEqual(got, c.want) {
					t.Fatalf("seed %d: got %#v, want %#v", seed, got, c.want)
				}
			}
		})
	}
}

// The traced ring of 5e5d1985 was answered: a CHANNEL_ANSWER that is late
// beyond the hold-back window arrives after the leg's CHANNEL_PARK (which
// says Answer-State answered) and after its hang-up; it must not report a
// second answer, nor an answer after the end.
func TestLateAnswerAfterHangupIsIgnored(t *testing.T) {
	all := byUUID(loadTrace(t, "04-agent-legs.jsonl"), "5e5d1985-18be-4949-9a7c-d2e7ec289098")
	var answer string
	var rest []string
	for _, b := range all {
		if header(b, "Event-Name") == "CHANNEL_ANSWER" {
			answer = b
		} else {
			rest = append(rest, b)
		}
	}
	d := quietDriver(Options{})
	ringLeg(d, all, "5e5d1985-18be-4949-9a7c-d2e7ec289098")
	rec := &recorder{}
	feed(t, d, rec, rest)
	feed(t, d, rec, []string{answer}) // a second window: too late to be reordered
	want := []acd.Event{acd.LegAnswered{Leg: "5e5d1985-18be-4949-9a7c-d2e7ec289098"}, acd.LegHungUp{Leg: "5e5d1985-18be-4949-9a7c-d2e7ec289098", Cause: 16}}
	if got := rec.events(); !reflect.DeepEqual(got, want) {
		t.Fatalf("got %#v, want %#v", got, want)
	}
}

// inboundPark is the traced customer leg's CHANNEL_PARK with the variables
// Tandem's dialplan sets.
func inboundPark(t *testing.T, extra ...string) (body, uuid string) {
	for _, b := range loadTrace(t, "03-inbound-lifecycle.jsonl") {
		if header(b, "Event-Name") == "CHANNEL_PARK" && header(b, "Call-Direction") == "inbound" {
			return withHeaders(b, extra...), header(b, "Unique-ID")
		}
	}
	t.Fatal("no inbound CHANNEL_PARK in testdata")
	return "", ""
}

func TestInboundParkArrivesWithANIDNISQueueAndVars(t *testing.T) {
	body, uuid := inboundPark(t, "variable_tandem_app: tandem-t", "variable_tandem_inbound: true",
		"variable_tandem_dnis: 8001", "variable_tandem_queue: sales%20desk", "variable_crm_id: 42%2C7")
	d := quietDriver(Options{AttachedVars: []string{"crm_id", "absent"}})
	rec := &recorder{}
	feed(t, d, rec, []string{body})
	want := []acd.Event{acd.CallArrived{Leg: uuid, ANI: header(body, "Caller-Caller-ID-Number"), DNIS: "8001", Queue: "sales desk", Vars: map[string]string{"crm_id": "42,7"}}}
	if got := rec.events(); !reflect.DeepEqual(got, want) {
		t.Fatalf("got %#v, want %#v", got, want)
	}
}

func TestInboundParkWithoutTandemDNISUsesDestinationNumber(t *testing.T) {
	body, uuid := inboundPark(t, "variable_tandem_app: tandem-t", "variable_tandem_inbound: true")
	d := quietDriver(Options{AttachedVars: []string{"acd_inbound"}})
	rec := &recorder{}
	feed(t, d, rec, []string{body})
	want := []acd.Event{acd.CallArrived{Leg: uuid, ANI: header(body, "Caller-Caller-ID-Number"), DNIS: header(body, "Caller-Destination-Number"), Vars: map[string]string{"acd_inbound": "true"}}}
	if got := rec.events(); !reflect.DeepEqual(got, want) {
		t.Fatalf("got %#v, want %#v", got, want)
	}
}

func TestParkedLegWithoutTandemInboundIsStray(t *testing.T) {
	body, uuid := inboundPark(t, "variable_tandem_app: tandem-t")
	d := quietDriver(Options{})
	rec := &recorder{}
	feed(t, d, rec, []string{body, body}) // parked twice: reported once
	want := []acd.Event{acd.StrayArrived{Leg: uuid}}
	if got := rec.events(); !reflect.DeepEqual(got, want) {
		t.Fatalf("got %#v, want %#v", got, want)
	}
}

func TestOtherOwnersAndUnownedCallsAreIgnored(t *testing.T) {
	other, _ := inboundPark(t, "variable_tandem_app: tandem-other", "variable_tandem_inbound: true")
	unowned, _ := inboundPark(t)
	d := quietDriver(Options{})
	rec := &recorder{}
	feed(t, d, rec, []string{other, unowned})
	if got := rec.events(); len(got) != 0 {
		t.Fatalf("got %#v, want nothing", got)
	}
}

// The traced inbound call's own events (park, answer, hang-up), shuffled:
// one arrival, one hang-up with NORMAL_CLEARING, and a park that comes
// after the hang-up is not a new call.
func TestInboundCallLifecycleInAnyOrder(t *testing.T) {
	var bodies []string
	var uuid string
	for _, b := range loadTrace(t, "03-inbound-lifecycle.jsonl") {
		if header(b, "Call-Direction") != "inbound" {
			continue
		}
		uuid = header(b, "Unique-ID")
		bodies = append(bodies, withHeaders(b, "variable_tandem_app: tandem-t", "variable_tandem_inbound: true"))
	}
	want := []acd.Event{
		acd.CallArrived{Leg: uuid},
		acd.LegHungUp{Leg: uuid, Cause: 16},
	}
	for seed := range uint64(20) {
		d := quietDriver(Options{AttachedVars: []string{"none"}})
		rec := &recorder{}
		feed(t, d, rec, shuffled(bodies, seed))
		feed(t, d, rec, bodies[:1]) // its park again, too late
		got := rec.events()
		if len(got) != 2 || reflect.TypeOf(got[0]) != reflect.TypeOf(want[0]) || got[1] != want[1] {
			t.Fatalf("seed %d: got %#v, want %#v", seed, got, want)
		}
		if a := got[0].(acd.CallArrived); a.Leg != uuid || a.ANI == "" {
			t.Fatalf("arrival %#v", a)
		}
	}
}

func TestDTMFDigitsInSequenceOrder(t *testing.T) {
	bodies := loadTrace(t, "06-dtmf.jsonl")
	uuid := header(bodies[0], "Unique-ID")
	var want []acd.Event
	seqRE := regexp.MustCompile(`(?m)^Event-Sequence: (\d+)$`)
	sorted := append([]string(nil), bodies...)
	for i := range sorted {
		for j := i + 1; j < len(sorted); j++ {
			if seqRE.FindStringSubmatch(sorted[j])[1] < seqRE.FindStringSubmatch(sorted[i])[1] {
				sorted[i], sorted[j] = sorted[j], sorted[i]
			}
		}
	}
	for _, b := range sorted {
		digit, _ := url.PathUnescape(header(b, "DTMF-Digit")) // "#" is sent as %23
		want = append(want, acd.DTMFReceived{Leg: uuid, Digit: digit})
	}
	if len(want) != 13 {
		t.Fatalf("testdata has %d digits", len(want))
	}
	for seed := range uint64(20) {
		d := quietDriver(Options{})
		d.legs[uuid] = &leg{owner: "tandem-t"}
		rec := &recorder{}
		feed(t, d, rec, shuffled(bodies, seed))
		if got := rec.events(); !reflect.DeepEqual(got, want) {
			t.Fatalf("seed %d: got %v, want %v", seed, got, want)
		}
	}
	// FreeSWITCH's DTMF events carry no channel variables: the driver
	// keeps only those of its own legs.
	d := quietDriver(Options{})
	rec := &recorder{}
	feed(t, d, rec, bodies)
	if got := rec.events(); len(got) != 0 {
		t.Fatalf("digits of a leg not ours: %v", got)
	}
}

func TestPlaybackEndOutcomes(t *testing.T) {
	body := loadTrace(t, "05-execute-complete.jsonl")[0] // Application-Response: FILE PLAYED
	id, pb := header(body, "Unique-ID"), header(body, "Application-UUID")
	failed := strings.Replace(body, "Application-Response: FILE%20PLAYED", "Application-Response: FILE%20NOT%20FOUND", 1)
	cases := []struct {
		name     string
		body     string
		stopping bool
		want     acd.PlaybackOutcome
	}{
		{"played", body, false, acd.PlaybackDone},
		{"stopped", body, true, acd.PlaybackStopped},
		{"not found", failed, false, acd.PlaybackFailed},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			d := quietDriver(Options{})
			d.legs[id] = &leg{owner: "tandem-t"}
			d.playbacks[pb] = &playback{leg: id, stopping: c.stopping}
			rec := &recorder{}
			feed(t, d, rec, []string{c.body, c.body})
			want := []acd.Event{acd.PlaybackFinished{Leg: id, Playback: pb, Outcome: c.want}}
			if got := rec.events(); !reflect.DeepEqual(got, want) {
				t.Fatalf("got %#v, want %#v", got, want)
			}
		})
	}
}

// A playback that runs when its leg hangs up is reported failed, before
// the hang-up.
func TestPlaybackFailsWhenItsLegHangsUp(t *testing.T) {
	var hangup, uuid string
	for _, b := range loadTrace(t, "03-inbound-lifecycle.jsonl") {
		if header(b, "Event-Name") == "CHANNEL_HANGUP" && header(b, "Call-Direction") == "inbound" {
			hangup, uuid = b, header(b, "Unique-ID")
		}
	}
	d := quietDriver(Options{})
	d.legs[uuid] = &leg{owner: "tandem-t"}
	d.playbacks["pb-1"] = &playback{leg: uuid}
	rec := &recorder{}
	feed(t, d, rec, []string{hangup})
	want := []acd.Event{acd.PlaybackFinished{Leg: uuid, Playback: "pb-1", Outcome: acd.PlaybackFailed}, acd.LegHungUp{Leg: uuid, Cause: 16}}
	if got := rec.events(); !reflect.DeepEqual(got, want) {
		t.Fatalf("got %#v, want %#v", got, want)
	}
}

// An abandoned leg (its originate got no answer in time) is never
// reported answered; its end is a RingFailed.
func TestAbandonedLegIsNeverAnswered(t *testing.T) {
	id := "5e5d1985-18be-4949-9a7c-d2e7ec289098"
	bodies := byUUID(loadTrace(t, "04-agent-legs.jsonl"), id)
	d := quietDriver(Options{})
	ringLeg(d, bodies, id)
	d.legs[id].abandoned = time.Now()
	rec := &recorder{}
	feed(t, d, rec, bodies)
	want := []acd.Event{acd.RingFailed{Leg: id, Cause: 16, Reason: "failed"}}
	if got := rec.events(); !reflect.DeepEqual(got, want) {
		t.Fatalf("got %#v, want %#v", got, want)
	}
}
