package pbxmux

import (
	"context"
	"errors"
	"fmt"

	"github.com/tandem-cc/tandem/acd"
)

// A bridge lives on one node: two PBXs share no mixing bridge, only a
// trunk, and a trunk is crossed by ringing through it (Ring), which makes
// the far party a leg on the caller's node. A bridge that would join legs
// of two nodes is refused (ErrCrossNode) before anything is sent, so no
// PBX is left with half a bridge.

// sameNode returns the one node that has every leg, or an error: wrapped
// acd.ErrLegGone for a leg no node has, ErrCrossNode for legs on two.
func (m *Mux) sameNode(what, bridge string, legs ...string) (string, error) {
	node, first := "", ""
	for _, l := range legs {
		n := m.legNode(l)
		switch {
		case n == "":
			return "", fmt.Errorf("pbxmux %s %s: leg %s: no PBX node has the leg: %w", what, bridge, l, acd.ErrLegGone)
		case node == "":
			node, first = n, l
		case n != node:
			return "", fmt.Errorf("pbxmux %s %s: %w: leg %s is on node %s, leg %s on node %s; a bridge is on one PBX (an agent on another node is rung through a trunk from the caller's node)",
				what, bridge, ErrCrossNode, first, node, l, n)
		}
	}
	return node, nil
}

// bridgeNode is the node of a bridge, "" if none is known; pending says
// the bridge was asked for with no legs and is not on any PBX yet.
func (m *Mux) bridgeNode(bridge string) (node string, pending bool) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if pl, ok := m.where.bridges[bridge]; ok {
		return pl.node, false
	}
	if m.where.pending[bridge] {
		return "", true
	}
	return m.sole(), false
}

// Bridge creates a bridge on the node of its legs. With several nodes, a
// bridge asked for with no legs (the engine creates the call's bridge,
// then adds legs) is made on the node of the first leg added to it.
func (m *Mux) Bridge(ctx context.Context, bridge string, legs ...string) error {
	var node string
	if len(legs) == 0 {
		if node = m.sole(); node == "" {
			m.mu.Lock()
			m.where.pending[bridge] = true
			m.mu.Unlock()
			return nil
		}
	} else {
		var err error
		if node, err = m.sameNode("bridge", bridge, legs...); err != nil {
			return err
		}
	}
	// Entered before the request: one that fails may still have made the
	// bridge (a timeout), and DestroyBridge must reach it.
	m.mu.Lock()
	m.where.setBridge(bridge, node)
	m.mu.Unlock()
	return onNode(node, m.byName[node].Bridge(ctx, bridge, legs...))
}

// AddToBridge joins a leg to a bridge on their node; a bridge still
// pending is made there now, with the leg.
func (m *Mux) AddToBridge(ctx context.Context, bridge, leg string) error {
	node, err := m.sameNode("add to bridge", bridge, leg)
	if err != nil {
		return err
	}
	bn, pending := m.bridgeNode(bridge)
	switch {
	case pending:
		m.mu.Lock()
		m.where.setBridge(bridge, node)
		m.mu.Unlock()
		return onNode(node, m.byName[node].Bridge(ctx, bridge, leg))
	case bn != "" && bn != node:
		return fmt.Errorf("pbxmux add to bridge %s: %w: bridge %s is on node %s, leg %s on node %s; a bridge is on one PBX (an agent on another node is rung through a trunk from the caller's node)",
			bridge, ErrCrossNode, bridge, bn, leg, node)
	}
	// An unknown bridge goes to the leg's node, which answers for it.
	return onNode(node, m.byName[node].AddToBridge(ctx, bridge, leg))
}

// RemoveFromBridge takes a leg out of a bridge on the bridge's node (or
// the leg's). Neither known: the leg is in no bridge, nothing to remove.
func (m *Mux) RemoveFromBridge(ctx context.Context, bridge, leg string) error {
	node, pending := m.bridgeNode(bridge)
	if pending {
		return nil
	}
	if node == "" {
		if node = m.legNode(leg); node == "" {
			return nil
		}
	}
	return onNode(node, m.byName[node].RemoveFromBridge(ctx, bridge, leg))
}

