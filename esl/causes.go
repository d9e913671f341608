package esl

import (
	"strings"

	"github.com/tandem-cc/tandem/acd"
)

// q850 maps FreeSWITCH's Hangup-Cause names (switch_types.h,
// switch_channel.c CAUSE_CHART) to their numeric codes: Q.850 codes for the
// ISDN causes, FreeSWITCH's own numbers (above 127) for the rest. The port
// speaks numbers, as Asterisk's events do.
var q850 = map[string]int{
	"NONE":                           0,
	"UNSPECIFIED":                    0,
	"UNALLOCATED_NUMBER":             1,
	"NO_ROUTE_TRANSIT_NET":           2,
	"NO_ROUTE_DESTINATION":           3,
	"CHANNEL_UNACCEPTABLE":           6,
	"CALL_AWARDED_DELIVERED":         7,
	"NORMAL_CLEARING":                16,
	"USER_BUSY":                      17,
	"NO_USER_RESPONSE":               18,
	"NO_ANSWER":                      19,
	"SUBSCRIBER_ABSENT":              20,
	"CALL_REJECTED":                  21,
	"NUMBER_CHANGED":                 22,
	"REDIRECTION_TO_NEW_DESTINATION": 23,
	"EXCHANGE_ROUTING_ERROR":         25,
	"DESTINATION_OUT_OF_ORDER":       27,
	"INVALID_NUMBER_FORMAT":          28,
	"FACILITY_REJECTED":              29,
	"RESPONSE_TO_STATUS_ENQUIRY":     30,
	"NORMAL_UNSPECIFIED":             31,
	"NORMAL_CIRCUIT_CONGESTION":      34,
	"NETWORK_OUT_OF_ORDER":           38,
	"NORMAL_TEMPORARY_FAILURE":       41,
	"SWITCH_CONGESTION":              42,
	"ACCESS_INFO_DISCARDED":          43,
	"REQUESTED_CHAN_UNAVAIL":         44,
	"PRE_EMPTED":                     45,
	"FACILITY_NOT_SUBSCRIBED":        50,
	"OUTGOING_CALL_BARRED":           52,
	"INCOMING_CALL_BARRED":           54,
	"BEARERCAPABILITY_NOTAUTH":       57,
	"BEARERCAPABILITY_NOTAVAIL":      58,
	"SERVICE_UNAVAILABLE":            63,
	"BEARERCAPABILITY_NOTIMPL":       65,
	"CHAN_NOT_IMPLEMENTED":           66,
	"FACILITY_NOT_IMPLEMENTED":       69,
	"SERVICE_NOT_IMPLEMENTED":        79,
	"INVALID_CALL_REFERENCE":         81,
	"INCOMPATIBLE_DESTINATION":       88,
	"INVALID_MSG_UNSPECIFIED":        95,
	"MANDATORY_IE_MISSING":           96,
	"MESSAGE_TYPE_NONEXIST":          97,
	"WRONG_MESSAGE":                  98,
	"IE_NONEXIST":                    99,
	"INVALID_IE_CONTENTS":            100,
	"WRONG_CALL_STATE":               101,
	"RECOVERY_ON_TIMER_EXPIRE":       102,
	"MANDATORY_IE_LENGTH_ERROR":      103,
	"PROTOCOL_ERROR":                 111,
	"INTERWORKING":                   127,
	"SUCCESS":                        142,
	"ORIGINATOR_CANCEL":              487,
	"CRASH":                          700,
	"SYSTEM_SHUTDOWN":                701,
	"LOSE_RACE":                      502,
	"MANAGER_REQUEST":                503,
	"BLIND_TRANSFER":                 600,
	"ATTENDED_TRANSFER":              601,
	"ALLOTTED_TIMEOUT":               602,
	"USER_CHALLENGE":                 603,
	"MEDIA_TIMEOUT":                  604,
	"PICKED_OFF":                     605,
	"USER_NOT_REGISTERED":            606,
	"PROGRESS_TIMEOUT":               607,
	"INVALID_GATEWAY":                608,
	"GATEWAY_DOWN":                   609,
	"INVALID_URL":                    610,
	"INVALID_PROFILE":                611,
	"NO_PICKUP":                      612,
}

// causeCode is the number of a Hangup-Cause name; an unknown or empty name
// is 0 (unspecified), as Asterisk reports a cause it cannot name.
func causeCode(name string) int {
	return q850[strings.ToUpper(strings.TrimSpace(name))]
}

// reasonFor names a cause as the ACD's RONA reasons (the same table as the
// Asterisk driver's, plus FreeSWITCH's own "unreachable" codes and its
// ring timeout, ALLOTTED_TIMEOUT).
func reasonFor(cause int) string {
	switch cause {
	case 17:
		return "busy"
	case 18, 19, 602:
		return "no_answer"
	case 21:
		return "rejected"
	case 1, 3, 20, 27, 38, 606, 608, 609:
		return "unreachable"
	}
	return "failed"
}

// killCause is the Hangup-Cause name uuid_kill sends for a port cause.
func killCause(c acd.HangupCause) string {
	switch c {
	case acd.CauseNoAnswer:
		return "NO_ANSWER"
	case acd.CauseBusy:
		return "USER_BUSY"
	case acd.CauseCongestion:
		return "NORMAL_CIRCUIT_CONGESTION"
	}
	return "NORMAL_CLEARING"
}

// goneTexts are the api-body beginnings with which FreeSWITCH 1.10 says the
// uuid a command names does not exist (esl-traces README, "API-body error
// texts"): each command words it its own way.
var goneTexts = []string{
	"-ERR No such channel!",       // uuid_kill, uuid_transfer, uuid_getvar, uuid_setvar, uuid_break, uuid_park, uuid_dump
	"-ERROR",                      // uuid_answer
	"-ERR Invalid uuid",           // uuid_bridge ("-ERR invalid uuid" for uuid_broadcast: compared without case)
	"-ERR Cannot locate session!", // uuid_send_dtmf, uuid_record
	"-ERR invalid session id",     // sendmsg to a unknown uuid (a Reply-Text)
}

// isGone reports whether an api body (or sendmsg reply) says the leg is
// gone.
func isGone(body string) bool {
	b := strings.TrimSpace(body)
	for _, t := range goneTexts {
		if len(b) >= len(t) && strings.EqualFold(b[:len(t)], t) {
			if t == "-ERROR" && len(b) > len(t) {
				return false // "-ERROR" is uuid_answer's whole body; longer texts are other errors
			}
			return true
		}
	}
	return false
}
