package lab

import (
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/tandem-cc/tandem/pbxsim"
	"github.com/tandem-cc/tandem/pbxsim/eslsim"
)

// The mixed lab's PBX nodes, as endpoints and a configuration's pbx.nodes
// name them.
const (
	MixedAsteriskNode   = "ast1"
	MixedFreeSWITCHNode = "fs1"
)

// mixedTrunks()[from][to] is how node from dials a phone living on node
// to: through the SIP trunk between the two PBXs (pbxmux.Options.Trunks,
// a configuration's pbx.trunks entry {from, to, dial}).
func mixedTrunks() map[string]map[string]string {
	return map[string]map[string]string{
		MixedAsteriskNode:   {MixedFreeSWITCHNode: "PJSIP/{exten}@" + MixedFreeSWITCHNode},
		MixedFreeSWITCHNode: {MixedAsteriskNode: "sofia/gateway/" + MixedAsteriskNode + "/{exten}"},
	}
}

// MixedEndpoint is where extension ext lives in a mixed lab: an extension
// ending in an even digit is a FreeSWITCH directory user on fs1
// ("fs1/user/1002"), any other (odd, or not ending in a digit, like the
// "{number}" pattern outside numbers are dialled through) a PJSIP endpoint
// on ast1 ("ast1/PJSIP/1001"). So consecutive extensions alternate between
// the two PBXs, and any test's agents are spread over both.
func MixedEndpoint(ext string) string {
	if n := len(ext); n > 0 && strings.IndexByte("02468", ext[n-1]) >= 0 {
		return MixedFreeSWITCHNode + "/user/" + ext
	}
	return MixedAsteriskNode + "/PJSIP/" + ext
}

// MixedSim is the mixed lab's PBX: the ARI simulator as node ast1 and the
// event-socket simulator as node fs1, seen as one PBX by the portable
// scenarios. Endpoints name their node (MixedEndpoint). A phone lives on
// its own node and is reachable from the other one through the trunk
// (SetPhone). Calls arrive on both nodes in turn. The counters of a leg or
// a call are the node's that has it; the invariants' counters also count
// what only the two nodes together see: an agent rung on both at once
// (directly on one, through the trunk on the other), an offer of one call
// on both.
type MixedSim struct {
	// Asterisk and FreeSWITCH are the two nodes' simulators, for the
	// tests about one node (what crossed the trunk).
	Asterisk   *pbxsim.Sim
	FreeSWITCH *eslsim.Sim

	mu sync.Mutex
	// calls counts Call, which alternates between the nodes.
	calls int
	// reaches maps "<node>/<dial string>" of a trunk dial string to the
	// endpoint of the phone it reaches ("fs1/sofia/gateway/ast1/1001" →
	// "ast1/PJSIP/1001"); SetPhone fills it.
	reaches map[string]string
	// ringing are the agents' endpoints and connection ids a ring is
	// being placed for now (beginRing): rings of one of them are placed
	// one at a time, so the check across nodes sees every earlier leg.
	ringing map[string]bool
	idle    *sync.Cond // signalled when ringing loses a key
	// cross counts DoubleOffers and AgentsWithTwoCalls that neither node
	// saw alone.
	cross pbxsim.Stats
}

var _ PBXSim = (*MixedSim)(nil)

func newMixedSim(ast *pbxsim.Sim, fs *eslsim.Sim) *MixedSim {
	m := &MixedSim{Asterisk: ast, FreeSWITCH: fs, reaches: map[string]string{}, ringing: map[string]bool{}}
	m.idle = sync.NewCond(&m.mu)
	return m
}

// node is the simulator of a node by name.
func (m *MixedSim) node(name string) PBXSim {
	if name == MixedFreeSWITCHNode {
		return m.FreeSWITCH
	}
	return m.Asterisk
}

// otherNode is the node that is not name.
func otherNode(name string) string {
	if name == MixedFreeSWITCHNode {
		return MixedAsteriskNode
	}
	return MixedFreeSWITCHNode
}

// splitMixed reads "<node>/<dial string>"; ok is false for an endpoint
// that names neither node.
func splitMixed(endpoint string) (node, dial string, ok bool) {
	head, rest, found := strings.Cut(endpoint, "/")
	if found && rest != "" && (head == MixedAsteriskNode || head == MixedFreeSWITCHNode) {
		return head, rest, true
	}
	return "", endpoint, false
}

// trunkDial is what node from dials to reach dial, a dial string of node
// to (the pbxmux rule: {exten} is its last "/"-part).
func trunkDial(from, to, dial string) string {
	exten := dial[strings.LastIndex(dial, "/")+1:]
	return strings.NewReplacer("{exten}", exten, "{dial}", dial).Replace(mixedTrunks()[from][to])
}

