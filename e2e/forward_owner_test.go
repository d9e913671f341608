package e2e

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/tandem-cc/tandem/acd"
	"github.com/tandem-cc/tandem/agents"
	"github.com/tandem-cc/tandem/api"
	"github.com/tandem-cc/tandem/config"
	"github.com/tandem-cc/tandem/errs"
	"github.com/tandem-cc/tandem/internal/keyspace"
	"github.com/tandem-cc/tandem/internal/lab"
	"github.com/tandem-cc/tandem/pbxsim"
)

// TestCommandForStoppedOwnerAnswers503: the agent's desktop talks to
// replica r2, the call is owned by r1, and r1's engine has stopped. POST
// /call/end on r2 answers 503 with a retryable error in words and a
// Retry-After, never 500 nor a Redis error; the command is not left in
// r1's inbox to run later, and the call's state is untouched.
func TestCommandForStoppedOwnerAnswers503(t *testing.T) {
	forEachPBX(t, func(t *testing.T, pbx lab.PBXKind) {
		l := startControlLab(t, controlOptions{pbx: pbx, replicas: 2})
		ctx := context.Background()
		l.agent(1, "a1", l.Endpoint("1001"), false, "sales")
		leg, err := l.PBX.Call(pbxsim.Caller{App: "tandem-r1", ANI: "+12025550199", DNIS: "800"})
		if err != nil {
			t.Fatal(err)
		}
		ix := waitState(t, l.Lab, interactionOf(t, l.Lab, leg).ConnectionID, acd.StateConnected)
		if ix.Owner != "r1" {
			t.Fatalf("owner %s", ix.Owner)
		}
		keys := keyspace.New("tandem")
		if n, err := l.RDB.Exists(ctx, keys.ReplicaAlive("r1")).Result(); err != nil || n != 1 {
			t.Fatalf("r1's liveness key while it runs: %d %v", n, err)
		}

		if err := l.Replicas[0].Stop(); err != nil {
			t.Fatalf("stop r1: %v", err)
		}
		if n, err := l.RDB.Exists(ctx, keys.ReplicaAlive("r1")).Result(); err != nil || n != 0 {
			t.Fatalf("r1's liveness key after a clean stop: %d %v", n, err)
		}

		auth := config.Auth{Agents: []config.AgentToken{{Agent: "a1", Token: "tok-a1"}}}
		srv := httptest.NewServer(api.New(l.Replicas[1].Engine, auth, nil))
		t.Cleanup(srv.Close)
		req, _ := http.NewRequest(http.MethodPost, srv.URL+"/v1/agents/a1/call/end", nil)
		req.Header.Set("Authorization", "Bearer tok-a1")
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer func() { _ = resp.Body.Close() }()
		data, _ := io.ReadAll(resp.Body)
		if resp.StatusCode != http.StatusServiceUnavailable {
			t.Fatalf("status %d, want 503: %s", resp.StatusCode, data)
		}
		if ct := resp.Header.Get("Content-Type"); ct != "application/json" {
			t.Errorf("Content-Type %q", ct)
		}
		if ra := resp.Header.Get("Retry-After"); ra != "5" {
			t.Errorf("Retry-After %q, want 5", ra)
		}
		var body struct {
			Error string `json:"error"`
		}
		if err := json.Unmarshal(data, &body); err != nil {
			t.Fatalf("body %s: %v", data, err)
		}
		if !strings.Contains(body.Error, "not running") || !strings.Contains(body.Error, "retry") {
			t.Errorf("error %q does not say the owner is gone and to retry", body.Error)
		}
		if strings.Contains(strings.ToLower(body.Error), "redis") {
			t.Errorf("error leaks Redis: %q", body.Error)
		}

		// Nothing was sent to the dead owner: a restarted r1 has no stale
		// command to run.
		msgs, err := l.RDB.XRange(ctx, keys.Inbox("r1"), "-", "+").Result()
		if err != nil {
			t.Fatal(err)
		}
		for _, m := range msgs {
			if m.Values["type"] == "command" {
				t.Errorf("command left in r1's inbox: %v", m.Values)
			}
		}
		if st := agentState(t, l.Lab, "a1"); st != agents.Connected {
			t.Errorf("a1 is %s after a refused end, want connected", st)
		}
		restartForTheEnd(l.Lab, 0)
	})
}

