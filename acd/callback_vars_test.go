package acd

import (
	"testing"

	"github.com/tandem-cc/tandem/callbacks"
)

// A record written before client input was checked may hold a
// callback_id of its own: the call serving it still carries Tandem's.
func TestCallbackVarsSetTandemsNamesOverTheRecords(t *testing.T) {
	cb := callbacks.Callback{ID: "cb-real", Number: "+12025550123",
		Vars: map[string]string{"callback_id": "evil", "callback_number": "+19005550100", "order": "42"}}
	got := callbackVars(cb)
	if got["callback_id"] != "cb-real" || got["callback_number"] != "+12025550123" || got["order"] != "42" || len(got) != 3 {
		t.Fatalf("callbackVars = %v", got)
	}
	if cb.Vars["callback_id"] != "evil" {
		t.Fatal("callbackVars changed the record's own map")
	}
}
