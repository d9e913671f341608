package config

import (
	"strings"
	"testing"
	"time"
)

func TestCallbackMaxAheadIsReadAndBounded(t *testing.T) {
	load := func(t *testing.T, yaml string) (Config, error) {
		t.Helper()
		clearEnv(t)
		return Load(flags(t, "--config", writeFile(t, "node_id: n\nqueues:\n  sales:\n"+yaml)))
	}
	c, err := load(t, "    callback:\n      max_ahead: 168h\n")
	if err != nil || c.Queues["sales"].Callback.MaxAhead != 7*24*time.Hour {
		t.Fatalf("max_ahead 168h: %v, %v", c.Queues["sales"].Callback.MaxAhead, err)
	}
	if q := c.EngineQueues()["sales"]; q.Callback.MaxAhead != 7*24*time.Hour {
		t.Fatalf("the engine's queue has max_ahead %v", q.Callback.MaxAhead)
	}
	c, err = load(t, "    record: false\n")
	if err != nil || c.Queues["sales"].Callback.MaxAhead != 0 {
		t.Fatalf("absent max_ahead: %v, %v (0 = the callbacks default)", c.Queues["sales"].Callback.MaxAhead, err)
	}
	for _, bad := range []string{"30m", "9000h", "-1h"} {
		_, err := load(t, "    callback:\n      max_ahead: "+bad+"\n")
		if err == nil || !strings.Contains(err.Error(), "callback.max_ahead") {
			t.Errorf("max_ahead %s: err %v, want it to name callback.max_ahead", bad, err)
		}
	}
}

func TestVariableTypeTextIsAccepted(t *testing.T) {
	clearEnv(t)
	c, err := Load(flags(t, "--config", writeFile(t, "node_id: n\nqueues:\n  sales:\n    variables:\n      - {name: NOTE, label: Note, type: text, editable: true}\n")))
	if err != nil || c.Queues["sales"].Variables[0].Type != "text" {
		t.Fatalf("type text: %+v, %v", c.Queues["sales"].Variables, err)
	}
}
