package pbxmux

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sync"

	"github.com/tandem-cc/tandem/acd"
)

// queued bounds the events taken from the drivers and not yet handled. A
// full queue holds the drivers' delivery goroutines back, as a slow
// handler does with one driver: nothing is dropped.
const queued = 1024

// runState is what one Run keeps about the nodes' first reports.
type runState struct {
	// initial names the nodes whose first Resynced has arrived;
	// delivered is set once the mux's own Initial went to the handler.
	initial   map[string]bool
	delivered bool
}

// Run runs every node's driver until ctx ends or one of them fails, and
// delivers their events to handle, one at a time, from one goroutine. Each
// driver's order is kept (so each leg's, as a leg lives on one node).
//
// Resynced: the engine reads Live as every leg the seat has, so the mux
// never passes a node's report on as it is. It delivers the union of the
// reporting node's Live and Bridges and what the other nodes have; the
// Initial report once every node has made its first one (Initial or not,
// see resyncedLocked) (the engine
// reconciles then, and its reconciliation reads the legs on every node);
// after that, each node's later report as a union with Initial false. A
// node's later report that comes before every node's first one is held
// back (entered, not delivered): the Initial that follows includes it.
//
// When one driver fails (its connection is lost for good, or it was
// fenced: ari.ErrReplaced), Run stops the others and returns the error
// wrapped with the node's name, errors.Is still finding the driver's
// sentinel. The others must stop: the engine stops when Run returns, and a
// driver left running would keep taking the seat's events (and keep its
// PBX's Stasis application) for an engine that no longer listens. Run
// returns only once every driver's Run has returned and handle is no
// longer called.
func (m *Mux) Run(ctx context.Context, handle func(acd.Event)) error {
	m.mu.Lock()
	if m.run != nil {
		m.mu.Unlock()
		return errors.New("pbxmux run: already running")
	}
	m.run = &runState{initial: map[string]bool{}}
	m.mu.Unlock()
	defer func() {
		m.mu.Lock()
		m.run = nil
		m.mu.Unlock()
	}()

	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	q := make(chan acd.Event, queued)
	// order makes "learn, then queue" one step per event across drivers:
	// a Resynced's union is computed from exactly the events queued
	// before it.
	var order sync.Mutex
	type result struct {
		node string
		err  error
	}
	results := make(chan result, len(m.nodes))
	for _, n := range m.nodes {
		go func() {
			err := n.PBX.Run(ctx, func(ev acd.Event) { m.receive(ctx, &order, q, n.Name, ev) })
			results <- result{n.Name, err}
		}()
	}
	delivered := make(chan struct{})
	go func() {
		defer close(delivered)
		for {
			select {
			case <-ctx.Done():
				return
			case ev := <-q:
				if ctx.Err() != nil {
					return
				}
				handle(ev)
			}
		}
	}()

	var first error
	for range m.nodes {
		r := <-results
		if first == nil {
			switch {
			case r.err != nil:
				first = fmt.Errorf("pbxmux node %s: %w", r.node, r.err)
			case ctx.Err() == nil:
				first = fmt.Errorf("pbxmux node %s: %w", r.node, ErrNodeStopped)
			}
			if first != nil {
				m.log.Error("a PBX node stopped; stopping the others", "pbx_node", r.node, "err", first)
			}
		}
		cancel()
	}
	<-delivered
	return first
}

// receive is each driver's handler: it learns where the event's legs are,
// then queues the event (a Resynced as the union, or not at all while
// held). It blocks while the queue is full, until ctx ends.
func (m *Mux) receive(ctx context.Context, order *sync.Mutex, q chan<- acd.Event, node string, ev acd.Event) {
	order.Lock()
	defer order.Unlock()
	m.mu.Lock()
	if leg, other := m.where.clash(node, ev); other != "" {
		// Routing is by leg id: two nodes must never name legs alike.
		// Asterisk ids are "<epoch>.<n>" unless systemname is set.
		m.log.Error("a leg id is on two PBX nodes; give every Asterisk node its own systemname (asterisk.conf)", "leg", leg, "pbx_node", node, "other_node", other)
	}
	m.where.learn(node, ev)
	out, ok := ev, true
	if r, isResync := ev.(acd.Resynced); isResync {
		out, ok = m.resyncedLocked(node, r)
	}
	m.mu.Unlock()
	if !ok {
		return
	}
	select {
	case q <- out:
	case <-ctx.Done():
	}
}

// resyncedLocked turns node's report into the one the engine gets, if any
// (see Run).
func (m *Mux) resyncedLocked(node string, r acd.Resynced) (acd.Event, bool) {
	st := m.run
	// A node's first report of this Run counts as its initial one even
	// without the flag: ari.Driver sets Initial on its first dial
	// attempt's read only, so a PBX unreachable when Run starts reports
	// its first read as a reconnect. Waiting for the flag would then hold
	// the engine's reconciliation back for ever.
	st.initial[node] = true
	initial := false
	if !st.delivered {
		if len(st.initial) < len(m.nodes) {
			m.log.Info("node resynced; waiting for every node's first report", "pbx_node", node, "reported", len(st.initial), "nodes", len(m.nodes))
			return nil, false
		}
		st.delivered, initial = true, true
	}
	legs, bridges := m.where.union(node, r)
	slices.Sort(legs)
	slices.Sort(bridges)
	return acd.Resynced{Live: slices.Compact(legs), Bridges: slices.Compact(bridges), Initial: initial}, true
}
