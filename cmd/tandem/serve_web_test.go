package main

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"testing"
	"time"

	"github.com/tandem-cc/tandem/internal/redistest"
)

// TestServeWiresThePagesBackend runs `tandem serve` with the keys of
// issue 13 set: the settings give the pages web.replicas, a preflight
// from an origin of http.allowed_origins is allowed, the queue history
// fills at wallboard.sample_interval, and serve stops with its sampler.
func TestServeWiresThePagesBackend(t *testing.T) {
	ari := serveAgainstSim(t)
	listen := freeAddr(t)
	cfg := filepath.Join(t.TempDir(), "tandem.yaml")
	yaml := fmt.Sprintf(`node_id: r1
redis: {addr: %q}
ari: {url: %q, username: tandem, password: pw, app: tandem-r1}
http: {listen: %q, allowed_origins: ["http://127.0.0.1:8081"]}
auth:
  agents: [{agent: "1001", token: agent-token}]
  supervisors: [{name: wall, token: supervisor-token}]
routing: {default_queue: sales}
queues: {sales: {moh_class: default}, support: {moh_class: default}}
web: {replicas: ["http://127.0.0.1:8081/", "http://127.0.0.1:8082"]}
wallboard: {sample_interval: 1s}
`, redistest.Start(t), ari.URL+"/ari", listen)
	if err := os.WriteFile(cfg, []byte(yaml), 0o600); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(cancel)
	logs := &syncBuffer{}
	done := make(chan error, 1)
	go func() { done <- serve(ctx, []string{"--config", cfg}, logs) }()
	base := "http://" + listen
	waitFor(t, "the API", func() bool {
		resp, err := http.Get(base + "/healthz")
		if err == nil {
			_ = resp.Body.Close()
		}
		return err == nil && resp.StatusCode == http.StatusOK
	})

	get := func(path string, v any) {
		t.Helper()
		req, _ := http.NewRequest(http.MethodGet, base+path, nil)
		req.Header.Set("Authorization", "Bearer agent-token")
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer func() { _ = resp.Body.Close() }()
		if resp.StatusCode != http.StatusOK {
			t.Fatalf("GET %s: %d", path, resp.StatusCode)
		}
		if err := json.NewDecoder(resp.Body).Decode(v); err != nil {
			t.Fatalf("GET %s: %v", path, err)
		}
	}
	var settings struct {
		Replicas []string `json:"replicas"`
	}
	get("/v1/settings", &settings)
	if want := []string{"http://127.0.0.1:8081", "http://127.0.0.1:8082"}; !slices.Equal(settings.Replicas, want) {
		t.Errorf("settings give replicas %q, want %q", settings.Replicas, want)
	}

	req, _ := http.NewRequest(http.MethodOptions, base+"/v1/agents/1001/available", nil)
	req.Header.Set("Origin", "http://127.0.0.1:8081")
	req.Header.Set("Access-Control-Request-Method", "POST")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	_ = resp.Body.Close()
	if resp.StatusCode != http.StatusNoContent || resp.Header.Get("Access-Control-Allow-Origin") != "http://127.0.0.1:8081" {
		t.Errorf("preflight: %d %v", resp.StatusCode, resp.Header)
	}

	// The sampler runs on the real clock here: two samples are two slots.
	waitFor(t, "two samples of the queue history", func() bool {
		var h struct {
			Queue     string  `json:"queue"`
			IntervalS float64 `json:"interval_s"`
			Samples   []struct {
				At time.Time `json:"at"`
			} `json:"samples"`
		}
		get("/v1/queues/support/history", &h)
		return h.Queue == "support" && h.IntervalS == 1 && len(h.Samples) >= 2
	})

	cancel()
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("serve: %v\n%s", err, logs.String())
		}
	case <-time.After(15 * time.Second):
		t.Fatal("serve did not stop")
	}
}
