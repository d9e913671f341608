package clock

import (
	"testing"
	"time"
)

var epoch = time.Date(2026, 12, 4, 9, 0, 0, 0, time.UTC)

func TestFakeFiresTimersInOrderOnlyWhenAdvanced(t *testing.T) {
	f := NewFake(epoch)
	fired := make(chan string, 3)
	f.AfterFunc(2*time.Second, func() { fired <- "b" })
	f.AfterFunc(time.Second, func() { fired <- "a" })
	stopped := f.AfterFunc(time.Second, func() { fired <- "never" })
	if !stopped.Stop() {
		t.Fatal("Stop of a pending timer reported false")
	}
	if stopped.Stop() {
		t.Fatal("second Stop reported true")
	}
	if f.Pending() != 2 {
		t.Fatalf("pending %d, want 2", f.Pending())
	}
	f.Advance(999 * time.Millisecond)
	if f.Pending() != 2 {
		t.Fatalf("a timer fired early: pending %d", f.Pending())
	}
	f.Advance(time.Millisecond)
	if got := <-fired; got != "a" {
		t.Fatalf("fired %q, want a", got)
	}
	f.Advance(time.Second)
	if got := <-fired; got != "b" {
		t.Fatalf("fired %q, want b", got)
	}
	if !f.Now().Equal(epoch.Add(2 * time.Second)) {
		t.Fatalf("now %v", f.Now())
	}
	if f.Pending() != 0 {
		t.Fatalf("pending %d after both fired", f.Pending())
	}
}

func TestFakeTickerTicksPerPeriodAndDropsMissedTicks(t *testing.T) {
	f := NewFake(epoch)
	tk := f.NewTicker(time.Second)
	f.Advance(time.Second)
	if got := <-tk.C(); !got.Equal(epoch.Add(time.Second)) {
		t.Fatalf("tick at %v", got)
	}
	f.Advance(3 * time.Second) // nobody reads: one tick kept, two dropped
	if got := <-tk.C(); !got.Equal(epoch.Add(2 * time.Second)) {
		t.Fatalf("kept tick at %v, want the first missed one", got)
	}
	select {
	case got := <-tk.C():
		t.Fatalf("a second missed tick was kept: %v", got)
	default:
	}
	tk.Stop()
	if f.Pending() != 0 {
		t.Fatalf("pending %d after Stop", f.Pending())
	}
}

func TestWaitPendingReturnsOnceTheTimerIsArmed(t *testing.T) {
	f := NewFake(epoch)
	armed := make(chan struct{})
	go func() {
		f.AfterFunc(time.Minute, func() {})
		close(armed)
	}()
	f.WaitPending(1)
	<-armed
	if f.Pending() != 1 {
		t.Fatalf("pending %d", f.Pending())
	}
}

func TestWaitTimersReturnsOnceTheTimersAtThatMomentAreArmed(t *testing.T) {
	f := NewFake(epoch)
	f.NewTicker(time.Minute) // a ticker due then does not count
	f.AfterFunc(time.Second, func() {})
	armed := make(chan struct{})
	go func() {
		f.WaitTimers(epoch.Add(time.Minute), 2)
		close(armed)
	}()
	f.AfterFunc(2*time.Minute, func() {})
	select {
	case <-armed:
		t.Fatal("returned with no timer at that moment")
	default:
	}
	f.AfterFunc(time.Minute, func() {})
	select {
	case <-armed:
		t.Fatal("returned with one timer of two at that moment")
	default:
	}
	f.AfterFunc(time.Minute, func() {})
	<-armed
}

func TestWaitAnyTimerReturnsTheMomentArmed(t *testing.T) {
	f := NewFake(epoch)
	f.AfterFunc(time.Hour, func() {})
	got := make(chan time.Time)
	go func() { got <- f.WaitAnyTimer(epoch.Add(time.Second), epoch.Add(time.Minute)) }()
	f.AfterFunc(time.Minute, func() {})
	if at := <-got; !at.Equal(epoch.Add(time.Minute)) {
		t.Fatalf("returned %v", at)
	}
}

func TestRealClockFires(t *testing.T) {
	c := Real()
	done := make(chan struct{})
	c.AfterFunc(time.Millisecond, func() { close(done) })
	<-done
	tk := c.NewTicker(time.Millisecond)
	<-tk.C()
	tk.Stop()
}
