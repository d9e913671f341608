package api

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/tandem-cc/tandem/acd"
	"github.com/tandem-cc/tandem/agents"
	"github.com/tandem-cc/tandem/callbacks"
	"github.com/tandem-cc/tandem/errs"
)

// The fake core's side of the pages' reads (wallboard.go) and of the
// supervisor's change of queues.

// fakeQueues are the queues the fake core has configured.
var fakeQueues = []string{"sales", "support"}

func (f *fakeCore) Agents(context.Context) ([]acd.AgentListing, error) {
	if err := f.record("Agents()"); err != nil {
		return nil, err
	}
	return []acd.AgentListing{
		{ID: "1001", State: agents.Connected, Since: since, Queues: []string{"sales"}, Endpoint: "PJSIP/1001",
			Call: &acd.AgentCall{ConnectionID: "c-1", Queue: "sales", State: "held", Since: since.Add(-time.Minute)}},
		{ID: "1002", State: agents.Idle, Since: since, Reason: "lunch", Queues: []string{"support"}, Endpoint: "PJSIP/1002"},
	}, nil
}

func (f *fakeCore) Queues(ctx context.Context) ([]acd.QueueView, error) {
	if err := f.record("Queues()"); err != nil {
		return nil, err
	}
	var out []acd.QueueView
	for _, q := range fakeQueues {
		v := acd.QueueView{Name: q, Waiting: []acd.WaitingCall{}, Agents: map[agents.State][]string{agents.Available: {"1001"}},
			Stats: &acd.QueueStats{Answered: 3, ServiceLevel: 0.75}, PendingCallbacks: 2}
		if q == "sales" {
			v.Waiting = fakeWaiting()
		}
		out = append(out, v)
	}
	return out, nil
}

// fakeWaiting is the call waiting in the fake core's sales queue.
func fakeWaiting() []acd.WaitingCall {
	return []acd.WaitingCall{{ConnectionID: "c-2", ANI: "+15550000002", QueuedAt: since, WaitSeconds: 3}}
}

func (f *fakeCore) QueueHistory(_ context.Context, name string) (acd.QueueHistory, error) {
	if err := f.record("QueueHistory(%s)", name); err != nil {
		return acd.QueueHistory{}, err
	}
	if !strings.Contains(strings.Join(fakeQueues, " "), name) {
		return acd.QueueHistory{}, fmt.Errorf("queue %s: %w", name, errs.ErrNotFound)
	}
	return acd.QueueHistory{Queue: name, IntervalSeconds: 30, Samples: []acd.QueueSample{
		{At: since, Waiting: 2, ServiceLevel: 0.5}, {At: since.Add(30 * time.Second), Waiting: 1, ServiceLevel: 0.75},
	}}, nil
}

func (f *fakeCore) DesktopSettings() acd.DesktopSettings {
	_ = f.record("DesktopSettings()")
	return acd.DesktopSettings{
		IdleReasons: []string{"break", "lunch"},
		WrapUp:      acd.WrapUpSettings{Codes: []string{"resolved", "follow-up"}, DefaultCode: "resolved", TimeoutSeconds: 30},
		Queues: []acd.QueueDesktop{{Name: "sales", Variables: []acd.VariableDef{
			{Name: "ACCOUNT", Label: "Account", Type: "string", Order: 1, PopUp: true},
			{Name: "CARD", Label: "Card", Type: "string", Secure: true, Order: 2, PopUp: true},
		}}},
	}
}

func (f *fakeCore) Callbacks(context.Context) ([]callbacks.Callback, error) {
	if err := f.record("Callbacks()"); err != nil {
		return nil, err
	}
	web := fakeCallback("cb-1", callbacks.StatePending)
	web.Attempts = nil
	scheduled := fakeCallback("cb-2", callbacks.StateDialing)
	scheduled.Kind, scheduled.Created = callbacks.KindScheduled, since.Add(time.Minute)
	return []callbacks.Callback{web, scheduled}, nil
}

func (f *fakeCore) SetAgentQueues(_ context.Context, agent string, queues []string, reason, who string) (agents.Agent, error) {
	if err := f.record("SetAgentQueues(%s,%s,%s,%s)", agent, strings.Join(queues, "|"), reason, who); err != nil {
		return agents.Agent{}, err
	}
	return agents.Agent{ID: agent, State: agents.Available, Since: since, Queues: queues}, nil
}
