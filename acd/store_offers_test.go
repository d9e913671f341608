package acd

import (
	"context"
	"errors"
	"os"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/tandem-cc/tandem/agents"
	"github.com/tandem-cc/tandem/errs"
	"github.com/tandem-cc/tandem/internal/redistest"
)

// TestEveryOfferingMethodDeliversItsOffer: each store method that may make
// an offer, called where it makes one, hands it to the store's sink (the
// engine's delivery path) — the caller gets nothing it could drop. Each
// row sets a world up with the test helpers, then calls the method of the
// real Store (s.Store) and reads what the sink received.
func TestEveryOfferingMethodDeliversItsOffer(t *testing.T) {
	ctx := context.Background()
	cases := []struct {
		name string
		// policy of the store (wrap-up time); zero for none.
		policy Policy
		// setup builds the world; call runs the method under test.
		setup func(t *testing.T, s *tStore)
		call  func(s *Store) error
		// want is the delivered offer's call and agent; freed: whether the
		// step freed an agent (hand-off latency is measured from it).
		wantConn, wantAgent string
		freed               bool
	}{
		{
			name:     "Enqueue",
			setup:    func(t *testing.T, s *tStore) { loginAvailable(t, s, "a1", "sales"); arrive(t, s, "c1") },
			call:     func(s *Store) error { return s.Enqueue(ctx, "c1", "sales", 0) },
			wantConn: "c1", wantAgent: "a1",
		},
		{
			name:     "EnqueueWith",
			setup:    func(t *testing.T, s *tStore) { loginAvailable(t, s, "a1", "sales"); arrive(t, s, "c1") },
			call:     func(s *Store) error { return s.EnqueueWith(ctx, "c1", "sales", 0, nil) },
			wantConn: "c1", wantAgent: "a1",
		},
		{
			name:     "EnqueueCapped",
			setup:    func(t *testing.T, s *tStore) { loginAvailable(t, s, "a1", "sales"); arrive(t, s, "c1") },
			call:     func(s *Store) error { return s.EnqueueCapped(ctx, "c1", "sales", 0, nil, 5) },
			wantConn: "c1", wantAgent: "a1",
		},
		{
			name:     "EnqueueAt",
			setup:    func(t *testing.T, s *tStore) { loginAvailable(t, s, "a1", "sales"); arrive(t, s, "c1") },
			call:     func(s *Store) error { return s.EnqueueAt(ctx, "c1", "sales", 0, 9e13+1) },
			wantConn: "c1", wantAgent: "a1",
		},
		{
			name: "NoAnswer",
			setup: func(t *testing.T, s *tStore) {
				loginAvailable(t, s, "a1", "sales")
				mustOffer(t, arriveQueued(t, s, "c1", "sales", 0), "c1", "a1")
				loginAvailable(t, s, "a2", "sales")
			},
			call:     func(s *Store) error { return s.NoAnswer(ctx, "c1", "a1", "no_answer") },
			wantConn: "c1", wantAgent: "a2",
		},
		{
			// The offer never rang: the agent is available again and, the
			// call being back at the head of the queue, gets it again.
			name: "GiveBack",
			setup: func(t *testing.T, s *tStore) {
				loginAvailable(t, s, "a1", "sales")
				mustOffer(t, arriveQueued(t, s, "c1", "sales", 0), "c1", "a1")
			},
			call:     func(s *Store) error { return s.GiveBack(ctx, "c1", "takeover") },
			wantConn: "c1", wantAgent: "a1",
		},
		{
			name: "RingAllNoAnswer",
			setup: func(t *testing.T, s *tStore) {
				setRouting(t, s, "sales", QueueRouting{Strategy: StrategyRingAll})
				loginAvailable(t, s, "a1", "sales")
				mustOffer(t, arriveQueued(t, s, "c1", "sales", 0), "c1", "a1")
				loginAvailable(t, s, "a2", "sales")
			},
			call:     func(s *Store) error { return s.RingAllNoAnswer(ctx, "c1", "no_answer") },
			wantConn: "c1", wantAgent: "a2",
		},
		{
			name: "RingAllAnswered",
			setup: func(t *testing.T, s *tStore) {
				setRouting(t, s, "sales", QueueRouting{Strategy: StrategyRingAll})
				loginAvailable(t, s, "a1", "sales")
				loginAvailable(t, s, "a2", "sales")
				o := arriveQueued(t, s, "c1", "sales", 0)
				if o == nil || len(o.RingAll) != 1 {
					t.Fatalf("ring-all offer %+v", o)
				}
				arriveQueued(t, s, "c2", "sales", 0) // waits: both agents rung for c1
			},
			call: func(s *Store) error {
				// a1 or a2 answers: the other is released to c2.
				o, err := s.Interaction(ctx, "c1")
				if err != nil {
					return err
				}
				_, err = s.RingAllAnswered(ctx, "c1", o.Agent)
				return err
			},
			wantConn: "c2", freed: true,
		},
		{
			name: "Finish",
			setup: func(t *testing.T, s *tStore) {
				connectedCall(t, s, "c1", "a1", "sales")
				arriveQueued(t, s, "c2", "sales", 0)
			},
			call: func(s *Store) error {
				_, err := s.Finish(ctx, "c1", "hangup", "caller")
				return err
			},
			wantConn: "c2", wantAgent: "a1", freed: true,
		},
		{
			name: "Sweep",
			setup: func(t *testing.T, s *tStore) {
				arriveQueued(t, s, "c1", "sales", 0)
				// An agent made available by hand: the event that would
				// have routed the call was lost.
				if _, err := s.Login(ctx, "a1", "PJSIP/a1", []string{"sales"}, nil); err != nil {
					t.Fatal(err)
				}
				s.rdb.HSet(ctx, s.keys.Agent("a1"), "state", "available")
				s.rdb.ZAdd(ctx, s.keys.Available("sales"), redisZ("a1"))
			},
			call: func(s *Store) error {
				n, err := s.Sweep(ctx, "sales", 10)
				if err == nil && n != 1 {
					return errors.New("sweep made no offer")
				}
				return err
			},
			wantConn: "c1", wantAgent: "a1",
		},
		{
			name: "SetState",
			setup: func(t *testing.T, s *tStore) {
				arriveQueued(t, s, "c1", "sales", 0)
				if _, err := s.Login(ctx, "a1", "PJSIP/a1", []string{"sales"}, nil); err != nil {
					t.Fatal(err)
				}
			},
			call:     func(s *Store) error { return s.SetState(ctx, "a1", agents.EvAvailable, "") },
			wantConn: "c1", wantAgent: "a1",
		},
		{
			name:   "WrapUp",
			policy: Policy{WrapUp: time.Minute},
			setup:  inWrapUpWithCallWaiting,
			call: func(s *Store) error {
				_, err := s.WrapUp(ctx, "a1", "resolved")
				return err
			},
			wantConn: "c2", wantAgent: "a1",
		},
		{
			name:   "WrapUpTimeout",
			policy: Policy{WrapUp: time.Millisecond},
			setup:  inWrapUpWithCallWaiting,
			call: func(s *Store) error {
				return untilDue(func() error {
					_, err := s.WrapUpTimeout(ctx, "a1", "default")
					return err
				})
			},
			wantConn: "c2", wantAgent: "a1",
		},
		{
			name:   "ExpireWrapUps",
			policy: Policy{WrapUp: time.Millisecond},
			setup:  inWrapUpWithCallWaiting,
			call: func(s *Store) error {
				return untilDue(func() error {
					if err := s.ExpireWrapUps(ctx, "default", 10); err != nil {
						return err
					}
					if a, err := s.Agent(ctx, "a1"); err != nil || a.State == agents.WrapUp {
						return ErrNotDue // the script found nothing due yet
					}
					return nil
				})
			},
			wantConn: "c2", wantAgent: "a1",
		},
		{
			name: "AgentStep",
			setup: func(t *testing.T, s *tStore) {
				connectedCall(t, s, "c1", "a1", "sales")
				loginAvailable(t, s, "b", "sales")
				if _, err := s.ReserveAgent(ctx, "b", "c1", agents.Available); err != nil {
					t.Fatal(err)
				}
				arriveQueued(t, s, "c2", "sales", 0)
			},
			// The consulted agent, never connected, is free at once.
			call:     func(s *Store) error { return s.AgentStep(ctx, "b", "c1", StepDone) },
			wantConn: "c2", wantAgent: "b", freed: true,
		},
		{
			name: "TransferToQueue",
			setup: func(t *testing.T, s *tStore) {
				connectedCall(t, s, "c1", "a1", "sales")
				loginAvailable(t, s, "a2", "support")
			},
			call:     func(s *Store) error { return s.TransferToQueue(ctx, "c1", "support", "a1") },
			wantConn: "c1", wantAgent: "a2",
		},
		{
			name: "TransferToAgent",
			setup: func(t *testing.T, s *tStore) {
				connectedCall(t, s, "c1", "a1", "sales")
				loginAvailable(t, s, "a2", "support")
			},
			call:     func(s *Store) error { return s.TransferToAgent(ctx, "c1", "a2", "a1") },
			wantConn: "c1", wantAgent: "a2",
		},
		{
			name: "MoveQueue",
			setup: func(t *testing.T, s *tStore) {
				arriveQueued(t, s, "c1", "sales", 0)
				loginAvailable(t, s, "a2", "support")
			},
			call:     func(s *Store) error { return s.MoveQueue(ctx, "c1", "sales", "support", "overflow") },
			wantConn: "c1", wantAgent: "a2",
		},
		{
			name: "CallbackCancel",
			setup: func(t *testing.T, s *tStore) {
				arriveQueued(t, s, "c1", "sales", 0)
				if _, err := s.CallbackStart(ctx, "c1", "sales", 0); err != nil {
					t.Fatal(err)
				}
				// Out of the queue for the dialog: the agent waits.
				if o := loginAvailable(t, s, "a1", "sales"); o != nil {
					t.Fatalf("offered a call in its callback dialog: %+v", o)
				}
			},
			call:     func(s *Store) error { return s.CallbackCancel(ctx, "c1", "sales") },
			wantConn: "c1", wantAgent: "a1",
		},
	}
	covered := map[string]bool{}
	for _, tc := range cases {
		covered[tc.name] = true
		t.Run(tc.name, func(t *testing.T) {
			s := newTestStore(t, "n1").WithPolicy(tc.policy)
			tc.setup(t, s)
			s.got.take()
			if err := tc.call(s.Store); err != nil {
				t.Fatal(err)
			}
			s.got.mu.Lock()
			offers, freed := s.got.offers, s.got.freed
			s.got.mu.Unlock()
			if len(offers) != 1 {
				t.Fatalf("delivered %+v, want one offer", offers)
			}
			o := offers[0]
			if o.ConnectionID != tc.wantConn || (tc.wantAgent != "" && o.Agent != tc.wantAgent) || o.Endpoint != "PJSIP/"+o.Agent {
				t.Fatalf("delivered %+v, want %s to %s", o, tc.wantConn, tc.wantAgent)
			}
			if freed[0].IsZero() == tc.freed {
				t.Fatalf("freedAt %v, want set: %v", freed[0], tc.freed)
			}
			// Redis agrees: the call is offered to that agent, who is
			// reserved for it.
			if st := ixState(t, s, o.ConnectionID); st != "offered" {
				t.Fatalf("call %s is %s", o.ConnectionID, st)
			}
			if a, err := s.Agent(ctx, o.Agent); err != nil || a.State != agents.Reserved || a.ConnectionID != o.ConnectionID {
				t.Fatalf("agent %+v %v", a, err)
			}
		})
	}
	// Every method of Store that runs an offering script is in the table.
	for _, m := range offeringMethods(t) {
		if !covered[m] {
			t.Errorf("method %s may make an offer and has no row here", m)
		}
	}
}

