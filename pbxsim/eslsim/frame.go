package eslsim

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"strconv"
	"strings"
)

// maxLine is mod_event_socket's input limit for one line (and, here, for a
// Content-Length body): 10 MiB. A longer line is an error for the
// connection, which is then closed.
const maxLine = 10 << 20

// errMalformed marks a client frame the simulator cannot parse.
var errMalformed = errors.New("malformed client frame")

// command is one client frame: the command line, its header lines in the
// order sent (sendmsg, sendevent, bgapi's Job-UUID), and the body named by a
// Content-Length header.
type command struct {
	line    string
	headers []Header
	body    string
}

// header returns the value of the first header called name, compared
// case-insensitively as FreeSWITCH does, and whether it was there.
func (c *command) header(name string) (string, bool) {
	for _, h := range c.headers {
		if strings.EqualFold(h.Name, name) {
			return h.Value, true
		}
	}
	return "", false
}

// readLine returns one line without its LF (and without a CR before the
// LF), refusing lines over maxLine.
func readLine(r *bufio.Reader) (string, error) {
	var buf []byte
	for {
		frag, err := r.ReadSlice('\n')
		if len(buf)+len(frag) > maxLine {
			return "", fmt.Errorf("%w: line longer than %d bytes", errMalformed, maxLine)
		}
		buf = append(buf, frag...)
		if err == nil {
			break
		}
		if errors.Is(err, bufio.ErrBufferFull) {
			continue
		}
		if errors.Is(err, io.EOF) && len(buf) > 0 {
			return "", io.ErrUnexpectedEOF
		}
		return "", err
	}
	buf = buf[:len(buf)-1]
	if n := len(buf); n > 0 && buf[n-1] == '\r' {
		buf = buf[:n-1]
	}
	return string(buf), nil
}

// readCommand reads one client frame the way mod_event_socket does: blank
// lines before the command are skipped (so eslgo's extra "\r\n\r\n" after a
// body is harmless), LF and CRLF terminators may be mixed, and a
// Content-Length header is followed by exactly that many body bytes. A
// header line without a colon, a bad Content-Length or an over-long line is
// errMalformed; the caller closes the connection.
func readCommand(r *bufio.Reader) (command, error) {
	var c command
	for {
		line, err := readLine(r)
		if err != nil {
			return c, err
		}
		if line != "" {
			c.line = line
			break
		}
	}
	for {
		line, err := readLine(r)
		if err != nil {
			return c, err
		}
		if line == "" {
			break
		}
		name, value, ok := strings.Cut(line, ":")
		if !ok || name == "" {
			return c, fmt.Errorf("%w: header line without a name: %.40q", errMalformed, line)
		}
		c.headers = append(c.headers, Header{Name: name, Value: strings.TrimLeft(value, " ")})
	}
	if v, ok := c.header("Content-Length"); ok {
		n, err := strconv.Atoi(strings.TrimSpace(v))
		if err != nil || n < 0 || n > maxLine {
			return c, fmt.Errorf("%w: Content-Length %.20q", errMalformed, v)
		}
		body := make([]byte, n)
		if _, err := io.ReadFull(r, body); err != nil {
			return c, fmt.Errorf("reading a %d-byte body: %w", n, err)
		}
		c.body = string(body)
	}
	return c, nil
}

// Server frames. FreeSWITCH ends every line with a bare LF and puts
// Content-Length first only in event frames (see the traces' README).

const goodbye = "Disconnected, goodbye.\nSee you at ClueCon! http://www.cluecon.com/\n"

// maxReply is the size of the buffer mod_event_socket builds bgapi's reply
// in ("~Reply-Text: ...\nJob-UUID: ...\n\n", the '~' standing for
// "Content-Type: command/reply\n"): past 511 bytes it is cut, without its
// terminating blank line, and the stream goes out of sync (trace 10: a
// 240-character Job-UUID breaks it, 200 does not).
const maxReply = 512

// maxJobUUID is the longest client Job-UUID FreeSWITCH keeps.
const maxJobUUID = 256

func replyFrame(text string) []byte {
	return []byte("Content-Type: command/reply\nReply-Text: " + text + "\n\n")
}

// bgapiReplyFrame is the reply to bgapi, cut like the real one's; job has
// been capped to maxJobUUID.
func bgapiReplyFrame(job string) []byte {
	buf := "~Reply-Text: +OK Job-UUID: " + job + "\nJob-UUID: " + job + "\n\n"
	if len(buf) >= maxReply {
		buf = buf[:maxReply-1]
	}
	return []byte("Content-Type: command/reply\n" + buf[1:])
}

func apiFrame(body string) []byte {
	return []byte("Content-Type: api/response\nContent-Length: " + strconv.Itoa(len(body)) + "\n\n" + body)
}

// eventFrame wraps a serialised event; contentType is text/event-plain,
// text/event-json or text/event-xml.
func eventFrame(contentType, body string) []byte {
	return []byte("Content-Length: " + strconv.Itoa(len(body)) + "\nContent-Type: " + contentType + "\n\n" + body)
}

func disconnectFrame() []byte {
	return []byte("Content-Type: text/disconnect-notice\nContent-Length: " + strconv.Itoa(len(goodbye)) + "\n\n" + goodbye)
}

// sessionDisconnectFrame is the notice an outbound (socket application)
// connection gets when it ends.
func sessionDisconnectFrame(uuid string) []byte {
	return []byte("Content-Type: text/disconnect-notice\nControlled-Session-UUID: " + uuid +
		"\nContent-Disposition: disconnect\nContent-Length: " + strconv.Itoa(len(goodbye)) + "\n\n" + goodbye)
}

// lingerFrame is the notice a lingering outbound connection gets when its
// channel hangs up; lingerSecs is -1 after a bare `linger`.
func lingerFrame(uuid, channelName string, lingerSecs int) []byte {
	return []byte("Content-Type: text/disconnect-notice\nControlled-Session-UUID: " + uuid +
		"\nContent-Disposition: linger\nChannel-Name: " + channelName +
		"\nLinger-Time: " + strconv.Itoa(lingerSecs) + "\nContent-Length: 0\n\n")
}

// headerBlock serialises headers as the outbound connect reply does: every
// value URL-encoded, a bare LF per line, a blank line, no body.
func headerBlock(hs []Header) []byte {
	var b strings.Builder
	for _, h := range hs {
		b.WriteString(h.Name)
		b.WriteString(": ")
		b.WriteString(urlEncode(h.Value))
		b.WriteByte('\n')
	}
	b.WriteByte('\n')
	return []byte(b.String())
}
