// Package metrics holds one replica's Prometheus instruments and serves
// them at /metrics. Every replica has its own registry (never the
// process-wide default one): tests and `tandem demo` run several replicas
// in one process, and each must report only its own figures.
//
// The package knows nothing of the ACD; the engine, the PBX decorator,
// the Redis hooks and the scrape-time collectors feed it.
package metrics

import (
	"context"
	"errors"
	"math"
	"net/http"
	"sort"
	"strings"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	dto "github.com/prometheus/client_model/go"
	"github.com/redis/go-redis/v9"
)

// Namespace starts every metric name.
const Namespace = "tandem"

// Metric names the demo report and tests read back.
const (
	HandoffName       = Namespace + "_handoff_latency_seconds"
	OfferToAnswerName = Namespace + "_offer_to_answer_seconds"
)

// LatencyBuckets are the hand-off buckets: 50 µs to about 90 s, each 15 %
// wider than the one before, so a quantile read from them is within 15 %
// of the exact one. The hand-off is Tandem's headline figure (sub-ms on
// the simulator, a few ms on a real Asterisk), so it gets fine buckets;
// 104 buckets of one unlabelled series cost nothing to scrape.
var LatencyBuckets = prometheus.ExponentialBuckets(50e-6, 1.15, 104)

// ringBuckets cover an agent's phone ringing: 10 ms to about 2 min.
var ringBuckets = prometheus.ExponentialBuckets(0.01, 1.5, 24)

// commandBuckets cover one PBX command or Lua script: 50 µs to about 20 s.
var commandBuckets = prometheus.ExponentialBuckets(50e-6, 2, 19)

// Metrics are one replica's instruments.
type Metrics struct {
	reg *prometheus.Registry

	Handoff       prometheus.Histogram
	OfferToAnswer prometheus.Histogram
	Offers        prometheus.Counter
	Answered      prometheus.Counter
	RONAs         prometheus.Counter
	Abandons      prometheus.Counter
	Refused       prometheus.Counter
	// HistoryWriteFailures counts transitions whose history record
	// (Store.Record) could not be written: holes in the event stream.
	HistoryWriteFailures prometheus.Counter

	PBXEvents  *prometheus.CounterVec   // kind
	PBXCommand *prometheus.HistogramVec // kind
	PBXErrors  *prometheus.CounterVec   // kind
	Script     *prometheus.HistogramVec // script
	RedisErrs  *prometheus.CounterVec   // kind: io or reply
	// Strays counts channels that entered the replica's application
	// without being Tandem's to handle, by what became of them.
	Strays *prometheus.CounterVec // outcome: continued, hung_up, gone, stuck
	// Recovered counts what the recoverer put back after an owner died or
	// lost track: calls back in their queue, agents freed, and inbox
	// entries read again (delivered once, never acknowledged).
	Recovered *prometheus.CounterVec // what: call, agent, inbox
}

// Values of Recovered's label.
const (
	RecoveredCall  = "call"
	RecoveredAgent = "agent"
	RecoveredInbox = "inbox"
)

// New returns a replica's instruments in a registry of their own, with
// the Go runtime and process collectors beside them.
func New() *Metrics {
	m := &Metrics{reg: prometheus.NewRegistry()}
	f := func(name, help string) prometheus.Counter {
		c := prometheus.NewCounter(prometheus.CounterOpts{Namespace: Namespace, Name: name, Help: help})
		m.reg.MustRegister(c)
		return c
	}
	m.Handoff = prometheus.NewHistogram(prometheus.HistogramOpts{
		Name:    HandoffName,
		Help:    "Time from an agent being freed (its call's end handled) to the next waiting call's agent leg being requested.",
		Buckets: LatencyBuckets,
	})
	m.OfferToAnswer = prometheus.NewHistogram(prometheus.HistogramOpts{
		Name:    OfferToAnswerName,
		Help:    "Time from an agent leg being requested to the agent answering it.",
		Buckets: ringBuckets,
	})
	m.reg.MustRegister(m.Handoff, m.OfferToAnswer)
	m.Offers = f("offers_total", "Agent legs rung for calls.")
	m.Answered = f("answered_total", "Calls connected to an agent.")
	m.RONAs = f("ronas_total", "Offers that ended without an answer (redirect on no answer).")
	m.Abandons = f("abandons_total", "Calls abandoned: the caller hung up before an agent answered.")
	m.Refused = f("refused_total", "Calls refused at the concurrent-call cap.")
	m.HistoryWriteFailures = f("history_write_failures_total", "Transitions whose history record could not be written.")
	m.PBXEvents = prometheus.NewCounterVec(prometheus.CounterOpts{
		Namespace: Namespace, Name: "pbx_events_total", Help: "PBX events received, by kind.",
	}, []string{"kind"})
	m.PBXCommand = prometheus.NewHistogramVec(prometheus.HistogramOpts{
		Namespace: Namespace, Name: "pbx_command_seconds", Help: "PBX command latency, by kind (failed commands included).",
		Buckets: commandBuckets,
	}, []string{"kind"})
	m.PBXErrors = prometheus.NewCounterVec(prometheus.CounterOpts{
		Namespace: Namespace, Name: "pbx_errors_total", Help: "PBX commands that returned an error, by kind.",
	}, []string{"kind"})
	m.Script = prometheus.NewHistogramVec(prometheus.HistogramOpts{
		Namespace: Namespace, Name: "lua_script_seconds", Help: "Redis Lua script latency (one EVALSHA round trip), by script.",
		Buckets: commandBuckets,
	}, []string{"script"})
	m.RedisErrs = prometheus.NewCounterVec(prometheus.CounterOpts{
		Namespace: Namespace, Name: "redis_errors_total",
		Help: "Redis commands that failed: io (network, timeout, closed pool) or reply (an error reply other than NOSCRIPT).",
	}, []string{"kind"})
	m.Strays = prometheus.NewCounterVec(prometheus.CounterOpts{
		Namespace: Namespace, Name: "stray_channels_total",
		Help: "Channels that entered the application without being Tandem's to handle (no \"inbound\" argument, not a leg Tandem created), by outcome: continued (back to the dialplan), hung_up (continue failed), gone (hung up meanwhile), stuck (both failed: still in the application).",
	}, []string{"outcome"})
	m.Recovered = prometheus.NewCounterVec(prometheus.CounterOpts{
		Namespace: Namespace, Name: "recovered_total",
		Help: "What the recoverer put back, by what: call (an offered call whose owner died, or lost it, back at the head of its queue), agent (an agent left reserved or ringing by such an owner, freed), inbox (an inbox entry delivered but never acknowledged, read again).",
	}, []string{"what"})
	m.reg.MustRegister(m.PBXEvents, m.PBXCommand, m.PBXErrors, m.Script, m.RedisErrs, m.Strays, m.Recovered)
	m.reg.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	return m
}

