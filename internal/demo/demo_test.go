package demo

import (
	"bytes"
	"context"
	"encoding/json"
	"log/slog"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/tandem-cc/tandem/internal/lab"
)

// fast shrinks every human-scale delay so a small demo takes seconds.
func fast() Options {
	return Options{
		Replicas:      2,
		Agents:        5,
		Calls:         30,
		Rate:          40,
		NoAnswerShare: 0.2, // one of five agents never answers: RONAs happen
		CallbackShare: 0.3, // about nine callers ask for a callback if they wait
		Ring:          Span{20 * time.Millisecond, 150 * time.Millisecond},
		Talk:          Span{50 * time.Millisecond, 300 * time.Millisecond},
		Patience:      Span{1 * time.Second, 4 * time.Second},
		RingTimeout:   400 * time.Millisecond,
		RONARecovery:  200 * time.Millisecond,
		DrainTimeout:  30 * time.Second,
		SweepInterval: 250 * time.Millisecond,
		Progress:      250 * time.Millisecond,
		Seed:          42,
		Logger:        testLogger(),
	}
}

func testLogger() *slog.Logger {
	if os.Getenv("TANDEM_TEST_LOG") != "" {
		return slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelDebug}))
	}
	return slog.New(slog.DiscardHandler)
}

// The small demo runs on every PBX kind: Asterisk, FreeSWITCH, and one of
// each side by side; the report and its invariants are the same on all.
func TestSmallDemoAccountsForEveryCallWithInvariantsZero(t *testing.T) {
	for _, kind := range lab.Kinds() {
		t.Run(string(kind), func(t *testing.T) { smallDemo(t, kind) })
	}
}

func smallDemo(t *testing.T, kind lab.PBXKind) {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	var progress bytes.Buffer
	o := fast()
	o.PBX = kind
	r, err := Run(ctx, o, &progress)
	var table bytes.Buffer
	_ = r.WriteTable(&table)
	t.Logf("progress:\n%s\nreport:\n%s", progress.String(), table.String())
	if err != nil {
		t.Fatalf("Run: %v", err)
	}

	if v := r.Invariants.Violations(); len(v) != 0 || !r.OK {
		t.Fatalf("invariants violated: %v", v)
	}
	if r.PBXKind != kind || !strings.Contains(table.String(), "PBX  ") {
		t.Fatalf("report on %q names PBX %q:\n%s", kind, r.PBXKind, table.String())
	}
	// Nothing a call makes at the PBX outlives it: every bridge the
	// calls used, every recording, every snoop is gone (counted once
	// every interaction has ended; Violations has them too).
	if iv := r.Invariants; iv.BridgesLeft != 0 || iv.SnoopsLeft != 0 || iv.RecordingsLeft != 0 || iv.PBXChannelsLeft != 0 {
		t.Fatalf("left at the PBX: %d bridges, %d snoops, %d recordings, %d channels",
			iv.BridgesLeft, iv.SnoopsLeft, iv.RecordingsLeft, iv.PBXChannelsLeft)
	}
	for _, line := range []string{"PBX bridges left", "PBX snoop channels left", "PBX recordings left"} {
		if !strings.Contains(table.String(), line) {
			t.Fatalf("table without %q:\n%s", line, table.String())
		}
	}
	c := r.Calls
	if c.Arrived != 30 {
		t.Fatalf("arrived = %d, want 30", c.Arrived)
	}
	if c.Answered+c.Abandoned+c.Failed+c.ToCallback != c.Arrived {
		t.Fatalf("calls not accounted for: %+v", c)
	}
	// Every caller who left for a callback registered one, and each ended
	// answered or failed, dialled once per attempt.
	cb := r.Callbacks
	if cb.Requested != c.ToCallback || cb.Done+cb.Failed != cb.Requested || cb.Attempts != cb.CustomerDials {
		t.Fatalf("callbacks %+v for %d callers who left for one", cb, c.ToCallback)
	}
	if c.Answered == 0 {
		t.Fatal("no call was answered")
	}
	if r.AgentsNeverAnswering != 1 || r.RONAs == 0 {
		t.Fatalf("a never-answering agent should cause RONAs: %d agents, %d RONAs", r.AgentsNeverAnswering, r.RONAs)
	}
	if r.TimeToAnswer.Samples != c.Answered {
		t.Fatalf("time to answer has %d samples for %d answered calls", r.TimeToAnswer.Samples, c.Answered)
	}
	if r.TimeToAnswer.Avg <= 0 || r.TimeToAnswer.P99 < r.TimeToAnswer.P50 {
		t.Fatalf("time to answer %+v", r.TimeToAnswer)
	}
	// Every call the PBX bridged, Tandem counts as answered. (Not the
	// converse: a caller may give up between the agent's answer and the
	// bridge.)
	if r.PBX.CallsPlaced != 30 || r.PBX.CallsBridged == 0 || r.PBX.CallsBridged > c.Answered {
		t.Fatalf("pbx view %+v vs calls %+v", r.PBX, c)
	}
	if !strings.Contains(progress.String(), "arrived") {
		t.Fatalf("no progress lines: %q", progress.String())
	}
}