// offeringMethods lists the exported Store methods whose source runs a
// script through runOffering (directly or through a helper that does).
func offeringMethods(t *testing.T) []string {
	t.Helper()
	var out []string
	for _, f := range []string{"store.go", "store_queue.go", "store_callback.go", "routing.go", "reconcile_store.go"} {
		src := readSource(t, f)
		for _, fn := range strings.Split(src, "\nfunc (s *Store) ")[1:] {
			name := fn[:strings.IndexAny(fn, "(")]
			body := fn[:strings.Index(fn, "\n}\n")+1]
			if name[0] < 'A' || name[0] > 'Z' {
				continue
			}
			if strings.Contains(body, "s.runOffering(") || strings.Contains(body, "s.enqueue(") ||
				strings.Contains(body, "s.wrapup(") || strings.Contains(body, "s.EnqueueWith(") || strings.Contains(body, "s.EnqueueCapped(") {
				out = append(out, name)
			}
		}
	}
	if len(out) < 10 {
		t.Fatalf("found only %v: the source scan is broken", out)
	}
	return out
}

// TestNoStoreMethodReturnsAnOffer: offers leave the store only through its
// sink. A method handing one back (an Offer, a pointer to one, a list)
// would let a caller drop it again.
func TestNoStoreMethodReturnsAnOffer(t *testing.T) {
	offer := reflect.TypeOf(Offer{})
	st := reflect.TypeOf(&Store{})
	for i := 0; i < st.NumMethod(); i++ {
		m := st.Method(i)
		for j := 0; j < m.Type.NumOut(); j++ {
			out := m.Type.Out(j)
			for out.Kind() == reflect.Pointer || out.Kind() == reflect.Slice {
				out = out.Elem()
			}
			if out == offer {
				t.Errorf("Store.%s returns %s", m.Name, m.Type.Out(j))
			}
		}
	}
}

