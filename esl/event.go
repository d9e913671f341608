package esl

import (
	"strconv"
	"strings"

	"github.com/percipia/eslgo"
)

// fsEvent is the part of a FreeSWITCH plain event the driver reads,
// decoded once (eslgo's GetHeader URL-unescapes each value) so that the
// translation works on plain values.
type fsEvent struct {
	Name string
	UUID string // Unique-ID: the leg
	Seq  uint64 // Event-Sequence, global to the FreeSWITCH process

	App      string // variable_tandem_app: the owner of the leg
	Inbound  bool   // variable_tandem_inbound=true: Tandem's dialplan parked it
	Answered bool   // Answer-State: answered (a CHANNEL_PARK after the answer)
	Cause    string // Hangup-Cause
	Digit    string // DTMF-Digit

	Application string // CHANNEL_EXECUTE_COMPLETE: Application
	AppUUID     string // Application-UUID (a playback's id)
	AppResponse string // Application-Response

	JobUUID string // BACKGROUND_JOB: Job-UUID
	Body    string // BACKGROUND_JOB: the command's result

	// CHANNEL_PARK of a leg not seen before: what an arrival is made of.
	ANI, DNIS, Queue string
	Vars             map[string]string // every variable_* of the event, by name without the prefix
}

// fromESL decodes an eslgo plain event. attached names the channel
// variables kept as a call's attached data (nil: every variable).
func fromESL(e *eslgo.Event, attached []string) fsEvent {
	ev := fsEvent{
		Name: e.GetHeader("Event-Name"),
		UUID: e.GetHeader("Unique-ID"),
	}
	ev.Seq, _ = strconv.ParseUint(e.GetHeader("Event-Sequence"), 10, 64)
	switch ev.Name {
	case "BACKGROUND_JOB":
		ev.JobUUID = e.GetHeader("Job-UUID")
		ev.Body = string(e.Body)
		return ev
	case "DTMF":
		ev.Digit = e.GetHeader("DTMF-Digit")
		return ev
	case "CHANNEL_EXECUTE_COMPLETE":
		ev.Application = e.GetHeader("Application")
		ev.AppUUID = e.GetHeader("Application-UUID")
		ev.AppResponse = e.GetHeader("Application-Response")
	case "CHANNEL_HANGUP", "CHANNEL_HANGUP_COMPLETE", "CHANNEL_DESTROY":
		ev.Cause = e.GetHeader("Hangup-Cause")
	}
	ev.App = e.GetHeader("variable_tandem_app")
	ev.Inbound = e.GetHeader("variable_tandem_inbound") == "true"
	if ev.Name == "CHANNEL_PARK" {
		ev.Answered = e.GetHeader("Answer-State") == "answered"
		ev.ANI = e.GetHeader("Caller-Caller-ID-Number")
		ev.DNIS = e.GetHeader("variable_tandem_dnis")
		if ev.DNIS == "" {
			ev.DNIS = e.GetHeader("Caller-Destination-Number")
		}
		ev.Queue = e.GetHeader("variable_tandem_queue")
		ev.Vars = map[string]string{}
		if len(attached) > 0 {
			for _, name := range attached {
				if e.HasHeader("variable_" + name) {
					ev.Vars[name] = e.GetHeader("variable_" + name)
				}
			}
			return ev
		}
		for k := range e.Headers {
			// eslgo's textproto canonicalises the keys ("variable_DP_MATCH"
			// is "Variable_dp_match"): without a configured list the names
			// come lower-cased.
			if name, ok := strings.CutPrefix(k, "Variable_"); ok {
				ev.Vars[name] = e.GetHeader(k)
			}
		}
	}
	return ev
}
