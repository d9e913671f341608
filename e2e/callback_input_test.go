package e2e

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/tandem-cc/tandem/acd"
	"github.com/tandem-cc/tandem/cad"
	"github.com/tandem-cc/tandem/callbacks"
	"github.com/tandem-cc/tandem/internal/lab"
	"github.com/tandem-cc/tandem/pbxsim"
)

// A web form's callback (issue 11): names Tandem sets, control characters
// and a time in 9999 are refused; a secure variable is masked in what the
// API reads and revealed only through the audited route; and the agent's
// screen pop shows Tandem's own callback_id and callback_number.
func TestCallbackPopShowsTandemsCallbackIDAndSecureValuesStayMasked(t *testing.T) {
	forEachPBX(t, func(t *testing.T, pbx lab.PBXKind) {
		sales := salesWithCallbacks()
		sales.Variables = []cad.Variable{
			{Name: "callback_id", Label: "Callback", Type: "string", PopUp: true, Order: 1},
			{Name: "callback_number", Label: "Number", Type: "string", PopUp: true, Order: 2},
			{Name: "CARD_NUMBER", Label: "Card", Type: "string", Secure: true, PopUp: true, Order: 3},
			{Name: "NOTE", Label: "Note", Type: cad.TypeText, Editable: true, Order: 4},
		}
		l := startCallbackLab(t, cbOptions{pbx: pbx, sales: &sales})
		ctx := context.Background()
		e := l.Replicas[0].Engine
		const number, card = "+12025550161", "4111111111111111"

		for _, tc := range []struct {
			name        string
			req         acd.CallbackRequest
			field, rule string
		}{
			{"callback_id", acd.CallbackRequest{Vars: map[string]string{"callback_id": "evil"}}, "variables.callback_id", cad.RuleReserved},
			{"TANDEM_ name", acd.CallbackRequest{Vars: map[string]string{"TANDEM_CONNECTION_ID": "x"}}, "variables.TANDEM_CONNECTION_ID", cad.RuleReserved},
			{"NUL in a value", acd.CallbackRequest{Vars: map[string]string{"order": "4\x002"}}, "variables.order", cad.RuleControl},
			{"clear screen in a note", acd.CallbackRequest{Vars: map[string]string{"NOTE": "\x1b[2J"}}, "variables.NOTE", cad.RuleControl},
			{"newline in a string", acd.CallbackRequest{Vars: map[string]string{"CARD_NUMBER": "4111\n"}}, "variables.CARD_NUMBER", cad.RuleControl},
			{"due in 9999", acd.CallbackRequest{EarliestAt: time.Date(9999, 12, 31, 23, 59, 59, 0, time.UTC)}, "earliest_at", callbacks.RuleTooFarAhead},
		} {
			tc.req.Queue, tc.req.Number = "sales", number
			_, _, err := e.RequestCallback(ctx, tc.req)
			var fe *callbacks.FieldError
			if !errors.As(err, &fe) || fe.Field != tc.field || fe.Rule != tc.rule {
				t.Fatalf("%s: err %v, want field %s rule %s", tc.name, err, tc.field, tc.rule)
			}
		}
		if left, err := l.RDB.Keys(ctx, "tandem:v1:{cb}:[cdpw]*").Result(); err != nil || len(left) != 0 {
			t.Fatalf("refused requests left callback keys %v (%v)", left, err)
		}

		cb, _, err := e.RequestCallback(ctx, acd.CallbackRequest{Queue: "sales", Number: number,
			Vars: map[string]string{"CARD_NUMBER": card, "NOTE": "line 1\n\tline 2", "order": "42"}})
		if err != nil {
			t.Fatal(err)
		}
		if cb.Vars["CARD_NUMBER"] != cad.Masked || cb.Vars["NOTE"] != "line 1\n\tline 2" || cb.Vars["order"] != "42" {
			t.Fatalf("created callback shows %v", cb.Vars)
		}
		if got, err := e.Callback(ctx, cb.ID); err != nil || got.Vars["CARD_NUMBER"] != cad.Masked {
			t.Fatalf("read callback shows %v (%v)", got.Vars, err)
		}
		if v, err := e.RevealCallbackVariable(ctx, cb.ID, "CARD_NUMBER", "supervisor:ops"); err != nil || v != card {
			t.Fatalf("reveal = %q, %v", v, err)
		}
		if _, err := e.RevealCallbackVariable(ctx, cb.ID, "order", "supervisor:ops"); !errors.Is(err, cad.ErrUnknownVariable) {
			t.Fatalf("reveal of a variable the queue does not define: %v", err)
		}
		audit, err := l.RDB.XRange(ctx, "tandem:v1:audit", "-", "+").Result()
		if err != nil || len(audit) != 1 {
			t.Fatalf("audit %v %v, want the one reveal", audit, err)
		}
		if a := audit[0].Values; a["kind"] != "reveal" || a["callback_id"] != cb.ID || a["name"] != "CARD_NUMBER" || a["who"] != "supervisor:ops" || a["actor"] != "supervisor:ops" || strings.Contains(a["name"].(string)+a["who"].(string), card) {
			t.Fatalf("audit entry %v", a)
		}

		l.PBX.SetPhone(l.Endpoint("1001"), pbxsim.Phone{Mode: pbxsim.Answer, RingFor: 300 * time.Millisecond})
		l.PBX.SetPhone(customer(l, number), answers)
		ix := callbackInteraction(t, l, cb.ID, acd.StateQueued)
		if _, err := e.Login(ctx, "a1", l.Endpoint("1001"), []string{"sales"}, nil); err != nil {
			t.Fatal(err)
		}
		desk, err := e.SubscribeAgent(ctx, "a1")
		if err != nil {
			t.Fatal(err)
		}
		if _, err := e.SetAvailable(ctx, "a1"); err != nil {
			t.Fatal(err)
		}
		pop := nextEvent(t, desk, "offered")
		shown := map[string]string{}
		for _, v := range pop.Variables {
			shown[v.Name] = v.Value
		}
		if shown["callback_id"] != cb.ID || shown["callback_number"] != number || shown["CARD_NUMBER"] != cad.Masked {
			t.Fatalf("screen pop shows %v, want callback_id %s, callback_number %s and the card masked", shown, cb.ID, number)
		}
		if pop.Attached["callback_id"] != cb.ID || pop.Attached["CARD_NUMBER"] != cad.Masked {
			t.Fatalf("pop's attached data %v", pop.Attached)
		}
		waitState(t, l, ix.ConnectionID, acd.StateConnected)
		waitCallback(t, l, cb.ID, callbacks.StateDone)
		if _, err := e.End(ctx, "a1"); err != nil {
			t.Fatal(err)
		}
		waitState(t, l, ix.ConnectionID, acd.StateEnded)
	})
}
