package bench

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"sync"
	"time"

	"github.com/tandem-cc/tandem/pbxsim"
)

// The control API is how the load tool steers a simulator running in
// another process (`tandem sim --control`). It is served on its own
// listener, never under /ari, so the simulated Asterisk stays what it is:
// placing a call here is what a trunk delivering a call is to Asterisk.
//
//	POST /calls  {"n": 100, "dnis": "5551000", "patience": "0s", "talk_for": "10ms"}
//	             places n inbound callers at once (round-robin over the
//	             connected Stasis applications); answers CallsResult
//	GET  /stats  the simulator's counters (SimStats); ?live=1 also counts
//	             the live channels (costly with many: the load tool asks
//	             only between phases)

// CallsRequest asks the simulator for N callers dialling DNIS. Patience 0
// waits forever; TalkFor is how long a caller talks once bridged.
type CallsRequest struct {
	N        int      `json:"n"`
	DNIS     string   `json:"dnis"`
	Patience Duration `json:"patience"`
	TalkFor  Duration `json:"talk_for"`
}

// CallsResult says how many of the requested callers entered a Stasis
// application; Refused found none connected (Asterisk's Stasis() fails).
type CallsResult struct {
	Placed  int `json:"placed"`
	Refused int `json:"refused"`
}

// SimStats are the simulator's counters as the control API reports them.
type SimStats struct {
	CallsPlaced        int `json:"calls_placed"`
	CallsFailed        int `json:"calls_failed"`
	CallsAbandoned     int `json:"calls_abandoned"`
	CallsBridged       int `json:"calls_bridged"`
	Originates         int `json:"originates"`
	DoubleOffers       int `json:"double_offers"`
	AgentsWithTwoCalls int `json:"agents_with_two_calls"`
	Hangups            int `json:"hangups"`
	// LiveChannels is -1 unless asked for.
	LiveChannels int `json:"live_channels"`
}

// Duration is a time.Duration written as "10ms" in JSON.
type Duration time.Duration

// MarshalJSON writes the duration as Go prints it.
func (d Duration) MarshalJSON() ([]byte, error) { return json.Marshal(time.Duration(d).String()) }

// UnmarshalJSON reads "10ms"-style durations.
func (d *Duration) UnmarshalJSON(b []byte) error {
	var s string
	if err := json.Unmarshal(b, &s); err != nil {
		return fmt.Errorf("duration: %w", err)
	}
	v, err := time.ParseDuration(s)
	if err != nil {
		return fmt.Errorf("duration: %w", err)
	}
	*d = Duration(v)
	return nil
}

// maxCallsPerRequest bounds one POST /calls: the simulator places them
// under its lock, one after another.
const maxCallsPerRequest = 10000

// ControlHandler serves the control API for sim.
func ControlHandler(sim *pbxsim.Sim) http.Handler {
	c := &control{sim: sim}
	mux := http.NewServeMux()
	mux.HandleFunc("POST /calls", c.calls)
	mux.HandleFunc("GET /stats", c.stats)
	return mux
}

type control struct {
	sim *pbxsim.Sim
	mu  sync.Mutex
	seq int // callers placed so far: each gets its own number
}

func (c *control) calls(w http.ResponseWriter, r *http.Request) {
	var req CallsRequest
	if err := json.NewDecoder(r.Body).Decode(&req); err != nil {
		http.Error(w, "bad request: "+err.Error(), http.StatusBadRequest)
		return
	}
	if req.N < 1 || req.N > maxCallsPerRequest || req.DNIS == "" || req.Patience < 0 || req.TalkFor < 0 {
		http.Error(w, fmt.Sprintf("bad request: need 1 ≤ n ≤ %d, a dnis, patience and talk_for ≥ 0", maxCallsPerRequest), http.StatusBadRequest)
		return
	}
	var res CallsResult
	for range req.N {
		c.mu.Lock()
		c.seq++
		ani := fmt.Sprintf("+1555%07d", c.seq)
		c.mu.Unlock()
		_, err := c.sim.Call(pbxsim.Caller{
			ANI: ani, DNIS: req.DNIS, Patience: time.Duration(req.Patience), TalkFor: time.Duration(req.TalkFor),
		})
		switch {
		case errors.Is(err, pbxsim.ErrNoApp):
			res.Refused++
		case err != nil:
			http.Error(w, err.Error(), http.StatusServiceUnavailable)
			return
		default:
			res.Placed++
		}
	}
	writeJSON(w, res)
}

func (c *control) stats(w http.ResponseWriter, r *http.Request) {
	st := c.sim.Stats()
	live := -1
	if r.URL.Query().Get("live") == "1" {
		live = len(c.sim.Channels())
	}
	writeJSON(w, SimStats{
		CallsPlaced: st.CallsPlaced, CallsFailed: st.CallsFailed, CallsAbandoned: st.CallsAbandoned,
		CallsBridged: st.CallsBridged, Originates: st.Originates, DoubleOffers: st.DoubleOffers,
		AgentsWithTwoCalls: st.AgentsWithTwoCalls, Hangups: st.Hangups, LiveChannels: live,
	})
}

func writeJSON(w http.ResponseWriter, v any) {
	w.Header().Set("Content-Type", "application/json")
	_ = json.NewEncoder(w).Encode(v) // the client is gone if this fails
}

// simClient talks to a simulator's control API.
type simClient struct {
	base string // http://host:port
	hc   *http.Client
}

func (s simClient) place(ctx context.Context, req CallsRequest) (CallsResult, error) {
	var res CallsResult
	body, err := json.Marshal(req)
	if err != nil {
		return res, fmt.Errorf("encode calls request: %w", err)
	}
	err = s.do(ctx, http.MethodPost, "/calls", body, &res)
	return res, err
}

func (s simClient) stats(ctx context.Context) (SimStats, error) {
	var st SimStats
	err := s.do(ctx, http.MethodGet, "/stats", nil, &st)
	return st, err
}

// live counts the simulator's live channels.
func (s simClient) live(ctx context.Context) (int, error) {
	var st SimStats
	err := s.do(ctx, http.MethodGet, "/stats?live=1", nil, &st)
	return st.LiveChannels, err
}

func (s simClient) do(ctx context.Context, method, path string, body []byte, out any) error {
	req, err := http.NewRequestWithContext(ctx, method, s.base+path, bytes.NewReader(body))
	if err != nil {
		return fmt.Errorf("sim control %s: %w", path, err)
	}
	resp, err := s.hc.Do(req)
	if err != nil {
		return fmt.Errorf("sim control %s: %w", path, err)
	}
	defer func() { _ = resp.Body.Close() }()
	if resp.StatusCode != http.StatusOK {
		var b bytes.Buffer
		_, _ = b.ReadFrom(resp.Body)
		return fmt.Errorf("sim control %s: %s: %s", path, resp.Status, bytes.TrimSpace(b.Bytes()))
	}
	if err := json.NewDecoder(resp.Body).Decode(out); err != nil {
		return fmt.Errorf("sim control %s: decode: %w", path, err)
	}
	return nil
}
