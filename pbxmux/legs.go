package pbxmux

import (
	"context"
	"errors"
	"fmt"

	"github.com/tandem-cc/tandem/acd"
)

// A leg-addressed command goes to the node that has the leg. A leg no node
// is known to have is treated as gone, without asking the PBXs: the mux
// learns every leg that exists from the events, Ring, Takeover and Resynced
// (a node's report lists every leg it still has, so a restarted mux finds
// the previous run's legs there before the engine asks about them). The
// answer is then what a driver gives for a gone leg: wrapped acd.ErrLegGone.
// Probing every node instead would send commands about one PBX's legs to
// the others, and the first node asked could answer for a leg it does not
// have. The exception is Hangup, which goes to every node (see there).
// With one node there is nothing to choose: every command goes to it,
// known or not.

// legNode is the node that has leg, "" if none is known to.
func (m *Mux) legNode(leg string) string {
	m.mu.Lock()
	defer m.mu.Unlock()
	if pl, ok := m.where.legs[leg]; ok {
		return pl.node
	}
	return m.sole()
}

// onLeg returns the driver and name of the node that has leg, or an error
// wrapping acd.ErrLegGone.
func (m *Mux) onLeg(what, leg string) (acd.PBX, string, error) {
	node := m.legNode(leg)
	if node == "" {
		return nil, "", fmt.Errorf("pbxmux %s %s: no PBX node has the leg: %w", what, leg, acd.ErrLegGone)
	}
	return m.byName[node], node, nil
}

// onNode wraps a driver's error with the node's name (errors.Is still sees
// the driver's sentinels: acd.ErrLegGone, acd.ErrRingUnknown).
func onNode(node string, err error) error {
	if err == nil {
		return nil
	}
	return fmt.Errorf("pbx node %s: %w", node, err)
}

// Answer answers an inbound leg on its node.
func (m *Mux) Answer(ctx context.Context, leg string) error {
	p, node, err := m.onLeg("answer", leg)
	if err != nil {
		return err
	}
	return onNode(node, p.Answer(ctx, leg))
}

// StartMusic starts music on hold on the leg's node.
func (m *Mux) StartMusic(ctx context.Context, leg, class string) error {
	p, node, err := m.onLeg("start music", leg)
	if err != nil {
		return err
	}
	return onNode(node, p.StartMusic(ctx, leg, class))
}

// StopMusic stops music on hold on the leg's node. An unknown leg is gone
// (the engine asks StopMusic to learn whether a leg is still there).
func (m *Mux) StopMusic(ctx context.Context, leg string) error {
	p, node, err := m.onLeg("stop music", leg)
	if err != nil {
		return err
	}
	return onNode(node, p.StopMusic(ctx, leg))
}

// Hangup ends a leg on its node. A leg of unknown node is hung up on every
// node: unlike the other commands, a hang-up is the one a gone leg takes
// as done, and leg ids are unique across nodes, so asking every node can
// neither end the wrong channel nor report a wrong answer. Treating it as
// gone instead left a leg a dead holder had just rung ringing on: a
// restarted replica takes the callback over and hangs its agent's leg up
// before any node's read lists that leg (FreeSWITCH's channel table lags
// behind a new channel), the agent is offered again, and their phone rings
// twice (chaos test with a FreeSWITCH node, sigkill and rolling).
func (m *Mux) Hangup(ctx context.Context, leg string, cause acd.HangupCause) error {
	p, node, err := m.onLeg("hangup", leg)
	if err == nil {
		return onNode(node, p.Hangup(ctx, leg, cause))
	}
	var errs []error
	for _, n := range m.nodes {
		if err := m.byName[n.Name].Hangup(ctx, leg, cause); err != nil {
			errs = append(errs, onNode(n.Name, err))
		}
	}
	return errors.Join(errs...)
}

// ContinueInDialplan hands a leg back to its node's dialplan.
func (m *Mux) ContinueInDialplan(ctx context.Context, leg string) error {
	p, node, err := m.onLeg("continue", leg)
	if err != nil {
		return err
	}
	return onNode(node, p.ContinueInDialplan(ctx, leg))
}
