package acd

import (
	"testing"

	"github.com/tandem-cc/tandem/cad"
	"github.com/tandem-cc/tandem/callbacks"
)

// A value declared secure by another queue (or a secure IVR node) is
// masked in a callback of a queue that does not define it, and may be
// revealed like the queue's own secure variables; a name secure nowhere is
// shown as given and cannot be revealed.
func TestCallbackVariableSecureInAnotherQueueIsMasked(t *testing.T) {
	e := &Engine{opts: Options{
		Queues: map[string]QueueSettings{
			"sales":   {Variables: []cad.Variable{{Name: "order", Type: "string"}}},
			"billing": {Variables: []cad.Variable{{Name: "CARD_NUMBER", Type: "string", Secure: true}}},
		},
		Policy: Policy{SecureNames: map[string]bool{"CARD_NUMBER": true, "ACCOUNT_PIN": true}},
	}}
	cb := callbacks.Callback{Queue: "sales", Vars: map[string]string{
		"CARD_NUMBER": "4111111111111111", "ACCOUNT_PIN": "1234", "order": "42", "note": "hi",
	}}
	got := e.masked(cb).Vars
	for _, name := range []string{"CARD_NUMBER", "ACCOUNT_PIN"} {
		if got[name] == cb.Vars[name] || got[name] == "" {
			t.Errorf("%s shown as %q: it is secure elsewhere and must be masked", name, got[name])
		}
	}
	if got["order"] != "42" || got["note"] != "hi" {
		t.Errorf("values secure nowhere changed: %v", got)
	}
	if cb.Vars["CARD_NUMBER"] != "4111111111111111" {
		t.Error("masked changed the caller's map")
	}
	defs := e.callbackVarDefs(cb)
	revealable := map[string]bool{}
	for _, d := range defs {
		revealable[d.Name] = true
	}
	if !revealable["CARD_NUMBER"] || !revealable["ACCOUNT_PIN"] || !revealable["order"] || revealable["note"] {
		t.Errorf("revealable names %v, want CARD_NUMBER, ACCOUNT_PIN and order", revealable)
	}
	if len(e.opts.Queues["sales"].Variables) != 1 {
		t.Error("callbackVarDefs changed the queue's definitions")
	}
}
