package lab

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"maps"
	"net"
	"slices"
	"strconv"
	"strings"
	"sync"

	"github.com/tandem-cc/tandem/acd"
	"github.com/tandem-cc/tandem/esl"
	"github.com/tandem-cc/tandem/pbxsim"
	"github.com/tandem-cc/tandem/pbxsim/eslsim"
)

var _ PBXSim = (*eslsim.Sim)(nil)

// The lab FreeSWITCH's event-socket password and where its recordings go
// (a path on the simulated FreeSWITCH host; the driver names files there).
const (
	eslPass       = "tandem-secret"
	recordingsDir = "/var/lib/freeswitch/recordings"
)

// freeswitchRig is the event-socket simulator on a loopback port, and esl
// drivers on it.
type freeswitchRig struct {
	s      *eslsim.Sim
	addr   string
	opts   Options
	cancel context.CancelFunc
	wg     sync.WaitGroup
}

func startFreeSWITCH(opts Options) (*freeswitchRig, error) {
	if opts.WrapSim != nil {
		// WrapSim wraps an HTTP handler: ARI's. The event socket is TCP.
		return nil, errors.New("lab: WrapSim wraps the Asterisk simulator's HTTP handler; a FreeSWITCH lab has none")
	}
	r := &freeswitchRig{opts: opts}
	r.s = eslsim.New(eslsim.Options{Password: eslPass, Logger: opts.Logger, Timing: opts.SimTiming})
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		r.s.Close()
		return nil, fmt.Errorf("listen for the FreeSWITCH simulator: %w", err)
	}
	r.addr = ln.Addr().String()
	ctx, cancel := context.WithCancel(context.Background())
	r.cancel = cancel
	r.wg.Add(1)
	go func() {
		defer r.wg.Done()
		_ = r.s.Serve(ctx, ln)
	}()
	return r, nil
}

func (r *freeswitchRig) sim() PBXSim { return r.s }

func (r *freeswitchRig) nodes() []string { return nil }

// labAttachedVars are the channel variables the lab's callers carry that
// the scenarios expect as attached data, beside the queues' own
// variables. FreeSWITCH reports every channel variable with every event
// (and eslgo lower-cases their names), so a FreeSWITCH deployment lists
// the ones it keeps (pbx.attached_vars), as Asterisk lists them in its
// channelvars setting.
var labAttachedVars = []string{"ACCOUNT", "CARD", "CARD_NUMBER", "NOTE", "ORDER", "order", "callback_id", "TANDEM_QUEUE", "TANDEM_CONNECTION_ID"}

// attachedVars: labAttachedVars and every queue's variables, once each.
func (r *freeswitchRig) attachedVars() []string {
	seen := map[string]bool{}
	var out []string
	add := func(n string) {
		if n != "" && !seen[n] {
			seen[n] = true
			out = append(out, n)
		}
	}
	for _, n := range labAttachedVars {
		add(n)
	}
	for _, q := range slices.Sorted(maps.Keys(r.opts.Queues)) {
		for _, v := range r.opts.Queues[q].Variables {
			add(v.Name)
		}
	}
	return out
}

func (r *freeswitchRig) driver(seat acd.Seat, log *slog.Logger) (seatDriver, error) {
	d := r.eslDriver(seat, log)
	return seatDriver{pbx: d, connected: d.Connected, esl: d}, nil
}

func (r *freeswitchRig) eslDriver(seat acd.Seat, log *slog.Logger) *esl.Driver {
	return esl.New(esl.Options{
		Addr: r.addr, Password: eslPass, App: seat.App,
		RequestTimeout: r.opts.RequestTimeout, RecordingsDir: recordingsDir, RecordingFormat: "wav",
		AttachedVars: r.attachedVars(), Logger: log,
	})
}

// bridged: two legs share media now (a uuid_bridge, or a three_way).
func (r *freeswitchRig) bridged(a, b string) bool {
	for _, o := range r.s.SharingMedia(a) {
		if o == b {
			return true
		}
	}
	return false
}

// heard turns the simulator's media log (FreeSWITCH file paths, one entry
// per playback with file_string:// lists) into Tandem's media terms, one
// playback_start per item as pbxsim logs them, so that the portable
// scenarios read the same log on both PBXs. It inverts the esl driver's
// mapping (esl/media_map.go): <name>.wav is sound:<name>, a recording
// under recordingsDir is recording:<name>, and a run of digits/<word>.wav
// files is the number they say (the engine plays numbers, never digit
// strings, in what the scenarios check).
func (r *freeswitchRig) heard(leg string) []pbxsim.MediaEntry {
	var out []pbxsim.MediaEntry
	for _, m := range r.s.MediaLog(leg) {
		if m.Kind != "playback_start" && m.Kind != "playback_end" {
			out = append(out, m)
			continue
		}
		items := tandemMedia(m.MediaURI)
		if m.Kind == "playback_end" {
			if len(items) > 0 {
				m.MediaURI = items[len(items)-1]
			}
			out = append(out, m)
			continue
		}
		for _, it := range items {
			e := m
			e.MediaURI = it
			out = append(out, e)
		}
	}
	return out
}

// tandemMedia reads one playback's argument back as Tandem media URIs.
func tandemMedia(arg string) []string {
	files := []string{arg}
	if rest, ok := strings.CutPrefix(arg, "file_string://"); ok {
		files = strings.Split(rest, "!")
	}
	var out, words []string
	flush := func() {
		if len(words) > 0 {
			out = append(out, "number:"+strconv.Itoa(sayNumber(words)))
			words = nil
		}
	}
	for _, f := range files {
		name := strings.TrimSuffix(f, ".wav")
		switch {
		case strings.HasPrefix(name, recordingsDir+"/"):
			flush()
			out = append(out, "recording:"+strings.TrimPrefix(name, recordingsDir+"/"))
		case strings.HasPrefix(name, "digits/"):
			words = append(words, strings.TrimPrefix(name, "digits/"))
		case strings.HasPrefix(name, "tone_stream://"):
			flush()
			out = append(out, f)
		default:
			flush()
			out = append(out, "sound:"+name)
		}
	}
	flush()
	return out
}

// sayNumber adds up the words of a spoken number (digits/<word> files:
// 0–19, tens, hundred, thousand, million).
func sayNumber(words []string) int {
	total, cur := 0, 0
	for _, w := range words {
		switch w {
		case "hundred":
			cur *= 100
		case "thousand":
			total += cur * 1000
			cur = 0
		case "million":
			total += cur * 1_000_000
			cur = 0
		default:
			n, _ := strconv.Atoi(w)
			cur += n
		}
	}
	return total + cur
}

// recordingStored: the file the esl driver names for a recording exists
// once its uuid_record has finished.
func (r *freeswitchRig) recordingStored(name string) (bool, error) {
	return r.s.RecordingStored(recordingsDir + "/" + name + ".wav"), nil
}

func (r *freeswitchRig) close() {
	r.s.Close()
	r.cancel()
	r.wg.Wait()
}