func TestRunRefusesBadOptions(t *testing.T) {
	o := fast()
	o.Talk = Span{0, time.Second}
	if _, err := Run(context.Background(), o, nil); err == nil || !strings.Contains(err.Error(), "talk") {
		t.Fatalf("err = %v, want it to name talk", err)
	}
	o = fast()
	o.Ring = Span{2 * time.Second, time.Second}
	if _, err := Run(context.Background(), o, nil); err == nil || !strings.Contains(err.Error(), "ring") {
		t.Fatalf("err = %v, want it to name ring", err)
	}
	o = fast()
	o.PBX = "yate"
	if _, err := Run(context.Background(), o, nil); err == nil || !strings.Contains(err.Error(), "pbx") || !strings.Contains(err.Error(), `"yate"`) {
		t.Fatalf("err = %v, want it to name the pbx option and its value", err)
	}
}

func TestPercentileIsNearestRank(t *testing.T) {
	ds := make([]time.Duration, 100)
	for i := range ds {
		ds[i] = time.Duration(i+1) * time.Millisecond
	}
	for _, tc := range []struct {
		p    float64
		want time.Duration
	}{{0.5, 50 * time.Millisecond}, {0.99, 99 * time.Millisecond}, {1, 100 * time.Millisecond}, {0, time.Millisecond}} {
		if got := percentile(ds, tc.p); got != tc.want {
			t.Errorf("p%v = %v, want %v", tc.p*100, got, tc.want)
		}
	}
	if got := percentile([]time.Duration{7}, 0.99); got != 7 {
		t.Errorf("single sample p99 = %v", got)
	}
	if l := summarize(nil); l != (Latency{}) {
		t.Errorf("empty summary %+v", l)
	}
}

func TestReportJSONIsMachineReadable(t *testing.T) {
	r := Report{
		Calls:        Calls{Arrived: 3, Answered: 2, Abandoned: 1},
		TimeToAnswer: summarize([]time.Duration{1500 * time.Microsecond, 2500 * time.Microsecond}),
		Invariants:   Invariants{AgentsStuck: 1},
	}
	var buf bytes.Buffer
	if err := r.WriteJSON(&buf); err != nil {
		t.Fatal(err)
	}
	var raw map[string]any
	if err := json.Unmarshal(buf.Bytes(), &raw); err != nil {
		t.Fatal(err)
	}
	tta := raw["time_to_answer"].(map[string]any)
	if tta["avg_ms"] != 2.0 || tta["p99_ms"] != 2.5 {
		t.Fatalf("time_to_answer = %v", tta)
	}
	if raw["invariants"].(map[string]any)["agents_stuck"] != 1.0 {
		t.Fatalf("invariants = %v", raw["invariants"])
	}
	var back Report
	if err := json.Unmarshal(buf.Bytes(), &back); err != nil {
		t.Fatal(err)
	}
	if back.TimeToAnswer != r.TimeToAnswer || back.Calls != r.Calls {
		t.Fatalf("round trip %+v", back)
	}
	if v := back.Invariants.Violations(); len(v) != 1 || v[0] != "agents_stuck=1" {
		t.Fatalf("violations %v", v)
	}
}

// A bridge, snoop or recording left at the PBX fails the run, under its
// JSON name, and shows in the table.
func TestObjectsLeftAtThePBXAreViolations(t *testing.T) {
	r := Report{Invariants: Invariants{BridgesLeft: 2, SnoopsLeft: 1, RecordingsLeft: 3}}
	v := r.Invariants.Violations()
	if strings.Join(v, " ") != "bridges_left=2 snoops_left=1 recordings_left=3" {
		t.Fatalf("violations %v", v)
	}
	var buf bytes.Buffer
	if err := r.WriteJSON(&buf); err != nil {
		t.Fatal(err)
	}
	var raw struct {
		Invariants map[string]int `json:"invariants"`
	}
	if err := json.Unmarshal(buf.Bytes(), &raw); err != nil {
		t.Fatal(err)
	}
	if iv := raw.Invariants; iv["bridges_left"] != 2 || iv["snoops_left"] != 1 || iv["recordings_left"] != 3 {
		t.Fatalf("invariants in JSON %v", iv)
	}
	buf.Reset()
	if err := r.WriteTable(&buf); err != nil {
		t.Fatal(err)
	}
	for _, line := range []string{"PBX bridges left", "PBX snoop channels left", "PBX recordings left", "FAILED"} {
		if !strings.Contains(buf.String(), line) {
			t.Fatalf("table without %q:\n%s", line, buf.String())
		}
	}
}

// An answered call the PBX never bridged fails the run and shows in the
// table.
func TestAnsweredNotBridgedIsAViolation(t *testing.T) {
	r := Report{Invariants: Invariants{AnsweredNotBridged: 2}}
	if v := r.Invariants.Violations(); len(v) != 1 || v[0] != "answered_not_bridged=2" {
		t.Fatalf("violations %v", v)
	}
	var buf bytes.Buffer
	if err := r.WriteTable(&buf); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(buf.String(), "answered calls not bridged") {
		t.Fatalf("table without the invariant:\n%s", buf.String())
	}
}
