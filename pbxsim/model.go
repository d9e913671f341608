package pbxsim

import (
	"maps"
	"time"
)

// stasisVia says how a channel entered Stasis. It decides what the app sees
// when the channel ends: a channel that entered from the dialplan is only
// implicitly subscribed and gets no ChannelDestroyed.
type stasisVia int

const (
	viaDialplan  stasisVia = iota // Stasis() in the dialplan
	viaOriginate                  // POST /channels with app=
	viaCreate                     // POST /channels/create
)

// channel is one simulated Asterisk channel.
type channel struct {
	id, name   string
	tech       string // "Local", "PJSIP", ...
	endpoint   string // the endpoint it was dialled as, "" for inbound calls
	state      string // Down, Rsrvd, OffHook, Dialing, Ring, Ringing, Up, Busy
	callerName string
	callerNum  string
	connName   string
	connNum    string
	context    string
	exten      string
	priority   int
	appName    string
	appData    string
	created    time.Time
	vars       map[string]string
	showVars   bool // render vars as channelvars (scripted inbound calls)
	linkedid   string

	inStasis   bool
	stasisApp  string
	stasisArgs []string
	via        stasisVia
	subs       map[string]bool // explicit app subscriptions

	bridge *bridge
	role   string
	// sharedWith holds the ids of every channel that was ever in a bridge
	// at the same time as this one (BridgedWith reads it for the checks).
	sharedWith map[string]bool
	mohClass   string // "" when no music is playing
	mohOn      bool
	holding    bool
	mutedIn    bool
	ringing    bool // POST /ring indication
	snoops     []*channel

	peer     *channel // the other half of a Local pair
	pendingB *channel // ;2 half of a created Local channel, born on /dial
	half     int      // 1 or 2 for Local channels, 0 otherwise
	// indexedEndpoints and indexedConns: its keys in s.origins.
	indexedEndpoints []string
	indexedConns     []string

	// pbxApp is the dialplan application the channel is blocked in outside
	// Stasis ("Playback", "Wait", "Echo", ...); "" if none. runsPBX says the
	// channel is executing dialplan at all (so its teardown ends the PBX).
	pbxApp  string
	runsPBX bool
	// deferStasisStatus: the channel left Stasis by /continue and sets
	// STASISSTATUS only when it ends.
	deferStasisStatus bool

	dial   *dialState // set on a channel that is being dialled
	script *callerScript
	phone  *Phone // the scripted phone behind a dialled leg

	playQueue []*playback // playbacks on this channel, current first
	timers    []*simTimer

	hangingUp   bool
	destroyed   bool
	destroyedAt time.Time
	cause       int

	seq int // creation order for listings
}

// dialState tracks the Dial of an originated or dialled channel. Its
// dialstatus goes "" → RINGING → ANSWER / BUSY / NOANSWER / CHANUNAVAIL.
type dialState struct {
	dialstring string
	status     string
	done       bool
	timeout    *simTimer
	viaCreate  bool // /channels/create + /dial rather than originate
	// target after answer (originate): either an app or a dialplan location
	app      string
	appArgs  []string
	context  string
	exten    string
	priority int
}

func (c *channel) live() bool { return c != nil && !c.destroyed }

func (c *channel) json() obj {
	o := obj{
		{"id", c.id},
		{"name", c.name},
		{"state", c.state},
		{"protocol_id", ""},
		{"caller", obj{{"name", c.callerName}, {"number", c.callerNum}}},
		{"connected", obj{{"name", c.connName}, {"number", c.connNum}}},
		{"accountcode", ""},
		{"dialplan", obj{
			{"context", c.context},
			{"exten", c.exten},
			{"priority", c.priority},
			{"app_name", c.appName},
			{"app_data", c.appData},
		}},
		{"creationtime", ts(c.created)},
		{"language", "en"},
	}
	if c.showVars && len(c.vars) > 0 {
		// channelvars appears only when ari.conf asks for it; the simulator
		// shows it on scripted inbound calls so an ACD can read attached
		// data straight from StasisStart.
		o = o.set("channelvars", maps.Clone(c.vars))
	}
	return o
}

// bridge is one simulated bridge.
type bridge struct {
	id, name   string
	typ        string // mixing, holding
	technology string
	created    time.Time
	channels   []*channel
	subs       map[string]bool // apps subscribed (a channel of theirs entered)
	mohClass   string
	mohOn      bool
	mohHelper  string   // the Announcer/ARI_MOH channel while MOH plays
	hidden     []string // helper channels in the bridge, oldest first
	playQueue  []*playback
	destroyed  bool
}

func (b *bridge) json() obj {
	ids := make([]string, 0, len(b.channels))
	for _, c := range b.channels {
		ids = append(ids, c.id)
	}
	return obj{
		{"id", b.id},
		{"technology", b.technology},
		{"bridge_type", b.typ},
		{"bridge_class", "stasis"},
		{"creator", "Stasis"},
		{"name", b.name},
		{"channels", ids},
		{"creationtime", ts(b.created)},
		{"video_mode", "talker"},
	}
}

// playback is one ARI playback; media holds the remaining URIs.
type playback struct {
	id        string
	media     []string
	idx       int
	targetURI string
	state     string // queued, playing, paused, done, failed
	ch        *channel
	br        *bridge
	timer     *simTimer
	stuck     bool   // unknown scheme: started, never finishes
	helper    string // Announcer channel of a bridge playback
}

func (p *playback) json() obj {
	o := obj{{"id", p.id}, {"media_uri", p.media[p.idx]}}
	if p.idx+1 < len(p.media) {
		o = o.set("next_media_uri", p.media[p.idx+1])
	}
	return o.set("target_uri", p.targetURI).set("language", "en").set("state", p.state)
}
