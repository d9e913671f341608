package acd

import "testing"

// TestReconcileDecisionTable is the reconciliation table (state × what
// the PBX has of the legs → what the call becomes), row by row, in the
// style of the machines' table tests; then every combination of facts is
// run to check the table's two promises: a caller who is gone is never
// kept waiting or talking (abandoned before an agent had them, ended
// after), and every state a seat's live call can be in is rebuilt (never
// failed).
func TestReconcileDecisionTable(t *testing.T) {
	rows := []struct {
		f    reconcileFacts
		want reconcileAction
	}{
		// The caller left while nobody listened.
		{reconcileFacts{State: StateArrived, Caller: legGone}, rcAbandon},
		{reconcileFacts{State: StateQueued, Caller: legGone}, rcAbandon},
		{reconcileFacts{State: StateCallback, Caller: legGone}, rcAbandon},
		{reconcileFacts{State: StateOffered, Caller: legGone, Agent: legRinging, Rang: true}, rcAbandon},
		{reconcileFacts{State: StateOffered, Caller: legGone, Agent: legUp, Rang: true}, rcAbandon},
		{reconcileFacts{State: StateOffered, Caller: legNone, Agent: legNone}, rcAbandon},
		{reconcileFacts{State: StateConnected, Caller: legGone, Agent: legUp, Rang: true}, rcEndByCaller},
		{reconcileFacts{State: StateConnected, Caller: legGone, Agent: legGone, Rang: true}, rcEndByCaller},
		// The caller is there.
		{reconcileFacts{State: StateArrived, Caller: legUp}, rcRestart},
		{reconcileFacts{State: StateQueued, Caller: legUp}, rcWait},
		{reconcileFacts{State: StateCallback, Caller: legUp}, rcCancelDialog},
		{reconcileFacts{State: StateOffered, Caller: legUp, Agent: legUp, Rang: true}, rcConnect},
		{reconcileFacts{State: StateOffered, Caller: legUp, Agent: legRinging, Rang: true}, rcRing},
		{reconcileFacts{State: StateOffered, Caller: legUp, Agent: legGone, Rang: true}, rcRONA},
		{reconcileFacts{State: StateOffered, Caller: legUp, Agent: legNone, Rang: false}, rcGiveBack},
		{reconcileFacts{State: StateConnected, Caller: legUp, Agent: legUp, Rang: true}, rcTalk},
		{reconcileFacts{State: StateConnected, Caller: legUp, Agent: legGone, Rang: true}, rcEndByAgent},
		{reconcileFacts{State: StateConnected, Caller: legUp, Agent: legNone}, rcEndByAgent},
		// A caller leg present but not answered (the previous holder
		// stopped between arrival and answer) counts as present.
		{reconcileFacts{State: StateArrived, Caller: legRinging}, rcRestart},
		// States a live call of a seat is never in.
		{reconcileFacts{State: StateEnded, Caller: legUp}, rcFail},
		{reconcileFacts{State: "", Caller: legUp}, rcFail},
	}
	for _, r := range rows {
		if got := decideReconcile(r.f); got != r.want {
			t.Errorf("%+v: got %s, want %s", r.f, got, r.want)
		}
	}
	live := []string{StateArrived, StateQueued, StateCallback, StateOffered, StateConnected}
	legs := []legFact{legNone, legGone, legRinging, legUp}
	for _, st := range live {
		for _, caller := range legs {
			for _, agent := range legs {
				for _, rang := range []bool{false, true} {
					f := reconcileFacts{State: st, Caller: caller, Agent: agent, Rang: rang}
					got := decideReconcile(f)
					callerGone := caller == legGone || caller == legNone
					switch {
					case got == rcFail:
						t.Errorf("%+v: a live state is failed", f)
					case callerGone && got != rcAbandon && got != rcEndByCaller:
						t.Errorf("%+v: caller gone, got %s", f, got)
					case callerGone && (got == rcEndByCaller) != (st == StateConnected):
						t.Errorf("%+v: caller gone, got %s (ended only once connected)", f, got)
					case !callerGone && (got == rcAbandon || got == rcEndByCaller):
						t.Errorf("%+v: caller there, got %s", f, got)
					}
				}
			}
		}
	}
}

// TestTandemLegNames: a leftover leg is hung up (not sent to the
// dialplan) only if its id is one Tandem chose for a leg it rang.
func TestTandemLegNames(t *testing.T) {
	conn := "0b7c1f2e-8d3a-4c5b-9e6f-7a8b9c0d1e2f"
	for id, want := range map[string]bool{
		conn + "-a1": true, conn + "-c2": true, conn: false, "1733312345.42": false, "leg-1": false, "": false,
	} {
		if got := tandemLeg(id); got != want {
			t.Errorf("tandemLeg(%q) = %v, want %v", id, got, want)
		}
	}
}
