package lab

import (
	"context"
	"errors"
	"fmt"
	"log/slog"

	"github.com/tandem-cc/tandem/acd"
	"github.com/tandem-cc/tandem/pbxmux"
	"github.com/tandem-cc/tandem/pbxsim"
)

// mixedRig is one Asterisk node (pbxsim, channel ids prefixed with its
// system name) and one FreeSWITCH node (eslsim), as the Asterisk and
// FreeSWITCH rigs start them, and per seat a pbxmux over an ari driver and
// an esl driver with the SIP trunks between the nodes: the deployment of
// a contact center that runs both PBXs (`tandem serve` with pbx.nodes and
// trunks).
type mixedRig struct {
	ast *asteriskRig
	fs  *freeswitchRig
	s   *MixedSim
}

func startMixed(opts Options) (*mixedRig, error) {
	if opts.WrapSim != nil {
		// Only half of a mixed lab speaks HTTP; a wrapper for it would
		// stage a race on one node only, which no test asks for.
		return nil, errors.New("lab: WrapSim wraps the Asterisk simulator's HTTP handler; a mixed lab is not given one")
	}
	ast, err := startAsterisk(opts, MixedAsteriskNode)
	if err != nil {
		return nil, err
	}
	fs, err := startFreeSWITCH(opts)
	if err != nil {
		ast.close()
		return nil, err
	}
	return &mixedRig{ast: ast, fs: fs, s: newMixedSim(ast.s, fs.s)}, nil
}

func (r *mixedRig) sim() PBXSim { return r.s }

func (r *mixedRig) nodes() []string { return []string{MixedAsteriskNode, MixedFreeSWITCHNode} }

// driver is the seat's pbxmux over its two drivers, each watched by the
// composite simulator for rings that conflict across the nodes.
func (r *mixedRig) driver(seat acd.Seat, log *slog.Logger) (seatDriver, error) {
	a := r.ast.ariDriver(seat, log.With("pbx_node", MixedAsteriskNode))
	f := r.fs.eslDriver(seat, log.With("pbx_node", MixedFreeSWITCHNode))
	mux, err := pbxmux.New(pbxmux.Options{
		Nodes: []pbxmux.Node{
			{Name: MixedAsteriskNode, PBX: watchedNode{PBX: a, node: MixedAsteriskNode, sim: r.s, connected: a.Connected}},
			{Name: MixedFreeSWITCHNode, PBX: watchedNode{PBX: f, node: MixedFreeSWITCHNode, sim: r.s, connected: f.Connected}},
		},
		Trunks: mixedTrunks(),
		Logger: log,
	})
	if err != nil {
		return seatDriver{}, fmt.Errorf("lab: mixed PBX of %s: %w", seat.App, err)
	}
	return seatDriver{pbx: mux, connected: mux.Connected}, nil
}

// watchedNode is one node's driver in a seat's mux; its rings go through
// MixedSim.beginRing, so that a phone rung on both nodes at once, or a
// call offered on both, is counted though each node sees one leg only.
type watchedNode struct {
	acd.PBX
	node      string
	sim       *MixedSim
	connected func() bool
}

// Connected is the driver's: the mux asks each node whether it is up.
func (n watchedNode) Connected() bool { return n.connected() }

func (n watchedNode) Ring(ctx context.Context, req acd.RingRequest) error {
	end := n.sim.beginRing(n.node, req.Endpoint, req.Vars)
	err := n.PBX.Ring(ctx, req)
	end(err == nil)
	return err
}

// bridged: legs on different nodes never share a bridge (the trunk is
// crossed by ringing); legs on one node are asked of that node's rig.
func (r *mixedRig) bridged(a, b string) bool {
	switch node := r.s.owner(a); {
	case node == "" || node != r.s.owner(b):
		return false
	case node == MixedAsteriskNode:
		return r.ast.bridged(a, b)
	default:
		return r.fs.bridged(a, b)
	}
}

// heard: the media log of the node that has the leg, in Tandem's terms.
func (r *mixedRig) heard(leg string) []pbxsim.MediaEntry {
	switch r.s.owner(leg) {
	case MixedAsteriskNode:
		return r.ast.heard(leg)
	case MixedFreeSWITCHNode:
		return r.fs.heard(leg)
	default:
		return nil
	}
}

// recordingStored: a call is recorded on the node that has its caller;
// either node may keep the recording.
func (r *mixedRig) recordingStored(name string) (bool, error) {
	ok, err := r.ast.recordingStored(name)
	if ok || err != nil {
		return ok, err
	}
	return r.fs.recordingStored(name)
}

func (r *mixedRig) close() {
	r.ast.close()
	r.fs.close()
}
