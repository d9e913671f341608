package demo

import (
	"encoding/json"
	"fmt"
	"io"
	"math"
	"slices"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/tandem-cc/tandem/internal/lab"
	"github.com/tandem-cc/tandem/metrics"
)

// Report is what a demo run measured.
type Report struct {
	// PBXKind is the simulated PBX the run drove (asterisk, freeswitch,
	// mixed).
	PBXKind              lab.PBXKind `json:"pbx_kind"`
	Replicas             int         `json:"replicas"`
	Agents               int         `json:"agents"`
	AgentsNeverAnswering int         `json:"agents_never_answering"`
	Rate                 float64     `json:"rate_per_second"`
	Seed                 uint64      `json:"seed"`
	Wall                 Millis      `json:"wall_ms"`
	// Interrupted is set when the run was stopped (signal, --max-duration)
	// before every call was placed and drained; the numbers are partial.
	Interrupted bool `json:"interrupted,omitempty"`

	Calls Calls `json:"calls"`
	// Callbacks are the courtesy callbacks callers asked for.
	Callbacks Callbacks `json:"callbacks"`
	// RONAs are offers that ended without an answer (summed over replicas).
	RONAs int64 `json:"ronas"`
	// TimeToAnswer is answered − queued over the answered interactions, as
	// recorded in Redis.
	TimeToAnswer Latency `json:"time_to_answer"`
	// Handoff is the latency from an agent being freed to the next waiting
	// call's agent leg being requested, from the replicas' hand-off
	// histograms (the ones /metrics serves): p50 and p99 are estimated
	// from the buckets exactly as from a scrape; max is exact.
	Handoff Latency `json:"handoff"`
	// OfferToAnswer is how long agents' phones rang before they answered,
	// from the replicas' offer-to-answer histograms (max not kept).
	OfferToAnswer Latency `json:"offer_to_answer"`
	// PBX is the simulator's own view, for cross-checking.
	PBX PBXView `json:"pbx"`
	// AgentStates counts the agents by state at the end.
	AgentStates map[string]int `json:"agent_states"`

	Invariants Invariants `json:"invariants"`
	OK         bool       `json:"ok"`
}

// Calls accounts for every call placed. Arrived = Answered + Abandoned +
// Failed + ToCallback once the invariants hold.
type Calls struct {
	Arrived   int `json:"arrived"`   // callers the demo placed
	Answered  int `json:"answered"`  // interactions that reached an agent
	Abandoned int `json:"abandoned"` // callers who hung up before an agent answered
	// ToCallback are callers who left the queue for a courtesy callback
	// (their callbacks are counted under Report.Callbacks).
	ToCallback int `json:"to_callback"`
	// Failed are calls the PBX could not hand to any replica plus
	// interactions Tandem gave up on.
	Failed int `json:"failed"`
}

// Callbacks accounts for the courtesy callbacks of the run.
type Callbacks struct {
	Requested int `json:"requested"` // registered by a caller
	Done      int `json:"done"`      // the customer answered
	Failed    int `json:"failed"`    // every attempt went unanswered
	// Attempts and CustomerDials should be equal: one originate per
	// attempt (the invariant callbacks_dialled_twice checks each callback).
	Attempts      int `json:"attempts"`
	CustomerDials int `json:"customer_dials"`
}

// Latency summarises a set of durations.
type Latency struct {
	Samples int    `json:"samples"`
	Avg     Millis `json:"avg_ms"`
	P50     Millis `json:"p50_ms"`
	P99     Millis `json:"p99_ms"`
	Max     Millis `json:"max_ms"`
}

// PBXView is what the simulator counted.
type PBXView struct {
	CallsPlaced    int `json:"calls_placed"`
	CallsBridged   int `json:"calls_bridged"`
	CallsAbandoned int `json:"calls_abandoned"` // patience ran out before a bridge
	Originates     int `json:"originates"`      // agent legs rung
	CustomerDials  int `json:"customer_dials"`  // callbacks' customer legs rung
}

