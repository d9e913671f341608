package eslsim

import (
	"regexp"
	"strings"
)

// eventNames are FreeSWITCH 1.10's event types (switch_event.c): `event`
// and `nixevent` ignore any other word, and a command naming none of them
// is "-ERR no keywords supplied".
var eventNames = func() map[string]bool {
	m := map[string]bool{}
	for _, n := range strings.Fields(`CUSTOM CLONE CHANNEL_CREATE CHANNEL_DESTROY CHANNEL_STATE
	CHANNEL_CALLSTATE CHANNEL_ANSWER CHANNEL_HANGUP CHANNEL_HANGUP_COMPLETE CHANNEL_EXECUTE
	CHANNEL_EXECUTE_COMPLETE CHANNEL_HOLD CHANNEL_UNHOLD CHANNEL_BRIDGE CHANNEL_UNBRIDGE
	CHANNEL_PROGRESS CHANNEL_PROGRESS_MEDIA CHANNEL_OUTGOING CHANNEL_PARK CHANNEL_UNPARK
	CHANNEL_APPLICATION CHANNEL_ORIGINATE CHANNEL_UUID API LOG INBOUND_CHAN OUTBOUND_CHAN
	STARTUP SHUTDOWN PUBLISH UNPUBLISH TALK NOTALK SESSION_CRASH MODULE_LOAD MODULE_UNLOAD DTMF
	MESSAGE PRESENCE_IN NOTIFY_IN PRESENCE_OUT PRESENCE_PROBE MESSAGE_WAITING MESSAGE_QUERY
	ROSTER CODEC BACKGROUND_JOB DETECTED_SPEECH DETECTED_TONE PRIVATE_COMMAND HEARTBEAT TRAP
	ADD_SCHEDULE DEL_SCHEDULE EXE_SCHEDULE RE_SCHEDULE RELOADXML NOTIFY PHONE_FEATURE
	PHONE_FEATURE_SUBSCRIBE SEND_MESSAGE RECV_MESSAGE REQUEST_PARAMS CHANNEL_DATA GENERAL
	COMMAND SESSION_HEARTBEAT CLIENT_DISCONNECTED SERVER_DISCONNECTED SEND_INFO RECV_INFO
	RECV_RTCP_MESSAGE SEND_RTCP_MESSAGE CALL_SECURE NAT RECORD_START RECORD_STOP PLAYBACK_START
	PLAYBACK_STOP CALL_UPDATE FAILURE SOCKET_DATA MEDIA_BUG_START MEDIA_BUG_STOP
	CONFERENCE_DATA_QUERY CONFERENCE_DATA CALL_SETUP_REQ CALL_SETUP_RESULT CALL_DETAIL
	DEVICE_STATE TEXT SHUTDOWN_REQUESTED ALL`) {
		m[n] = true
	}
	return m
}()

// filter is one `filter <header> <value>`; a value between slashes is a
// regular expression, as in FreeSWITCH.
type filter struct {
	name, value string
	re          *regexp.Regexp
}

func newFilter(name, value string) filter {
	f := filter{name: name, value: value}
	if len(value) > 2 && value[0] == '/' && value[len(value)-1] == '/' {
		if re, err := regexp.Compile(value[1 : len(value)-1]); err == nil {
			f.re = re
		}
	}
	return f
}

func (f filter) matches(ev *Event) bool {
	for _, h := range ev.Headers {
		if !strings.EqualFold(h.Name, f.name) {
			continue
		}
		if f.re != nil {
			return f.re.MatchString(h.Value)
		}
		return h.Value == f.value
	}
	return false
}

// subscription is what one connection listens to. FreeSWITCH's rules
// (traces 01 and 10): `event` adds to the set and switches the format of
// the whole connection; words after CUSTOM are subclasses; a CUSTOM event
// with a subclass passes only if that subclass was named (or ALL is on);
// filters are a whitelist: with any filter set, an event passes only if it
// matches at least one.
type subscription struct {
	format     string
	all        bool
	names      map[string]bool
	subclasses map[string]bool
	filters    []filter
	// session is the channel an outbound connection's myevents (or an
	// inbound `myevents <uuid>`) restricts delivery to.
	session string
}

func (s *subscription) listening() bool {
	return s.all || len(s.names) > 0 || len(s.subclasses) > 0
}

// add applies the keywords of `event <format> ...`; it reports false when
// no keyword named an event (nothing changes then).
func (s *subscription) add(words []string) bool {
	custom := false
	any := false
	names := map[string]bool{}
	subs := map[string]bool{}
	for _, w := range words {
		if custom {
			subs[w] = true
			any = true
			continue
		}
		u := strings.ToUpper(w)
		if !eventNames[u] {
			continue
		}
		any = true
		if u == "CUSTOM" {
			custom = true
		}
		names[u] = true
	}
	if !any {
		return false
	}
	if s.names == nil {
		s.names = map[string]bool{}
		s.subclasses = map[string]bool{}
	}
	for n := range names {
		if n == "ALL" {
			s.all = true
			continue
		}
		s.names[n] = true
	}
	for sc := range subs {
		s.subclasses[sc] = true
	}
	return true
}

// nix applies `nixevent ...`: the format word eslgo puts first is ignored as
// an unknown event name.
func (s *subscription) nix(words []string) bool {
	custom := false
	any := false
	for _, w := range words {
		if custom {
			delete(s.subclasses, w)
			any = true
			continue
		}
		u := strings.ToUpper(w)
		if !eventNames[u] {
			continue
		}
		any = true
		switch u {
		case "ALL":
			s.all = false
			s.names = map[string]bool{}
			s.subclasses = map[string]bool{}
			continue
		case "CUSTOM":
			custom = true
		}
		if s.all {
			// FreeSWITCH turns ALL into every single type before removing one.
			s.all = false
			if s.names == nil {
				s.names = map[string]bool{}
				s.subclasses = map[string]bool{}
			}
			for n := range eventNames {
				if n != "ALL" {
					s.names[n] = true
				}
			}
		}
		if s.names != nil {
			delete(s.names, u)
		}
	}
	return any
}

func (s *subscription) clear() {
	s.all = false
	s.names = nil
	s.subclasses = nil
}

// wants reports whether ev is delivered on this connection.
func (s *subscription) wants(ev *Event) bool {
	if !s.listening() {
		return false
	}
	name := ev.Get("Event-Name")
	if !s.all {
		if !s.names[name] {
			return false
		}
		if name == "CUSTOM" {
			if sc := ev.Get("Event-Subclass"); sc != "" && !s.subclasses[sc] {
				return false
			}
		}
	}
	if s.session != "" {
		if ev.Get("Unique-ID") != s.session || name == "CHANNEL_DESTROY" {
			return false
		}
	}
	if len(s.filters) == 0 {
		return true
	}
	for _, f := range s.filters {
		if f.matches(ev) {
			return true
		}
	}
	return false
}
