package main

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/tandem-cc/tandem/internal/redistest"
)

// TestServeAppliesTheHTTPLimits: `tandem serve` takes http.* from its
// configuration: an agent token past its burst gets 429 with Retry-After,
// and an idle keep-alive connection is closed.
func TestServeAppliesTheHTTPLimits(t *testing.T) {
	ari := serveAgainstSim(t)
	listen := freeAddr(t)
	cfg := filepath.Join(t.TempDir(), "tandem.yaml")
	yaml := fmt.Sprintf(`node_id: r1
redis: {addr: %q}
ari: {url: %q, username: tandem, password: pw, app: tandem-r1}
http:
  listen: %q
  timeouts: {idle: 200ms}
  rate_limit: {agent: {per_second: 0.001, burst: 2}}
auth:
  agents: [{agent: "1001", token: agent-token}]
queues: {sales: {moh_class: default}}
log: {level: warn}
`, redistest.Start(t), ari.URL+"/ari", listen)
	if err := os.WriteFile(cfg, []byte(yaml), 0o600); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	logs := &syncBuffer{}
	go func() { done <- serve(ctx, []string{"--config", cfg}, logs) }()
	t.Cleanup(func() {
		cancel()
		select {
		case err := <-done:
			if err != nil {
				t.Errorf("serve: %v\n%s", err, logs)
			}
		case <-time.After(15 * time.Second):
			t.Error("serve did not stop")
		}
	})
	api := "http://" + listen
	waitFor(t, "the API", func() bool {
		resp, err := http.Get(api + "/healthz")
		if err == nil {
			_ = resp.Body.Close()
		}
		return err == nil && resp.StatusCode == http.StatusOK
	})

	send := func(path string) (int, string) {
		req, _ := http.NewRequest(http.MethodPost, api+path, strings.NewReader(""))
		req.Header.Set("Authorization", "Bearer agent-token")
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		_ = resp.Body.Close()
		return resp.StatusCode, resp.Header.Get("Retry-After")
	}
	// Two requests of the burst are let through (whatever the core says
	// of them: the agent is not logged in), the third is refused.
	for i := range 2 {
		if st, _ := send("/v1/agents/1001/logout"); st == http.StatusTooManyRequests {
			t.Fatalf("request %d of the burst refused", i)
		}
	}
	if st, retry := send("/v1/agents/1001/logout"); st != http.StatusTooManyRequests || retry != "1000" {
		t.Fatalf("past the burst: status %d, Retry-After %q", st, retry)
	}

	conn, err := net.Dial("tcp", listen)
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = conn.Close() }()
	_ = conn.SetDeadline(time.Now().Add(10 * time.Second))
	br := bufio.NewReader(conn)
	if _, err := io.WriteString(conn, "GET /healthz HTTP/1.1\r\nHost: tandem\r\n\r\n"); err != nil {
		t.Fatal(err)
	}
	resp, err := http.ReadResponse(br, nil)
	if err != nil {
		t.Fatal(err)
	}
	_, _ = io.Copy(io.Discard, resp.Body)
	// Kept alive, then closed by the server after http.timeouts.idle.
	_, err = io.Copy(io.Discard, br)
	var ne net.Error
	if errors.As(err, &ne) && ne.Timeout() {
		t.Fatal("the idle connection was kept open")
	}
}