// TestForwardedCommandTheOwnerDoesNotAnswer: r1 owns the call and takes a
// command r2 forwards, but its actor is held inside a PBX command so the
// command waits in its mailbox. If r1 then stops, r2's request ends with
// ErrOwnerUnavailable (the owner had taken it: its outcome is unknown),
// not with a timeout; if r1 stays alive, it ends with ErrOwnerTimeout, and
// the command r1 had taken is still carried out once the actor is free.
func TestForwardedCommandTheOwnerDoesNotAnswer(t *testing.T) {
	forEachPBX(t, func(t *testing.T, pbx lab.PBXKind) {
		for _, ownerStops := range []bool{true, false} {
			name := "owner stays alive"
			if ownerStops {
				name = "owner stops"
			}
			t.Run(name, func(t *testing.T) { forwardWithoutAnswer(t, pbx, ownerStops) })
		}
	})
}

func forwardWithoutAnswer(t *testing.T, pbx lab.PBXKind, ownerStops bool) {
	var gate *pbxGate
	l := startControlLab(t, controlOptions{pbx: pbx, replicas: 2, forwardTimeout: 2 * time.Second, wrapPBX: func(node string, p acd.PBX) acd.PBX {
		if gate != nil {
			return p // r1's port only
		}
		gate = &pbxGate{PBX: p}
		return gate
	}})
	ctx := context.Background()
	l.agent(1, "a1", l.Endpoint("1001"), false, "sales")
	e0, e1 := l.Replicas[0].Engine, l.Replicas[1].Engine
	leg, err := l.PBX.Call(pbxsim.Caller{App: "tandem-r1", ANI: "+12025550199", DNIS: "800"})
	if err != nil {
		t.Fatal(err)
	}
	ix := waitState(t, l.Lab, interactionOf(t, l.Lab, leg).ConnectionID, acd.StateConnected)
	if _, err := e0.Hold(ctx, "a1"); err != nil {
		t.Fatal(err)
	}
	// Hold r1's actor: taking the customer off hold waits in StopMusic.
	gate.arm(ix.CallerLeg)
	resumed := make(chan error, 1)
	go func() { _, err := e0.Resume(ctx, "a1"); resumed <- err }()
	<-gate.entered

	ended := make(chan error, 1)
	go func() { _, err := e1.End(ctx, "a1"); ended <- err }()
	waitFor(t, 10*time.Second, "r1 took the command from its inbox", func() bool {
		keys, err := l.RDB.Keys(ctx, l.Replicas[0].Store.Keys().CommandDone("*")).Result()
		return err == nil && len(keys) == 1
	})

	if ownerStops {
		if err := l.Replicas[0].Stop(); err != nil {
			t.Fatalf("stop r1: %v", err)
		}
		err := <-ended
		if !errors.Is(err, errs.ErrOwnerUnavailable) {
			t.Fatalf("end through r2 after r1 stopped: %v, want ErrOwnerUnavailable", err)
		}
		if !strings.Contains(err.Error(), "outcome is unknown") {
			t.Errorf("error %q does not say the owner had taken the command", err)
		}
		restartForTheEnd(l.Lab, 0)
		return
	}
	err = <-ended
	if !errors.Is(err, errs.ErrOwnerTimeout) || errors.Is(err, errs.ErrOwnerUnavailable) {
		t.Fatalf("end through r2 with r1 busy: %v, want ErrOwnerTimeout", err)
	}
	close(gate.release)
	if err := <-resumed; err != nil {
		t.Fatalf("resume: %v", err)
	}
	// r1 had taken the end: its actor carries it out once free.
	waitState(t, l.Lab, ix.ConnectionID, acd.StateEnded)
	waitAgent(t, l.Lab, "a1", agents.WrapUp)
}
