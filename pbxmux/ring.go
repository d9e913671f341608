package pbxmux

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"github.com/tandem-cc/tandem/acd"
)

// splitEndpoint reads "<node>/<dial string>". An endpoint whose first part
// is not a configured node ("PJSIP/1001") names no node: ok is false and
// dial is the endpoint as given.
func (m *Mux) splitEndpoint(endpoint string) (node, dial string, ok bool) {
	head, rest, found := strings.Cut(endpoint, "/")
	if found && m.byName[head] != nil && rest != "" {
		return head, rest, true
	}
	return "", endpoint, false
}

// ringRoute decides where a ring goes and what that node dials.
//
// The ring goes to the node of the leg it is rung for (RingRequest.
// Originator), when the mux knows it: the new leg and the caller's are then
// on one PBX and can be bridged, and the PBX links them (formats, CDR).
// Otherwise (a callback's first agent leg, an originator already gone) it
// goes to the endpoint's own node. An endpoint on another node than the
// ringing one is reached through the trunk configured from the ringing node
// to the endpoint's: the media crosses between the PBXs over that SIP
// trunk.
func (m *Mux) ringRoute(req acd.RingRequest) (node, dial string, err error) {
	epNode, dial, named := m.splitEndpoint(req.Endpoint)
	if req.Originator != "" {
		m.mu.Lock()
		if pl, ok := m.where.legs[req.Originator]; ok {
			node = pl.node
		}
		m.mu.Unlock()
	}
	switch {
	case node != "":
	case named:
		node = epNode
	case m.sole() != "":
		node = m.sole()
	default:
		return "", "", fmt.Errorf("pbxmux ring %s: endpoint %q: %w (write it as <node>/<dial string>, nodes %v)", req.Leg, req.Endpoint, ErrNoNode, m.Nodes())
	}
	if !named || epNode == node {
		return node, dial, nil
	}
	tpl, ok := m.trunks[node][epNode]
	if !ok {
		return "", "", fmt.Errorf("pbxmux ring %s to %s: %w: the call is on node %s, the endpoint on node %s, and no trunk from %s to %s is configured (pbx.trunks: {from: %s, to: %s})",
			req.Leg, req.Endpoint, ErrNoTrunk, node, epNode, node, epNode, node, epNode)
	}
	exten := dial[strings.LastIndex(dial, "/")+1:]
	return node, strings.NewReplacer("{exten}", exten, "{dial}", dial).Replace(tpl), nil
}

// Ring rings an endpoint on the node ringRoute chooses. The leg is entered
// as that node's before the request, since its events may come first.
func (m *Mux) Ring(ctx context.Context, req acd.RingRequest) error {
	node, dial, err := m.ringRoute(req)
	if err != nil {
		return err
	}
	if dial != req.Endpoint {
		m.log.Debug("ring across nodes", "leg", req.Leg, "endpoint", req.Endpoint, "pbx_node", node, "dial", dial)
	}
	req.Endpoint = dial
	m.mu.Lock()
	m.where.setLeg(req.Leg, node)
	m.mu.Unlock()
	err = m.byName[node].Ring(ctx, req)
	if err != nil && !errors.Is(err, acd.ErrRingUnknown) {
		// Refused: no leg (with ErrRingUnknown the driver owns a leg that
		// may still appear, and reports its end).
		m.mu.Lock()
		if m.where.legs[req.Leg].node == node {
			m.where.legEnded(req.Leg)
		}
		m.mu.Unlock()
	}
	return onNode(node, err)
}
