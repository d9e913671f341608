package esl

import (
	"bufio"
	"math/rand/v2"
	"os"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"
)

// burst is the arrival order of trace 11's plain events (a real
// FreeSWITCH's 200-call burst: 140 of 1,791 arrive after a higher
// Event-Sequence).
type arrival struct {
	at   time.Duration // since the trace's start
	seq  uint64
	name string
	leg  string // "-" for events of no channel (API, BACKGROUND_JOB)
}

func loadBurst(t *testing.T) []arrival {
	t.Helper()
	f, err := os.Open("testdata/burst-arrivals.txt")
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = f.Close() }()
	var out []arrival
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		line := sc.Text()
		if strings.HasPrefix(line, "#") {
			continue
		}
		p := strings.Fields(line)
		us, err1 := strconv.ParseInt(p[0], 10, 64)
		seq, err2 := strconv.ParseUint(p[1], 10, 64)
		if err1 != nil || err2 != nil {
			t.Fatal(line)
		}
		out = append(out, arrival{time.Duration(us) * time.Microsecond, seq, p[2], p[3]})
	}
	return out
}

func regressions(seqs []uint64) int {
	n := 0
	for i := 1; i < len(seqs); i++ {
		if seqs[i] < seqs[i-1] {
			n++
		}
	}
	return n
}

// The trace's own arrivals, at their real times, through a 20ms window:
// nothing is lost, and every event that was less than a window late (after
// the first arrival of a higher sequence) comes out in order. In the trace
// the late ones are API and BACKGROUND_JOB events (up to 105ms late under
// pipelined load); a channel's own events were never reordered by
// FreeSWITCH itself: eslgo's goroutines do that (the shuffled test).
func TestReorderRestoresTheBurstsSequenceOrder(t *testing.T) {
	const window = 20 * time.Millisecond
	burst := loadBurst(t)
	in := make([]uint64, len(burst))
	tooLate := map[uint64]bool{}
	for i, a := range burst {
		in[i] = a.seq
		for _, b := range burst[:i] {
			if b.seq > a.seq && a.at-b.at >= window {
				tooLate[a.seq] = true
			}
		}
	}
	if regressions(in) == 0 {
		t.Fatal("testdata arrives in order: nothing to restore")
	}
	r := newReorder(window)
	t0 := time.Unix(0, 0)
	var out []fsEvent
	for _, a := range burst {
		now := t0.Add(a.at)
		out = append(out, r.due(now)...)
		r.push(fsEvent{Seq: a.seq, UUID: a.leg, Name: a.name}, now)
	}
	out = append(out, r.due(t0.Add(time.Hour))...)
	if len(out) != len(in) {
		t.Fatalf("%d events out of %d in", len(out), len(in))
	}
	var high uint64
	for _, ev := range out {
		if ev.Seq < high && !tooLate[ev.Seq] {
			t.Errorf("event %d (%s) released after %d, though it was less than %v late", ev.Seq, ev.Name, high, window)
		}
		high = max(high, ev.Seq)
	}
	t.Logf("regressions: %d in, %d out (%d events over %v late)", regressions(in), regressions(seqsOf(out)), len(tooLate), window)
}

func seqsOf(evs []fsEvent) []uint64 {
	out := make([]uint64, len(evs))
	for i, ev := range evs {
		out[i] = ev.Seq
	}
	return out
}

// The same events shuffled completely (worse than eslgo's goroutines ever
// shuffle them) but all within one window come out in sequence order: per
// leg, each leg's events in the order FreeSWITCH made them.
func TestReorderShuffledWithinWindow(t *testing.T) {
	burst := loadBurst(t)
	for seed := range uint64(5) {
		rnd := rand.New(rand.NewPCG(seed, 1))
		perm := rnd.Perm(len(burst))
		r := newReorder(20 * time.Millisecond)
		t0 := time.Unix(0, 0)
		for i, p := range perm {
			r.push(fsEvent{Seq: burst[p].seq, UUID: burst[p].leg}, t0.Add(time.Duration(i)*time.Microsecond))
		}
		if got := r.due(t0.Add(19 * time.Millisecond)); len(got) != 0 {
			t.Fatalf("released %d events before their window ended", len(got))
		}
		out := r.due(t0.Add(time.Hour))
		last := map[string]uint64{}
		for i, ev := range out {
			if i > 0 && ev.Seq < out[i-1].Seq {
				t.Fatalf("seed %d: %d after %d", seed, ev.Seq, out[i-1].Seq)
			}
			if ev.Seq < last[ev.UUID] {
				t.Fatalf("seed %d: leg %s out of order", seed, ev.UUID)
			}
			last[ev.UUID] = ev.Seq
		}
		if len(out) != len(burst) || r.len() != 0 {
			t.Fatalf("seed %d: %d out, %d still held", seed, len(out), r.len())
		}
	}
}

