package eslsim

import (
	"strconv"
	"strings"
)

// unsafe reports whether FreeSWITCH's switch_url_encode %-encodes b: bytes
// outside printable ASCII, space, and ` #%&+:;<=>?@[\]^`{|}"`.
func unsafe(b byte) bool {
	if b < 0x20 || b > 0x7e {
		return true
	}
	return strings.IndexByte(" #%&+:;<=>?@[\\]^`{|}\"", b) >= 0
}

func isHex(b byte) bool {
	return (b >= '0' && b <= '9') || (b >= 'a' && b <= 'f') || (b >= 'A' && b <= 'F')
}

// urlEncode is FreeSWITCH's header-value encoding, including its flaw: a
// '%' already followed by two hex digits is left alone, so "100%25" goes
// out unchanged and decodes to "100%" (the traces show it).
func urlEncode(s string) string {
	const hexdig = "0123456789ABCDEF"
	var b strings.Builder
	b.Grow(len(s))
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c == '%' && i+2 < len(s) && isHex(s[i+1]) && isHex(s[i+2]) {
			b.WriteByte(c)
			continue
		}
		if unsafe(c) {
			b.WriteByte('%')
			b.WriteByte(hexdig[c>>4])
			b.WriteByte(hexdig[c&0xf])
			continue
		}
		b.WriteByte(c)
	}
	return b.String()
}

// Event formats a connection can ask for with `event <format> ...`.
const (
	formatPlain = "plain"
	formatJSON  = "json"
	formatXML   = "xml"
)

func contentTypeOf(format string) string {
	return "text/event-" + format
}

// serialize renders ev in format (plain, json or xml) as the body of a
// text/event-<format> frame.
func serialize(ev *Event, format string) string {
	switch format {
	case formatJSON:
		return jsonEvent(ev)
	case formatXML:
		return xmlEvent(ev)
	default:
		return plainEvent(ev)
	}
}

// plainEvent: "Name: urlencoded value\n" per header, then, if the event has a
// body, a last "Content-Length: M" header, a blank line and the raw body;
// otherwise just a blank line.
func plainEvent(ev *Event) string {
	var b strings.Builder
	for _, h := range ev.Headers {
		b.WriteString(h.Name)
		b.WriteString(": ")
		b.WriteString(urlEncode(h.Value))
		b.WriteByte('\n')
	}
	if ev.Body != "" {
		b.WriteString("Content-Length: ")
		b.WriteString(strconv.Itoa(len(ev.Body)))
		b.WriteString("\n\n")
		b.WriteString(ev.Body)
		return b.String()
	}
	b.WriteByte('\n')
	return b.String()
}

// jsonString quotes s the way cJSON does: only '"', '\\' and control
// characters are escaped; UTF-8 and '/' pass through.
func jsonString(b *strings.Builder, s string) {
	const hexdig = "0123456789abcdef"
	b.WriteByte('"')
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch c {
		case '"':
			b.WriteString(`\"`)
		case '\\':
			b.WriteString(`\\`)
		case '\b':
			b.WriteString(`\b`)
		case '\f':
			b.WriteString(`\f`)
		case '\n':
			b.WriteString(`\n`)
		case '\r':
			b.WriteString(`\r`)
		case '\t':
			b.WriteString(`\t`)
		default:
			if c < 0x20 {
				b.WriteString(`\u00`)
				b.WriteByte(hexdig[c>>4])
				b.WriteByte(hexdig[c&0xf])
				continue
			}
			b.WriteByte(c)
		}
	}
	b.WriteByte('"')
}

// jsonEvent: one line, no trailing newline, every value a JSON string, the
// body under "_body" after a "Content-Length" key.
func jsonEvent(ev *Event) string {
	var b strings.Builder
	b.WriteByte('{')
	for i, h := range ev.Headers {
		if i > 0 {
			b.WriteByte(',')
		}
		jsonString(&b, h.Name)
		b.WriteByte(':')
		jsonString(&b, h.Value)
	}
	if ev.Body != "" {
		if len(ev.Headers) > 0 {
			b.WriteByte(',')
		}
		b.WriteString(`"Content-Length":`)
		jsonString(&b, strconv.Itoa(len(ev.Body)))
		b.WriteString(`,"_body":`)
		jsonString(&b, ev.Body)
	}
	b.WriteByte('}')
	return b.String()
}

var xmlEscaper = strings.NewReplacer("&", "&amp;", "<", "&lt;", ">", "&gt;", "\"", "&quot;", "'", "&apos;", "\r", "&#xD;")

// xmlEvent: FreeSWITCH's pretty-printed <event>, values URL-encoded (so
// they need no XML escaping), the body XML-escaped with CR as &#xD;.
func xmlEvent(ev *Event) string {
	var b strings.Builder
	b.WriteString("<event>\n  <headers>\n")
	for _, h := range ev.Headers {
		b.WriteString("    <")
		b.WriteString(h.Name)
		b.WriteByte('>')
		b.WriteString(urlEncode(h.Value))
		b.WriteString("</")
		b.WriteString(h.Name)
		b.WriteString(">\n")
	}
	b.WriteString("  </headers>\n")
	if ev.Body != "" {
		b.WriteString("  <Content-Length>")
		b.WriteString(strconv.Itoa(len(ev.Body)))
		b.WriteString("</Content-Length>\n  <body>")
		b.WriteString(xmlEscaper.Replace(ev.Body))
		b.WriteString("  </body>\n")
	}
	b.WriteString("</event>\n")
	return b.String()
}