// Invariants must all be zero.
type Invariants struct {
	// DoubleOffers: an agent leg was rung for a call that already had a
	// live agent leg (observed at the PBX).
	DoubleOffers int `json:"double_offers"`
	// AgentsWithTwoCalls: an agent's phone was rung while it still had a
	// live leg (observed at the PBX).
	AgentsWithTwoCalls int `json:"agents_with_two_calls"`
	// InteractionsNotTerminal: interactions in Redis not ended, abandoned
	// or failed after the drain.
	InteractionsNotTerminal int `json:"interactions_not_terminal"`
	// CallsUnaccounted: calls that entered Tandem's application but have no
	// interaction in Redis.
	CallsUnaccounted int `json:"calls_unaccounted"`
	// AgentsStuck: agents still reserved, ringing or connected when no
	// interaction is live any more.
	AgentsStuck int `json:"agents_stuck"`
	// PBXChannelsLeft: channels still up at the PBX after the drain.
	PBXChannelsLeft int `json:"pbx_channels_left"`
	// CallbacksNotFinished: callbacks still pending or being served after
	// the drain.
	CallbacksNotFinished int `json:"callbacks_not_finished"`
	// CallbacksDialledTwice: callbacks whose customer was dialled more
	// often than they have attempts recorded.
	CallbacksDialledTwice int `json:"callbacks_dialled_twice"`
	// AnsweredNotBridged: calls Redis records as answered whose caller
	// never shared a bridge with one of the call's legs (observed at the
	// PBX).
	AnsweredNotBridged int `json:"answered_not_bridged"`
	// BridgesLeft, SnoopsLeft, RecordingsLeft: bridges, snoop channels and
	// live recordings the PBX still holds once every interaction has
	// ended. Asterisk keeps an ARI bridge until it is destroyed, empty or
	// not, so one a call forgot stays for good.
	BridgesLeft    int `json:"bridges_left"`
	SnoopsLeft     int `json:"snoops_left"`
	RecordingsLeft int `json:"recordings_left"`
}

// Violations lists the invariants that are not zero, by JSON name.
func (iv Invariants) Violations() []string {
	var out []string
	for _, c := range []struct {
		name string
		n    int
	}{
		{"double_offers", iv.DoubleOffers},
		{"agents_with_two_calls", iv.AgentsWithTwoCalls},
		{"interactions_not_terminal", iv.InteractionsNotTerminal},
		{"calls_unaccounted", iv.CallsUnaccounted},
		{"agents_stuck", iv.AgentsStuck},
		{"pbx_channels_left", iv.PBXChannelsLeft},
		{"callbacks_not_finished", iv.CallbacksNotFinished},
		{"callbacks_dialled_twice", iv.CallbacksDialledTwice},
		{"answered_not_bridged", iv.AnsweredNotBridged},
		{"bridges_left", iv.BridgesLeft},
		{"snoops_left", iv.SnoopsLeft},
		{"recordings_left", iv.RecordingsLeft},
	} {
		if c.n != 0 {
			out = append(out, fmt.Sprintf("%s=%d", c.name, c.n))
		}
	}
	return out
}

// Millis is a duration that machines read as (fractional) milliseconds.
type Millis time.Duration

// MarshalJSON writes the duration in milliseconds, to the microsecond.
func (m Millis) MarshalJSON() ([]byte, error) {
	return strconv.AppendFloat(nil, math.Round(float64(time.Duration(m).Microseconds()))/1000, 'f', -1, 64), nil
}

// UnmarshalJSON reads milliseconds back.
func (m *Millis) UnmarshalJSON(b []byte) error {
	f, err := strconv.ParseFloat(string(b), 64)
	if err != nil {
		return fmt.Errorf("millis: %w", err)
	}
	*m = Millis(time.Duration(f * float64(time.Millisecond)))
	return nil
}

func (m Millis) String() string {
	d := time.Duration(m)
	switch {
	case d == 0:
		return "0"
	case d < time.Millisecond:
		return d.Round(time.Microsecond).String()
	case d < time.Second:
		return d.Round(100 * time.Microsecond).String()
	}
	return d.Round(time.Millisecond).String()
}

// summarize computes a Latency; durations need not be sorted.
func summarize(ds []time.Duration) Latency {
	if len(ds) == 0 {
		return Latency{}
	}
	s := slices.Clone(ds)
	slices.Sort(s)
	var sum time.Duration
	for _, d := range s {
		sum += d
	}
	return Latency{
		Samples: len(s),
		Avg:     Millis(sum / time.Duration(len(s))),
		P50:     Millis(percentile(s, 0.50)),
		P99:     Millis(percentile(s, 0.99)),
		Max:     Millis(s[len(s)-1]),
	}
}

// fromHistograms turns a histogram summary into a Latency; max is known
// only where it is kept beside the histogram (0 otherwise).
func fromHistograms(s metrics.Summary, longest time.Duration) Latency {
	if s.Count == 0 {
		return Latency{}
	}
	sec := func(f float64) Millis {
		d := time.Duration(f * float64(time.Second))
		if longest > 0 {
			// Interpolating inside the top bucket can overshoot the
			// largest sample; the exact maximum bounds every quantile.
			d = min(d, longest)
		}
		return Millis(d)
	}
	return Latency{
		Samples: int(s.Count), Avg: sec(s.Sum / float64(s.Count)),
		P50: sec(s.P50), P99: sec(s.P99), Max: Millis(longest),
	}
}

