package ewt

import (
	"math"
	"sync"
	"testing"
	"time"
)

func near(a, b time.Duration, tolerance float64) bool {
	return math.Abs(a.Seconds()-b.Seconds()) <= tolerance*b.Seconds()
}

func TestEstimateIsPositionTimesAHTOverAgents(t *testing.T) {
	var e Estimator // the zero value works
	for _, d := range []time.Duration{100 * time.Second, 140 * time.Second} {
		e.ObserveHandle(d)
	}
	// The first calls are a plain mean: AHT 120s.
	for _, tc := range []struct {
		position, agents int
		want             time.Duration
	}{
		{1, 1, 120 * time.Second},
		{1, 4, 30 * time.Second},
		{3, 2, 180 * time.Second},
		{10, 10, 120 * time.Second},
		// Below 1 counts as 1.
		{0, 4, 30 * time.Second},
		{2, 0, 240 * time.Second},
		{-1, -1, 120 * time.Second},
	} {
		if got := e.Estimate(tc.position, tc.agents); got != tc.want {
			t.Errorf("Estimate(%d, %d) = %v, want %v", tc.position, tc.agents, got, tc.want)
		}
	}
	if got := e.Estimate(1_000_000, 1); got != MaxEstimate {
		t.Errorf("huge queue: %v, want MaxEstimate", got)
	}
}

// Before any call ends the AHT is the initial guess, which the first
// handle time replaces entirely.
func TestInitialAHT(t *testing.T) {
	e := New()
	if got := e.Estimate(2, 2); got != DefaultInitialAHT {
		t.Errorf("default guess: %v, want %v", got, DefaultInitialAHT)
	}
	if s := e.Stats(); s.Handles != 0 || s.AHT != DefaultInitialAHT {
		t.Errorf("stats = %+v", s)
	}
	e = New(WithInitialAHT(40 * time.Second))
	if got := e.Estimate(3, 1); got != 2*time.Minute {
		t.Errorf("configured guess: %v, want 2m", got)
	}
	e.ObserveHandle(0) // ignored, like negative ones
	e.ObserveHandle(-time.Second)
	e.ObserveHandle(10 * time.Second)
	if got := e.Estimate(3, 1); got != 30*time.Second {
		t.Errorf("after one call: %v, want 30s", got)
	}
}

// The AHT follows a change of the call mix within a few times 1/alpha
// calls, and is not thrown by one odd call.
func TestAHTFollowsRecentCalls(t *testing.T) {
	e := New(WithCalibrationWindow(0))
	for range 500 {
		e.ObserveHandle(2 * time.Minute)
	}
	e.ObserveHandle(time.Hour) // a call left open over lunch
	if aht := e.Stats().AHT; !near(aht, 2*time.Minute+70*time.Second, 0.01) {
		t.Errorf("after one outlier AHT = %v, want about 3m10s (2%% of it)", aht)
	}
	for range 150 { // 3 / alpha
		e.ObserveHandle(5 * time.Minute)
	}
	if aht := e.Stats().AHT; !near(aht, 5*time.Minute, 0.05) {
		t.Errorf("AHT = %v, want about 5m", aht)
	}
}

// Waits consistently 1.5 times the formula's: the estimate follows.
func TestCorrectionLearnsFromWaits(t *testing.T) {
	e := New()
	e.ObserveHandle(100 * time.Second)
	if base := e.Estimate(2, 2); base != 100*time.Second {
		t.Fatalf("base = %v", base)
	}
	for range 10 {
		e.ObserveWait(2, 2, 150*time.Second)
	}
	// 10 calls against 30 pseudo-calls: a quarter of the way to 1.5.
	if got := e.Estimate(2, 2); !near(got, 112500*time.Millisecond, 0.001) {
		t.Errorf("after 10 calls = %v, want 112.5s", got)
	}
	for range 1000 {
		e.ObserveWait(4, 2, 300*time.Second)
	}
	// The window holds the last 100 calls, modelled at 200s each and
	// waiting 300s: (100×300 + 30×200) / (130×200) = 1.3846.
	if s := e.Stats(); s.Waits != DefaultCalibrationWindow || math.Abs(s.Correction-36000.0/26000) > 1e-9 {
		t.Errorf("stats = %+v", s)
	}
	if got := e.Estimate(1, 1); !near(got, 138461*time.Millisecond, 0.001) {
		t.Errorf("full window = %v, want 138.46s", got)
	}
}

// The correction compares waits with the formula at today's AHT: waits
// that grew because calls grew longer are explained by the AHT, not
// learnt a second time.
func TestCorrectionUsesTheCurrentAHT(t *testing.T) {
	e := New()
	e.ObserveHandle(time.Minute)
	for range 1000 {
		e.ObserveHandle(2 * time.Minute)
	}
	for range 100 {
		e.ObserveWait(1, 1, 2*time.Minute) // waits as long as the calls now are
	}
	if c := e.Stats().Correction; math.Abs(c-1) > 0.01 {
		t.Errorf("correction = %v, want 1", c)
	}
}

