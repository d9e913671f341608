package api

import (
	"context"
	"fmt"
	"strings"
	"sync"
	"time"

	"github.com/tandem-cc/tandem/acd"
	"github.com/tandem-cc/tandem/agents"
	"github.com/tandem-cc/tandem/cad"
	"github.com/tandem-cc/tandem/callbacks"
)

// fakeCore is an in-memory Core that records every call. err, when set,
// is returned by every method; events feeds SubscribeAgent.
type fakeCore struct {
	mu     sync.Mutex
	calls  []string
	err    error
	events []acd.AgentEvent
	// keepOpen leaves the subscription open after events until ctx ends.
	keepOpen bool
	// subEnded is closed when a subscription's context ends.
	subEnded chan struct{}

	// merged makes RequestCallback answer as merged into a live callback;
	// cbState is the state Callback reads (pending when ""); cancelErr,
	// when set, is returned by CancelCallback alone (after err).
	merged    bool
	cbState   callbacks.State
	cancelErr error
	// offer, when set, is the screen pop AgentView attaches (guarded by
	// mu: see setOffer).
	offer *acd.AgentEvent
}

func newFakeCore() *fakeCore { return &fakeCore{subEnded: make(chan struct{})} }

// setOffer sets the offer AgentView attaches (nil: none pending).
func (f *fakeCore) setOffer(o *acd.AgentEvent) {
	f.mu.Lock()
	f.offer = o
	f.mu.Unlock()
}

func (f *fakeCore) record(format string, args ...any) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.calls = append(f.calls, fmt.Sprintf(format, args...))
	return f.err
}

func (f *fakeCore) Calls() []string {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]string(nil), f.calls...)
}

var since = time.Date(2025, 1, 2, 3, 4, 5, 0, time.UTC)

func (f *fakeCore) Login(_ context.Context, id, endpoint string, queues []string, _ map[string]int) (agents.Agent, error) {
	if err := f.record("Login(%s,%s,%s)", id, endpoint, strings.Join(queues, "|")); err != nil {
		return agents.Agent{}, err
	}
	return agents.Agent{ID: id, Endpoint: endpoint, Queues: queues, State: agents.Idle, Since: since}, nil
}

func (f *fakeCore) SetAvailable(_ context.Context, id string) (agents.Agent, error) {
	if err := f.record("SetAvailable(%s)", id); err != nil {
		return agents.Agent{}, err
	}
	return agents.Agent{ID: id, State: agents.Available, Since: since}, nil
}

func (f *fakeCore) SetIdle(_ context.Context, id, reason string) (agents.Agent, error) {
	if err := f.record("SetIdle(%s,%s)", id, reason); err != nil {
		return agents.Agent{}, err
	}
	return agents.Agent{ID: id, State: agents.Idle, Reason: reason, Since: since}, nil
}

func (f *fakeCore) Logout(_ context.Context, id string) (agents.Agent, error) {
	if err := f.record("Logout(%s)", id); err != nil {
		return agents.Agent{}, err
	}
	return agents.Agent{ID: id, State: agents.LoggedOut, Since: since}, nil
}

// AgentView answers the agent available, or, with offer set, ringing for
// the offer's call with the offer attached.
func (f *fakeCore) AgentView(_ context.Context, id string) (acd.AgentView, error) {
	if err := f.record("AgentView(%s)", id); err != nil {
		return acd.AgentView{}, err
	}
	f.mu.Lock()
	offer := f.offer
	f.mu.Unlock()
	if offer != nil {
		o := *offer
		o.Agent = id
		a := agents.Agent{ID: id, State: agents.Ringing, Since: since, ConnectionID: o.ConnectionID, Queues: []string{o.Queue}}
		return acd.AgentView{Agent: a, Offer: &o}, nil
	}
	return acd.AgentView{Agent: agents.Agent{ID: id, State: agents.Available, Since: since}}, nil
}

func (f *fakeCore) Queue(_ context.Context, name string) (acd.QueueView, error) {
	if err := f.record("Queue(%s)", name); err != nil {
		return acd.QueueView{}, err
	}
	return acd.QueueView{Name: name, Waiting: fakeWaiting(), Agents: map[agents.State][]string{agents.Available: {"1001"}}}, nil
}

// SubscribeAgent honours the Core contract: the channel is closed when ctx
// ends, or after the events unless keepOpen.
func (f *fakeCore) SubscribeAgent(ctx context.Context, id string) (<-chan acd.AgentEvent, error) {
	if err := f.record("SubscribeAgent(%s)", id); err != nil {
		return nil, err
	}
	return f.feed(ctx), nil
}

