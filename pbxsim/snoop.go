package pbxsim

import "net/http"

var snoopDirections = map[string]bool{"": true, "none": true, "both": true, "in": true, "out": true}

// restSnoop creates a snoop channel (a supervisor's listen/whisper leg). It
// enters the app's Stasis at once in state Up; it never reports
// ChannelDestroyed, and when the snooped channel goes it only gets StasisEnd
// (trace 11). A snoop works on channels outside Stasis too.
func (s *Sim) restSnoop(args []string, p params) reply {
	spy, whisper := p.get("spy"), p.get("whisper")
	if !snoopDirections[spy] {
		return fail(http.StatusBadRequest, "Invalid direction specified for spy")
	}
	if !snoopDirections[whisper] {
		return fail(http.StatusBadRequest, "Invalid direction specified for whisper")
	}
	app := p.get("app")
	if app == "" {
		return fail(http.StatusBadRequest, "Application name is required")
	}
	if (spy == "" || spy == "none") && (whisper == "" || whisper == "none") {
		return fail(http.StatusBadRequest, "Direction must be specified for at least spy or whisper")
	}
	c := s.liveChannel(args[0])
	if c == nil {
		return fail(http.StatusNotFound, "Provided channel was not found")
	}
	id := p.get("snoopId")
	if len(args) > 1 {
		id = args[1]
	}
	if s.idTaken(id) {
		return fail(http.StatusConflict, "Channel with given unique ID already exists")
	}
	sn := s.newChannel(id, "Snoop/"+c.id+"-"+s.newLocalSuffix(), "Snoop")
	sn.state = "Up"
	sn.context, sn.exten, sn.appName, sn.appData = "default", "s", "", ""
	c.snoops = append(c.snoops, sn)
	resp := sn.json()
	if !s.enterStasis(sn, app, parseArgs(p.get("appArgs")), viaDialplan) {
		s.after(s.timing.StasisFail, sn, func() { s.hangup(sn, 16, byDialplan) })
	}
	return ok(resp)
}

func (s *Sim) restDeviceStates(_ []string, _ params) reply { return ok([]obj{}) }

// restDeviceState reports INVALID for every device: the simulator has no
// device state providers (Asterisk answers the same for unknown names).
func (s *Sim) restDeviceState(args []string, _ params) reply {
	return ok(obj{{"name", args[0]}, {"state", "INVALID"}})
}
