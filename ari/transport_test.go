package ari

import (
	"context"
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"sync"
	"sync/atomic"
	"testing"
)

// connCounter is an ARI stand-in that answers every request 204 and counts
// the TCP connections opened to it.
func connCounter(t testing.TB) (*httptest.Server, *atomic.Int64) {
	var opened atomic.Int64
	srv := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.WriteHeader(http.StatusNoContent)
	}))
	srv.Config.ConnState = func(_ net.Conn, s http.ConnState) {
		if s == http.StateNew {
			opened.Add(1)
		}
	}
	srv.Start()
	t.Cleanup(srv.Close)
	return srv, &opened
}

// answerRounds sends rounds × inFlight ARI answers through the driver's
// native client, inFlight at a time.
func answerRounds(t testing.TB, d *Driver, rounds, inFlight int) {
	for r := 0; r < rounds; r++ {
		var wg sync.WaitGroup
		errs := make(chan error, inFlight)
		for i := 0; i < inFlight; i++ {
			wg.Add(1)
			go func() {
				defer wg.Done()
				errs <- d.Answer(context.Background(), fmt.Sprintf("leg-%d", i))
			}()
		}
		wg.Wait()
		close(errs)
		for err := range errs {
			if err != nil {
				t.Fatal(err)
			}
		}
	}
}

// TestNativeClientUsesOwnTransport: ari/v5's native client sends through
// the driver's HTTP client, so concurrent requests reuse their keep-alive
// connections (with Go's default transport, 2 idle per host, nearly every
// request beyond the second dialled anew), and http.DefaultTransport is
// left as it was.
func TestNativeClientUsesOwnTransport(t *testing.T) {
	srv, opened := connCounter(t)
	d := New(Options{URL: srv.URL + "/ari", App: "t"})
	if err := useHTTPClient(d.client, d.http); err != nil {
		t.Fatal(err)
	}
	const rounds, inFlight = 20, 16
	answerRounds(t, d, rounds, inFlight)
	if n := opened.Load(); n > inFlight {
		t.Errorf("%d connections opened for %d requests, %d at a time: connections are not reused", n, rounds*inFlight, inFlight)
	}
	if dt := http.DefaultTransport.(*http.Transport); dt.MaxIdleConnsPerHost != 0 || dt.MaxIdleConns != 100 {
		t.Errorf("http.DefaultTransport modified: %d idle per host, %d idle", dt.MaxIdleConnsPerHost, dt.MaxIdleConns)
	}
}

// BenchmarkARIConcurrentRequests reports the TCP connections opened per
// ARI request with 16 in flight: the driver's transport against Go's
// default one (what ari/v5 used before).
func BenchmarkARIConcurrentRequests(b *testing.B) {
	for _, own := range []bool{false, true} {
		b.Run(fmt.Sprint("own_transport=", own), func(b *testing.B) {
			srv, opened := connCounter(b)
			d := New(Options{URL: srv.URL + "/ari", App: "b"})
			if !own {
				if err := useHTTPClient(d.client, &http.Client{}); err != nil {
					b.Fatal(err)
				}
			}
			b.ResetTimer()
			answerRounds(b, d, b.N, 16)
			b.ReportMetric(float64(opened.Load())/float64(b.N*16), "dials/request")
		})
	}
}