// percentile is the nearest-rank percentile of sorted values: the smallest
// value at or below which a fraction p of them lie.
func percentile(sorted []time.Duration, p float64) time.Duration {
	if len(sorted) == 0 {
		return 0
	}
	rank := int(math.Ceil(p * float64(len(sorted))))
	rank = min(max(rank, 1), len(sorted))
	return sorted[rank-1]
}

// agentStates formats state counts as "available 18, rona 2".
func agentStates(m map[string]int) string {
	if len(m) == 0 {
		return "-"
	}
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	var b strings.Builder
	for i, k := range keys {
		if i > 0 {
			b.WriteString(", ")
		}
		fmt.Fprintf(&b, "%s %d", k, m[k])
	}
	return b.String()
}

// WriteJSON writes the report as one indented JSON document.
func (r Report) WriteJSON(w io.Writer) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(r)
}

// WriteTable writes the report for people.
func (r Report) WriteTable(w io.Writer) error {
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	p := func(format string, args ...any) { _, _ = fmt.Fprintf(tw, format+"\n", args...) }
	title := "Tandem demo report"
	if r.Interrupted {
		title += " (interrupted: partial numbers)"
	}
	p("%s", title)
	p("  PBX\t%s", r.PBXKind)
	p("  replicas\t%d", r.Replicas)
	p("  agents\t%d (%d never answer)", r.Agents, r.AgentsNeverAnswering)
	p("  arrival rate\t%g/s", r.Rate)
	p("  seed\t%d", r.Seed)
	p("  wall time\t%v", time.Duration(r.Wall).Round(time.Millisecond))
	p("")
	p("Calls")
	p("  arrived\t%d", r.Calls.Arrived)
	p("  answered\t%d", r.Calls.Answered)
	p("  abandoned\t%d", r.Calls.Abandoned)
	p("  left for a callback\t%d", r.Calls.ToCallback)
	p("  failed\t%d", r.Calls.Failed)
	p("  RONAs\t%d", r.RONAs)
	p("")
	p("Callbacks")
	p("  requested\t%d", r.Callbacks.Requested)
	p("  done\t%d", r.Callbacks.Done)
	p("  failed\t%d", r.Callbacks.Failed)
	p("  attempts / customer dials\t%d / %d", r.Callbacks.Attempts, r.Callbacks.CustomerDials)
	p("")
	p("Latency\tsamples\tavg\tp50\tp99\tmax")
	lat := func(name string, l Latency) {
		longest := l.Max.String()
		if l.Max == 0 && l.Samples > 0 {
			longest = "-" // not kept (histograms have no maximum)
		}
		p("  %s\t%d\t%v\t%v\t%v\t%s", name, l.Samples, l.Avg, l.P50, l.P99, longest)
	}
	lat("time to answer", r.TimeToAnswer)
	lat("agent hand-off", r.Handoff)
	lat("offer to answer", r.OfferToAnswer)
	p("")
	p("PBX (simulator's view)")
	p("  calls placed\t%d", r.PBX.CallsPlaced)
	p("  calls bridged\t%d", r.PBX.CallsBridged)
	p("  callers out of patience\t%d", r.PBX.CallsAbandoned)
	p("  agent legs rung\t%d", r.PBX.Originates)
	p("  customer legs rung\t%d", r.PBX.CustomerDials)
	p("")
	p("Agents at the end\t%s", agentStates(r.AgentStates))
	p("")
	p("Invariants (all must be 0)")
	iv := r.Invariants
	p("  double offers\t%d", iv.DoubleOffers)
	p("  agents with two calls\t%d", iv.AgentsWithTwoCalls)
	p("  interactions not terminal\t%d", iv.InteractionsNotTerminal)
	p("  calls unaccounted\t%d", iv.CallsUnaccounted)
	p("  agents stuck\t%d", iv.AgentsStuck)
	p("  PBX channels left\t%d", iv.PBXChannelsLeft)
	p("  callbacks not finished\t%d", iv.CallbacksNotFinished)
	p("  callbacks dialled twice\t%d", iv.CallbacksDialledTwice)
	p("  answered calls not bridged\t%d", iv.AnsweredNotBridged)
	p("  PBX bridges left\t%d", iv.BridgesLeft)
	p("  PBX snoop channels left\t%d", iv.SnoopsLeft)
	p("  PBX recordings left\t%d", iv.RecordingsLeft)
	p("")
	if r.OK {
		p("OK: every invariant holds.")
	} else {
		p("FAILED: %v", iv.Violations())
	}
	return tw.Flush()
}
