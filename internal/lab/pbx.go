package lab

import (
	"errors"
	"fmt"
	"time"

	"github.com/tandem-cc/tandem/pbxsim"
)

// PBXKind names the PBX a lab simulates, and so the driver its replicas
// run: the scenarios are the same on every kind.
type PBXKind string

// The PBX kinds a lab can run on.
const (
	// Asterisk is the ARI simulator (pbxsim) driven by the ari driver; the
	// default.
	Asterisk PBXKind = "asterisk"
	// FreeSWITCH is the event-socket simulator (pbxsim/eslsim) driven by
	// the esl driver.
	FreeSWITCH PBXKind = "freeswitch"
)

// orDefault is k, or Asterisk when k is unset.
func (k PBXKind) orDefault() PBXKind {
	if k == "" {
		return Asterisk
	}
	return k
}

// Endpoint is the dial string of extension ext on a PBX of kind k: what an
// agent logs in with, and, with ext "{number}", the pattern outside
// numbers are dialled through. On Asterisk it is a PJSIP endpoint, on
// FreeSWITCH a directory user (user/1001, the README's default pattern).
func (k PBXKind) Endpoint(ext string) string {
	switch k.orDefault() {
	case FreeSWITCH:
		return "user/" + ext
	default:
		return "PJSIP/" + ext
	}
}

// PBXSim is what the portable scenarios do to and read from the simulated
// PBX, whatever its kind: place callers, script phones, hang parties up,
// press digits, and observe channels, media and counters. *pbxsim.Sim is
// one; the FreeSWITCH simulator offers the same methods with pbxsim's
// types. ARI-level objects (bridges by id, Stasis applications, the
// WebSocket) are not in it: tests about them use Lab.Sim and run on
// Asterisk only.
type PBXSim interface {
	// Call places an inbound caller; it returns the caller's leg.
	Call(pbxsim.Caller) (string, error)
	// SetPhone scripts the phone at endpoint (Lab.Endpoint).
	SetPhone(endpoint string, p pbxsim.Phone)
	// HangUp puts a party's receiver down (normal clearing).
	HangUp(leg string) error
	// InjectDTMF has the party on leg press digits.
	InjectDTMF(leg, digits string) error
	// Channel reads a live or hung-up leg; Channels every leg the PBX
	// still has.
	Channel(leg string) (pbxsim.ChannelView, bool)
	Channels() []pbxsim.ChannelView
	// BridgedWith lists the legs that ever shared media with leg, as the
	// PBX saw it (Lab.Bridged asks about now).
	BridgedWith(leg string) []string
	// LiveLegs lists the live legs dialled to endpoint.
	LiveLegs(endpoint string) []string
	// MediaLog is what the party on leg heard: music (moh_* and
	// bridge_moh_* entries) and playbacks, in order.
	MediaLog(leg string) []pbxsim.MediaEntry
	Stats() pbxsim.Stats
	// Leftovers is what a finished call can leave at the PBX.
	Leftovers() pbxsim.Leftovers
	// Originates lists the legs the PBX was asked to ring, in order.
	Originates() []pbxsim.Originate
	// WaitIdle waits until no leg is alive or timeout passes.
	WaitIdle(timeout time.Duration) bool
}

var _ PBXSim = (*pbxsim.Sim)(nil)

// Endpoint is the dial string of extension ext on this lab's PBX
// (PBXKind.Endpoint), so that a portable test never spells a driver's
// technology.
func (l *Lab) Endpoint(ext string) string { return l.opts.PBX.Endpoint(ext) }

// Kind is the PBX this lab runs on.
func (l *Lab) Kind() PBXKind { return l.opts.PBX }

// Bridged says whether legs a and b share media now, as the PBX sees it
// (both up and in the same bridge, whatever the PBX's notion of one):
// the portable form of "is this leg in the call's bridge".
func (l *Lab) Bridged(a, b string) bool {
	if l.rig == nil {
		return false
	}
	return l.rig.bridged(a, b)
}

// Heard is what the party on leg heard, in order: music on hold
// (moh_*/bridge_moh_* entries with their class) and playbacks, with each
// item's MediaURI in Tandem's media terms ("sound:welcome", "number:2"),
// whatever the PBX's own names for them (file paths on FreeSWITCH). The
// portable scenarios check media with it, on the caller's leg.
func (l *Lab) Heard(leg string) []pbxsim.MediaEntry {
	if l.rig == nil {
		return nil
	}
	return l.rig.heard(leg)
}

// RecordingStored says whether the PBX keeps a finished recording named
// name (what Tandem asked it to record a call to).
func (l *Lab) RecordingStored(name string) (bool, error) {
	if l.rig == nil {
		return false, errors.New("lab: no PBX")
	}
	return l.rig.recordingStored(name)
}

// LiveRecording is the PBX's state of the live recording named name
// ("recording" or "paused"), "" if it has none of that name.
func (l *Lab) LiveRecording(name string) string {
	for _, r := range l.PBX.Leftovers().Recordings {
		if r.Name == name {
			return r.State
		}
	}
	return ""
}

// errUnknownKind is Start's answer to a PBX kind it does not know.
func errUnknownKind(k PBXKind) error {
	return fmt.Errorf("lab: unknown PBX kind %q (want %q or %q)", k, Asterisk, FreeSWITCH)
}