// Register adds a collector (for example the gauges read from Redis at
// scrape time) to the replica's registry.
func (m *Metrics) Register(c prometheus.Collector) error { return m.reg.Register(c) }

// Gatherer is the replica's registry, for reading the figures back.
func (m *Metrics) Gatherer() prometheus.Gatherer { return m.reg }

// Handler serves the registry in the Prometheus exposition format.
func (m *Metrics) Handler() http.Handler {
	return promhttp.HandlerFor(m.reg, promhttp.HandlerOpts{
		// A collector that fails (Redis down) leaves its gauges out of the
		// scrape rather than failing it: the counters still matter.
		ErrorHandling: promhttp.ContinueOnError,
	})
}

// ObservePBXCommand records one PBX command of kind.
func (m *Metrics) ObservePBXCommand(kind string, d time.Duration, err error) {
	m.PBXCommand.WithLabelValues(kind).Observe(d.Seconds())
	if err != nil {
		m.PBXErrors.WithLabelValues(kind).Inc()
	}
}

// ObserveScript records one Lua script run.
func (m *Metrics) ObserveScript(script string, d time.Duration) {
	m.Script.WithLabelValues(script).Observe(d.Seconds())
}

// ObserveRedisError counts a failed Redis command. redis.Nil (no such
// key) is an answer, not an error; NOSCRIPT is go-redis falling back from
// EVALSHA to EVAL the first time a script runs.
func (m *Metrics) ObserveRedisError(err error) {
	if err == nil || errors.Is(err, redis.Nil) {
		return
	}
	var reply redis.Error
	if errors.As(err, &reply) {
		if strings.HasPrefix(reply.Error(), "NOSCRIPT") {
			return
		}
		m.RedisErrs.WithLabelValues("reply").Inc()
		return
	}
	m.RedisErrs.WithLabelValues("io").Inc()
}

// Summary is what a histogram says about its samples.
type Summary struct {
	Count    uint64
	Sum      float64 // seconds
	P50, P99 float64 // seconds, estimated from the buckets
}

// HistogramSummary reads the histogram called name from families (as
// gathered or scraped) and merges every series of it: the demo sums its
// replicas this way, and a test does the same with what it scraped.
func HistogramSummary(families []*dto.MetricFamily, name string) Summary {
	var merged []*dto.Histogram
	for _, mf := range families {
		if mf.GetName() != name {
			continue
		}
		for _, m := range mf.GetMetric() {
			if h := m.GetHistogram(); h != nil {
				merged = append(merged, h)
			}
		}
	}
	return summarize(merged)
}

// Summarize reads histograms directly (no registry gathering, so no
// scrape-time Redis reads) and merges them, as HistogramSummary does with
// what a scrape returned: the same buckets give the same answer.
func Summarize(hs ...prometheus.Histogram) Summary {
	var merged []*dto.Histogram
	for _, h := range hs {
		var m dto.Metric
		if err := h.Write(&m); err != nil {
			continue // a histogram's Write does not fail
		}
		merged = append(merged, m.GetHistogram())
	}
	return summarize(merged)
}