// DestroyBridge removes a bridge on its node. A bridge never made (pending)
// is only forgotten. A bridge the mux does not know the node of (it was
// made before a restart or a seat's hand-over, and emptied since, so no
// node's read listed it: Asterisk drops an empty bridge from the
// application's bridge_ids) is destroyed on every node: bridge ids are
// call ids, unique across nodes, and every driver takes an unknown bridge
// as destroyed already.
func (m *Mux) DestroyBridge(ctx context.Context, bridge string) error {
	node, pending := m.bridgeNode(bridge)
	if pending {
		m.mu.Lock()
		m.where.bridgeEnded(bridge)
		m.mu.Unlock()
		return nil
	}
	nodes := []string{node}
	if node == "" {
		nodes = nil
		for _, n := range m.nodes {
			nodes = append(nodes, n.Name)
		}
	}
	var errs []error
	for _, n := range nodes {
		if err := m.byName[n].DestroyBridge(ctx, bridge); err != nil {
			errs = append(errs, onNode(n, err))
		}
	}
	if err := errors.Join(errs...); err != nil {
		return err
	}
	m.mu.Lock()
	m.where.bridgeEnded(bridge)
	m.mu.Unlock()
	return nil
}

// StartRecording records a bridge on its node.
func (m *Mux) StartRecording(ctx context.Context, bridge, name string) error {
	node, pending := m.bridgeNode(bridge)
	switch {
	case pending:
		return fmt.Errorf("pbxmux record %s: bridge %s has no leg yet, so it is on no PBX node", name, bridge)
	case node == "":
		return fmt.Errorf("pbxmux record %s: no PBX node has bridge %s: %w", name, bridge, acd.ErrLegGone)
	}
	m.mu.Lock()
	m.where.recordings[name] = place{node: node, parent: bridge}
	m.mu.Unlock()
	err := m.byName[node].StartRecording(ctx, bridge, name)
	if err != nil {
		m.forgetRecording(name)
	}
	return onNode(node, err)
}

// recordingNode is the node recording name, "" if none is known.
func (m *Mux) recordingNode(name string) string {
	m.mu.Lock()
	defer m.mu.Unlock()
	if pl, ok := m.where.recordings[name]; ok {
		return pl.node
	}
	return m.sole()
}

func (m *Mux) forgetRecording(name string) {
	m.mu.Lock()
	delete(m.where.recordings, name)
	m.mu.Unlock()
}

// PauseRecording pauses a recording on its node. An unknown one ended with
// its bridge: wrapped acd.ErrLegGone, as a driver answers.
func (m *Mux) PauseRecording(ctx context.Context, name string) error {
	node := m.recordingNode(name)
	if node == "" {
		return fmt.Errorf("pbxmux pause recording %s: no PBX node has it: %w", name, acd.ErrLegGone)
	}
	return onNode(node, m.byName[node].PauseRecording(ctx, name))
}

// ResumeRecording resumes a recording on its node (see PauseRecording).
func (m *Mux) ResumeRecording(ctx context.Context, name string) error {
	node := m.recordingNode(name)
	if node == "" {
		return fmt.Errorf("pbxmux resume recording %s: no PBX node has it: %w", name, acd.ErrLegGone)
	}
	return onNode(node, m.byName[node].ResumeRecording(ctx, name))
}

// StopRecording stops a recording on its node; an unknown one has already
// ended, which is fine.
func (m *Mux) StopRecording(ctx context.Context, name string) error {
	node := m.recordingNode(name)
	if node == "" {
		return nil
	}
	if err := m.byName[node].StopRecording(ctx, name); err != nil {
		return onNode(node, err)
	}
	m.forgetRecording(name)
	return nil
}