// SubscribeSupervisor is SubscribeAgent for every agent: the same events.
func (f *fakeCore) SubscribeSupervisor(ctx context.Context) (<-chan acd.AgentEvent, error) {
	if err := f.record("SubscribeSupervisor()"); err != nil {
		return nil, err
	}
	return f.feed(ctx), nil
}

// fakeCall is the call every call-control method answers, with the state
// the step would leave it in.
func fakeCall(state string) acd.CallView {
	return acd.CallView{ConnectionID: "c-1", State: state, Role: "owner", ANI: "+12025550123", DNIS: "5551000", Queue: "sales"}
}

func (f *fakeCore) callStep(state, format string, args ...any) (acd.CallView, error) {
	if err := f.record(format, args...); err != nil {
		return acd.CallView{}, err
	}
	return fakeCall(state), nil
}

func (f *fakeCore) Call(_ context.Context, id string) (acd.CallView, error) {
	return f.callStep("connected", "Call(%s)", id)
}

func (f *fakeCore) Hold(_ context.Context, id string) (acd.CallView, error) {
	c, err := f.callStep("held", "Hold(%s)", id)
	c.CustomerHeld = err == nil
	return c, err
}

func (f *fakeCore) Resume(_ context.Context, id string) (acd.CallView, error) {
	return f.callStep("connected", "Resume(%s)", id)
}

func (f *fakeCore) Consult(_ context.Context, id string, t acd.Target) (acd.CallView, error) {
	c, err := f.callStep("consulting", "Consult(%s,%s:%s)", id, t.Kind, t.Value)
	if err == nil {
		c.Consult = &acd.ConsultView{Target: t, State: "ringing"}
	}
	return c, err
}

func (f *fakeCore) EndConsult(_ context.Context, id string) (acd.CallView, error) {
	return f.callStep("held", "EndConsult(%s)", id)
}

func (f *fakeCore) Transfer(_ context.Context, id string, t acd.Target) (acd.CallView, error) {
	return f.callStep("transferred", "Transfer(%s,%s:%s)", id, t.Kind, t.Value)
}

func (f *fakeCore) CompleteTransfer(_ context.Context, id string) (acd.CallView, error) {
	return f.callStep("transferred", "CompleteTransfer(%s)", id)
}

func (f *fakeCore) Conference(_ context.Context, id string) (acd.CallView, error) {
	return f.callStep("conferenced", "Conference(%s)", id)
}

func (f *fakeCore) End(_ context.Context, id string) (acd.CallView, error) {
	return f.callStep("ended", "End(%s)", id)
}

func (f *fakeCore) WrapUp(_ context.Context, id, code string) (agents.Agent, error) {
	if err := f.record("WrapUp(%s,%s)", id, code); err != nil {
		return agents.Agent{}, err
	}
	return agents.Agent{ID: id, State: agents.Available, Since: since}, nil
}

func (f *fakeCore) PauseRecording(_ context.Context, id string, privacy bool) (acd.CallView, error) {
	c, err := f.callStep("connected", "PauseRecording(%s,%t)", id, privacy)
	if err == nil {
		c.Recording = &acd.RecordingView{Name: "rec-c-1", Active: true, Paused: true, Privacy: privacy}
	}
	return c, err
}

func (f *fakeCore) ResumeRecording(_ context.Context, id string) (acd.CallView, error) {
	c, err := f.callStep("connected", "ResumeRecording(%s)", id)
	if err == nil {
		c.Recording = &acd.RecordingView{Name: "rec-c-1", Active: true}
	}
	return c, err
}

// fakeView is the call's variables at version.
func fakeView(version int64, balance string) cad.View {
	return cad.View{ConnectionID: "c-1", Version: version, Values: []cad.Value{
		{Name: "CUSTOMER_ID", Label: "Customer", Type: "string", Value: "C-42", Order: 1, PopUp: true},
		{Name: "BALANCE", Label: "Balance", Type: "number", Value: balance, Editable: true, Order: 2},
		{Name: "CARD", Label: "Card", Type: "string", Value: cad.Masked, Secure: true, Order: 3},
	}}
}

func (f *fakeCore) Variables(_ context.Context, id string) (cad.View, error) {
	if err := f.record("Variables(%s)", id); err != nil {
		return cad.View{}, err
	}
	return fakeView(3, "10"), nil
}

func (f *fakeCore) EditVariable(_ context.Context, id, name, value string, version int64) (cad.View, error) {
	if err := f.record("EditVariable(%s,%s,%s,%d)", id, name, value, version); err != nil {
		return cad.View{}, err
	}
	return fakeView(version+1, value), nil
}

func (f *fakeCore) RevealVariable(_ context.Context, actor, id, name string) (string, error) {
	if err := f.record("RevealVariable(%s,%s,%s)", actor, id, name); err != nil {
		return "", err
	}
	return "4111111111111111", nil
}