func summarize(hs []*dto.Histogram) Summary {
	var s Summary
	cum := map[float64]uint64{} // upper bound → cumulative count, summed
	for _, h := range hs {
		s.Count += h.GetSampleCount()
		s.Sum += h.GetSampleSum()
		for _, b := range h.GetBucket() {
			cum[b.GetUpperBound()] += b.GetCumulativeCount()
		}
	}
	bounds := make([]float64, 0, len(cum))
	for ub := range cum {
		bounds = append(bounds, ub)
	}
	sort.Float64s(bounds)
	counts := make([]uint64, len(bounds))
	for i, ub := range bounds {
		counts[i] = cum[ub]
	}
	s.P50 = Quantile(0.50, bounds, counts, s.Count)
	s.P99 = Quantile(0.99, bounds, counts, s.Count)
	return s
}

// Quantile estimates the q-quantile from cumulative bucket counts the way
// PromQL's histogram_quantile does: find the bucket holding rank q·total
// and interpolate linearly inside it (the first bucket starts at 0). The
// answer is always inside the bucket that holds the exact quantile, so it
// is exact to the bucket's width. Samples above the last bound answer the
// last bound.
func Quantile(q float64, bounds []float64, cumulative []uint64, total uint64) float64 {
	if total == 0 || len(bounds) == 0 {
		return 0
	}
	rank := q * float64(total)
	i := sort.Search(len(cumulative), func(i int) bool { return float64(cumulative[i]) >= rank })
	if i == len(bounds) || math.IsInf(bounds[i], 1) {
		// In the +Inf bucket: the highest finite bound is all we know.
		for j := len(bounds) - 1; j >= 0; j-- {
			if !math.IsInf(bounds[j], 1) {
				return bounds[j]
			}
		}
		return 0
	}
	lower, below := 0.0, uint64(0)
	if i > 0 {
		lower, below = bounds[i-1], cumulative[i-1]
	}
	inBucket := cumulative[i] - below
	if inBucket == 0 {
		return bounds[i]
	}
	return lower + (bounds[i]-lower)*(rank-float64(below))/float64(inBucket)
}

// BucketOf is the [lower, upper] interval of the bucket of bounds that
// holds v: what "agrees within bucket resolution" means.
func BucketOf(v float64, bounds []float64) (lower, upper float64) {
	i := sort.SearchFloat64s(bounds, v)
	if i == len(bounds) {
		return bounds[len(bounds)-1], math.Inf(1)
	}
	if i > 0 {
		lower = bounds[i-1]
	}
	return lower, bounds[i]
}

// RedisHook is a go-redis hook that counts failed commands (see
// ObserveRedisError), one by one inside pipelines too.
func (m *Metrics) RedisHook() redis.Hook { return redisErrors{m} }

type redisErrors struct{ m *Metrics }

func (redisErrors) DialHook(next redis.DialHook) redis.DialHook { return next }

func (h redisErrors) ProcessHook(next redis.ProcessHook) redis.ProcessHook {
	return func(ctx context.Context, cmd redis.Cmder) error {
		err := next(ctx, cmd)
		h.m.ObserveRedisError(err)
		return err
	}
}

func (h redisErrors) ProcessPipelineHook(next redis.ProcessPipelineHook) redis.ProcessPipelineHook {
	return func(ctx context.Context, cmds []redis.Cmder) error {
		err := next(ctx, cmds)
		failed := false
		for _, c := range cmds {
			if c.Err() != nil && !errors.Is(c.Err(), redis.Nil) {
				h.m.ObserveRedisError(c.Err())
				failed = true
			}
		}
		if err != nil && !failed {
			h.m.ObserveRedisError(err)
		}
		return err
	}
}

// Labelled gathers several registries as one, each metric of a registry
// carrying label=key (e.g. replica="r1"): `tandem demo` serves its
// replicas' figures at one /metrics this way.
func Labelled(label string, byKey map[string]prometheus.Gatherer) prometheus.Gatherer {
	return prometheus.GathererFunc(func() ([]*dto.MetricFamily, error) {
		keys := make([]string, 0, len(byKey))
		for k := range byKey {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		byName := map[string]*dto.MetricFamily{}
		var errs []error
		for _, k := range keys {
			fams, err := byKey[k].Gather()
			if err != nil {
				errs = append(errs, err)
			}
			for _, mf := range fams {
				into, ok := byName[mf.GetName()]
				if !ok {
					into = &dto.MetricFamily{Name: mf.Name, Help: mf.Help, Type: mf.Type, Unit: mf.Unit}
					byName[mf.GetName()] = into
				}
				for _, m := range mf.GetMetric() {
					lp := &dto.LabelPair{Name: proto(label), Value: proto(k)}
					m.Label = append([]*dto.LabelPair{lp}, m.Label...)
					into.Metric = append(into.Metric, m)
				}
			}
		}
		out := make([]*dto.MetricFamily, 0, len(byName))
		for _, mf := range byName {
			out = append(out, mf)
		}
		sort.Slice(out, func(i, j int) bool { return out[i].GetName() < out[j].GetName() })
		return out, errors.Join(errs...)
	})
}

func proto(s string) *string { return &s }

// HandlerFor serves any gatherer (see Labelled) like Handler.
func HandlerFor(g prometheus.Gatherer) http.Handler {
	return promhttp.HandlerFor(g, promhttp.HandlerOpts{ErrorHandling: promhttp.ContinueOnError})
}
