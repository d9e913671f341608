package bench

import (
	"bytes"
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/tandem-cc/tandem/internal/redisserver"
)

// buildTandem builds the tandem command the run starts as processes.
func buildTandem(t *testing.T) string {
	t.Helper()
	goTool, err := exec.LookPath("go") // go test puts its own go first on PATH
	if err != nil {
		t.Fatalf("the go command is needed to build tandem: %v", err)
	}
	bin := filepath.Join(t.TempDir(), "tandem")
	var stderr bytes.Buffer
	cmd := exec.Command(goTool, "build", "-o", bin, "github.com/tandem-cc/tandem/cmd/tandem")
	cmd.Stderr = &stderr
	if err := cmd.Run(); err != nil {
		t.Fatalf("go build: %v\n%s", err, stderr.String())
	}
	return bin
}

// TestRunProducesEveryFigure runs the load tool at a tiny scale, end to
// end (Redis, the simulator and a replica as processes), and checks that
// every figure is there and sane. No figure is compared with a speed:
// the machine may be loaded.
func TestRunProducesEveryFigure(t *testing.T) {
	if _, err := redisserver.Binary(); err != nil {
		t.Fatal(err)
	}
	bin := buildTandem(t)
	// Every call routed, then 4 more audited (and profiles taken); or 10
	// of 60 routed and the audit watching the next ones (at least 3 per agent): with 5 agents
	// and callers talking 1s, at most 5 calls a second can be routed, so
	// plenty are still waiting when the audit starts.
	t.Run("fresh", func(t *testing.T) { runTiny(t, bin, 20, 20, 4, 0, "fresh") })
	t.Run("stream", func(t *testing.T) { runTiny(t, bin, 60, 10, 5, time.Second, "stream") })
}

func runTiny(t *testing.T, bin string, waiting, route, audited int, talk time.Duration, mode string) {
	var profiles string
	if mode == "fresh" {
		profiles = t.TempDir()
	}
	var progress bytes.Buffer
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	const agents = 5
	r, err := Run(ctx, Options{
		Binary: bin, Replicas: 1, Agents: agents, Waiting: waiting, Route: route, Audit: audited, Talk: talk,
		ProfileDir: profiles, ProfileSeconds: 1, Dir: t.TempDir(), Progress: &progress,
	})
	if err != nil {
		t.Fatalf("run: %v\n%s", err, progress.String())
	}
	placed := waiting
	if mode == "fresh" {
		placed += audited
	}
	// The measured phase ends once route calls are bridged; the snapshot
	// that follows may see a few more.
	if r.Placed != placed || r.Routed < route || r.Routed > waiting || r.Audit.Calls < audited || r.Audit.Mode != mode {
		t.Errorf("placed %d, routed %d, then %d audited (%s): want %d placed, %d routed, %d audited (%s)",
			r.Placed, r.Routed, r.Audit.Calls, r.Audit.Mode, placed, route, audited, mode)
	}
	if r.Audit.ClientCommands < 1 || r.Audit.ScriptCommands <= 0 || r.Audit.ByCommand["evalsha"] <= 0 {
		t.Errorf("audit: %+v", r.Audit)
	}
	if r.Answered < 1 || r.Answered > r.Routed {
		t.Errorf("answered %d: want 1..%d", r.Answered, r.Routed)
	}
	if v := r.Checks.Violations(); len(v) > 0 {
		t.Errorf("checks: %v", v)
	}
	if r.RoutedPerSec <= 0 || r.Seconds <= 0 {
		t.Errorf("throughput %v calls/s over %vs", r.RoutedPerSec, r.Seconds)
	}
	// Every agent's first call comes from making it available; the others
	// are hand-offs from the call it just finished.
	if r.HandoffCount < 1 || r.HandoffCount > uint64(waiting) || r.HandoffP50 <= 0 || r.HandoffP99 < r.HandoffP50 || r.HandoffMax <= 0 {
		t.Errorf("hand-off: %d samples, p50 %v p99 %v max %v", r.HandoffCount, r.HandoffP50, r.HandoffP99, r.HandoffMax)
	}
	if r.RedisScripts < 1 || r.RedisCommands <= r.RedisScripts || r.Scripts["finish"].PerCall <= 0 || r.Scripts["finish"].MeanUS <= 0 {
		t.Errorf("redis: %v commands, %v scripts per call, finish %+v", r.RedisCommands, r.RedisScripts, r.Scripts["finish"])
	}
	if r.CPUTandem <= 0 || r.CPURedis <= 0 || r.CPUSim <= 0 || len(r.CPUReplicas) != 1 {
		t.Errorf("CPU per 1,000 calls: Tandem %v %v, Redis %v, simulator %v", r.CPUTandem, r.CPUReplicas, r.CPURedis, r.CPUSim)
	}
	if r.MemoryPerWaitingCall <= 0 || r.KeysPerWaitingCall <= 0 {
		t.Errorf("Redis memory per waiting call %v bytes, %v keys", r.MemoryPerWaitingCall, r.KeysPerWaitingCall)
	}
	for _, f := range []string{"r1.pprof", "sim.pprof"} {
		if profiles == "" {
			break
		}
		if st, err := os.Stat(filepath.Join(profiles, f)); err != nil || st.Size() == 0 {
			t.Errorf("profile %s: %v", f, err)
		}
	}
	var text bytes.Buffer
	r.Write(&text)
	for _, want := range []string{"routed calls per second", "hand-off latency", "Redis commands per call", "CPU seconds per 1,000 calls", "Redis memory per waiting call", "finish", "Round trips"} {
		if !strings.Contains(text.String(), want) {
			t.Errorf("report lacks %q:\n%s", want, text.String())
		}
	}
	if cols := strings.Count(r.Row(), "|"); cols != strings.Count(strings.SplitN(TableHeader, "\n", 2)[0], "|") {
		t.Errorf("row %q does not fit the table header", r.Row())
	}
}
