package demo

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"

	"github.com/tandem-cc/tandem/metrics"
)

// scrape GETs url and parses the Prometheus text it serves.
func scrape(t *testing.T, url string) map[string]*dto.MetricFamily {
	t.Helper()
	resp, err := http.Get(url)
	if err != nil {
		t.Fatalf("GET %s: %v", url, err)
	}
	defer func() { _ = resp.Body.Close() }()
	if resp.StatusCode != http.StatusOK {
		b, _ := io.ReadAll(resp.Body)
		t.Fatalf("GET %s: %s %s", url, resp.Status, b)
	}
	p := expfmt.NewTextParser(model.UTF8Validation)
	fams, err := p.TextToMetricFamilies(resp.Body)
	if err != nil {
		t.Fatalf("parse %s: %v", url, err)
	}
	return fams
}

func list(fams map[string]*dto.MetricFamily) []*dto.MetricFamily {
	out := make([]*dto.MetricFamily, 0, len(fams))
	for _, f := range fams {
		out = append(out, f)
	}
	return out
}

// counterSum adds a counter's series, optionally only those whose label
// name has value.
func counterSum(fams map[string]*dto.MetricFamily, family, label, value string) float64 {
	var sum float64
	for _, m := range fams[family].GetMetric() {
		if label != "" && labelOf(m, label) != value {
			continue
		}
		switch {
		case m.GetCounter() != nil:
			sum += m.GetCounter().GetValue()
		case m.GetGauge() != nil:
			sum += m.GetGauge().GetValue()
		case m.GetHistogram() != nil:
			sum += float64(m.GetHistogram().GetSampleCount())
		}
	}
	return sum
}

func labelOf(m *dto.Metric, name string) string {
	for _, l := range m.GetLabel() {
		if l.GetName() == name {
			return l.GetValue()
		}
	}
	return ""
}

// TestMetricsOverHTTPAgreeWithTheReport runs a small demo, scrapes its
// /metrics over HTTP once the report is built, and checks that the
// histograms and counters there are the report's figures: the same
// samples, and the same p50/p99 read from the same buckets.
func TestMetricsOverHTTPAgreeWithTheReport(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	opts := fast()
	opts.Calls = 20
	opts.MetricsAddr = "127.0.0.1:0"
	var all, r1 map[string]*dto.MetricFamily
	opts.AfterRun = func(url string) {
		all = scrape(t, url)
		r1 = scrape(t, url+"/r1")
	}
	var progress strings.Builder
	r, err := Run(ctx, opts, &progress)
	if err != nil {
		t.Fatalf("Run: %v\n%s", err, progress.String())
	}
	if all == nil {
		t.Fatal("AfterRun was not called")
	}
	if !strings.Contains(progress.String(), "metrics: http://127.0.0.1:") {
		t.Fatalf("the /metrics URL was not announced:\n%s", progress.String())
	}

	handoff := metrics.HistogramSummary(list(all), metrics.HandoffName)
	if handoff.Count == 0 || int(handoff.Count) != r.Handoff.Samples {
		t.Fatalf("hand-off: /metrics has %d samples, the report %d", handoff.Count, r.Handoff.Samples)
	}
	if got := fromHistograms(handoff, time.Duration(r.Handoff.Max)); got != r.Handoff {
		t.Fatalf("hand-off from /metrics %+v, report %+v", got, r.Handoff)
	}
	// Within bucket resolution: the quantiles lie in the bucket that holds
	// them, so p99 is at most one bucket above the exact maximum.
	if _, upper := metrics.BucketOf(time.Duration(r.Handoff.Max).Seconds(), metrics.LatencyBuckets); handoff.P99 > upper {
		t.Fatalf("hand-off p99 %gs above the bucket of the max %v (≤ %gs)", handoff.P99, r.Handoff.Max, upper)
	}
	if max := counterSum(all, metrics.HandoffName+"_max", "replica", "r1"); max <= 0 && counterSum(r1, metrics.HandoffName, "", "") > 0 {
		t.Fatalf("r1 measured hand-offs but reports no maximum")
	}
	ring := metrics.HistogramSummary(list(all), metrics.OfferToAnswerName)
	if ring.Count == 0 || int(ring.Count) != r.OfferToAnswer.Samples {
		t.Fatalf("offer to answer: /metrics has %d samples, the report %d", ring.Count, r.OfferToAnswer.Samples)
	}
	if got := counterSum(all, "tandem_ronas_total", "", ""); int64(got) != r.RONAs {
		t.Fatalf("RONAs: /metrics %v, report %d", got, r.RONAs)
	}
	if got := counterSum(all, "tandem_abandons_total", "", ""); int(got) != r.Calls.Abandoned {
		t.Fatalf("abandons: /metrics %v, report %d", got, r.Calls.Abandoned)
	}

	// The per-replica page holds that replica only, without the label.
	if a, b := counterSum(r1, metrics.HandoffName, "", ""), counterSum(all, metrics.HandoffName, "replica", "r1"); a != b {
		t.Fatalf("r1's hand-offs: %v on /metrics/r1, %v on /metrics", a, b)
	}
	// PBX commands, events and scripts are measured on the replicas.
	if counterSum(all, "tandem_pbx_command_seconds", "kind", "ring") == 0 {
		t.Fatal("no ring command measured")
	}
	if got := counterSum(all, "tandem_pbx_events_total", "kind", "call_arrived"); int(got) < r.Calls.Arrived-r.Calls.Failed {
		t.Fatalf("call_arrived events %v for %d calls", got, r.Calls.Arrived)
	}
	if counterSum(all, "tandem_lua_script_seconds", "", "") == 0 {
		t.Fatal("no Lua script measured")
	}
	// The gauges read from Redis at scrape time: every agent is where the
	// report found them, and nobody is waiting any more.
	for state, n := range r.AgentStates {
		if got := counterSum(r1, "tandem_agents", "state", state); int(got) != n {
			t.Fatalf("agents %s: /metrics %v, report %d", state, got, n)
		}
	}
	if got := counterSum(r1, "tandem_queue_depth", "queue", demoQueue); got != 0 {
		t.Fatalf("queue depth %v after the drain", got)
	}
	if _, ok := r1["tandem_queue_longest_wait_seconds"]; !ok {
		t.Fatal(fmt.Sprint("no longest-wait gauge: ", keys(r1)))
	}
}

func keys(m map[string]*dto.MetricFamily) []string {
	var out []string
	for k := range m {
		out = append(out, k)
	}
	return out
}
