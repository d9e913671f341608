package acd

import (
	"context"
	"errors"
	"time"

	"github.com/tandem-cc/tandem/media"
)

// PBX is the port through which the ACD drives a phone system. It is
// declared here, in the ACD's own words, and implemented by the drivers
// (ari/ for Asterisk, esl/ for FreeSWITCH). Nothing in acd imports a PBX
// library.
//
// Every identifier is the PBX's id for one call leg (an Asterisk channel id,
// a FreeSWITCH uuid). Legs the ACD creates (agent legs) get ids chosen by
// the ACD, so an event about a leg can be routed to its interaction before
// the PBX has even answered the request that created it.
type PBX interface {
	// Answer answers an inbound leg.
	Answer(ctx context.Context, leg string) error
	// StartMusic starts music on hold of the given class ("" = default).
	StartMusic(ctx context.Context, leg, class string) error
	// StopMusic stops music on hold; stopping when none plays is not an error.
	StopMusic(ctx context.Context, leg string) error
	// Ring starts a new outbound leg towards an endpoint. It returns once the
	// PBX has accepted the request; the outcome arrives as LegAnswered or
	// RingFailed. An error wrapping ErrRingUnknown means the PBX may or
	// may not have the leg: see there.
	Ring(ctx context.Context, req RingRequest) error
	// Bridge creates a mixing bridge with the given id and joins the legs.
	Bridge(ctx context.Context, bridge string, legs ...string) error
	// DestroyBridge removes a bridge; an unknown bridge is not an error.
	DestroyBridge(ctx context.Context, bridge string) error
	// Hangup ends a leg; a leg that is already gone is not an error.
	Hangup(ctx context.Context, leg string, cause HangupCause) error
	// ContinueInDialplan hands a leg back to the PBX's dialplan, which
	// goes on after the step that gave the leg to Tandem (in Asterisk, the
	// priority after Stasis()). A leg that is gone is ErrLegGone.
	ContinueInDialplan(ctx context.Context, leg string) error
	// AddToBridge joins a leg to an existing bridge (moving it from any
	// other bridge it is in).
	AddToBridge(ctx context.Context, bridge, leg string) error
	// RemoveFromBridge takes a leg out of a bridge; a leg not in it is not
	// an error.
	RemoveFromBridge(ctx context.Context, bridge, leg string) error
	// StartMedia starts playing items, in order and as one playback, to a
	// leg. The playback id is chosen by the ACD (like leg ids), so its end
	// can be routed even if it arrives before the PBX has answered the
	// request. It returns once the PBX has accepted the request; the end
	// arrives as PlaybackFinished — except that a PBX may never report the
	// end of media it cannot play (Asterisk 22 with an unknown media
	// scheme), so the ACD bounds every playback with its own timer.
	StartMedia(ctx context.Context, leg, playback string, items ...media.Media) error
	// StopMedia stops a playback on the PBX; one that has already ended
	// is not an error. The end is still reported, as PlaybackFinished with
	// Outcome PlaybackStopped.
	StopMedia(ctx context.Context, playback string) error
	// StartRecording records everything said in a bridge into a file
	// called name (the format comes from the driver's configuration).
	StartRecording(ctx context.Context, bridge, name string) error
	// PauseRecording and ResumeRecording leave a gap in the file; the PBX
	// reports no event for either.
	PauseRecording(ctx context.Context, name string) error
	ResumeRecording(ctx context.Context, name string) error
	// StopRecording ends and keeps the file; one already ended is fine.
	StopRecording(ctx context.Context, name string) error
	// Run delivers the PBX's events, in order per leg, to handle until ctx
	// ends or the connection is lost for good. handle must not block for
	// long: the driver calls it from its single delivery goroutine.
	Run(ctx context.Context, handle func(Event)) error

	// Owner names this replica to the PBX: the identity the PBX sends the
	// events of this replica's legs to (in Asterisk, the Stasis
	// application). Another replica passes it to Takeover.
	Owner() string
	// Takeover makes this replica the receiver of owner's events (owner is
	// a dead replica's Owner()) until ctx ends, and reports the state of
	// legs, which owner had rung (RingRequest) and this replica now
	// continues. Their later events (LegAnswered, RingFailed, LegHungUp)
	// reach Run's handler like this replica's own. If owner is in fact
	// alive, the PBX stops it (in Asterisk: ApplicationReplaced), which is
	// the fencing. It must be called while Run runs.
	Takeover(ctx context.Context, owner string, legs []string) ([]LegState, error)
}

// LegState is what Takeover found of a leg.
type LegState struct {
	Leg string
	// Gone: the PBX no longer has the leg (its end happened while nobody
	// listened; the outcome is unknown).
	Gone bool
	// Up: the leg was answered.
	Up bool
}

// ErrLegGone is returned (wrapped) by a PBX command on a leg that no
// longer exists, e.g. a caller who hung up a moment ago.
var ErrLegGone = errors.New("leg gone")

