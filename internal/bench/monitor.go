package bench

import (
	"bufio"
	"context"
	"fmt"
	"net"
	"strings"
	"sync"
	"time"
)

// The audit counts round trips, which INFO commandstats cannot: it counts
// the commands run inside Lua scripts with the clients' own. MONITOR
// tells them apart ("[0 lua]" or "[0 127.0.0.1:port]"), but slows Redis
// down, so it runs after the measured phase, over Audit more calls placed
// then (routed as they arrive, as agents are free: the same scripts per
// call as a hand-off, the offer made by enqueue instead of finish).

// Audit is what MONITOR showed over the audited calls.
type Audit struct {
	// Mode is "stream" (a window of the routing phase's calls) or "fresh"
	// (calls placed once the queue was empty, each seen whole).
	Mode  string `json:"mode"`
	Calls int    `json:"calls"`
	// ClientCommands are commands the replicas sent, per call: round
	// trips, except that a pipeline of k commands counts k.
	ClientCommands float64 `json:"client_commands_per_call"`
	// ScriptCommands are the commands Lua scripts ran, per call.
	ScriptCommands float64 `json:"script_commands_per_call"`
	// ByCommand splits ClientCommands by command name.
	ByCommand map[string]float64 `json:"client_commands_by_name"`
}

// monitor is a MONITOR connection counting what it sees.
type monitor struct {
	conn   net.Conn
	done   chan error
	mu     sync.Mutex
	client map[string]int
	lua    int
}

func startMonitor(ctx context.Context, addr string) (*monitor, error) {
	var d net.Dialer
	conn, err := d.DialContext(ctx, "tcp", addr)
	if err != nil {
		return nil, fmt.Errorf("monitor: %w", err)
	}
	if _, err := conn.Write([]byte("MONITOR\r\n")); err != nil {
		_ = conn.Close()
		return nil, fmt.Errorf("monitor: %w", err)
	}
	rd := bufio.NewReaderSize(conn, 1<<20)
	_ = conn.SetReadDeadline(time.Now().Add(10 * time.Second))
	line, err := rd.ReadString('\n')
	if err != nil || strings.TrimSpace(line) != "+OK" {
		_ = conn.Close()
		return nil, fmt.Errorf("monitor: answered %q: %v", line, err)
	}
	_ = conn.SetReadDeadline(time.Time{})
	m := &monitor{conn: conn, done: make(chan error, 1), client: map[string]int{}}
	go func() { m.done <- m.read(rd) }()
	return m, nil
}

// read counts lines until the connection is closed. A line is
// +1717000000.123456 [0 127.0.0.1:40000] "evalsha" "…" …
func (m *monitor) read(rd *bufio.Reader) error {
	for {
		line, err := rd.ReadString('\n')
		if err != nil {
			return err
		}
		_, rest, ok := strings.Cut(line, " [")
		if !ok {
			continue
		}
		src, cmd, _ := strings.Cut(rest, "] ")
		name, _, _ := strings.Cut(strings.TrimPrefix(cmd, `"`), `"`)
		m.mu.Lock()
		if strings.HasSuffix(src, " lua") {
			m.lua++
		} else {
			m.client[strings.ToLower(name)]++
		}
		m.mu.Unlock()
	}
}

// stop closes the connection and returns the counts.
func (m *monitor) stop() (client map[string]int, lua int) {
	_ = m.conn.Close()
	<-m.done //nolint:errcheck // the read error of a connection we closed
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.client, m.lua
}

// quietAfter is how long after the last channel is gone the replicas may
// still talk to Redis for the calls (late hang-ups, queue figures).
const quietAfter = 300 * time.Millisecond

// waitQuiet waits until the simulator has no live channel, then
// quietAfter.
func (w *world) waitQuiet(ctx context.Context) error {
	if err := w.waitFor(ctx, "every call to end", w.sim, func() bool {
		n, err := w.simCtl.live(ctx)
		return err == nil && n == 0
	}); err != nil {
		return err
	}
	select {
	case <-ctx.Done():
		return fmt.Errorf("bench: %w", ctx.Err())
	case <-time.After(quietAfter):
		return nil
	}
}

// audit counts round trips over n calls. While at least 2n waiting calls
// are still to be routed (total is where the simulator's bridged count
// will end), it watches the next n calls bridged in the running stream:
// calls straddle the window's edges, so the figures are averages over a
// steady state. Otherwise it waits until every waiting call has been
// bridged and has ended, then places n more callers under MONITOR and
// watches them until they have ended too (the agents are free, so each is
// routed as it arrives).
func (w *world) audit(ctx context.Context, total, n int) (Audit, error) {
	st, err := w.simCtl.stats(ctx)
	if err != nil {
		return Audit{}, fmt.Errorf("bench: %w", err)
	}
	// A window of the stream must outlast the calls in flight at its
	// edges (about one per agent), or they weigh on the average.
	window := max(n, 3*w.opts.Agents)
	stream := total-st.CallsBridged >= 2*window
	if stream {
		n = window
	}
	if !stream {
		if err := w.waitBridged(ctx, total, time.Now()); err != nil {
			return Audit{}, err
		}
		if err := w.waitQuiet(ctx); err != nil {
			return Audit{}, err
		}
	}
	m, err := startMonitor(ctx, w.redis.Addr)
	if err != nil {
		return Audit{}, fmt.Errorf("bench: %w", err)
	}
	st0, err := w.simCtl.stats(ctx)
	if err != nil {
		m.stop()
		return Audit{}, fmt.Errorf("bench: %w", err)
	}
	if stream {
		w.logf("auditing the next %d calls routed under MONITOR", n)
		err = w.waitBridged(ctx, st0.CallsBridged+n, time.Now())
		return w.auditResult(ctx, m, st0, err, "stream")
	}
	w.logf("auditing %d more calls under MONITOR", n)
	for left := n; left > 0 && err == nil; {
		var res CallsResult
		res, err = w.simCtl.place(ctx, CallsRequest{N: min(left, w.opts.Window), DNIS: dnis, TalkFor: Duration(w.opts.Talk)})
		left -= res.Placed
		w.placed += res.Placed
		if err == nil && res.Refused > 0 {
			err = fmt.Errorf("bench: %d calls refused: no Stasis application connected", res.Refused)
		}
	}
	if err == nil {
		err = w.waitBridged(ctx, st0.CallsBridged+n, time.Now())
	}
	if err == nil {
		err = w.waitQuiet(ctx)
	}
	return w.auditResult(ctx, m, st0, err, "fresh")
}

// auditResult stops the monitor and turns its counts into figures per
// call bridged since st0.
func (w *world) auditResult(ctx context.Context, m *monitor, st0 SimStats, err error, mode string) (Audit, error) {
	st1, serr := w.simCtl.stats(ctx)
	client, lua := m.stop()
	if err != nil {
		return Audit{}, err
	}
	if serr != nil {
		return Audit{}, fmt.Errorf("bench: %w", serr)
	}
	a := Audit{Mode: mode, Calls: st1.CallsBridged - st0.CallsBridged, ByCommand: map[string]float64{}}
	calls := float64(max(a.Calls, 1))
	sent := 0
	for k, v := range client {
		sent += v
		a.ByCommand[k] = float64(v) / calls
	}
	a.ClientCommands, a.ScriptCommands = float64(sent)/calls, float64(lua)/calls
	return a, nil
}
