package eslsim

import (
	"bufio"
	"context"
	"fmt"
	"net"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/tandem-cc/tandem/pbxsim"
)

// TestTraceEventBurst replays the shape of trace 11 (phase 1): 200 inbound
// calls on one connection subscribed with `event plain ALL`; each B leg is
// answered with `bgapi uuid_answer` when its CHANNEL_PARK arrives; once all
// are answered, 200 `bgapi uuid_kill` follow. It compares what FreeSWITCH's
// FIGURES notes say: events per call and per type, gaps in Event-Sequence,
// and how often arrival order goes backwards.
func TestTraceEventBurst(t *testing.T) {
	if testing.Short() {
		t.Skip("200-call burst")
	}
	const calls = 200
	figures, regressions, total := burstFigures(t)
	want := burstPerCall(t)
	for typ, n := range want {
		if figures[typ] < n*calls {
			t.Fatalf("expected %d %s per call, but the trace's FIGURES count only %d for %d calls", n, typ, figures[typ], calls)
		}
	}

	sim := New(Options{Password: testPassword, Clock: newManualClock()}) // Reorder: the default
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	served := make(chan struct{})
	go func() { defer close(served); _ = sim.Serve(ctx, ln) }()
	defer func() { cancel(); sim.Close(); <-served }()
	c := dialRaw(t, ln.Addr().String())
	c.login()
	if got := c.cmd("event plain ALL"); got != "+OK event listener enabled plain" {
		t.Fatal(got)
	}

	// One reader owns the connection's input; writes are serialised.
	var wmu sync.Mutex
	send := func(s string) {
		wmu.Lock()
		defer wmu.Unlock()
		_ = c.nc.SetWriteDeadline(time.Now().Add(20 * time.Second))
		if _, err := c.nc.Write([]byte(s + "\r\n\r\n")); err != nil {
			t.Error(err)
		}
	}
	type seen struct {
		names     map[string]int
		seqs      []int
		destroyed int
		gone      int // CHANNEL_STATE CS_DESTROY, a leg's last event
		answered  int
	}
	st := seen{names: map[string]int{}}
	var mu sync.Mutex
	done := make(chan struct{})
	allAnswered := make(chan struct{})
	go func() {
		defer close(done)
		r := bufio.NewReaderSize(c.nc, 1<<16)
		for {
			_ = c.nc.SetReadDeadline(time.Now().Add(30 * time.Second))
			f, err := readServerFrame(r)
			if err != nil {
				return
			}
			ev := parseEventFrame(f)
			if ev == nil {
				continue
			}
			name := ev.Get("Event-Name")
			mu.Lock()
			st.names[name]++
			st.seqs = append(st.seqs, atoiOr(ev.Get("Event-Sequence"), 0))
			switch {
			case name == "CHANNEL_PARK" && ev.Get("Answer-State") == "ringing":
				go send("bgapi uuid_answer " + ev.Get("Unique-ID"))
			case name == "BACKGROUND_JOB" && ev.Get("Job-Command") == "uuid_answer":
				if st.answered++; st.answered == calls {
					close(allAnswered)
				}
			case name == "CHANNEL_DESTROY":
				st.destroyed++
			case name == "CHANNEL_STATE" && ev.Get("Channel-State") == "CS_DESTROY":
				st.gone++
			}
			finished := st.destroyed == calls && st.gone == calls
			mu.Unlock()
			if finished {
				return
			}
		}
	}()
	var legs []string
	for i := range calls {
		b, err := sim.Call(pbxsim.Caller{ANI: fmt.Sprintf("71%05d", i), DNIS: "8000"})
		if err != nil {
			t.Fatal(err)
		}
		legs = append(legs, b)
	}
	select {
	case <-allAnswered:
	case <-time.After(60 * time.Second):
		t.Fatal("not every call was answered")
	}
	for _, b := range legs {
		send("bgapi uuid_kill " + b)
	}
	<-done
	mu.Lock()
	defer mu.Unlock()
	if st.destroyed != calls {
		t.Fatalf("%d of %d legs destroyed", st.destroyed, calls)
	}
	for typ, n := range want {
		if got := st.names[typ]; got != n*calls {
			t.Errorf("%s: %d events for %d calls, want %d per call", typ, got, calls, n)
		}
	}
	for typ, n := range st.names {
		if _, ok := want[typ]; !ok {
			t.Errorf("%s: %d events the trace's calls do not have", typ, n)
		}
	}
	// Arrival order: FreeSWITCH delivered 890 of 11,203 events after a
	// higher-numbered one (7.9 %). The simulator's default swaps plus its
	// bgapi jobs racing the switch's events give about 12 % here
	// (divergence reorder-rate-overshoots): within half to twice the
	// trace's rate.
	back, distinct, lo, hi := 0, map[int]bool{}, st.seqs[0], st.seqs[0]
	for i, s := range st.seqs {
		if i > 0 && s < st.seqs[i-1] {
			back++
		}
		distinct[s] = true
		lo, hi = min(lo, s), max(hi, s)
	}
	if len(distinct) != len(st.seqs) {
		t.Errorf("%d events share an Event-Sequence", len(st.seqs)-len(distinct))
	}
	traceRate, simRate := float64(regressions)/float64(total), float64(back)/float64(len(st.seqs))
	if simRate < traceRate/2 || simRate > traceRate*2 {
		t.Errorf("arrival order went backwards for %.1f %% of events, trace %.1f %%", 100*simRate, 100*traceRate)
	}
	// Gaps: numbers no subscriber sees (trace 11: 57 of the first 1,791).
	missing := float64(hi-lo+1-len(distinct)) / float64(len(distinct))
	if missing < 0.01 || missing > 0.06 {
		t.Errorf("%.1f %% of Event-Sequence numbers missing, the trace's 3.2 %% expected", 100*missing)
	}
	t.Logf("%d events; %.1f %% out of order (trace %.1f %%); %.1f %% sequence gaps", len(st.seqs), 100*simRate, 100*traceRate, 100*missing)
}

