package bench

import (
	"cmp"
	"fmt"
	"io"
	"maps"
	"slices"
	"strings"
	"time"

	"github.com/tandem-cc/tandem/metrics"
)

// Report is one run's figures. Per-call figures divide the routing
// phase's deltas by the calls bridged in it.
type Report struct {
	Replicas int `json:"replicas"`
	Agents   int `json:"agents"`
	Waiting  int `json:"waiting"`

	// ArrivalSeconds is how long the waiting phase took to queue Waiting
	// callers (arrivals are flow-controlled, see Options.Window).
	ArrivalSeconds float64 `json:"arrival_seconds"`
	// MemoryPerWaitingCall is Redis used_memory growth per waiting call
	// (bytes).
	MemoryPerWaitingCall float64 `json:"memory_per_waiting_call_bytes"`
	// DatasetPerWaitingCall is the same for used_memory_dataset (the
	// data alone), KeysPerWaitingCall the keys a waiting call adds.
	DatasetPerWaitingCall float64 `json:"dataset_per_waiting_call_bytes"`
	KeysPerWaitingCall    float64 `json:"keys_per_waiting_call"`

	// Placed is every caller the run placed.
	Placed int `json:"placed"`
	// Routed is the calls bridged during the routing phase, in Seconds.
	Routed         int     `json:"routed"`
	Seconds        float64 `json:"seconds"`
	RoutedPerSec   float64 `json:"routed_per_second"`
	Answered       int     `json:"answered"` // tandem_answered_total delta, all replicas
	HandoffCount   uint64  `json:"handoff_count"`
	HandoffP50     float64 `json:"handoff_p50_seconds"`
	HandoffP99     float64 `json:"handoff_p99_seconds"`
	HandoffMax     float64 `json:"handoff_max_seconds"`
	RedisCommands  float64 `json:"redis_commands_per_call"`
	RedisScripts   float64 `json:"redis_scripts_per_call"` // EVALSHA + EVAL: one round trip each
	RedisOther     float64 `json:"redis_other_per_call"`   // commands other than scripts, their inner commands included
	CommandsByName map[string]float64
	// Scripts are the Lua scripts per call and their mean latency, by
	// script, from tandem_lua_script_seconds.
	Scripts map[string]ScriptFigure `json:"scripts"`

	// CPU seconds per 1,000 routed calls.
	CPUTandem   float64   `json:"cpu_tandem_per_1000"`
	CPUReplicas []float64 `json:"cpu_replicas_per_1000"`
	CPURedis    float64   `json:"cpu_redis_per_1000"`
	CPUSim      float64   `json:"cpu_sim_per_1000"`
	// Utilisation is CPU seconds per wall second during routing (1.0 is
	// one core busy).
	UtilTandem float64 `json:"util_tandem"`
	UtilRedis  float64 `json:"util_redis"`
	UtilSim    float64 `json:"util_sim"`

	// ReplyErrors are Redis error replies the replicas counted
	// (tandem_redis_errors_total{kind="reply"}); with wrap-up 0 no timer
	// runs wrapup.lua, so none are expected.
	ReplyErrors int `json:"redis_reply_errors"`

	// Audit counts round trips under MONITOR (zero without Options.Audit).
	Audit Audit `json:"audit"`

	Checks Checks `json:"checks"`
}

// ScriptFigure is one Lua script's share of a call.
type ScriptFigure struct {
	PerCall float64 `json:"per_call"`
	MeanUS  float64 `json:"mean_us"` // one EVALSHA round trip, as the replica timed it
}

// Checks are what must be zero for the figures to mean anything.
type Checks struct {
	CallsRefused       int `json:"calls_refused"`
	CallsAbandoned     int `json:"calls_abandoned"`
	DoubleOffers       int `json:"double_offers"`
	AgentsWithTwoCalls int `json:"agents_with_two_calls"`
	RedisIOErrors      int `json:"redis_io_errors"`
	PBXErrors          int `json:"pbx_errors"`
}

