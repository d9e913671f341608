// Package eslsim simulates FreeSWITCH 1.10's event socket (mod_event_socket)
// well enough that the unmodified eslgo client cannot tell: inbound
// connections (auth, event subscriptions, filters, api, bgapi, sendmsg) and
// outbound ones (the dialplan's socket application), over the same scripted
// parties (callers, phones) as the Asterisk simulator in pbxsim. What
// FreeSWITCH does is taken from the recorded traces in
// shared/esl-traces; DIVERGENCES.md (beside this file) lists where it
// differs from them and where it is simpler than FreeSWITCH.
//
// The package has two halves that meet here: the protocol (framing,
// connections, subscriptions and filters, delivery of events) and the
// switch (channels, calls, phones, and what each api command does).
package eslsim

import "context"

// Header is one event header: its name and its raw value (not URL-encoded;
// the protocol side encodes it for the plain format).
type Header struct{ Name, Value string }

// Event is one FreeSWITCH event, headers in FreeSWITCH's order, and the
// body some events carry (BACKGROUND_JOB's result).
type Event struct {
	Headers []Header
	Body    string
}

// Get returns the value of the first header called name, "" if none.
func (e *Event) Get(name string) string {
	for _, h := range e.Headers {
		if h.Name == name {
			return h.Value
		}
	}
	return ""
}

// Set replaces the value of header name, or appends it.
func (e *Event) Set(name, value string) {
	for i, h := range e.Headers {
		if h.Name == name {
			e.Headers[i].Value = value
			return
		}
	}
	e.Headers = append(e.Headers, Header{Name: name, Value: value})
}

// switchboard is what the protocol side asks of the switch side.
type switchboard interface {
	// api runs one api command (as `api <cmd> <arg>` or a bgapi job) and
	// returns the response body exactly as FreeSWITCH would. It may block
	// (a synchronous originate does, until the far end answers or fails).
	api(ctx context.Context, cmd, arg string) string
	// sendmsg executes a sendmsg for the channel uuid ("" on an outbound
	// connection: its own channel) and returns the Reply-Text.
	sendmsg(uuid string, headers []Header, body string) string
	// channelData returns the channel's data headers (as in the reply to
	// an outbound connection's connect), false if the channel is gone.
	channelData(uuid string) ([]Header, bool)
	// socketClosed tells that the outbound connection controlling uuid
	// ended (either side closed it).
	socketClosed(uuid string)
}
