package pbxmux

import (
	"context"

	"github.com/tandem-cc/tandem/media"
)

// StartMedia plays items to a leg on its node. The playback is entered as
// that node's before the request: StopMedia must reach it, and its end
// may be reported before the request returns.
func (m *Mux) StartMedia(ctx context.Context, leg, playback string, items ...media.Media) error {
	p, node, err := m.onLeg("play", leg)
	if err != nil {
		return err
	}
	m.mu.Lock()
	m.where.playbacks[playback] = place{node: node, parent: leg}
	m.mu.Unlock()
	// Kept even if the request fails: a timeout may still have started it.
	// The entry goes with the playback's end or its leg's.
	return onNode(node, p.StartMedia(ctx, leg, playback, items...))
}

// StopMedia stops a playback on its node. One no node is known to play has
// ended (its PlaybackFinished, or its leg's end, was seen): nothing to stop.
func (m *Mux) StopMedia(ctx context.Context, playback string) error {
	m.mu.Lock()
	pl, ok := m.where.playbacks[playback]
	m.mu.Unlock()
	node := pl.node
	if !ok {
		node = m.sole()
	}
	if node == "" {
		return nil
	}
	return onNode(node, m.byName[node].StopMedia(ctx, playback))
}