// Call places an inbound caller on ast1 and fs1 in turn (the first on
// ast1), as a contact center whose numbers land on both PBXs.
func (m *MixedSim) Call(c pbxsim.Caller) (string, error) {
	m.mu.Lock()
	n := m.calls
	m.calls++
	m.mu.Unlock()
	if n%2 == 0 {
		return m.Asterisk.Call(c)
	}
	return m.FreeSWITCH.Call(c)
}

// SetPhone scripts the phone at endpoint. A node-qualified endpoint is the
// phone on its own node and, with the same script, the trunk dial string
// that reaches it from the other node: SetPhone("ast1/PJSIP/1001", p) is
// ast1's PJSIP/1001 and fs1's sofia/gateway/ast1/1001. An endpoint that
// names no node is set on both as given.
func (m *MixedSim) SetPhone(endpoint string, p pbxsim.Phone) {
	node, dial, ok := splitMixed(endpoint)
	if !ok {
		m.Asterisk.SetPhone(endpoint, p)
		m.FreeSWITCH.SetPhone(endpoint, p)
		return
	}
	other := otherNode(node)
	via := trunkDial(other, node, dial)
	m.mu.Lock()
	m.reaches[other+"/"+via] = endpoint
	m.mu.Unlock()
	m.node(node).SetPhone(dial, p)
	m.node(other).SetPhone(via, p)
}

