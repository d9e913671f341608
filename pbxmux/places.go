package pbxmux

import "github.com/tandem-cc/tandem/acd"

// places is where each object the engine names lives: which node has a
// leg, a bridge, a playback, a recording. Guarded by Mux.mu.
//
// Entries are removed when the object's end is seen (a leg's LegHungUp or
// RingFailed, a playback's PlaybackFinished, DestroyBridge, StopRecording)
// and, for legs and bridges whose end happened while a node's socket was
// down, at that node's resyncs: an entry made before the node's previous
// Resynced and missing from its new one is gone. (Not one resync earlier:
// the driver's read for a Resynced may predate a leg rung just before the
// report arrived.)
type places struct {
	legs    map[string]place
	bridges map[string]place
	// pending are bridges created with no legs while there are several
	// nodes: no node is known yet, so the bridge is made on the node of
	// the first leg added to it (AddToBridge).
	pending    map[string]bool
	playbacks  map[string]place // parent: the leg it plays on
	recordings map[string]place // parent: the bridge it records
	// gen counts the Resynced reports received from each node: an entry
	// is stamped with its node's count when it is made.
	gen map[string]uint64
}

// place is a node, and when the entry was made (the node's resync count).
type place struct {
	node   string
	gen    uint64
	parent string
}

func newPlaces() *places {
	return &places{legs: map[string]place{}, bridges: map[string]place{}, pending: map[string]bool{},
		playbacks: map[string]place{}, recordings: map[string]place{}, gen: map[string]uint64{}}
}

func (p *places) at(node string) place { return place{node: node, gen: p.gen[node]} }

func (p *places) setLeg(leg, node string) { p.legs[leg] = p.at(node) }

func (p *places) setBridge(bridge, node string) {
	delete(p.pending, bridge)
	p.bridges[bridge] = p.at(node)
}

// legEnded forgets a leg and the playbacks on it.
func (p *places) legEnded(leg string) {
	delete(p.legs, leg)
	for id, pl := range p.playbacks {
		if pl.parent == leg {
			delete(p.playbacks, id)
		}
	}
}

// bridgeEnded forgets a bridge and the recordings of it.
func (p *places) bridgeEnded(bridge string) {
	delete(p.bridges, bridge)
	delete(p.pending, bridge)
	for name, pl := range p.recordings {
		if pl.parent == bridge {
			delete(p.recordings, name)
		}
	}
}

// learn records what a node's event says about where legs live.
func (p *places) learn(node string, ev acd.Event) {
	switch e := ev.(type) {
	case acd.CallArrived:
		p.setLeg(e.Leg, node)
	case acd.StrayArrived:
		p.setLeg(e.Leg, node)
	case acd.LegAnswered:
		p.setLeg(e.Leg, node)
	case acd.DTMFReceived:
		p.setLeg(e.Leg, node)
	case acd.RingFailed:
		p.legEnded(e.Leg)
	case acd.LegHungUp:
		p.legEnded(e.Leg)
	case acd.PlaybackFinished:
		delete(p.playbacks, e.Playback)
	case acd.Resynced:
		p.resynced(node, e)
	}
}

// clash names an arriving leg that another node is known to have, and that
// node.
func (p *places) clash(node string, ev acd.Event) (leg, other string) {
	switch e := ev.(type) {
	case acd.CallArrived:
		leg = e.Leg
	case acd.StrayArrived:
		leg = e.Leg
	default:
		return "", ""
	}
	if pl, ok := p.legs[leg]; ok && pl.node != node {
		return leg, pl.node
	}
	return "", ""
}

// resynced enters a node's report: its live legs and bridges are there,
// and entries of the node older than its previous report that the report
// lacks ended unseen.
func (p *places) resynced(node string, e acd.Resynced) {
	prev := p.gen[node]
	live := setOf(e.Live)
	bridges := setOf(e.Bridges)
	for id, pl := range p.legs {
		if pl.node == node && pl.gen < prev && !live[id] {
			p.legEnded(id)
		}
	}
	for id, pl := range p.bridges {
		if pl.node == node && pl.gen < prev && !bridges[id] {
			p.bridgeEnded(id)
		}
	}
	p.gen[node] = prev + 1
	for _, id := range e.Live {
		p.setLeg(id, node)
	}
	for _, id := range e.Bridges {
		p.setBridge(id, node)
	}
}

// union is what the engine must read as every leg and bridge of the seat
// after node reported e: the node's own report, and every leg and bridge
// the other nodes have (their sockets lost nothing, so what the mux knows
// of them is current).
func (p *places) union(node string, e acd.Resynced) (legs, bridges []string) {
	legs = append([]string(nil), e.Live...)
	bridges = append([]string(nil), e.Bridges...)
	for id, pl := range p.legs {
		if pl.node != node {
			legs = append(legs, id)
		}
	}
	for id, pl := range p.bridges {
		if pl.node != node {
			bridges = append(bridges, id)
		}
	}
	return legs, bridges
}

func setOf(ids []string) map[string]bool {
	out := make(map[string]bool, len(ids))
	for _, id := range ids {
		out[id] = true
	}
	return out
}
