package acd

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/tandem-cc/tandem/metrics"
)

// meteredPBX times the PBX commands and counts the PBX's events by kind,
// around any driver: the drivers stay free of metrics. Methods it does not
// override (media playback, whose duration is the prompt's length rather
// than a command's latency, and anything added to the port later) go
// straight to the driver through the embedded interface.
type meteredPBX struct {
	PBX
	m *metrics.Metrics
}

func meterPBX(p PBX, m *metrics.Metrics) PBX {
	if p == nil {
		return nil
	}
	return meteredPBX{PBX: p, m: m}
}

func (p meteredPBX) time(kind string, start time.Time, err error) error {
	p.m.ObservePBXCommand(kind, time.Since(start), err)
	return err
}

func (p meteredPBX) Answer(ctx context.Context, leg string) error {
	start := time.Now()
	return p.time("answer", start, p.PBX.Answer(ctx, leg))
}

func (p meteredPBX) StartMusic(ctx context.Context, leg, class string) error {
	start := time.Now()
	return p.time("start_music", start, p.PBX.StartMusic(ctx, leg, class))
}

func (p meteredPBX) StopMusic(ctx context.Context, leg string) error {
	start := time.Now()
	return p.time("stop_music", start, p.PBX.StopMusic(ctx, leg))
}

func (p meteredPBX) Ring(ctx context.Context, req RingRequest) error {
	start := time.Now()
	return p.time("ring", start, p.PBX.Ring(ctx, req))
}

func (p meteredPBX) Bridge(ctx context.Context, bridge string, legs ...string) error {
	start := time.Now()
	return p.time("bridge", start, p.PBX.Bridge(ctx, bridge, legs...))
}

func (p meteredPBX) DestroyBridge(ctx context.Context, bridge string) error {
	start := time.Now()
	return p.time("destroy_bridge", start, p.PBX.DestroyBridge(ctx, bridge))
}

func (p meteredPBX) Hangup(ctx context.Context, leg string, cause HangupCause) error {
	start := time.Now()
	return p.time("hangup", start, p.PBX.Hangup(ctx, leg, cause))
}

func (p meteredPBX) ContinueInDialplan(ctx context.Context, leg string) error {
	start := time.Now()
	return p.time("continue", start, p.PBX.ContinueInDialplan(ctx, leg))
}

func (p meteredPBX) AddToBridge(ctx context.Context, bridge, leg string) error {
	start := time.Now()
	return p.time("add_to_bridge", start, p.PBX.AddToBridge(ctx, bridge, leg))
}

func (p meteredPBX) RemoveFromBridge(ctx context.Context, bridge, leg string) error {
	start := time.Now()
	return p.time("remove_from_bridge", start, p.PBX.RemoveFromBridge(ctx, bridge, leg))
}

func (p meteredPBX) StartRecording(ctx context.Context, bridge, name string) error {
	start := time.Now()
	return p.time("start_recording", start, p.PBX.StartRecording(ctx, bridge, name))
}

func (p meteredPBX) PauseRecording(ctx context.Context, name string) error {
	start := time.Now()
	return p.time("pause_recording", start, p.PBX.PauseRecording(ctx, name))
}

func (p meteredPBX) ResumeRecording(ctx context.Context, name string) error {
	start := time.Now()
	return p.time("resume_recording", start, p.PBX.ResumeRecording(ctx, name))
}

func (p meteredPBX) StopRecording(ctx context.Context, name string) error {
	start := time.Now()
	return p.time("stop_recording", start, p.PBX.StopRecording(ctx, name))
}

func (p meteredPBX) Takeover(ctx context.Context, owner string, legs []string) ([]LegState, error) {
	start := time.Now()
	states, err := p.PBX.Takeover(ctx, owner, legs)
	return states, p.time("takeover", start, err)
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
