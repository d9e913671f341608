package pbxsim

import (
	"net/http"
	"net/url"
	"strings"
)

// handlerFunc serves one REST operation under the world lock. args are the
// path's {placeholders} in order.
type handlerFunc func(s *Sim, args []string, p params) reply

type route struct {
	pattern []string
	methods map[string]handlerFunc
}

// routes is the ARI subset the simulator serves; any other path is 404
// "Resource not found", as Asterisk answers for paths it does not know.
var routes = []route{
	{[]string{"asterisk", "info"}, map[string]handlerFunc{"GET": (*Sim).restAsteriskInfo}},
	{[]string{"asterisk", "variable"}, map[string]handlerFunc{"GET": (*Sim).restGlobalVarGet}},
	{[]string{"channels"}, map[string]handlerFunc{"GET": (*Sim).restChannelList, "POST": (*Sim).restOriginate}},
	{[]string{"channels", "create"}, map[string]handlerFunc{"POST": (*Sim).restCreate}},
	{[]string{"channels", "{}"}, map[string]handlerFunc{"GET": (*Sim).restChannelGet, "POST": (*Sim).restOriginate, "DELETE": (*Sim).restHangup}},
	{[]string{"channels", "{}", "answer"}, map[string]handlerFunc{"POST": (*Sim).restAnswer}},
	{[]string{"channels", "{}", "ring"}, map[string]handlerFunc{"POST": (*Sim).restRing, "DELETE": (*Sim).restRingStop}},
	{[]string{"channels", "{}", "hold"}, map[string]handlerFunc{"POST": (*Sim).restHold, "DELETE": (*Sim).restUnhold}},
	{[]string{"channels", "{}", "moh"}, map[string]handlerFunc{"POST": (*Sim).restMOH, "DELETE": (*Sim).restMOHStop}},
	{[]string{"channels", "{}", "silence"}, map[string]handlerFunc{"POST": (*Sim).restSimple, "DELETE": (*Sim).restSimple}},
	{[]string{"channels", "{}", "mute"}, map[string]handlerFunc{"POST": (*Sim).restMute, "DELETE": (*Sim).restMute}},
	{[]string{"channels", "{}", "play"}, map[string]handlerFunc{"POST": (*Sim).restChannelPlay}},
	{[]string{"channels", "{}", "play", "{}"}, map[string]handlerFunc{"POST": (*Sim).restChannelPlay}},
	{[]string{"channels", "{}", "dial"}, map[string]handlerFunc{"POST": (*Sim).restDial}},
	{[]string{"channels", "{}", "variable"}, map[string]handlerFunc{"GET": (*Sim).restVarGet, "POST": (*Sim).restVarSet}},
	{[]string{"channels", "{}", "dtmf"}, map[string]handlerFunc{"POST": (*Sim).restDTMF}},
	{[]string{"channels", "{}", "continue"}, map[string]handlerFunc{"POST": (*Sim).restContinue}},
	{[]string{"channels", "{}", "move"}, map[string]handlerFunc{"POST": (*Sim).restMove}},
	{[]string{"channels", "{}", "redirect"}, map[string]handlerFunc{"POST": (*Sim).restRedirect}},
	{[]string{"channels", "{}", "record"}, map[string]handlerFunc{"POST": (*Sim).restChannelRecord}},
	{[]string{"channels", "{}", "snoop"}, map[string]handlerFunc{"POST": (*Sim).restSnoop}},
	{[]string{"channels", "{}", "snoop", "{}"}, map[string]handlerFunc{"POST": (*Sim).restSnoop}},
	{[]string{"bridges"}, map[string]handlerFunc{"GET": (*Sim).restBridgeList, "POST": (*Sim).restBridgeCreate}},
	{[]string{"bridges", "{}"}, map[string]handlerFunc{"GET": (*Sim).restBridgeGet, "POST": (*Sim).restBridgeCreate, "DELETE": (*Sim).restBridgeDelete}},
	{[]string{"bridges", "{}", "addChannel"}, map[string]handlerFunc{"POST": (*Sim).restAddChannel}},
	{[]string{"bridges", "{}", "removeChannel"}, map[string]handlerFunc{"POST": (*Sim).restRemoveChannel}},
	{[]string{"bridges", "{}", "moh"}, map[string]handlerFunc{"POST": (*Sim).restBridgeMOH, "DELETE": (*Sim).restBridgeMOHStop}},
	{[]string{"bridges", "{}", "play"}, map[string]handlerFunc{"POST": (*Sim).restBridgePlay}},
	{[]string{"bridges", "{}", "play", "{}"}, map[string]handlerFunc{"POST": (*Sim).restBridgePlay}},
	{[]string{"bridges", "{}", "record"}, map[string]handlerFunc{"POST": (*Sim).restBridgeRecord}},
	{[]string{"playbacks", "{}"}, map[string]handlerFunc{"GET": (*Sim).restPlaybackGet, "DELETE": (*Sim).restPlaybackStop}},
	{[]string{"playbacks", "{}", "control"}, map[string]handlerFunc{"POST": (*Sim).restPlaybackControl}},
	{[]string{"recordings", "live", "{}"}, map[string]handlerFunc{"GET": (*Sim).restLiveRecGet, "DELETE": (*Sim).restLiveRecCancel}},
	{[]string{"recordings", "live", "{}", "stop"}, map[string]handlerFunc{"POST": (*Sim).restLiveRecStop}},
	{[]string{"recordings", "live", "{}", "pause"}, map[string]handlerFunc{"POST": (*Sim).restLiveRecPause, "DELETE": (*Sim).restLiveRecUnpause}},
	{[]string{"recordings", "live", "{}", "mute"}, map[string]handlerFunc{"POST": (*Sim).restLiveRecMute, "DELETE": (*Sim).restLiveRecMute}},
	{[]string{"recordings", "stored"}, map[string]handlerFunc{"GET": (*Sim).restStoredList}},
	{[]string{"recordings", "stored", "{}"}, map[string]handlerFunc{"GET": (*Sim).restStoredGet, "DELETE": (*Sim).restStoredDelete}},
	{[]string{"recordings", "stored", "{}", "file"}, map[string]handlerFunc{"GET": (*Sim).restStoredFile}},
	{[]string{"recordings", "stored", "{}", "copy"}, map[string]handlerFunc{"POST": (*Sim).restStoredCopy}},
	{[]string{"deviceStates"}, map[string]handlerFunc{"GET": (*Sim).restDeviceStates}},
	{[]string{"deviceStates", "{}"}, map[string]handlerFunc{"GET": (*Sim).restDeviceState}},
	{[]string{"sounds"}, map[string]handlerFunc{"GET": (*Sim).restSoundList}},
	{[]string{"sounds", "{}"}, map[string]handlerFunc{"GET": (*Sim).restSoundGet}},
	{[]string{"applications"}, map[string]handlerFunc{"GET": (*Sim).restAppList}},
	{[]string{"applications", "{}"}, map[string]handlerFunc{"GET": (*Sim).restAppGet}},
	{[]string{"applications", "{}", "subscription"}, map[string]handlerFunc{"POST": (*Sim).restSubscribe, "DELETE": (*Sim).restUnsubscribe}},
}

