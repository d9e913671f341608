package eslsim

import (
	"fmt"
	"time"

	"github.com/tandem-cc/tandem/pbxsim"
)

// channel is one FreeSWITCH session the simulator models: an inbound
// customer leg (trace 03's B leg) or a leg Tandem originated (trace 04's G
// leg). The far ends (the loopback A legs and fake phones of the traces)
// are scripted parties, not channels: with a SIP endpoint they live outside
// FreeSWITCH.
type channel struct {
	uuid, name  string
	direction   string // inbound | outbound
	state       string // CS_*
	callState   string // DOWN RINGING ACTIVE HANGUP
	answerState string // ringing answered hangup
	cidNum      string
	cidName     string
	dest        string
	context     string
	endpoint    string // dial string of an originated leg
	created     time.Time
	answered    time.Time
	dtmfUntil   time.Time  // when the far end may send its next DTMF digit
	dtmfQ       []dtmfItem // digits the far end has still to send, in order
	dtmfBusy    bool       // a timer is sending dtmfQ
	// transferred: the leg went through uuid_bridge's transfer, which
	// changes its caller profile (Transfer-Source, no callee name).
	transferred    bool
	transferSource string
	seq            int

	vars     map[string]string
	varOrder []string

	// parked: in park; parkApp: via the park application (CS_EXECUTE, its
	// CHANNEL_EXECUTE_COMPLETE comes when it ends) rather than CS_PARK.
	parked, parkApp bool
	twID            string // Application-UUID of the running three_way
	twThen          string // the inline dialplan after three_way ("park"), run when it ends
	parkID          string // Application-UUID of the running park application
	// parkResp is what the park application's completion reports: the
	// response of the last application run inside it (trace 05: FILE
	// PLAYED after a broadcast was broken).
	parkResp     string
	app, appData string // the application running, for show channels
	peer         *channel
	// otherLeg is the last bridge peer, for the Other-Leg headers (they
	// outlive the bridge); otherLeader is leader at that time.
	otherLeg    *channel
	otherLeader bool
	leader      bool       // this leg got the CHANNEL_BRIDGE (first uuid_bridge argument)
	threeWay    *channel   // the leg whose three_way this leg joined
	guests      []*channel // legs in this leg's three_way
	playing     *play
	playQ       []*play
	recs        map[string]*recording

	hangingUp, destroyed bool
	cause                string
	timers               []*simTimer
	shared               map[string]bool

	script  *callerScript
	phone   *pbxsim.Phone
	job     *originateJob
	outSock bool // controlled by an outbound socket connection
	// The socket application: sockRunning while it waits in its park
	// (its connection ending then moves the dialplan on), its
	// Application-UUID and data, and the socket addresses the outbound
	// dialplan has still to try.
	sockRunning      bool
	sockID, sockData string
	sockets          []string
	afterAnswer      string // what an originated leg runs once answered
}

func (c *channel) live() bool { return c != nil && !c.hangingUp && !c.destroyed }

// setVar sets a channel variable, keeping first-set order for headers.
func (c *channel) setVar(k, v string) {
	if _, ok := c.vars[k]; !ok {
		c.varOrder = append(c.varOrder, k)
	}
	c.vars[k] = v
}

func (c *channel) unsetVar(k string) {
	if _, ok := c.vars[k]; !ok {
		return
	}
	delete(c.vars, k)
	for i, n := range c.varOrder {
		if n == k {
			c.varOrder = append(c.varOrder[:i:i], c.varOrder[i+1:]...)
			break
		}
	}
}

// newChannel creates a channel with FreeSWITCH's base variables. Callers
// hold s.mu.
func (s *Sim) newChannel(uuid, name, direction string) *channel {
	if uuid == "" {
		uuid = s.newUUID()
	}
	s.sessionID++
	s.chanSeq++
	c := &channel{
		uuid: uuid, name: name, direction: direction,
		state: "CS_NEW", callState: "DOWN", answerState: "ringing",
		created: s.clock.Now(), seq: s.chanSeq,
		vars: map[string]string{}, recs: map[string]*recording{}, shared: map[string]bool{},
	}
	c.setVar("direction", direction)
	c.setVar("uuid", uuid)
	c.setVar("session_id", fmt.Sprint(s.sessionID))
	c.setVar("channel_name", name)
	c.setVar("read_codec", "L16")
	c.setVar("read_rate", "8000")
	c.setVar("write_codec", "L16")
	c.setVar("write_rate", "8000")
	c.setVar("call_uuid", uuid)
	s.channels[uuid] = c
	return c
}

// liveChannel returns the channel uuid if it exists and is not hanging up.
func (s *Sim) liveChannel(uuid string) *channel {
	c := s.channels[uuid]
	if !c.live() {
		return nil
	}
	return c
}

func fmtUUID(a, b uint64) string {
	return fmt.Sprintf("%08x-%04x-4%03x-%04x-%012x",
		uint32(a>>32), uint16(a>>16), uint16(a)&0xfff, 0x8000|uint16(b>>48)&0x3fff, b&0xffffffffffff)
}

// causes maps FreeSWITCH hangup cause names to Q.850 codes.
var causes = map[string]int{
	"UNALLOCATED_NUMBER": 1, "NO_ROUTE_DESTINATION": 3, "NORMAL_CLEARING": 16, "USER_BUSY": 17,
	"NO_USER_RESPONSE": 18, "NO_ANSWER": 19, "SUBSCRIBER_ABSENT": 20, "CALL_REJECTED": 21,
	"DESTINATION_OUT_OF_ORDER": 27, "NORMAL_UNSPECIFIED": 31, "NORMAL_CIRCUIT_CONGESTION": 34,
	"ORIGINATOR_CANCEL": 487, "LOSE_RACE": 502, "MANAGER_REQUEST": 503, "USER_NOT_REGISTERED": 606,
}

// causeName normalises a cause given by name or Q.850 number; "" if unknown.
func causeName(s string) string {
	if _, ok := causes[s]; ok {
		return s
	}
	for n, q := range causes {
		if fmt.Sprint(q) == s {
			return n
		}
	}
	return ""
}
