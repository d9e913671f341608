package eslsim

import (
	"fmt"
	"slices"
	"sort"
	"strings"
)

// compareReplies pairs, per connection, the trace's replies to the frames
// the replay sent with the simulator's non-event frames, in order, and
// learns the Job-UUID each bgapi got on both sides.
func (r *chanReplay) compareReplies() {
	type want struct {
		line int
		send string
		f    serverFrame
	}
	wants := map[string][]want{}
	for i, l := range r.lines {
		if l.Dir == "recv" && l.Headers == "Content-Type: auth/request\n\n" {
			wants[l.Conn] = append(wants[l.Conn], want{i + 1, "(greeting)", traceFrame(l)})
		}
	}
	for _, s := range r.sends {
		if s.action != "" {
			continue
		}
		for _, f := range s.replies {
			wants[s.l.Conn] = append(wants[s.l.Conn], want{s.line, strings.TrimRight(s.l.Headers, "\r\n"), f})
		}
	}
	for name, c := range r.conns {
		var got []serverFrame
		for _, f := range c.frames() {
			if !strings.HasPrefix(f.get("Content-Type"), "text/event-") {
				got = append(got, f)
			}
		}
		ws := wants[name]
		for i, w := range ws {
			key := fmt.Sprintf("reply:%d", w.line)
			if i >= len(got) {
				r.mismatch(key, "%s: no reply from the simulator (want %q)", trunc(w.send), shape(w.f.raw))
				continue
			}
			r.compared++
			if msg := compareFrames(w.f, got[i], false); msg != "" {
				r.mismatch(key, "%s: %s", trunc(w.send), msg)
			}
			if j := w.f.get("Job-UUID"); j != "" {
				r.traceJob[j] = got[i].get("Job-UUID")
			}
		}
		if len(got) > len(ws) {
			r.mismatch("reply:extra:"+name, "%d extra frames, first %q", len(got)-len(ws), got[len(ws)].raw)
		}
	}
}

// eventsOf returns the events a connection received, decoded.
func eventsOfFrames(fs []serverFrame) []*Event {
	var out []*Event
	for _, f := range fs {
		if ev := parseEventFrame(f); ev != nil {
			out = append(out, ev)
		}
	}
	return out
}

func (r *chanReplay) traceEvents(conn string) []*Event {
	var out []*Event
	for _, l := range r.lines {
		if l.Dir == "recv" && l.Conn == conn && isEventFrame(l) {
			if ev := parseTraceEvent(l); ev != nil {
				out = append(out, ev)
			}
		}
	}
	return out
}

// compareJobs compares the BACKGROUND_JOB body of every replayed bgapi.
func (r *chanReplay) compareJobs() {
	for name, c := range r.conns {
		simJobs := map[string]*Event{}
		for _, ev := range eventsOfFrames(c.frames()) {
			if ev.Get("Event-Name") == "BACKGROUND_JOB" {
				simJobs[ev.Get("Job-UUID")] = ev
			}
		}
		for _, ev := range r.traceEvents(name) {
			if ev.Get("Event-Name") != "BACKGROUND_JOB" {
				continue
			}
			simJob, replayed := r.traceJob[ev.Get("Job-UUID")]
			if !replayed {
				continue // a job of a party action (the customer's originate)
			}
			key := "job:" + name + ":" + ev.Get("Job-Command") + ":" + r.roleText(ev.Get("Job-Command-Arg"), r.roleOf)
			got, ok := simJobs[simJob]
			if !ok {
				r.mismatch(key, "no BACKGROUND_JOB (want body %q)", ev.Body)
				continue
			}
			if shape(got.Body) != shape(ev.Body) {
				r.mismatch(key, "body %q, trace %q", got.Body, ev.Body)
			}
		}
	}
}

// roleText replaces the UUIDs in s by their roles.
func (r *chanReplay) roleText(s string, roles map[string]string) string {
	return uuidRE.ReplaceAllStringFunc(s, func(u string) string {
		if role, ok := roles[u]; ok {
			return role
		}
		return "<uuid>"
	})
}

