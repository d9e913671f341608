package lab

import (
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"sync"

	"github.com/tandem-cc/tandem/acd"
	"github.com/tandem-cc/tandem/ari"
	"github.com/tandem-cc/tandem/config"
	"github.com/tandem-cc/tandem/esl"
	"github.com/tandem-cc/tandem/internal/httpserver"
	"github.com/tandem-cc/tandem/pbxsim"
)

// pbxRig is the seam between the lab and a PBX kind: a started simulator
// of that kind, and how the driver of each seat is built on it. The lab
// itself (Redis, replicas, seats, Settle) is the same for every kind.
type pbxRig interface {
	// sim is the simulator the portable scenarios act on (Lab.PBX).
	sim() PBXSim
	// driver builds the (unstarted) driver of seat: its engine runs it.
	driver(seat acd.Seat, log *slog.Logger) (seatDriver, error)
	// bridged says whether legs a and b share media now (Lab.Bridged).
	bridged(a, b string) bool
	// heard is the media log of leg in Tandem's media terms (sound:x,
	// number:n, recording:x, tone:x as in package media; MOH by class):
	// what the party on leg heard (Lab.Heard).
	heard(leg string) []pbxsim.MediaEntry
	// recordingStored says whether the PBX keeps a finished recording
	// of that name (Lab.RecordingStored).
	recordingStored(name string) (bool, error)
	// nodes names the PBX nodes as serve's pbx.nodes would (acd.Options.
	// PBXNodes): none for a lab on one unnamed PBX.
	nodes() []string
	// close stops the simulator and whatever serves it.
	close()
}

// seatDriver is one seat's driver, whatever its kind.
type seatDriver struct {
	pbx acd.PBX
	// connected says whether the driver's event connection is up (the
	// lab waits for it before a replica counts as started).
	connected func() bool
	// ari is the same driver as the Asterisk driver, nil on other kinds
	// (Replica.Driver, for the Asterisk-only tests).
	ari *ari.Driver
	// esl is the same driver as the FreeSWITCH driver, nil on other kinds
	// (its outbound listener, Options.Outbound).
	esl *esl.Driver
}

// startRig starts the simulator of the lab's PBX kind: pbxsim served over
// HTTP with ari drivers, eslsim on a TCP listener with esl drivers, or one
// of each with a pbxmux over both drivers per seat.
func startRig(l *Lab, opts Options) (pbxRig, error) {
	switch opts.PBX {
	case Asterisk:
		r, err := startAsterisk(opts, "")
		if err != nil {
			return nil, err // not a typed nil in the interface
		}
		l.Sim, l.ARIURL = r.s, r.url
		return r, nil
	case FreeSWITCH:
		r, err := startFreeSWITCH(opts)
		if err != nil {
			return nil, err // not a typed nil in the interface
		}
		return r, nil
	case Mixed:
		r, err := startMixed(opts)
		if err != nil {
			return nil, err // not a typed nil in the interface
		}
		return r, nil
	default:
		return nil, errUnknownKind(opts.PBX)
	}
}

// asteriskRig is the ARI simulator served over HTTP on a loopback port,
// and ARI drivers on it.
type asteriskRig struct {
	s      *pbxsim.Sim
	url    string
	opts   Options
	server *http.Server
	wg     sync.WaitGroup
}

const ariUser, ariPass = "tandem", "tandem-secret"

// startAsterisk starts pbxsim; systemName, when set, prefixes its channel
// ids as Asterisk's systemname does (the mixed lab's node name).
func startAsterisk(opts Options, systemName string) (*asteriskRig, error) {
	r := &asteriskRig{opts: opts}
	r.s = pbxsim.New(pbxsim.Options{Username: ariUser, Password: ariPass, SystemName: systemName, Logger: opts.Logger, Timing: opts.SimTiming})
	handler := r.s.Handler()
	if opts.WrapSim != nil {
		handler = opts.WrapSim(handler)
	}
	// Served as `tandem serve` serves its API, with the default http.*
	// settings.
	var ln net.Listener
	var err error
	r.server, ln, err = httpserver.Listen("127.0.0.1:0", handler, httpserver.Options{HTTP: config.Default().HTTP, Logger: opts.Logger})
	if err != nil {
		r.s.Close()
		return nil, fmt.Errorf("listen for the simulator: %w", err)
	}
	r.url = "http://" + ln.Addr().String() + "/ari"
	r.wg.Add(1)
	go func() {
		defer r.wg.Done()
		_ = r.server.Serve(ln)
	}()
	return r, nil
}

func (r *asteriskRig) sim() PBXSim { return r.s }

func (r *asteriskRig) nodes() []string { return nil }

func (r *asteriskRig) driver(seat acd.Seat, log *slog.Logger) (seatDriver, error) {
	d := r.ariDriver(seat, log)
	return seatDriver{pbx: d, connected: d.Connected, ari: d}, nil
}

func (r *asteriskRig) ariDriver(seat acd.Seat, log *slog.Logger) *ari.Driver {
	return ari.New(ari.Options{
		URL: r.url, Username: ariUser, Password: ariPass, App: seat.App,
		RequestTimeout: r.opts.RequestTimeout, Logger: log,
	})
}

// bridged: on Asterisk, two live channels share media when they are in
// the same bridge.
func (r *asteriskRig) bridged(a, b string) bool {
	ca, okA := r.s.Channel(a)
	cb, okB := r.s.Channel(b)
	return okA && okB && !ca.HungUp && !cb.HungUp && ca.BridgeID != "" && ca.BridgeID == cb.BridgeID
}

// heard: pbxsim logs ARI media URIs, which are Tandem's media terms, and a
// bridge's music on each channel in the bridge.
func (r *asteriskRig) heard(leg string) []pbxsim.MediaEntry { return r.s.MediaLog(leg) }

// recordingStored asks ARI for the stored recording, as Asterisk's own
// clients would: pbxsim keeps them behind its REST API only.
func (r *asteriskRig) recordingStored(name string) (bool, error) {
	req, err := http.NewRequest(http.MethodGet, r.url+"/recordings/stored/"+url.PathEscape(name), nil)
	if err != nil {
		return false, fmt.Errorf("stored recording %s: %w", name, err)
	}
	req.SetBasicAuth(ariUser, ariPass)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return false, fmt.Errorf("stored recording %s: %w", name, err)
	}
	_ = resp.Body.Close()
	switch resp.StatusCode {
	case http.StatusOK:
		return true, nil
	case http.StatusNotFound:
		return false, nil
	default:
		return false, fmt.Errorf("stored recording %s: %s", name, resp.Status)
	}
}

func (r *asteriskRig) close() {
	r.s.Close()
	_ = r.server.Close()
	r.wg.Wait()
}
