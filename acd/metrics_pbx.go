package acd

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/tandem-cc/tandem/metrics"
)

// meteredPBX times the PBX commands and counts the PBX's events by kind,
// around any driver: the drivers stay free of metrics. The commands are
// timed through commandPBX (StartMedia and StopMedia too: they return once
// the PBX has accepted the request, so their time is a command's latency,
// not the prompt's length).
type meteredPBX struct {
	PBX
	m *metrics.Metrics
}

func meterPBX(p PBX, m *metrics.Metrics) PBX {
	if p == nil {
		return nil
	}
	timed := commandPBX{PBX: p, around: func(kind string, cmd func() error) error {
		start := time.Now()
		err := cmd()
		m.ObservePBXCommand(kind, time.Since(start), err)
		return err
	}}
	return meteredPBX{PBX: timed, m: m}
}

func (p meteredPBX) Takeover(ctx context.Context, owner string, legs []string) ([]LegState, error) {
	start := time.Now()
	states, err := p.PBX.Takeover(ctx, owner, legs)
	p.m.ObservePBXCommand("takeover", time.Since(start), err)
	return states, err
}

// Run counts each event by kind before the engine handles it.
func (p meteredPBX) Run(ctx context.Context, handle func(Event)) error {
	return p.PBX.Run(ctx, func(ev Event) {
		p.m.PBXEvents.WithLabelValues(eventKind(ev)).Inc()
		handle(ev)
	})
}

// eventKind is an event's type name in snake case ("LegHungUp" →
// "leg_hung_up"), so a kind added to the port is counted without a table.
func eventKind(ev Event) string {
	name := strings.TrimPrefix(fmt.Sprintf("%T", ev), "acd.")
	isUpper := func(i int) bool { return i >= 0 && i < len(name) && name[i] >= 'A' && name[i] <= 'Z' }
	var b strings.Builder
	for i := 0; i < len(name); i++ {
		c := name[i]
		if isUpper(i) {
			// A word starts at an upper-case letter after a lower-case one,
			// or at the last capital of an acronym ("DTMFReceived").
			if i > 0 && (!isUpper(i-1) || (i+1 < len(name) && !isUpper(i+1))) {
				b.WriteByte('_')
			}
			c += 'a' - 'A'
		}
		b.WriteByte(c)
	}
	return b.String()
}
