package pbxsim

import (
	"fmt"
	"net/http"
	"slices"
	"strings"
)

func (s *Sim) restBridgeList(_ []string, _ params) reply {
	bs := make([]*bridge, 0, len(s.bridges))
	for _, b := range s.bridges {
		bs = append(bs, b)
	}
	slices.SortFunc(bs, func(x, y *bridge) int { return x.created.Compare(y.created) })
	out := make([]obj, 0, len(bs))
	for _, b := range bs {
		out = append(out, b.json())
	}
	return ok(out)
}

// bridgeType picks the bridge type from ARI's comma-separated type list.
func bridgeType(v string) (string, bool) {
	typ := "mixing"
	for t := range strings.SplitSeq(v, ",") {
		switch strings.TrimSpace(t) {
		case "", "dtmf_events", "proxy_media", "video_sfu", "video_single", "sdp_label":
		case "mixing":
			typ = "mixing"
		case "holding":
			typ = "holding"
		default:
			return "", false
		}
	}
	return typ, true
}

// restBridgeCreate is POST /bridges and POST /bridges/{id}.
func (s *Sim) restBridgeCreate(args []string, p params) reply {
	id := p.get("bridgeId")
	if len(args) > 0 {
		id = args[0]
	}
	if _, exists := s.bridges[id]; exists && id != "" {
		return fail(http.StatusConflict, fmt.Sprintf("Bridge with id '%s' already exists", id))
	}
	typ, valid := bridgeType(p.get("type"))
	if !valid {
		return fail(http.StatusInternalServerError, "Unable to create bridge. Possible duplicate bridge id '(null)'")
	}
	if id == "" {
		id = s.newUUID()
	}
	return ok(s.newBridge(id, p.get("name"), typ).json())
}

func (s *Sim) restBridgeGet(args []string, _ params) reply {
	b := s.bridges[args[0]]
	if b == nil {
		return fail(http.StatusNotFound, "Bridge not found")
	}
	return ok(b.json())
}

func (s *Sim) restBridgeDelete(args []string, _ params) reply {
	b := s.bridges[args[0]]
	if b == nil {
		return fail(http.StatusNotFound, "Bridge not found")
	}
	s.destroyBridge(b)
	return noContent()
}

// bridgeChannels resolves addChannel/removeChannel's comma-separated list.
// An unknown channel is 400 here, not 404 (trace 12).
func (s *Sim) bridgeChannels(p params) ([]*channel, reply, bool) {
	v := p.get("channel")
	if v == "" {
		return nil, fail(http.StatusBadRequest, "Missing parameter channel"), false
	}
	var cs []*channel
	for id := range strings.SplitSeq(v, ",") {
		c := s.liveChannel(strings.TrimSpace(id))
		if c == nil {
			return nil, fail(http.StatusBadRequest, "Channel not found"), false
		}
		cs = append(cs, c)
	}
	return cs, reply{}, true
}

func (s *Sim) restAddChannel(args []string, p params) reply {
	b := s.bridges[args[0]]
	if b == nil {
		return fail(http.StatusNotFound, "Bridge not found")
	}
	cs, rp, found := s.bridgeChannels(p)
	if !found {
		return rp
	}
	for _, c := range cs {
		if !c.inStasis {
			return fail(http.StatusUnprocessableEntity, "Channel not in Stasis application")
		}
	}
	for _, c := range cs {
		s.addToBridge(b, c, p.get("role"))
	}
	return noContent()
}

func (s *Sim) restRemoveChannel(args []string, p params) reply {
	b := s.bridges[args[0]]
	if b == nil {
		return fail(http.StatusNotFound, "Bridge not found")
	}
	cs, rp, found := s.bridgeChannels(p)
	if !found {
		return rp
	}
	for _, c := range cs {
		if c.bridge != b {
			return fail(http.StatusUnprocessableEntity, "Channel not in this bridge")
		}
	}
	for _, c := range cs {
		s.leaveBridge(c, true)
	}
	return noContent()
}

func (s *Sim) restBridgeMOH(args []string, p params) reply {
	b := s.bridges[args[0]]
	if b == nil {
		return fail(http.StatusNotFound, "Bridge not found")
	}
	s.startBridgeMOH(b, p.get("mohClass"))
	return noContent()
}

func (s *Sim) restBridgeMOHStop(args []string, _ params) reply {
	b := s.bridges[args[0]]
	if b == nil {
		return fail(http.StatusNotFound, "Bridge not found")
	}
	if !b.mohOn {
		return fail(http.StatusConflict, "Bridge isn't playing music")
	}
	s.stopBridgeMOH(b)
	return noContent()
}

func (s *Sim) restBridgePlay(args []string, p params) reply {
	b := s.bridges[args[0]]
	if b == nil {
		return fail(http.StatusNotFound, "Bridge not found")
	}
	id := p.get("playbackId")
	if len(args) > 1 {
		id = args[1]
	}
	return s.play(nil, b, id, p)
}
