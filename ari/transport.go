package ari

import (
	"fmt"
	"net/http"
	"reflect"
	"unsafe"

	"github.com/CyCoreSystems/ari/v5/client/native"
)

// DefaultIdleConns is the default number of idle keep-alive connections
// the driver keeps to Asterisk (Options.IdleConns). Below Asterisk's
// default http.conf sessionlimit (100), above the requests a replica
// usually has in flight.
const DefaultIdleConns = 64

// NewHTTPClient returns an HTTP client for ARI REST calls keeping idle
// keep-alive connections per host (DefaultIdleConns when idle <= 0). The
// drivers of one process (its own seat and any hosted one) share one
// through Options.HTTPClient.
func NewHTTPClient(idle int) *http.Client {
	if idle <= 0 {
		idle = DefaultIdleConns
	}
	return newHTTPClient(idle)
}

// newHTTPClient is the driver's own HTTP client for ARI REST calls. Go's
// default transport keeps 2 idle connections per host, so with more
// requests in flight every other request dialled a new TCP connection
// and closed it (16 % of a replica's CPU in BENCHMARKS.md). The transport
// is a clone: http.DefaultTransport is never modified.
func newHTTPClient(idle int) *http.Client {
	var t *http.Transport
	if dt, ok := http.DefaultTransport.(*http.Transport); ok {
		t = dt.Clone()
	} else {
		t = &http.Transport{Proxy: http.ProxyFromEnvironment}
	}
	t.MaxIdleConns = idle
	t.MaxIdleConnsPerHost = idle
	return &http.Client{Transport: t}
}

// useHTTPClient makes ari/v5's native client send its requests with hc.
// ari/v5 (v5.3.1) has no option for it: its Client holds an unexported
// http.Client value (zero, so Go's default transport), set here through
// reflect. TestNativeClientUsesOwnTransport fails if a new ari/v5 moves
// the field, so the version bump is noticed rather than silently dialling
// again.
func useHTTPClient(c *native.Client, hc *http.Client) error {
	f := reflect.ValueOf(c).Elem().FieldByName("httpClient")
	if !f.IsValid() || f.Type() != reflect.TypeOf(http.Client{}) {
		return fmt.Errorf("ari/v5 native.Client has no httpClient field of type http.Client")
	}
	*(*http.Client)(unsafe.Pointer(f.UnsafeAddr())) = *hc
	return nil
}