// Once an event's window is over it goes, taking every lower sequence with
// it, even if a still lower one may come later: delivery waits at most one
// window. The latecomer is released on its own afterwards (the per-leg
// state decides whether it is stale).
func TestReorderReleasesAfterTheWindowAndLatecomersAfter(t *testing.T) {
	r := newReorder(10 * time.Millisecond)
	t0 := time.Unix(0, 0)
	r.push(fsEvent{Seq: 5}, t0)
	r.push(fsEvent{Seq: 3}, t0.Add(5*time.Millisecond))
	if at, ok := r.next(t0.Add(6 * time.Millisecond)); !ok || !at.Equal(t0.Add(10*time.Millisecond)) {
		t.Fatalf("next due at %v %v", at, ok)
	}
	got := r.due(t0.Add(10 * time.Millisecond))
	if len(got) != 2 || got[0].Seq != 3 || got[1].Seq != 5 {
		t.Fatalf("got %v", got)
	}
	r.push(fsEvent{Seq: 4}, t0.Add(11*time.Millisecond))
	if got := r.due(t0.Add(20 * time.Millisecond)); len(got) != 0 {
		t.Fatalf("latecomer released early: %v", got)
	}
	if got := r.due(t0.Add(21 * time.Millisecond)); len(got) != 1 || got[0].Seq != 4 {
		t.Fatalf("latecomer: %v", got)
	}
	if _, ok := r.next(t0.Add(time.Hour)); ok {
		t.Fatal("something still held")
	}
}

func TestReorderFlushReleasesEverythingInOrder(t *testing.T) {
	r := newReorder(time.Hour)
	t0 := time.Unix(0, 0)
	for _, s := range []uint64{9, 2, 7, 4} {
		r.push(fsEvent{Seq: s}, t0)
	}
	got := r.flush()
	if len(got) != 4 || got[0].Seq != 2 || got[3].Seq != 9 || r.len() != 0 {
		t.Fatalf("flush: %v", got)
	}
	if _, ok := r.next(t0.Add(time.Hour)); ok {
		t.Fatal("held after flush")
	}
}

// What came off the socket in time is waited for, however long eslgo's
// goroutines take to hand it over: here every event's copy arrives long
// after its window, in a shuffled order, and the trace's burst still comes
// out in the order of its arrival on the socket, corrected by the window.
func TestReorderWaitsForEventsStillInEslgosHands(t *testing.T) {
	const window = 20 * time.Millisecond
	burst := loadBurst(t)
	r := newReorder(window)
	r.lostAfter = time.Minute // nothing is lost here, only late
	t0 := time.Unix(0, 0)
	for _, a := range burst {
		r.forwarded(a.seq, t0.Add(a.at))
	}
	end := t0.Add(burst[len(burst)-1].at)
	rnd := rand.New(rand.NewPCG(7, 7))
	perm := rnd.Perm(len(burst))
	var out []fsEvent
	for i, p := range perm {
		now := end.Add(time.Duration(i) * 10 * time.Millisecond) // each 10ms later: windows long over
		out = append(out, r.due(now)...)
		r.push(fsEvent{Seq: burst[p].seq, UUID: burst[p].leg}, now)
	}
	out = append(out, r.due(end.Add(time.Hour))...)
	if len(out) != len(burst) {
		t.Fatalf("%d of %d released", len(out), len(burst))
	}
	// Only FreeSWITCH's own lateness beyond the window may remain.
	var high uint64
	for i, ev := range out {
		a := burst[slices.IndexFunc(burst, func(b arrival) bool { return b.seq == ev.Seq })]
		late := false
		for _, b := range burst {
			if b.at >= a.at {
				break
			}
			if b.seq > a.seq && a.at-b.at >= window {
				late = true
			}
		}
		if ev.Seq < high && !late {
			t.Fatalf("event %d (#%d out) released after %d", ev.Seq, i, high)
		}
		high = max(high, ev.Seq)
	}
}

// An event eslgo never hands over (it could not parse it) holds the others
// up for lostAfter at most.
func TestReorderGivesUpAnEventEslgoLost(t *testing.T) {
	r := newReorder(10 * time.Millisecond)
	t0 := time.Unix(0, 0)
	r.forwarded(1, t0)
	r.forwarded(2, t0)
	r.push(fsEvent{Seq: 2}, t0)
	if got := r.due(t0.Add(time.Second)); len(got) != 0 {
		t.Fatalf("released while 1 may still come: %v", got)
	}
	got := r.due(t0.Add(r.lostAfter))
	if len(got) != 1 || got[0].Seq != 2 {
		t.Fatalf("got %v", got)
	}
	r.forwarded(3, t0)
	r.skip(3)
	if _, ok := r.next(t0.Add(time.Hour)); ok {
		t.Fatal("a skipped event is held")
	}
}