// Violations names the checks that are not zero.
func (c Checks) Violations() []string {
	var v []string
	for _, f := range []struct {
		name string
		n    int
	}{{"calls refused", c.CallsRefused}, {"calls abandoned", c.CallsAbandoned}, {"double offers", c.DoubleOffers},
		{"agents with two calls", c.AgentsWithTwoCalls}, {"redis I/O errors", c.RedisIOErrors}, {"PBX errors", c.PBXErrors}} {
		if f.n != 0 {
			v = append(v, fmt.Sprintf("%s %d", f.name, f.n))
		}
	}
	return v
}

func (r *Report) fill(a, b snap, elapsed time.Duration) {
	r.Routed = b.sim.CallsBridged - a.sim.CallsBridged
	r.Seconds = elapsed.Seconds()
	r.RoutedPerSec = float64(r.Routed) / r.Seconds
	r.Answered = int(b.metrics.sum("tandem_answered_total") - a.metrics.sum("tandem_answered_total"))
	h := handoff(b.metrics)
	r.HandoffCount, r.HandoffP50, r.HandoffP99 = h.Count, h.P50, h.P99
	r.HandoffMax = b.metrics.max(metrics.HandoffName + "_max")
	r.ReplyErrors = int(b.metrics.sumWhere("tandem_redis_errors_total", "kind", "reply") - a.metrics.sumWhere("tandem_redis_errors_total", "kind", "reply"))

	n := float64(max(r.Routed, 1))
	per1000 := 1000 / n
	cmds := commandDelta(a.redis.Commands, b.redis.Commands)
	r.CommandsByName = map[string]float64{}
	var total, scripts float64
	for k, v := range cmds {
		total += float64(v)
		r.CommandsByName[k] = float64(v) / n
		if k == "evalsha" || k == "eval" {
			scripts += float64(v)
		}
	}
	r.RedisCommands, r.RedisScripts, r.RedisOther = total/n, scripts/n, (total-scripts)/n

	r.Scripts = map[string]ScriptFigure{}
	sa, sb := a.metrics.byLabel("tandem_lua_script_seconds", "script"), b.metrics.byLabel("tandem_lua_script_seconds", "script")
	for name, cb := range sb {
		ca := sa[name]
		if d := cb.Count - ca.Count; d > 0 {
			r.Scripts[name] = ScriptFigure{PerCall: d / n, MeanUS: (cb.Sum - ca.Sum) / d * 1e6}
		}
	}

	secs := max(r.Seconds, 1e-9)
	var tandem float64
	for i := range b.cpuRep {
		d := b.cpuRep[i] - a.cpuRep[i]
		tandem += d
		r.CPUReplicas = append(r.CPUReplicas, d*per1000)
	}
	r.CPUTandem = tandem * per1000
	r.CPURedis = (b.redis.CPU - a.redis.CPU) * per1000
	r.CPUSim = (b.cpuSim - a.cpuSim) * per1000
	r.UtilTandem = tandem / secs
	r.UtilRedis = (b.redis.CPU - a.redis.CPU) / secs
	r.UtilSim = (b.cpuSim - a.cpuSim) / secs
}

// TableHeader and Row print the report as a Markdown table row, the
// format of BENCHMARKS.md.
const TableHeader = `| replicas | agents | waiting | routed | calls/s | hand-off p50 | hand-off p99 | Redis cmds/call | scripts/call | round trips/call | Tandem CPU s/1k | Redis CPU s/1k | sim CPU s/1k | Redis bytes/waiting call |
|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|`

// Row is the report's line of the table.
func (r Report) Row() string {
	rt := "-"
	if r.Audit.Calls > 0 {
		rt = fmt.Sprintf("%.1f", r.Audit.ClientCommands)
	}
	return fmt.Sprintf("| %d | %d | %d | %d | %.0f | %s | %s | %.1f | %.1f | %s | %.2f | %.2f | %.2f | %.0f |",
		r.Replicas, r.Agents, r.Waiting, r.Routed, r.RoutedPerSec, ms(r.HandoffP50), ms(r.HandoffP99),
		r.RedisCommands, r.RedisScripts, rt, r.CPUTandem, r.CPURedis, r.CPUSim, r.MemoryPerWaitingCall)
}

func ms(s float64) string { return fmt.Sprintf("%.2f ms", s*1000) }

