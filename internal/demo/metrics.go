package demo

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/tandem-cc/tandem/config"
	"github.com/tandem-cc/tandem/internal/httpserver"
	"github.com/tandem-cc/tandem/internal/lab"
	"github.com/tandem-cc/tandem/metrics"
)

// metricsServer serves the replicas' registries while a demo runs.
type metricsServer struct {
	URL  string // http://host:port/metrics
	srv  *http.Server
	done chan struct{}
}

// serveMetrics listens on addr and serves /metrics (every replica, each
// series labelled replica="r1"...) and /metrics/<replica>.
func serveMetrics(addr string, l *lab.Lab) (*metricsServer, error) {
	mux := http.NewServeMux()
	// Served as `tandem serve` serves its API, with the default http.*
	// settings.
	srv, ln, err := httpserver.Listen(addr, mux, httpserver.Options{HTTP: config.Default().HTTP})
	if err != nil {
		return nil, fmt.Errorf("demo: metrics: %w", err)
	}
	all := make(map[string]prometheus.Gatherer, len(l.Replicas))
	for _, r := range l.Replicas {
		all[r.Node] = r.Metrics.Gatherer()
		mux.Handle("GET /metrics/"+r.Node, r.Metrics.Handler())
	}
	mux.Handle("GET /metrics", metrics.HandlerFor(metrics.Labelled("replica", all)))
	m := &metricsServer{
		URL:  "http://" + ln.Addr().String() + "/metrics",
		srv:  srv,
		done: make(chan struct{}),
	}
	go func() {
		defer close(m.done)
		_ = m.srv.Serve(ln) // ends with Close below
	}()
	return m, nil
}

// Close stops serving and waits for the server's goroutine.
func (m *metricsServer) Close() {
	if m == nil {
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	_ = m.srv.Shutdown(ctx) // a scrape in flight may finish
	_ = m.srv.Close()
	<-m.done
}

func announceMetrics(w io.Writer, m *metricsServer, replicas []*lab.Replica) {
	_, _ = fmt.Fprintf(w, "metrics: %s (all replicas; one replica: %s/%s)\n", m.URL, m.URL, replicas[0].Node)
}