// TestStoreWithoutSinkMakesNoOffer: a store nobody delivers for (not the
// engine's) refuses the scripts that may make an offer, before running
// them: the agent stays available, the call is not queued.
func TestStoreWithoutSinkMakesNoOffer(t *testing.T) {
	ctx := context.Background()
	rdb := redistest.Client(t)
	s := newTStore(rdb, "t", "n1")
	loginAvailable(t, s, "a1", "sales")
	bare := NewStore(rdb, "t", "n1")
	if _, err := bare.Arrive(ctx, "c1", "leg", "1", "2", nil); err != nil {
		t.Fatal(err)
	}
	if err := bare.Enqueue(ctx, "c1", "sales", 0); !errors.Is(err, errNoSink) {
		t.Fatalf("enqueue without a sink: %v", err)
	}
	if st := agentState(t, s, "a1"); st != agents.Available {
		t.Fatalf("agent %s", st)
	}
	if st := ixState(t, s, "c1"); st != "arrived" && st != "" {
		t.Fatalf("call %s", st)
	}
}

func arrive(t *testing.T, s *tStore, conn string) {
	t.Helper()
	if _, err := s.Arrive(context.Background(), conn, conn+"-leg", "5551000", "800", nil); err != nil {
		t.Fatal(err)
	}
}