// legLabel is an event's label in a leg's sequence: its name and key
// header values, UUIDs as roles.
func (r *chanReplay) legLabel(ev *Event, roles map[string]string) string {
	var b strings.Builder
	b.WriteString(ev.Get("Event-Name"))
	for _, k := range keyHeaders {
		if v := ev.Get(k); v != "" {
			b.WriteString(" " + k + "=" + r.roleText(v, roles))
		}
	}
	return b.String()
}

// isSetApp says whether ev is the execution of the dialplan's set
// application: the rig's dialplan and Tandem's set different variables
// (reported by the divergence dialplan-sets, not in the leg sequences).
func isSetApp(ev *Event) bool {
	n := ev.Get("Event-Name")
	return (n == "CHANNEL_EXECUTE" || n == "CHANNEL_EXECUTE_COMPLETE") && ev.Get("Application") == "set"
}

// legSequences groups the events of the compared legs by role, each in
// Event-Sequence order.
func (r *chanReplay) legSequences(evs []*Event, roles map[string]string) (seqs map[string][]*Event, sets map[string][]string) {
	seqs, sets = map[string][]*Event{}, map[string][]string{}
	for _, ev := range evs {
		role := roles[ev.Get("Unique-ID")]
		if !comparedRole(role) {
			continue
		}
		if isSetApp(ev) {
			if ev.Get("Event-Name") == "CHANNEL_EXECUTE" {
				k, _, _ := strings.Cut(ev.Get("Application-Data"), "=")
				sets[role] = append(sets[role], k)
			}
			continue
		}
		seqs[role] = append(seqs[role], ev)
	}
	for _, s := range seqs {
		sort.SliceStable(s, func(i, j int) bool {
			return atoiOr(s[i].Get("Event-Sequence"), 0) < atoiOr(s[j].Get("Event-Sequence"), 0)
		})
	}
	return seqs, sets
}

// comparedRole: the legs the simulator models (the customer's inbound B
// legs, the originated G legs); the rig's A legs and fake-phone legs are
// outside it (divergence rig-loopback-legs).
func comparedRole(role string) bool {
	return strings.HasPrefix(role, "B") || strings.HasPrefix(role, "G")
}

