package api

import (
	"encoding/json"
	"net/http"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/tandem-cc/tandem/acd"
	"github.com/tandem-cc/tandem/cad"
)

// callbackPop is a callback's screen pop as the core publishes it: the
// label, the number to dial, when it was asked for, the queue's pop-up
// variables with the secure one masked.
func callbackPop() acd.AgentEvent {
	return acd.AgentEvent{
		Type: "offered", Agent: agentID, At: since.Add(1500 * time.Millisecond),
		ConnectionID: "c-7", ANI: "+12025550188", DNIS: "5551000", Queue: "sales",
		Attached: map[string]string{"CUSTOMER_ID": "C-42", "CARD_NUMBER": cad.Masked},
		Variables: []cad.Value{
			{Name: "CUSTOMER_ID", Label: "Customer", Type: "string", Value: "C-42", Order: 1, PopUp: true},
			{Name: "CARD_NUMBER", Label: "Card number", Type: "string", Value: cad.Masked, Secure: true, Order: 4, PopUp: true},
		},
		Kind: "callback", Number: "+12025550188", RequestedAt: since.Add(-90 * time.Second), WaitingSeconds: 91,
	}
}

// TestGetAgentCarriesThePendingOfferAsTheStreamSentIt: GET
// /v1/agents/{id} of an agent with an offer pending has the agent's fields
// and "offer", the very JSON object the event stream carried for that
// offer (label, number, times, masked variables); with none pending,
// there is no "offer" key at all.
func TestGetAgentCarriesThePendingOfferAsTheStreamSentIt(t *testing.T) {
	pop := callbackPop()
	core := newFakeCore()
	core.events = []acd.AgentEvent{pop}
	core.setOffer(&pop)
	srv, _ := serve(t, core, &syncBuffer{})

	conn, err := dial(t, srv, agentID, agentTok, false)
	if err != nil {
		t.Fatal(err)
	}
	var streamed map[string]any
	if err := recv(conn, &streamed); err != nil {
		t.Fatal(err)
	}

	got := getAgentJSON(t, srv.URL+"/v1/agents/"+agentID)
	if got["id"] != agentID || got["state"] != "ringing" || got["connection_id"] != "c-7" {
		t.Fatalf("agent fields %v, want %s ringing for c-7", got, agentID)
	}
	offer, ok := got["offer"].(map[string]any)
	if !ok {
		t.Fatalf("no offer object in %v", got)
	}
	if !reflect.DeepEqual(offer, streamed) {
		t.Fatalf("offer\n%v\nwant the streamed event\n%v", offer, streamed)
	}
	if offer["kind"] != "callback" || offer["number"] != "+12025550188" || offer["requested_at"] == nil {
		t.Fatalf("offer %v lacks the callback's label, number or request time", offer)
	}
	raw, _ := json.Marshal(offer)
	if !strings.Contains(string(raw), `"value":"`+cad.Masked+`"`) {
		t.Fatalf("offer %s: the secure value must stay masked", raw)
	}

	core.setOffer(nil)
	none := getAgentJSON(t, srv.URL+"/v1/agents/"+agentID)
	if _, ok := none["offer"]; ok || none["state"] != "available" {
		t.Fatalf("an agent with no offer pending reads %v, want no offer key", none)
	}
}

func getAgentJSON(t *testing.T, url string) map[string]any {
	t.Helper()
	req, err := http.NewRequest(http.MethodGet, url, nil)
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Authorization", "Bearer "+agentTok)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = resp.Body.Close() }()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("GET %s: %d", url, resp.StatusCode)
	}
	var out map[string]any
	if err := json.NewDecoder(resp.Body).Decode(&out); err != nil {
		t.Fatal(err)
	}
	return out
}
