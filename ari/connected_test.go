package ari_test

import (
	"context"
	"errors"
	"log/slog"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/tandem-cc/tandem/acd"
	"github.com/tandem-cc/tandem/ari"
	"github.com/tandem-cc/tandem/pbxsim"
)

// TestConnectedFollowsTheEventSocket: Connected is false before Run's
// first socket, true once the application is registered, and false again
// when the simulator drops the socket. The reconnect backoff is an hour,
// so the driver is still waiting to redial when the false is read.
func TestConnectedFollowsTheEventSocket(t *testing.T) {
	sim := pbxsim.New(pbxsim.Options{Username: "u", Password: "p"})
	srv := httptest.NewServer(sim.Handler())
	t.Cleanup(func() { sim.Close(); srv.Close() })
	d := ari.New(ari.Options{
		URL: srv.URL + "/ari", Username: "u", Password: "p", App: "tandem-r1",
		RequestTimeout: 2 * time.Second, ReconnectBackoff: time.Hour, ReconnectBackoffMax: time.Hour,
		Logger: slog.New(slog.DiscardHandler),
	})
	if d.Connected() {
		t.Fatal("connected before Run")
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- d.Run(ctx, func(acd.Event) {}) }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("Run after cancel: %v", err)
		}
	})
	eventually(t, "connected", d.Connected)
	if _, ok := sim.App("tandem-r1"); !ok {
		t.Fatal("connected, but the simulator has no tandem-r1 application")
	}
	sim.DropWebSockets("tandem-r1")
	eventually(t, "not connected after the socket dropped", func() bool { return !d.Connected() })
}

// TestConnectedIsFalseOnceReplaced: another connection registering the
// application (a takeover fencing this replica) ends Run with ErrReplaced,
// and Connected stays false.
func TestConnectedIsFalseOnceReplaced(t *testing.T) {
	c := newCluster(t)
	a := c.start(t, "tandem-a")
	b := c.start(t, "tandem-b")
	eventually(t, "a connected", a.driver.Connected)
	if _, err := b.driver.Takeover(context.Background(), "tandem-a", nil); err != nil {
		t.Fatal(err)
	}
	if err := a.wait(t); !errors.Is(err, ari.ErrReplaced) {
		t.Fatalf("replaced driver's Run returned %v, want ErrReplaced", err)
	}
	if a.driver.Connected() {
		t.Fatal("a replaced driver still says it is connected")
	}
	if !b.driver.Connected() {
		t.Fatal("the taking-over driver lost its own application")
	}
}
