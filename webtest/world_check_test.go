package webtest

import (
	"encoding/json"
	"net/http"
	"slices"
	"strings"
	"testing"
)

// TestWorldRingsAnAgentAndAnswersByHand checks the world itself, without
// a browser: an agent signed in from Go is offered a call that carries the
// queue's variables, the phone rings until the test answers it, the
// secure variable is masked, and the call ends when the caller hangs up.
// Then the replica that owned nothing special is killed and the other
// still serves.
func TestWorldRingsAnAgentAndAnswersByHand(t *testing.T) {
	w := NewWorld(t, Options{})
	w.SignIn("1001")

	caller := w.PlaceCall(map[string]string{
		"CUSTOMER_ID": "C-42", "LANGUAGE": "en", "BALANCE": "12.50", "CARD_NUMBER": "4111111111111111",
	})
	w.WaitAgentState("1001", "ringing")
	w.AnswerAgentPhone("1001")
	a := w.WaitAgentState("1001", "connected")
	if a.ConnectionID == "" {
		t.Fatalf("connected agent without a call: %+v", a)
	}

	var view struct {
		Values []struct {
			Name, Value string
			Secure      bool
		}
	}
	_, body := w.Do(AgentToken("1001"), http.MethodGet, "/v1/agents/1001/call/variables", nil)
	if err := json.Unmarshal(body, &view); err != nil {
		t.Fatalf("variables: %v in %s", err, body)
	}
	got := map[string]string{}
	for _, v := range view.Values {
		got[v.Name] = v.Value
	}
	if got["CUSTOMER_ID"] != "C-42" || got["LANGUAGE"] != "en" {
		t.Fatalf("variables %s lack the caller's values", body)
	}
	if strings.Contains(string(body), "4111111111111111") || got["CARD_NUMBER"] == "" {
		t.Fatalf("the secure card number is not masked: %s", body)
	}

	caller.HangUp()
	w.WaitAgentState("1001", "wrapup")
	w.MustDo(AgentToken("1001"), http.MethodPost, "/v1/agents/1001/wrapup", map[string]string{"code": "resolved"}, nil)
	w.WaitAgentState("1001", "available")

	r1 := w.Replicas[0]
	w.Kill(r1)
	if r1.Running() {
		t.Fatal("r1 still running after Kill")
	}
	if st, _ := w.Do(SupervisorToken, http.MethodGet, "/v1/queues/sales", nil); st != http.StatusOK {
		t.Fatalf("GET /v1/queues/sales on the survivor: %d", st)
	}
	if !slices.Equal(w.URLs(), []string{w.Replicas[0].URL, w.Replicas[1].URL}) || w.Replica(w.Replicas[1].URL+"/") != w.Replicas[1] {
		t.Fatal("URLs and Replica disagree")
	}
}
