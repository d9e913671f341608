package eslsim

import (
	"encoding/json"
	"fmt"
	"slices"
	"strings"
)

// showColumns are `show channels` columns in FreeSWITCH's order (trace 02).
var showColumns = []string{"uuid", "direction", "created", "created_epoch", "name", "state", "cid_name", "cid_num", "ip_addr", "dest", "application", "application_data", "dialplan", "context", "read_codec", "read_rate", "read_bit_rate", "write_codec", "write_rate", "write_bit_rate", "secure", "hostname", "presence_id", "presence_data", "accountcode", "callstate", "callee_name", "callee_num", "callee_direction", "call_uuid", "sent_callee_name", "sent_callee_num", "initial_cid_name", "initial_cid_num", "initial_ip_addr", "initial_dest", "initial_dialplan", "initial_context"}

// show is `show channels|calls [as json]`. The table is updated
// asynchronously: a channel is listed only Options.TableDelay after it was
// created (trace 02: an originate is not listed at once).
func (s *Sim) show(arg string) string {
	f := strings.Fields(strings.ToLower(arg))
	if len(f) == 0 || (f[0] != "channels" && f[0] != "calls") {
		return "-USAGE: show channels|calls [as json]\n"
	}
	asJSON := len(f) >= 3 && f[1] == "as" && f[2] == "json"
	now := s.clock.Now()
	var rows []*channel
	for _, c := range s.channels {
		if c.live() && !now.Before(c.created.Add(s.opts.TableDelay)) {
			if f[0] == "calls" && c.peer != nil && !c.leader {
				continue // a call row is the bridged pair, listed once
			}
			rows = append(rows, c)
		}
	}
	slices.SortFunc(rows, func(a, b *channel) int { return a.seq - b.seq })
	if asJSON {
		if len(rows) == 0 {
			return "{\"row_count\": 0}\n"
		}
		var b strings.Builder
		fmt.Fprintf(&b, "{\"row_count\":%d,\"rows\":[", len(rows))
		for i, c := range rows {
			if i > 0 {
				b.WriteByte(',')
			}
			b.WriteByte('{')
			for j, v := range s.showRow(c) {
				if j > 0 {
					b.WriteByte(',')
				}
				k, _ := json.Marshal(showColumns[j])
				val, _ := json.Marshal(v)
				b.Write(k)
				b.WriteByte(':')
				b.Write(val)
			}
			b.WriteByte('}')
		}
		b.WriteString("]}\n")
		return b.String()
	}
	var b strings.Builder
	if len(rows) > 0 {
		b.WriteString(strings.Join(showColumns, ",") + "\n")
		for _, c := range rows {
			b.WriteString(strings.Join(s.showRow(c), ",") + "\n")
		}
	}
	fmt.Fprintf(&b, "\n%d total.\n", len(rows))
	return b.String()
}

func (s *Sim) showRow(c *channel) []string {
	return []string{c.uuid, c.direction, c.created.Format("2006-01-02 15:04:05"), fmt.Sprint(c.created.Unix()), c.name, c.state,
		c.cidName, c.cidNum, "", c.dest, c.app, c.appData, "xml", c.context, "L16", "8000", "128000", "L16", "8000", "128000",
		"", "eslsim", "", "", "", c.callState, "", "", "", c.uuid, "", "", c.cidName, c.cidNum, "", c.dest, "xml", c.context}
}

// dump is `uuid_dump <uuid> [json]`: the CHANNEL_DATA headers, URL-encoded
// as in a plain event, or one JSON object as in a json event (trace 10).
func (s *Sim) dump(c *channel, format string) string {
	h := s.coreHeaders("CHANNEL_DATA", "mod_commands.c", "uuid_dump_function", 6468)
	h = append(h, s.channelHeaders(c, true)...)
	if format == "json" {
		return jsonEvent(&Event{Headers: h})
	}
	var b strings.Builder
	for _, x := range h {
		b.WriteString(x.Name + ": " + urlEncode(x.Value) + "\n")
	}
	return b.String()
}
