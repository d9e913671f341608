package pbxsim

import (
	"net/http"
	"slices"
	"strings"
	"time"
)

func (s *Sim) restAsteriskInfo(_ []string, _ params) reply {
	started := time.Unix(s.epoch, 0)
	return ok(obj{
		{"build", obj{
			{"os", "Linux"},
			{"kernel", "6.1.0"},
			{"options", "BUILD_NATIVE, OPTIONAL_API"},
			{"machine", "x86_64"},
			{"date", "2026-11-21 22:00:00 UTC"},
			{"user", "root"},
		}},
		{"system", obj{{"version", "22.10.1"}, {"entity_id", s.opts.EntityID}}},
		{"config", obj{
			{"name", ""},
			{"default_language", "en"},
			{"setid", obj{{"user", ""}, {"group", ""}}},
		}},
		{"status", obj{{"startup_time", ts(started)}, {"last_reload_time", ts(started)}}},
	})
}

func (s *Sim) restAppList(_ []string, _ params) reply {
	names := make([]string, 0, len(s.apps))
	for n := range s.apps {
		names = append(names, n)
	}
	slices.Sort(names)
	out := make([]obj, 0, len(names))
	for _, n := range names {
		out = append(out, s.appJSON(n))
	}
	return ok(out)
}

func (s *Sim) restAppGet(args []string, _ params) reply {
	if s.apps[args[0]] == nil {
		return fail(http.StatusNotFound, "Application not found")
	}
	return ok(s.appJSON(args[0]))
}

// eventSources resolves eventSource=channel:<id>,bridge:<id>,...
func (s *Sim) eventSources(p params) ([]*channel, []*bridge, reply, bool) {
	v := p.get("eventSource")
	if v == "" {
		return nil, nil, fail(http.StatusBadRequest, "Missing parameter eventSource"), false
	}
	var cs []*channel
	var bs []*bridge
	for src := range strings.SplitSeq(v, ",") {
		scheme, id, _ := strings.Cut(src, ":")
		switch scheme {
		case "channel":
			c := s.liveChannel(id)
			if c == nil {
				return nil, nil, fail(http.StatusUnprocessableEntity, "Event source does not exist"), false
			}
			cs = append(cs, c)
		case "bridge":
			b := s.bridges[id]
			if b == nil {
				return nil, nil, fail(http.StatusUnprocessableEntity, "Event source does not exist"), false
			}
			bs = append(bs, b)
		case "endpoint", "deviceState":
			return nil, nil, fail(http.StatusUnprocessableEntity, "Event source does not exist"), false
		default:
			return nil, nil, fail(http.StatusBadRequest, "Invalid event source URI scheme"), false
		}
	}
	return cs, bs, reply{}, true
}

func (s *Sim) restSubscribe(args []string, p params) reply {
	name := args[0]
	if s.apps[name] == nil {
		return fail(http.StatusNotFound, "Application not found")
	}
	cs, bs, rp, found := s.eventSources(p)
	if !found {
		return rp
	}
	for _, c := range cs {
		c.subs[name] = true
	}
	for _, b := range bs {
		b.subs[name] = true
	}
	return ok(s.appJSON(name))
}

func (s *Sim) restUnsubscribe(args []string, p params) reply {
	name := args[0]
	if s.apps[name] == nil {
		return fail(http.StatusNotFound, "Application not found")
	}
	cs, bs, rp, found := s.eventSources(p)
	if !found {
		return rp
	}
	for _, c := range cs {
		if !c.subs[name] && (!c.inStasis || c.stasisApp != name) {
			return fail(http.StatusUnprocessableEntity, "Event source was not subscribed to")
		}
	}
	for _, b := range bs {
		if !b.subs[name] {
			return fail(http.StatusUnprocessableEntity, "Event source was not subscribed to")
		}
	}
	for _, c := range cs {
		delete(c.subs, name)
	}
	for _, b := range bs {
		delete(b.subs, name)
	}
	return ok(s.appJSON(name))
}

func (s *Sim) restPlaybackGet(args []string, _ params) reply {
	pb := s.playbacks[args[0]]
	if pb == nil {
		return fail(http.StatusNotFound, "Playback not found")
	}
	return ok(pb.json())
}

// restPlaybackStop ends a playback; a stopped playback reports "done"
// (trace 08), a queued one is just dropped.
func (s *Sim) restPlaybackStop(args []string, _ params) reply {
	pb := s.playbacks[args[0]]
	if pb == nil {
		return fail(http.StatusNotFound, "Playback not found")
	}
	if pb.state == "queued" {
		s.forgetPlayback(pb)
		s.advanceQueue(pb)
		return noContent()
	}
	if pb.stuck {
		s.forgetPlayback(pb)
		return noContent()
	}
	s.finishPlayback(pb, "done")
	return noContent()
}

func (s *Sim) restPlaybackControl(args []string, p params) reply {
	op := p.get("operation")
	if op == "" {
		return fail(http.StatusBadRequest, "Missing operation")
	}
	pb := s.playbacks[args[0]]
	if pb == nil {
		return fail(http.StatusNotFound, "Playback not found")
	}
	switch op {
	case "pause":
		if pb.state == "playing" && !pb.stuck {
			s.cancel(pb.timer)
			pb.state = "paused"
		}
	case "unpause":
		if pb.state == "paused" {
			pb.state = "playing"
			s.evPlayback("PlaybackStarted", pb)
			s.playCurrent(pb)
		}
	case "restart", "forward", "reverse":
	default:
		return fail(http.StatusBadRequest, "Invalid operation "+op)
	}
	return noContent()
}

// knownSounds is the sound catalogue the simulator reports; any sound name
// not starting with "no-such" or "missing" plays (see mediaOutcome).
var knownSounds = []string{"acd-agent-talk", "acd-customer-talk", "beep", "hello-world", "queue-thankyou", "queue-callswaiting", "pls-hold-while-try", "vm-goodbye"}

func soundJSON(id string) obj {
	return obj{{"id", id}, {"formats", []obj{{{"language", "en"}, {"format", "slin"}}}}}
}

func (s *Sim) restSoundList(_ []string, _ params) reply {
	out := make([]obj, 0, len(knownSounds))
	for _, id := range knownSounds {
		out = append(out, soundJSON(id))
	}
	return ok(out)
}

func (s *Sim) restSoundGet(args []string, _ params) reply {
	if mediaOutcome("sound:"+args[0]) != "ok" {
		return fail(http.StatusNotFound, "Sound not found")
	}
	return ok(soundJSON(args[0]))
}