var figuresRE = regexp.MustCompile(`([A-Z_]+)=(\d+)`)

// burstFigures reads trace 11's FIGURES notes of phase 1: events by name,
// and the Event-Sequence regressions out of all events.
func burstFigures(t *testing.T) (byName map[string]int, regressions, total int) {
	byName = map[string]int{}
	for _, l := range loadTrace(t, "11-event-burst") {
		if l.Dir != "note" || !strings.HasPrefix(l.Body, "FIGURES phase1-sequential:") {
			continue
		}
		if rest, ok := strings.CutPrefix(l.Body, "FIGURES phase1-sequential: events by name: "); ok {
			for _, m := range figuresRE.FindAllStringSubmatch(rest, -1) {
				byName[m[1]], _ = strconv.Atoi(m[2])
			}
		}
		if _, rest, ok := strings.Cut(l.Body, "Event-Sequence regressions in arrival order: "); ok {
			_, _ = fmt.Sscanf(rest, "%d of %d events", &regressions, &total)
		}
	}
	if len(byName) == 0 || total == 0 {
		t.Fatal("trace 11 has no phase 1 FIGURES")
	}
	return byName, regressions, total
}

// burstPerCall is what one call of trace 11 gives the simulator: the B
// leg's events as trace 03 records them for the same dialplan and flow
// (park, uuid_answer, far-end hangup), with Tandem's four set applications
// instead of the rig's three (divergence tandem-dialplan-sets), plus the
// API event and BACKGROUND_JOB of the uuid_answer and uuid_kill bgapis.
// The rest of FIGURES' 56 events per call are the rig's loopback A leg and
// its originate job (divergence rig-loopback-legs).
func burstPerCall(t *testing.T) map[string]int {
	want := map[string]int{"API": 2, "BACKGROUND_JOB": 2, "CHANNEL_EXECUTE": 4, "CHANNEL_EXECUTE_COMPLETE": 4}
	const b = "e17d4246-762c-4298-9706-a7b9eda51822"
	for _, l := range loadTrace(t, "03-inbound-call-lifecycle") {
		if l.Conn != "plain" || !isEventFrame(l) {
			continue
		}
		if ev := parseTraceEvent(l); ev != nil && ev.Get("Unique-ID") == b && !isSetApp(ev) {
			want[ev.Get("Event-Name")]++
		}
	}
	return want
}