func TestCorrectionIsBounded(t *testing.T) {
	e := New()
	e.ObserveHandle(time.Minute)
	for range 1000 {
		e.ObserveWait(1, 1, time.Hour)
	}
	if c := e.Stats().Correction; c != MaxCorrection {
		t.Errorf("correction = %v, want %v", c, MaxCorrection)
	}
	for range 1000 {
		e.ObserveWait(1, 1, 0)
	}
	if c := e.Stats().Correction; c != MinCorrection {
		t.Errorf("correction = %v, want %v", c, MinCorrection)
	}
}

func TestCorrectionCanBeTurnedOff(t *testing.T) {
	e := New(WithCalibrationWindow(0))
	e.ObserveHandle(time.Minute)
	for range 100 {
		e.ObserveWait(1, 1, time.Hour)
	}
	if got := e.Estimate(1, 1); got != time.Minute {
		t.Errorf("Estimate = %v, want 1m", got)
	}
	if s := e.Stats(); s.Correction != 1 || s.Waits != 0 {
		t.Errorf("stats = %+v", s)
	}
}

// Waits seen before any handle time, or without a position or agents,
// have no formula to compare with.
func TestWaitsWithoutAFormulaAreIgnored(t *testing.T) {
	e := New()
	e.ObserveWait(1, 1, time.Hour) // the AHT is still the guess
	e.ObserveHandle(time.Minute)
	e.ObserveWait(0, 1, time.Minute)
	e.ObserveWait(1, 0, time.Minute)
	e.ObserveWait(1, 1, -time.Minute)
	if s := e.Stats(); s.Waits != 0 || s.Correction != 1 {
		t.Errorf("stats = %+v", s)
	}
}

func TestRound(t *testing.T) {
	for _, tc := range []struct{ in, want time.Duration }{
		{0, LessThanAMinute},
		{-time.Second, LessThanAMinute},
		{29 * time.Second, LessThanAMinute},
		{59*time.Second + 999*time.Millisecond, LessThanAMinute},
		{time.Minute, time.Minute},
		{89 * time.Second, time.Minute},
		{90 * time.Second, 2 * time.Minute},
		{10*time.Minute + 29*time.Second, 10 * time.Minute},
		{10*time.Minute + 30*time.Second, 11 * time.Minute},
	} {
		if got := Round(tc.in); got != tc.want {
			t.Errorf("Round(%v) = %v, want %v", tc.in, got, tc.want)
		}
	}
}

func TestChanged(t *testing.T) {
	for _, tc := range []struct {
		prev, next time.Duration
		want       bool
	}{
		{NotAnnounced, 10 * time.Second, true},
		{NotAnnounced, 5 * time.Minute, true},
		{10 * time.Second, 50 * time.Second, false}, // still less than a minute
		{50 * time.Second, 61 * time.Second, true},
		{61 * time.Second, 89 * time.Second, false},
		{89 * time.Second, 91 * time.Second, true},
		{3 * time.Minute, 2*time.Minute + 40*time.Second, false},
	} {
		if got := Changed(tc.prev, tc.next); got != tc.want {
			t.Errorf("Changed(%v, %v) = %v, want %v", tc.prev, tc.next, got, tc.want)
		}
	}
}

// One Estimator per queue is shared by the goroutines handling its calls.
func TestEstimatorIsSafeForConcurrentUse(t *testing.T) {
	var e Estimator
	var wg sync.WaitGroup
	for g := range 4 {
		wg.Go(func() {
			for i := range 1000 {
				e.ObserveHandle(time.Duration(60+g+i%60) * time.Second)
				e.ObserveWait(1+i%5, 3, time.Duration(i%120)*time.Second)
				if d := e.Estimate(1+i%7, 3); d < 0 {
					t.Errorf("negative estimate %v", d)
				}
				_ = e.Stats()
			}
		})
	}
	wg.Wait()
	if s := e.Stats(); s.Handles != 4000 || s.Waits != DefaultCalibrationWindow {
		t.Errorf("stats = %+v", s)
	}
}

func BenchmarkEstimate(b *testing.B) {
	e := New()
	for i := range 200 {
		e.ObserveHandle(time.Duration(120+i%60) * time.Second)
		e.ObserveWait(1+i%5, 10, time.Duration(i%90)*time.Second)
	}
	b.ResetTimer()
	for i := 0; b.Loop(); i++ {
		e.Estimate(1+i%20, 10)
	}
}

// BenchmarkEstimateParallel: the replicas' goroutines all announcing to
// the callers of one queue, contending for its lock.
func BenchmarkEstimateParallel(b *testing.B) {
	e := New()
	e.ObserveHandle(3 * time.Minute)
	b.RunParallel(func(pb *testing.PB) {
		for i := 0; pb.Next(); i++ {
			e.Estimate(1+i%20, 10)
		}
	})
}

func BenchmarkObserveWait(b *testing.B) {
	e := New()
	e.ObserveHandle(3 * time.Minute)
	for i := 0; b.Loop(); i++ {
		e.ObserveWait(1+i%20, 10, time.Duration(i%300)*time.Second)
	}
}
