package bench

import (
	"context"
	"fmt"
	"net/http"

	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"
)

// families are one or more replicas' scraped metric families, by name;
// a name holds every replica's series.
type families map[string][]*dto.MetricFamily

// scrape reads url (a replica's /metrics) into fs.
func scrape(ctx context.Context, hc *http.Client, url string, fs families) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return fmt.Errorf("scrape %s: %w", url, err)
	}
	resp, err := hc.Do(req)
	if err != nil {
		return fmt.Errorf("scrape %s: %w", url, err)
	}
	defer func() { _ = resp.Body.Close() }()
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("scrape %s: %s", url, resp.Status)
	}
	p := expfmt.NewTextParser(model.UTF8Validation)
	got, err := p.TextToMetricFamilies(resp.Body)
	if err != nil {
		return fmt.Errorf("scrape %s: %w", url, err)
	}
	for name, f := range got {
		fs[name] = append(fs[name], f)
	}
	return nil
}

// all lists every family of fs, for metrics.HistogramSummary.
func (fs families) all() []*dto.MetricFamily {
	var out []*dto.MetricFamily
	for _, l := range fs {
		out = append(out, l...)
	}
	return out
}

// sum adds a family's counter and gauge values over every series and
// replica.
func (fs families) sum(name string) float64 {
	var n float64
	for _, f := range fs[name] {
		for _, m := range f.GetMetric() {
			n += m.GetCounter().GetValue() + m.GetGauge().GetValue()
		}
	}
	return n
}

// sumWhere is sum over the series whose label has value.
func (fs families) sumWhere(name, label, value string) float64 {
	var n float64
	for _, f := range fs[name] {
		for _, m := range f.GetMetric() {
			for _, lp := range m.GetLabel() {
				if lp.GetName() == label && lp.GetValue() == value {
					n += m.GetCounter().GetValue() + m.GetGauge().GetValue()
				}
			}
		}
	}
	return n
}

// max is the largest gauge value of a family over the replicas.
func (fs families) max(name string) float64 {
	var n float64
	for _, f := range fs[name] {
		for _, m := range f.GetMetric() {
			n = max(n, m.GetGauge().GetValue())
		}
	}
	return n
}

// byLabel sums a histogram family's sample counts and sums per value of
// label, over the replicas.
func (fs families) byLabel(name, label string) map[string]countSum {
	out := map[string]countSum{}
	for _, f := range fs[name] {
		for _, m := range f.GetMetric() {
			var v string
			for _, lp := range m.GetLabel() {
				if lp.GetName() == label {
					v = lp.GetValue()
				}
			}
			cs := out[v]
			cs.Count += float64(m.GetHistogram().GetSampleCount())
			cs.Sum += m.GetHistogram().GetSampleSum()
			out[v] = cs
		}
	}
	return out
}

// countSum is a histogram's sample count and sum (seconds).
type countSum struct{ Count, Sum float64 }