// feed returns a channel of f.events, closed when ctx ends or, unless
// keepOpen, after the events.
func (f *fakeCore) feed(ctx context.Context) <-chan acd.AgentEvent {
	ch := make(chan acd.AgentEvent)
	go func() {
		defer close(ch)
		defer close(f.subEnded)
		for _, ev := range f.events {
			select {
			case ch <- ev:
			case <-ctx.Done():
				return
			}
		}
		if f.keepOpen {
			<-ctx.Done()
		}
	}()
	return ch
}

// fakeCallback is a callback as the core would return it, lease internals
// filled in with values a test can look for in the JSON.
func fakeCallback(id string, state callbacks.State) callbacks.Callback {
	return callbacks.Callback{
		ID: id, Queue: "sales", Number: "+12025550123", Name: "Ann", Vars: map[string]string{"order": "42"},
		Kind: callbacks.KindWeb, State: state, Score: 1234.5,
		Due:         since.Add(time.Hour),
		Attempts:    []callbacks.Attempt{{At: since.Add(30 * time.Minute), Outcome: callbacks.OutcomeNoAnswer, Node: "node-a"}},
		MaxAttempts: 3, RetryDelay: 5 * time.Minute, Created: since,
		Node: "LEASE-NODE", LeaseExpires: since.Add(2 * time.Hour), DialStarted: 2,
		DialLeg: "LEASE-DIAL-LEG", DialOwner: "LEASE-DIAL-OWNER", Conn: "LEASE-CONN", AgentLeg: "LEASE-AGENT-LEG",
		CallerID: "+12025550100", DNIS: "5551000", TimeZone: "America/New_York", Media: "recording:msg-1",
	}
}

// stamp is t for a recorded call: RFC 3339 in UTC, "-" when zero.
func stamp(t time.Time) string {
	if t.IsZero() {
		return "-"
	}
	return t.UTC().Format(time.RFC3339)
}

func (f *fakeCore) RequestCallback(_ context.Context, r acd.CallbackRequest) (callbacks.Callback, bool, error) {
	if err := f.record("RequestCallback(%s,%s,%s,%v,%s,%s,%s)", r.Queue, r.Number, r.Name, r.Vars,
		stamp(r.EarliestAt), stamp(r.WindowEnd), r.TimeZone); err != nil {
		return callbacks.Callback{}, false, err
	}
	cb := fakeCallback("cb-1", callbacks.StatePending)
	cb.Queue, cb.Name, cb.Vars, cb.TimeZone, cb.Attempts = r.Queue, r.Name, r.Vars, r.TimeZone, nil
	cb.Node, cb.LeaseExpires, cb.DialStarted, cb.DialLeg, cb.DialOwner, cb.Conn, cb.AgentLeg = "", time.Time{}, 0, "", "", "", ""
	if !r.EarliestAt.IsZero() || !r.WindowEnd.IsZero() {
		cb.Kind = callbacks.KindScheduled
	}
	if !r.EarliestAt.IsZero() {
		cb.Due = r.EarliestAt
	}
	cb.WindowEnd = r.WindowEnd
	return cb, f.merged, nil
}

func (f *fakeCore) Callback(_ context.Context, id string) (callbacks.Callback, error) {
	if err := f.record("Callback(%s)", id); err != nil {
		return callbacks.Callback{}, err
	}
	state := f.cbState
	if state == "" {
		state = callbacks.StatePending
	}
	return fakeCallback(id, state), nil
}

func (f *fakeCore) CancelCallback(_ context.Context, id string) (callbacks.Callback, error) {
	if err := f.record("CancelCallback(%s)", id); err != nil {
		return callbacks.Callback{}, err
	}
	if f.cancelErr != nil {
		return callbacks.Callback{}, f.cancelErr
	}
	cb := fakeCallback(id, callbacks.StateCancelled)
	cb.Ended = since.Add(10 * time.Minute)
	return cb, nil
}

func (f *fakeCore) CallbackFlow(_ context.Context, conn, op, queue, number, media string) (acd.CallView, error) {
	c, err := f.callStep("callback_"+op, "CallbackFlow(%s,%s,%s,%s,%s)", conn, op, queue, number, media)
	c.ConnectionID = conn
	if err == nil && op == acd.FlowRegister {
		c.CallbackID = "cb-1"
	}
	return c, err
}

func (f *fakeCore) RevealCallbackVariable(_ context.Context, id, name, who string) (string, error) {
	if err := f.record("RevealCallbackVariable(%s,%s,%s)", id, name, who); err != nil {
		return "", err
	}
	return "4111111111111111", nil
}

func (f *fakeCore) AcceptCallback(_ context.Context, id string) (acd.CallView, error) {
	c, err := f.callStep("dialing", "AcceptCallback(%s)", id)
	c.Agent = id
	return c, err
}
