package e2e

import (
	"bufio"
	"context"
	"fmt"
	"net"
	"regexp"
	"strings"
	"sync"
	"testing"

	"github.com/tandem-cc/tandem/internal/lab"
)

// answeredNotBridged lists the interactions Redis records as answered
// whose caller never shared a bridge with a leg Tandem created for that
// call (their ids start with the connection id), as the PBX saw it. A
// callback's interaction is left out: its agent answers before the
// customer is dialled, and the callback's own record says whether the
// customer answered.
func answeredNotBridged(t *testing.T, l *lab.Lab) []string {
	t.Helper()
	var bad []string
	for _, ix := range interactions(t, l) {
		if ix.Answered.IsZero() || ix.CallerLeg == "" || ix.Attached["callback_id"] != "" {
			continue
		}
		bridged := false
		for _, other := range l.PBX.BridgedWith(ix.CallerLeg) {
			if strings.HasPrefix(other, ix.ConnectionID+"-") {
				bridged = true
			}
		}
		if !bridged {
			bad = append(bad, fmt.Sprintf("%s (%s by %s, caller leg %s)", ix.ConnectionID, ix.State, ix.EndedBy, ix.CallerLeg))
		}
	}
	return bad
}

// checkAnsweredBridged fails the test if an answered call was never
// bridged at the PBX.
func checkAnsweredBridged(t *testing.T, l *lab.Lab) {
	t.Helper()
	if bad := answeredNotBridged(t, l); len(bad) > 0 {
		t.Errorf("answered calls not bridged at the PBX: %v", bad)
	}
}

// scriptMonitor watches every command Redis runs (MONITOR on a connection
// of its own) and counts the finish scripts run per connection id: a
// finish call is the only script whose arguments end with the connection
// id, "hangup"/"failed"/"completed", who ended it and the wrap-up time.
// Each run of a script sends one EVALSHA (go-redis falls back to an EVAL
// after it only when Redis does not have the script yet), so EVALSHAs are
// what is counted.
type scriptMonitor struct {
	mu       sync.Mutex
	finishes map[string]int
	done     chan struct{}
	// ready is closed once Redis has confirmed the MONITOR.
	ready chan struct{}
	// seen receives every line read, for sync.
	seen chan string
}

var finishArgs = regexp.MustCompile(`"([^"]+)" "(?:hangup|failed|completed)" "[^"]*" "[0-9]+"$`)

func monitorScripts(t *testing.T, l *lab.Lab) *scriptMonitor {
	t.Helper()
	conn, err := net.Dial("tcp", l.RDB.Options().Addr)
	if err != nil {
		t.Fatal(err)
	}
	m := &scriptMonitor{finishes: map[string]int{}, done: make(chan struct{}), ready: make(chan struct{}), seen: make(chan string, 1)}
	if _, err := conn.Write([]byte("MONITOR\r\n")); err != nil {
		t.Fatal(err)
	}
	go func() {
		defer close(m.done)
		rd := bufio.NewReader(conn)
		first := true
		for {
			line, err := rd.ReadString('\n')
			if err != nil {
				return // closed by the cleanup
			}
			line = strings.TrimRight(line, "\r\n")
			if first {
				first = false
				close(m.ready) // "+OK"
				continue
			}
			if f := finishArgs.FindStringSubmatch(line); f != nil && strings.Contains(strings.ToLower(line), `"evalsha"`) {
				m.mu.Lock()
				m.finishes[f[1]]++
				m.mu.Unlock()
			}
			if strings.Contains(line, syncMarker) {
				m.seen <- line
			}
		}
	}()
	t.Cleanup(func() {
		_ = conn.Close()
		<-m.done
	})
	<-m.ready
	return m
}

const syncMarker = "tandem-e2e-monitor-sync"

// sync returns once the monitor has read every command Redis ran before
// it: it sends a marker and waits for it to come back.
func (m *scriptMonitor) sync(t *testing.T, l *lab.Lab) {
	t.Helper()
	if err := l.RDB.Echo(context.Background(), syncMarker).Err(); err != nil {
		t.Fatal(err)
	}
	select {
	case <-m.seen:
	case <-m.done:
		t.Fatal("redis monitor ended")
	}
}

// finishesOf says how many finish scripts ran for conn so far.
func (m *scriptMonitor) finishesOf(conn string) int {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.finishes[conn]
}
