package acd

import (
	"context"

	"github.com/tandem-cc/tandem/media"
)

// commandPBX runs every PBX command through around, named by its kind
// ("hangup", "start_media", ...): one place for what must happen around
// each command whatever it is (metering in metrics_pbx.go, the fence of
// a lapsed lease in lease_fresh.go), instead of one wrapper per method per
// concern. Run, Owner and Takeover are not commands (they subscribe and
// read) and go straight to the embedded port.
type commandPBX struct {
	PBX
	around func(kind string, cmd func() error) error
}

func (p commandPBX) Answer(ctx context.Context, leg string) error {
	return p.around("answer", func() error { return p.PBX.Answer(ctx, leg) })
}

func (p commandPBX) StartMusic(ctx context.Context, leg, class string) error {
	return p.around("start_music", func() error { return p.PBX.StartMusic(ctx, leg, class) })
}

func (p commandPBX) StopMusic(ctx context.Context, leg string) error {
	return p.around("stop_music", func() error { return p.PBX.StopMusic(ctx, leg) })
}

func (p commandPBX) Ring(ctx context.Context, req RingRequest) error {
	return p.around("ring", func() error { return p.PBX.Ring(ctx, req) })
}

func (p commandPBX) Bridge(ctx context.Context, bridge string, legs ...string) error {
	return p.around("bridge", func() error { return p.PBX.Bridge(ctx, bridge, legs...) })
}

func (p commandPBX) DestroyBridge(ctx context.Context, bridge string) error {
	return p.around("destroy_bridge", func() error { return p.PBX.DestroyBridge(ctx, bridge) })
}

func (p commandPBX) Hangup(ctx context.Context, leg string, cause HangupCause) error {
	return p.around("hangup", func() error { return p.PBX.Hangup(ctx, leg, cause) })
}

func (p commandPBX) ContinueInDialplan(ctx context.Context, leg string) error {
	return p.around("continue", func() error { return p.PBX.ContinueInDialplan(ctx, leg) })
}

func (p commandPBX) AddToBridge(ctx context.Context, bridge, leg string) error {
	return p.around("add_to_bridge", func() error { return p.PBX.AddToBridge(ctx, bridge, leg) })
}

func (p commandPBX) RemoveFromBridge(ctx context.Context, bridge, leg string) error {
	return p.around("remove_from_bridge", func() error { return p.PBX.RemoveFromBridge(ctx, bridge, leg) })
}

func (p commandPBX) StartMedia(ctx context.Context, leg, playback string, items ...media.Media) error {
	return p.around("start_media", func() error { return p.PBX.StartMedia(ctx, leg, playback, items...) })
}

func (p commandPBX) StopMedia(ctx context.Context, playback string) error {
	return p.around("stop_media", func() error { return p.PBX.StopMedia(ctx, playback) })
}

func (p commandPBX) StartRecording(ctx context.Context, bridge, name string) error {
	return p.around("start_recording", func() error { return p.PBX.StartRecording(ctx, bridge, name) })
}

func (p commandPBX) PauseRecording(ctx context.Context, name string) error {
	return p.around("pause_recording", func() error { return p.PBX.PauseRecording(ctx, name) })
}

func (p commandPBX) ResumeRecording(ctx context.Context, name string) error {
	return p.around("resume_recording", func() error { return p.PBX.ResumeRecording(ctx, name) })
}

func (p commandPBX) StopRecording(ctx context.Context, name string) error {
	return p.around("stop_recording", func() error { return p.PBX.StopRecording(ctx, name) })
}