func (s *Sim) route(w http.ResponseWriter, r *http.Request, p params) {
	raw := strings.TrimPrefix(r.URL.EscapedPath(), "/ari/")
	if strings.HasSuffix(raw, "/") && raw != "" {
		trimmed := strings.TrimRight(r.URL.Path, "/")
		writeError(w, http.StatusNotFound, "ARI URLs do not end with a slash. Try "+trimmed)
		return
	}
	segs := strings.Split(raw, "/")
	for i, sg := range segs {
		if u, err := url.PathUnescape(sg); err == nil {
			segs[i] = u
		}
	}
	for _, rt := range routes {
		args, ok := match(rt.pattern, segs)
		if !ok {
			continue
		}
		if r.Method == http.MethodOptions {
			writeNoContent(w)
			return
		}
		h := rt.methods[r.Method]
		if h == nil {
			writeError(w, http.StatusMethodNotAllowed, "Invalid method")
			return
		}
		s.mu.Lock()
		rp := h(s, args, p)
		s.mu.Unlock()
		rp.write(w)
		return
	}
	writeError(w, http.StatusNotFound, "Resource not found")
}

// match reports whether segs fit pattern; "{}" matches one segment. Literal
// segments win over placeholders because routes list literals first
// (channels/create before channels/{id}).
func match(pattern, segs []string) ([]string, bool) {
	if len(pattern) != len(segs) {
		return nil, false
	}
	var args []string
	for i, pt := range pattern {
		if pt == "{}" {
			args = append(args, segs[i])
			continue
		}
		if pt != segs[i] {
			return nil, false
		}
	}
	return args, true
}
