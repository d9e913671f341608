package main

import (
	"context"
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/tandem-cc/tandem/internal/keyspace"
	"github.com/tandem-cc/tandem/internal/redistest"
	"github.com/tandem-cc/tandem/pbxsim"
	"github.com/tandem-cc/tandem/pbxsim/eslsim"
)

// eslNode is a FreeSWITCH simulator on a loopback event socket. Serving
// starts when serveESL is called, so a test can watch serve before its
// driver can connect.
type eslNode struct {
	sim  *eslsim.Sim
	ln   net.Listener
	ctx  context.Context
	addr string
}

func newESLNode(t *testing.T) *eslNode {
	t.Helper()
	sim := eslsim.New(eslsim.Options{Password: "ClueCon-not"})
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(func() { cancel(); sim.Close(); _ = ln.Close() })
	sim.SetPhone("user/1001", pbxsim.Phone{Mode: pbxsim.Answer, RingFor: 50 * time.Millisecond})
	return &eslNode{sim: sim, ln: ln, ctx: ctx, addr: ln.Addr().String()}
}

func (n *eslNode) serve() { go func() { _ = n.sim.Serve(n.ctx, n.ln) }() }

// startServeYAML runs `tandem serve` on the configuration pbxYAML (the
// pbx section, dial and queues) adds to a replica r1 with one agent, and
// waits for its API.
func startServeYAML(t *testing.T, redisAddr, pbxYAML string) *replica {
	t.Helper()
	for _, kv := range os.Environ() {
		if k, _, _ := strings.Cut(kv, "="); strings.HasPrefix(k, "TANDEM_") {
			t.Setenv(k, "")
			_ = os.Unsetenv(k)
		}
	}
	listen := freeAddr(t)
	cfg := filepath.Join(t.TempDir(), "tandem.yaml")
	yaml := fmt.Sprintf(`node_id: r1
redis: {addr: %q}
http: {listen: %q}
auth:
  agents: [{agent: "1001", token: agent-token}]
routing: {default_queue: sales, dnis: {"5551000": sales}, ring_timeout: 2s}
%s
`, redisAddr, listen, pbxYAML)
	if err := os.WriteFile(cfg, []byte(yaml), 0o600); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(cancel)
	r := &replica{api: "http://" + listen, logs: &syncBuffer{}}
	done := make(chan error, 1)
	go func() { done <- serve(ctx, []string{"--config", cfg}, r.logs) }()
	r.stop = sync.OnceValue(func() error {
		cancel()
		select {
		case err := <-done:
			return err
		case <-time.After(15 * time.Second):
			return fmt.Errorf("serve did not stop")
		}
	})
	t.Cleanup(func() { _ = r.stop() })
	waitFor(t, "the API", func() bool {
		select {
		case err := <-done:
			done <- err
			t.Fatalf("serve ended early: %v\n%s", err, r.logs.String())
		default:
		}
		resp, err := http.Get(r.api + "/healthz")
		if err == nil {
			_ = resp.Body.Close()
		}
		return err == nil && resp.StatusCode == http.StatusOK
	})
	return r
}

// placeCall places a call from ani on the FreeSWITCH simulator.
func placeCall(t *testing.T, fs *eslNode, ani string) string {
	t.Helper()
	uuid, err := fs.sim.Call(pbxsim.Caller{App: "tandem-r1", ANI: ani, DNIS: "5551000"})
	if err != nil {
		t.Fatal(err)
	}
	return uuid
}

// bridgedInRedis waits until the call uuid is bridged to the agent, finds
// its interaction in Redis by its caller leg, then hangs the caller up
// and waits for the simulator to be idle (serve then stops without a call
// to drain).
func bridgedInRedis(t *testing.T, fs *eslNode, redisAddr, uuid string) {
	t.Helper()
	waitFor(t, "the FreeSWITCH call bridged to the agent", func() bool { return fs.sim.Stats().CallsBridged == 1 })
	rdb := redis.NewClient(&redis.Options{Addr: redisAddr})
	defer func() { _ = rdb.Close() }()
	ctx := context.Background()
	keys, err := rdb.Keys(ctx, keyspace.New("tandem").Interaction("*")).Result()
	if err != nil {
		t.Fatal(err)
	}
	var found map[string]string
	for _, k := range keys {
		if h, err := rdb.HGetAll(ctx, k).Result(); err == nil && h["caller_leg"] == uuid {
			found = h
		}
	}
	if found == nil {
		t.Fatalf("no interaction in Redis with caller leg %s among %v", uuid, keys)
	}
	if err := fs.sim.HangUp(uuid); err != nil {
		t.Fatal(err)
	}
	if !fs.sim.WaitIdle(10 * time.Second) {
		t.Fatalf("FreeSWITCH simulator not idle: %+v", fs.sim.Channels())
	}
}