// compareLegs compares, on every connection subscribed to ALL, each
// compared leg's event labels, and collects header layouts per type.
func (r *chanReplay) compareLegs() {
	traceLayouts, simLayouts := map[string]map[string]bool{}, map[string]map[string]string{}
	traceVars, simVars := map[string]map[string]bool{}, map[string]map[string]bool{}
	for name, c := range r.conns {
		if !r.subscribedAll(name) {
			continue
		}
		tevs, sevs := r.traceEvents(name), eventsOfFrames(c.frames())
		for _, x := range []struct {
			evs     []*Event
			layouts any
			vars    map[string]map[string]bool
			roles   map[string]string
		}{{tevs, traceLayouts, traceVars, r.roleOf}, {sevs, simLayouts, simVars, r.simRole}} {
			for _, ev := range x.evs {
				typ := ev.Get("Event-Name")
				if typ == "CUSTOM" || typ == "HEARTBEAT" || typ == "RE_SCHEDULE" {
					continue
				}
				if ev.Get("Unique-ID") != "" && !comparedRole(x.roles[ev.Get("Unique-ID")]) {
					continue
				}
				lay, vars := layout(ev)
				switch m := x.layouts.(type) {
				case map[string]map[string]bool:
					if m[typ] == nil {
						m[typ] = map[string]bool{}
					}
					m[typ][lay] = true
				case map[string]map[string]string:
					if m[typ] == nil {
						m[typ] = map[string]string{}
					}
					m[typ][lay] = r.legLabel(ev, x.roles)
				}
				if x.vars[typ] == nil {
					x.vars[typ] = map[string]bool{}
				}
				for _, v := range vars {
					x.vars[typ][v] = true
				}
			}
		}
		tseq, tsets := r.legSequences(tevs, r.roleOf)
		sseq, ssets := r.legSequences(sevs, r.simRole)
		roles := slices.Sorted(func(yield func(string) bool) {
			seen := map[string]bool{}
			for _, m := range []map[string][]*Event{tseq, sseq} {
				for k := range m {
					if !seen[k] {
						seen[k] = true
						if !yield(k) {
							return
						}
					}
				}
			}
		})
		for _, role := range roles {
			r.comparedEvents += len(tseq[role])
			want := labels(r, tseq[role], r.roleOf)
			got := labels(r, sseq[role], r.simRole)
			if !slices.Equal(want, got) {
				r.mismatch("events:"+name+":"+role, "leg %s\n%s", role, seqDiff(want, got))
			}
			if !slices.Equal(tsets[role], ssets[role]) {
				r.mismatch("sets:"+name+":"+role, "set applications: sim %v, trace %v", ssets[role], tsets[role])
			}
		}
	}
	for _, typ := range slices.Sorted(mapKeys(simLayouts)) {
		for lay, label := range simLayouts[typ] {
			if traceLayouts[typ][lay] {
				continue
			}
			r.mismatch("layout:"+typ, "%s: header layout not in the trace (%d layouts there)\n  sim: %s\n  nearest trace: %s",
				label, len(traceLayouts[typ]), lay, nearest(lay, traceLayouts[typ]))
		}
	}
	for _, typ := range slices.Sorted(mapKeys(simVars)) {
		var onlyTrace, onlySim []string
		for v := range traceVars[typ] {
			if !simVars[typ][v] {
				onlyTrace = append(onlyTrace, v)
			}
		}
		for v := range simVars[typ] {
			if !traceVars[typ][v] {
				onlySim = append(onlySim, v)
			}
		}
		if len(onlyTrace)+len(onlySim) > 0 {
			slices.Sort(onlyTrace)
			slices.Sort(onlySim)
			r.t.Logf("variables of %s: only in the trace %v; only in the simulator %v", typ, onlyTrace, onlySim)
		}
	}
}

func mapKeys[V any](m map[string]V) func(func(string) bool) {
	return func(yield func(string) bool) {
		for k := range m {
			if !yield(k) {
				return
			}
		}
	}
}

func labels(r *chanReplay, evs []*Event, roles map[string]string) []string {
	out := make([]string, len(evs))
	for i, ev := range evs {
		out[i] = r.legLabel(ev, roles)
	}
	return out
}

// layout is the event's non-variable header names in order, and its
// variable names.
func layout(ev *Event) (string, []string) {
	var names, vars []string
	for _, h := range ev.Headers {
		if strings.HasPrefix(h.Name, "variable_") {
			vars = append(vars, h.Name)
			continue
		}
		names = append(names, h.Name)
	}
	return strings.Join(names, ","), vars
}

// nearest returns the trace layout sharing the longest prefix with lay,
// cut after the first difference.
func nearest(lay string, set map[string]bool) string {
	best, bestN := "", -1
	for t := range set {
		n := 0
		for n < len(t) && n < len(lay) && t[n] == lay[n] {
			n++
		}
		if n > bestN {
			best, bestN = t, n
		}
	}
	lo := max(0, bestN-60)
	return "…" + best[lo:min(len(best), bestN+120)] + "  (sim: …" + lay[lo:min(len(lay), bestN+120)] + ")"
}

// seqDiff shows two label sequences side by side from the first
// difference.
func seqDiff(want, got []string) string {
	i := 0
	for i < len(want) && i < len(got) && want[i] == got[i] {
		i++
	}
	var b strings.Builder
	fmt.Fprintf(&b, "  first difference at #%d (trace %d events, sim %d)\n", i, len(want), len(got))
	for j := max(0, i-2); j < max(len(want), len(got)) && j < i+8; j++ {
		w, g := "", ""
		if j < len(want) {
			w = want[j]
		}
		if j < len(got) {
			g = got[j]
		}
		fmt.Fprintf(&b, "  %2d trace: %s\n     sim:   %s\n", j, w, g)
	}
	return b.String()
}