// Write prints the report for people.
func (r Report) Write(w io.Writer) {
	var b strings.Builder
	p := func(format string, args ...any) { fmt.Fprintf(&b, format+"\n", args...) }
	p("Scenario: %d replica(s), %d agents, %d waiting calls", r.Replicas, r.Agents, r.Waiting)
	p("")
	p("Waiting phase")
	p("  queued %d callers in %.1fs", r.Waiting, r.ArrivalSeconds)
	p("  Redis memory per waiting call   %.0f bytes (used_memory; dataset alone %.0f bytes; %.1f keys)", r.MemoryPerWaitingCall, r.DatasetPerWaitingCall, r.KeysPerWaitingCall)
	p("")
	p("Routing phase")
	p("  routed calls                    %d in %.2fs (answered by Tandem: %d)", r.Routed, r.Seconds, r.Answered)
	p("  routed calls per second         %.0f", r.RoutedPerSec)
	p("  hand-off latency (%d samples)   p50 %s  p99 %s  max %s", r.HandoffCount, ms(r.HandoffP50), ms(r.HandoffP99), ms(r.HandoffMax))
	p("  Redis error replies             %d (expected 0)", r.ReplyErrors)
	p("  Redis commands per call         %.1f (scripts %.1f, other commands and scripts' inner commands %.1f)", r.RedisCommands, r.RedisScripts, r.RedisOther)
	p("  CPU seconds per 1,000 calls     Tandem %.2f %v  Redis %.2f  simulator %.2f", r.CPUTandem, fmtList(r.CPUReplicas), r.CPURedis, r.CPUSim)
	p("  CPU cores busy while routing    Tandem %.2f  Redis %.2f  simulator %.2f", r.UtilTandem, r.UtilRedis, r.UtilSim)
	p("")
	p("Lua scripts per call (mean EVALSHA round trip as timed by the replica)")
	for _, name := range slices.Sorted(maps.Keys(r.Scripts)) {
		s := r.Scripts[name]
		p("  %-22s %5.2f  %7.0f µs", name, s.PerCall, s.MeanUS)
	}
	p("")
	p("Redis commands per call (INFO commandstats; scripts' inner commands included)")
	names := slices.SortedFunc(maps.Keys(r.CommandsByName), func(x, y string) int {
		return cmp.Or(cmp.Compare(r.CommandsByName[y], r.CommandsByName[x]), cmp.Compare(x, y))
	})
	for _, name := range names {
		p("  %-22s %6.2f", name, r.CommandsByName[name])
	}
	p("")
	if r.Audit.Calls > 0 {
		how := "calls placed once the queue was empty, each seen whole"
		if r.Audit.Mode == "stream" {
			how = "a window of the routing phase's stream"
		}
		p("Round trips (MONITOR over %d calls: %s; a pipeline of k commands counts k)", r.Audit.Calls, how)
		p("  commands sent by the replicas per call   %.1f", r.Audit.ClientCommands)
		p("  commands run inside Lua scripts per call %.1f", r.Audit.ScriptCommands)
		names := slices.SortedFunc(maps.Keys(r.Audit.ByCommand), func(x, y string) int {
			return cmp.Or(cmp.Compare(r.Audit.ByCommand[y], r.Audit.ByCommand[x]), cmp.Compare(x, y))
		})
		for _, name := range names {
			p("  %-22s %6.2f", name, r.Audit.ByCommand[name])
		}
		p("")
	}
	p("BENCHMARKS.md row:")
	p("%s", r.Row())
	p("")
	if v := r.Checks.Violations(); len(v) > 0 {
		p("Checks NOT zero: %s", strings.Join(v, ", "))
	} else {
		p("Checks: no call refused or abandoned, no double offer, no agent with two calls, no Redis I/O or PBX error.")
	}
	_, _ = io.WriteString(w, b.String())
}

func fmtList(xs []float64) string {
	if len(xs) < 2 {
		return ""
	}
	s := make([]string, len(xs))
	for i, x := range xs {
		s[i] = fmt.Sprintf("r%d %.2f", i+1, x)
	}
	return "(" + strings.Join(s, ", ") + ")"
}