// endpointOf is the endpoint a leg dialled as dial on node reaches: the
// phone a trunk dial string reaches, else "<node>/<dial>"; "" stays "".
func (m *MixedSim) endpointOf(node, dial string) string {
	if dial == "" {
		return ""
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	if ep, ok := m.reaches[node+"/"+dial]; ok {
		return ep
	}
	return node + "/" + dial
}

// dialsTo lists, per node, what that node dials to reach endpoint.
func dialsTo(endpoint string) map[string]string {
	node, dial, ok := splitMixed(endpoint)
	if !ok {
		return map[string]string{MixedAsteriskNode: endpoint, MixedFreeSWITCHNode: endpoint}
	}
	other := otherNode(node)
	return map[string]string{node: dial, other: trunkDial(other, node, dial)}
}

// owner is the node that has leg (live or hung up), "" if neither.
func (m *MixedSim) owner(leg string) string {
	if _, ok := m.Asterisk.Channel(leg); ok {
		return MixedAsteriskNode
	}
	if _, ok := m.FreeSWITCH.Channel(leg); ok {
		return MixedFreeSWITCHNode
	}
	return ""
}

var errNoLeg = errors.New("mixed pbx: no such leg on either node")

// HangUp hangs up the party on leg, on the node that has it.
func (m *MixedSim) HangUp(leg string) error {
	node := m.owner(leg)
	if node == "" {
		return fmt.Errorf("hang up %s: %w", leg, errNoLeg)
	}
	return m.node(node).HangUp(leg)
}

// InjectDTMF has the party on leg press digits, on the node that has it.
func (m *MixedSim) InjectDTMF(leg, digits string) error {
	node := m.owner(leg)
	if node == "" {
		return fmt.Errorf("dtmf on %s: %w", leg, errNoLeg)
	}
	return m.node(node).InjectDTMF(leg, digits)
}

// view gives a node's channel its endpoint in the mixed lab's terms.
func (m *MixedSim) view(node string, c pbxsim.ChannelView) pbxsim.ChannelView {
	c.Endpoint = m.endpointOf(node, c.Endpoint)
	return c
}

// Channel reads leg on the node that has it; its Endpoint is the phone it
// was dialled to (a trunk leg's is the phone the trunk reaches).
func (m *MixedSim) Channel(leg string) (pbxsim.ChannelView, bool) {
	node := m.owner(leg)
	if node == "" {
		return pbxsim.ChannelView{}, false
	}
	c, ok := m.node(node).Channel(leg)
	return m.view(node, c), ok
}

// Channels lists ast1's legs, then fs1's.
func (m *MixedSim) Channels() []pbxsim.ChannelView {
	var out []pbxsim.ChannelView
	for _, node := range []string{MixedAsteriskNode, MixedFreeSWITCHNode} {
		for _, c := range m.node(node).Channels() {
			out = append(out, m.view(node, c))
		}
	}
	return out
}

// BridgedWith asks the node that has leg: a bridge never spans the nodes.
func (m *MixedSim) BridgedWith(leg string) []string {
	node := m.owner(leg)
	if node == "" {
		return nil
	}
	return m.node(node).BridgedWith(leg)
}

// LiveLegs lists the live legs dialled to endpoint on either node: its
// own node's, and the trunk's from the other node.
func (m *MixedSim) LiveLegs(endpoint string) []string {
	var out []string
	for node, dial := range dialsTo(endpoint) {
		out = append(out, m.node(node).LiveLegs(dial)...)
	}
	slices.Sort(out)
	return out
}

// MediaLog is the media log of leg on the node that has it, in that
// node's terms (Lab.Heard gives Tandem's).
func (m *MixedSim) MediaLog(leg string) []pbxsim.MediaEntry {
	node := m.owner(leg)
	if node == "" {
		return nil
	}
	return m.node(node).MediaLog(leg)
}

// Stats adds the nodes' counters up. OriginatesByEndpoint counts per
// endpoint in the mixed lab's terms (a ring through the trunk counts for
// the phone it reaches); DoubleOffers and AgentsWithTwoCalls add what only
// the two nodes together see (beginRing).
func (m *MixedSim) Stats() pbxsim.Stats {
	a, f := m.Asterisk.Stats(), m.FreeSWITCH.Stats()
	st := pbxsim.Stats{
		CallsPlaced:          a.CallsPlaced + f.CallsPlaced,
		CallsFailed:          a.CallsFailed + f.CallsFailed,
		CallsAbandoned:       a.CallsAbandoned + f.CallsAbandoned,
		CallsBridged:         a.CallsBridged + f.CallsBridged,
		Originates:           a.Originates + f.Originates,
		OriginatesByEndpoint: map[string]int{},
		DoubleOffers:         a.DoubleOffers + f.DoubleOffers,
		AgentsWithTwoCalls:   a.AgentsWithTwoCalls + f.AgentsWithTwoCalls,
		Hangups:              a.Hangups + f.Hangups,
	}
	for node, s := range map[string]pbxsim.Stats{MixedAsteriskNode: a, MixedFreeSWITCHNode: f} {
		for dial, n := range s.OriginatesByEndpoint {
			st.OriginatesByEndpoint[m.endpointOf(node, dial)] += n
		}
	}
	m.mu.Lock()
	st.DoubleOffers += m.cross.DoubleOffers
	st.AgentsWithTwoCalls += m.cross.AgentsWithTwoCalls
	m.mu.Unlock()
	return st
}

// Leftovers is what either node still holds.
func (m *MixedSim) Leftovers() pbxsim.Leftovers {
	a, f := m.Asterisk.Leftovers(), m.FreeSWITCH.Leftovers()
	return pbxsim.Leftovers{
		Bridges:    append(a.Bridges, f.Bridges...),
		Snoops:     append(a.Snoops, f.Snoops...),
		Recordings: append(a.Recordings, f.Recordings...),
	}
}

// Originates lists ast1's originates in order, then fs1's, each Endpoint
// the phone it reached (the nodes' own lists keep their dial strings).
func (m *MixedSim) Originates() []pbxsim.Originate {
	var out []pbxsim.Originate
	for _, node := range []string{MixedAsteriskNode, MixedFreeSWITCHNode} {
		for _, o := range m.node(node).Originates() {
			o.Endpoint = m.endpointOf(node, o.Endpoint)
			out = append(out, o)
		}
	}
	return out
}

// WaitIdle waits until neither node has a live leg, or timeout passes.
func (m *MixedSim) WaitIdle(timeout time.Duration) bool {
	deadline := time.Now().Add(timeout)
	return m.Asterisk.WaitIdle(timeout) && m.FreeSWITCH.WaitIdle(time.Until(deadline))
}

// beginRing is called before a seat's driver for node rings dial with
// vars: it waits until no other ring for the same phone or the same
// connection is being placed, and checks whether the other node has a
// live leg to that phone (directly or through the trunk) or a live offer
// of that connection. The returned func ends the ring; rung says whether
// the node accepted it, and only then does the ring count: an agent rung
// on both nodes at once is an agent with two calls, a call offered on both
// a double offer, though neither node alone saw one. Each node counts its
// own conflicts itself.
func (m *MixedSim) beginRing(node, dial string, vars map[string]string) (end func(rung bool)) {
	phone := m.endpointOf(node, dial)
	conn := vars[connVar]
	keys := []string{"phone:" + phone}
	if conn != "" {
		keys = append(keys, "conn:"+conn)
	}
	m.mu.Lock()
	for m.anyRinging(keys) {
		m.idle.Wait()
	}
	for _, k := range keys {
		m.ringing[k] = true
	}
	m.mu.Unlock()

	other := otherNode(node)
	two := len(m.node(other).LiveLegs(dialsTo(phone)[other])) > 0
	double := false
	if conn != "" {
		for _, c := range m.node(other).Channels() {
			if !c.HungUp && c.Endpoint != "" && c.Vars[connVar] == conn {
				double = true
			}
		}
	}
	return func(rung bool) {
		m.mu.Lock()
		defer m.mu.Unlock()
		if rung && two {
			m.cross.AgentsWithTwoCalls++
		}
		if rung && double {
			m.cross.DoubleOffers++
		}
		for _, k := range keys {
			delete(m.ringing, k)
		}
		m.idle.Broadcast()
	}
}

// anyRinging says whether a ring for one of keys is being placed. Callers
// hold m.mu.
func (m *MixedSim) anyRinging(keys []string) bool {
	for _, k := range keys {
		if m.ringing[k] {
			return true
		}
	}
	return false
}

// connVar names the connection a leg offers (the engine's ring variable,
// which the simulators' double-offer checks read too).
const connVar = "TANDEM_CONNECTION_ID"