// TestServeDrivesAFreeSWITCHNode: with one pbx node of kind freeswitch,
// serve drives it over the event socket: /readyz names "pbx" while the
// socket cannot be opened and is ready once the driver connected; a
// caller waits with the node's moh_class (its queue names none); an agent
// logged in at user/1001 then takes the call, and the interaction is in
// Redis.
func TestServeDrivesAFreeSWITCHNode(t *testing.T) {
	redisAddr := redistest.Start(t)
	fs := newESLNode(t)
	r := startServeYAML(t, redisAddr, fmt.Sprintf(`pbx:
  app: tandem-r1
  nodes:
    - {name: fs1, kind: freeswitch, addr: %q, password: ClueCon-not, request_timeout: 1s, moh_class: hold}
dial: {endpoint: "sofia/gateway/trunk/{number}"}
queues: {sales: {}}
`, fs.addr))
	// The listener accepts but nobody greets: the driver cannot connect.
	waitReadyz(t, r.api, http.StatusServiceUnavailable, `{"ready":false,"not_ready":["pbx"]}`)
	fs.serve()
	waitReadyz(t, r.api, http.StatusOK, `{"ready":true}`)

	// No agent yet: the caller waits with the node's moh_class, the
	// queue naming none.
	uuid := placeCall(t, fs, "+15550001")
	waitFor(t, "the node's music class", func() bool {
		ch, ok := fs.sim.Channel(uuid)
		return ok && ch.MOHClass == "hold"
	})
	post(t, r.api+"/v1/agents/1001/login", `{"endpoint":"user/1001","queues":["sales"]}`)
	post(t, r.api+"/v1/agents/1001/available", "")
	bridgedInRedis(t, fs, redisAddr, uuid)
	if err := r.stop(); err != nil {
		t.Fatalf("serve: %v\n%s", err, r.logs.String())
	}
}

// TestServeDrivesMixedNodesThroughAMux: an Asterisk (ARI simulator) and
// a FreeSWITCH (ESL simulator) as two nodes of one seat: both drivers
// connect (the Stasis application is registered, /readyz is ready), and a
// call arriving on the FreeSWITCH reaches the agent on fs1/user/1001.
func TestServeDrivesMixedNodesThroughAMux(t *testing.T) {
	redisAddr := redistest.Start(t)
	fs := newESLNode(t)
	fs.serve()
	ast := pbxsim.New(pbxsim.Options{Username: "tandem", Password: "pw"})
	ariSrv := httptest.NewServer(ast.Handler())
	t.Cleanup(func() { ast.Close(); ariSrv.Close() })
	r := startServeYAML(t, redisAddr, fmt.Sprintf(`pbx:
  app: tandem-r1
  nodes:
    - {name: ast1, kind: asterisk, url: %q, username: tandem, password: pw}
    - {name: fs1, kind: freeswitch, addr: %q, password: ClueCon-not}
  trunks:
    - {from: ast1, to: fs1, dial: "PJSIP/{exten}@fs1"}
    - {from: fs1, to: ast1, dial: "sofia/gateway/ast1/{exten}"}
dial: {endpoint: "ast1/PJSIP/{number}@trunk"}
queues: {sales: {moh_class: default}}
`, ariSrv.URL+"/ari", fs.addr))
	waitReadyz(t, r.api, http.StatusOK, `{"ready":true}`)
	if !activeApp(t, ariSrv.URL, "tandem-r1") {
		t.Fatal("the Asterisk node's Stasis application is not registered")
	}

	post(t, r.api+"/v1/agents/1001/login", `{"endpoint":"fs1/user/1001","queues":["sales"]}`)
	post(t, r.api+"/v1/agents/1001/available", "")
	bridgedInRedis(t, fs, redisAddr, placeCall(t, fs, "+15550002"))
	if err := r.stop(); err != nil {
		t.Fatalf("serve: %v\n%s", err, r.logs.String())
	}
}

// TestServeTakesCallsFromAnOutboundSocket: a FreeSWITCH node in mode:
// outbound: serve listens on the node's listen address, the simulator's
// dialplan hands a call (no tandem_app of its own) to the socket there,
// the replica takes it and the agent gets it, as in inbound mode.
func TestServeTakesCallsFromAnOutboundSocket(t *testing.T) {
	redisAddr := redistest.Start(t)
	fs := newESLNode(t)
	fs.serve()
	listen := freeAddr(t)
	fs.sim.SetOutbound([]string{listen})
	r := startServeYAML(t, redisAddr, fmt.Sprintf(`pbx:
  app: tandem-r1
  nodes:
    - {name: fs1, kind: freeswitch, addr: %q, password: ClueCon-not, mode: outbound, listen: %q}
dial: {endpoint: "sofia/gateway/trunk/{number}"}
queues: {sales: {}}
`, fs.addr, listen))
	waitReadyz(t, r.api, http.StatusOK, `{"ready":true}`)
	post(t, r.api+"/v1/agents/1001/login", `{"endpoint":"user/1001","queues":["sales"]}`)
	post(t, r.api+"/v1/agents/1001/available", "")
	uuid, err := fs.sim.Call(pbxsim.Caller{ANI: "+15550003", DNIS: "5551000"})
	if err != nil {
		t.Fatal(err)
	}
	bridgedInRedis(t, fs, redisAddr, uuid)
	if ch, _ := fs.sim.Channel(uuid); ch.App != "tandem-r1" {
		t.Fatalf("tandem_app %q: the replica did not take the call through its socket", ch.App)
	}
	if err := r.stop(); err != nil {
		t.Fatalf("serve: %v\n%s", err, r.logs.String())
	}
}