func mustOffer(t *testing.T, o *Offer, conn, agent string) {
	t.Helper()
	if o == nil || o.ConnectionID != conn || o.Agent != agent {
		t.Fatalf("offer %+v, want %s to %s", o, conn, agent)
	}
}

// inWrapUpWithCallWaiting: a1 ended c1 and is in wrap-up; c2 waits.
func inWrapUpWithCallWaiting(t *testing.T, s *tStore) {
	t.Helper()
	connectedCall(t, s, "c1", "a1", "sales")
	if _, _, err := s.Finish(context.Background(), "c1", "hangup", "caller"); err != nil {
		t.Fatal(err)
	}
	if st := agentState(t, s, "a1"); st != agents.WrapUp {
		t.Fatalf("a1 %s", st)
	}
	arriveQueued(t, s, "c2", "sales", 0)
}

// untilDue retries a step refused as not due yet (Redis time has not
// passed a 1 ms wrap-up): it waits on Redis's clock, not on a guess.
func untilDue(step func() error) error {
	for {
		err := step()
		if !errors.Is(err, ErrNotDue) {
			return err
		}
		time.Sleep(time.Millisecond)
	}
}

func readSource(t *testing.T, name string) string {
	t.Helper()
	b, err := os.ReadFile(name)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// TestWrongReplyShapeIsAnErrorNamingTheScript: replies Redis really gives
// (a script run by EVAL here) but of a shape the Go side does not expect
// are errors naming the script, and deliver nothing.
func TestWrongReplyShapeIsAnErrorNamingTheScript(t *testing.T) {
	ctx := context.Background()
	s := newTestStore(t, "n1")
	cases := []struct {
		lua  string
		read func(v any) error
		name string
	}{
		{"return 1", func(v any) error { _, err := s.headAndOffer(ctx, scriptFinish, v, time.Time{}); return err }, "finish"},
		{"return {{1}}", func(v any) error { _, err := s.headAndOffer(ctx, scriptWrapUp, v, time.Time{}); return err }, "wrapup"},
		{"return {'ended', 'c2', 'a1', 'PJSIP/a1', 'first'}", func(v any) error {
			_, err := s.headAndOffer(ctx, scriptFinish, v, time.Time{})
			return err
		}, "finish"},
		{"return {'c2', 'a1', {}, '1'}", func(v any) error { return s.deliverList(ctx, scriptEnqueue, v, 0, time.Time{}) }, "enqueue"},
		{"return {{'c2', 'a1', 'PJSIP/a1', '1'}, 7}", func(v any) error { return s.deliverEach(ctx, scriptSweep, v, 0, time.Time{}) }, "sweep"},
		{"return {'PJSIP/a1'}", func(v any) error { return s.deliverTransfer(ctx, v, "c1", "a1") }, "transfer_agent"},
		{"return {1, {}}", func(v any) error { _, err := s.ringReleased(ctx, v, time.Time{}); return err }, "ring_answered"},
	}
	for _, tc := range cases {
		v, err := s.rdb.Eval(ctx, tc.lua, nil).Result()
		if err != nil {
			t.Fatal(err)
		}
		s.got.take()
		err = tc.read(v)
		if !errors.Is(err, errs.ErrBadReply) || !strings.Contains(err.Error(), "script "+tc.name) {
			t.Errorf("%s read as %s: %v", tc.lua, tc.name, err)
		}
		// The sweep row's first offer is well formed and delivered; the
		// bad one after it is reported.
		if got := s.got.take(); len(got) > 0 && tc.name != "sweep" {
			t.Errorf("%s: delivered %+v", tc.lua, got)
		}
	}
}