// ErrRingUnknown is returned (wrapped) by Ring when the PBX did not answer
// the request (a timeout): it may have received it and create the leg
// later. The driver then owns the leg: it hangs it up whenever it appears,
// never reports it answered, and reports its end as RingFailed if it ever
// existed (if it never does, nothing is reported).
var ErrRingUnknown = errors.New("ring outcome unknown: the PBX did not answer the request")

// RingRequest asks the PBX to ring an agent's endpoint.
type RingRequest struct {
	Leg      string        // id the new leg must carry
	Endpoint string        // e.g. "PJSIP/1001"
	CallerID string        // number shown on the agent's phone (the ANI)
	Timeout  time.Duration // how long the PBX may ring before giving up
	// Originator is the leg this one is rung for (the caller's), if there
	// is one. The PBX links the two (CDR/CEL) and gives the new leg the
	// originator's formats, so bridging them needs no transcoding; a leg
	// without one gets the driver's configured formats.
	Originator string
	// Vars are set on the new leg (the PBX may hand them to the phone).
	Vars map[string]string
}

// HangupCause is why Tandem ends a leg.
type HangupCause string

const (
	CauseNormal     HangupCause = "normal"
	CauseNoAnswer   HangupCause = "no_answer"
	CauseBusy       HangupCause = "busy"
	CauseCongestion HangupCause = "congestion"
)

// Event is something the PBX reports. The concrete types below are all
// there is; a driver translates its protocol's events into them.
type Event interface{ eventLeg() string }

// CallArrived: a new inbound call is waiting for Tandem.
type CallArrived struct {
	Leg  string
	ANI  string
	DNIS string
	// Queue is the queue the dialplan named, "" if it named none. Each
	// driver reads it its own way (Asterisk: Stasis(app,inbound,<dnis>,
	// <queue>); FreeSWITCH: the tandem_queue channel variable), so the
	// engine never depends on either PBX's argument layout.
	Queue string
	// Args are the raw arguments the dialplan passed, for the log only.
	Args []string
	// Vars are the channel variables the PBX reported with the call.
	Vars map[string]string
}

// StrayArrived: a leg entered Tandem's application that is neither an
// inbound call (its arguments do not start with "inbound") nor a leg Tandem
// created. Nothing else will ever act on it, so the ACD sends it back to
// the dialplan (or hangs it up); left alone it would ring forever.
type StrayArrived struct {
	Leg string
	// Args are the arguments the dialplan passed, for the log.
	Args []string
}

// LegAnswered: a leg Tandem rang was answered.
type LegAnswered struct{ Leg string }

// RingFailed: a leg Tandem rang ended before it was answered.
type RingFailed struct {
	Leg    string
	Cause  int    // Q.850 cause as the PBX gave it
	Reason string // "busy", "no_answer", "rejected", "unreachable", "failed"
}

// LegHungUp: a leg that was up (inbound, or answered) is gone.
type LegHungUp struct {
	Leg   string
	Cause int
}

// DTMFReceived: a digit pressed on a leg.
type DTMFReceived struct {
	Leg   string
	Digit string
}

// PlaybackFinished: a playback started with StartMedia has ended.
type PlaybackFinished struct {
	Leg      string
	Playback string
	Outcome  PlaybackOutcome
}

// PlaybackOutcome is how a playback ended.
type PlaybackOutcome string

const (
	// PlaybackDone: every item played to its end (a missing item inside a
	// list may have been skipped by the PBX).
	PlaybackDone PlaybackOutcome = "done"
	// PlaybackFailed: the media could not be played, or the leg went away
	// while it played.
	PlaybackFailed PlaybackOutcome = "failed"
	// PlaybackStopped: StopMedia cut it short.
	PlaybackStopped PlaybackOutcome = "stopped"
)

// Resynced: the driver has (re-)read the PBX: once its first connection
// is up (Initial), and after every reconnect, when events were lost. Live
// lists every leg the PBX still has in Tandem's application; any leg the
// ACD tracks that is not in it ended while nobody listened. Bridges lists
// the bridges the application is subscribed to (in Asterisk, GET
// /applications/{name}'s bridge_ids: every bridge one of its legs joined,
// until it is destroyed), empty or not. At Initial the ACD rebuilds the
// calls an earlier holder of the application left (acd/reconcile.go).
type Resynced struct {
	Live    []string
	Bridges []string
	Initial bool
}

func (e CallArrived) eventLeg() string      { return e.Leg }
func (e StrayArrived) eventLeg() string     { return e.Leg }
func (e LegAnswered) eventLeg() string      { return e.Leg }
func (e RingFailed) eventLeg() string       { return e.Leg }
func (e LegHungUp) eventLeg() string        { return e.Leg }
func (e DTMFReceived) eventLeg() string     { return e.Leg }
func (e PlaybackFinished) eventLeg() string { return e.Leg }
func (e Resynced) eventLeg() string         { return "" }
