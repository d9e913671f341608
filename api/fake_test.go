package api

import (
	"context"
	"fmt"
	"strings"
	"sync"
	"time"

	"github.com/tandem-cc/tandem/acd"
	"github.com/tandem-cc/tandem/agents"
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
}

func newFakeCore() *fakeCore { return &fakeCore{subEnded: make(chan struct{})} }

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

func (f *fakeCore) Login(_ context.Context, id, endpoint string, queues []string) (agents.Agent, error) {
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

func (f *fakeCore) Agent(_ context.Context, id string) (agents.Agent, error) {
	if err := f.record("Agent(%s)", id); err != nil {
		return agents.Agent{}, err
	}
	return agents.Agent{ID: id, State: agents.Available, Since: since}, nil
}

func (f *fakeCore) Queue(_ context.Context, name string) (acd.QueueView, error) {
	if err := f.record("Queue(%s)", name); err != nil {
		return acd.QueueView{}, err
	}
	return acd.QueueView{Name: name, Agents: map[agents.State][]string{agents.Available: {"1001"}}}, nil
}

// SubscribeAgent honours the Core contract: the channel is closed when ctx
// ends, or after the events unless keepOpen.
func (f *fakeCore) SubscribeAgent(ctx context.Context, id string) (<-chan acd.AgentEvent, error) {
	if err := f.record("SubscribeAgent(%s)", id); err != nil {
		return nil, err
	}
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
	return ch, nil
}
