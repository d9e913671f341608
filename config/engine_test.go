package config

import (
	"encoding/json"
	"fmt"
	"reflect"
	"testing"
	"time"
)

// fill sets every settable leaf under v to a non-zero value distinct from
// the others (so a field copied into its neighbour shows), allocating
// pointers and giving slices and maps one element.
func fill(v reflect.Value, n *int) {
	*n++
	switch v.Kind() {
	case reflect.Struct:
		for i := range v.NumField() {
			if v.Type().Field(i).IsExported() {
				fill(v.Field(i), n)
			}
		}
	case reflect.Pointer:
		v.Set(reflect.New(v.Type().Elem()))
		fill(v.Elem(), n)
	case reflect.Slice:
		v.Set(reflect.MakeSlice(v.Type(), 1, 1))
		fill(v.Index(0), n)
	case reflect.Map:
		v.Set(reflect.MakeMap(v.Type()))
		key := reflect.New(v.Type().Key()).Elem()
		fill(key, n)
		elem := reflect.New(v.Type().Elem()).Elem()
		fill(elem, n)
		v.SetMapIndex(key, elem)
	case reflect.String:
		v.SetString(fmt.Sprintf("v%d", *n))
	case reflect.Bool:
		v.SetBool(true)
	case reflect.Int, reflect.Int64:
		v.SetInt(int64(*n)) // a time.Duration too: n nanoseconds
	default:
		panic(fmt.Sprintf("fill: no value for %s", v.Type()))
	}
}

// asJSON is v as generic JSON: config's types and the engine's name their
// fields alike (acd.OpeningHours embeds hours.Hours, which JSON flattens
// as config.Hours is flat), so the same settings read the same.
func asJSON(t *testing.T, v any) any {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	var out any
	if err := json.Unmarshal(b, &out); err != nil {
		t.Fatal(err)
	}
	return out
}

// The engine's settings are a translation of config's, field by field: a
// field added to one side and not the other, or left out of the
// translation, fails here (every field of the source is set).
func TestEngineSettingsCarryEveryField(t *testing.T) {
	n := 0
	var q Queue
	fill(reflect.ValueOf(&q).Elem(), &n)
	if got, want := asJSON(t, q.Engine()), asJSON(t, q); !reflect.DeepEqual(got, want) {
		t.Errorf("queue translated to\n%v\nwant\n%v", got, want)
	}
	var ivr IVR
	fill(reflect.ValueOf(&ivr).Elem(), &n)
	if got, want := asJSON(t, ivr.Engine()), asJSON(t, ivr); !reflect.DeepEqual(got, want) {
		t.Errorf("IVR translated to\n%v\nwant\n%v", got, want)
	}
	// A node's barge_in keeps its meaning (nil = true).
	no := false
	for _, tc := range []struct {
		bargeIn *bool
		want    bool
	}{{nil, true}, {&no, false}} {
		if got := (Node{BargeIn: tc.bargeIn}).engine().BargesIn(); got != tc.want {
			t.Errorf("barge_in %v: BargesIn = %v", tc.bargeIn, got)
		}
	}
}

func TestEngineQueuesApplyRoutingDefaults(t *testing.T) {
	c := valid()
	qs := c.EngineQueues()
	if len(qs) != len(c.Queues) {
		t.Fatalf("%d engine queues for %d configured", len(qs), len(c.Queues))
	}
	for name := range c.Queues {
		want, _ := c.QueueSettings(name)
		if got := qs[name]; got.RingTimeout != want.RingTimeout || got.Strategy != want.Strategy {
			t.Errorf("%s: ring timeout %v strategy %q, want %v %q", name, got.RingTimeout, got.Strategy, want.RingTimeout, want.Strategy)
		}
	}
	if qs["sales"].RingTimeout != c.Routing.RingTimeout || qs["support"].RingTimeout != 30*time.Second {
		t.Errorf("sales rings %v (routing %v), support %v", qs["sales"].RingTimeout, c.Routing.RingTimeout, qs["support"].RingTimeout)
	}
}
