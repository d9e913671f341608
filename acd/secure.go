package acd

import (
	"context"
	"encoding/json"
	"fmt"
	"slices"

	"github.com/tandem-cc/tandem/callbacks"
	"github.com/tandem-cc/tandem/internal/luascript"
)

// Secure values at rest. A secure value lives in clear in Redis while its
// call runs (an agent on the call may reveal it) and no longer: the script
// that ends the interaction drops it (lib.lua's end_secure), or, with a
// retention (Policy.SecureRetention), every replica's sweep drops it once
// the retention has passed (secure_expire.lua). The interaction records
// which of its attached variables are secure ('secure'), written with the
// values themselves, so the end knows what to drop without the
// configuration.

// DroppedValue replaces a secure value once it is dropped: the variable's
// name stays (reports can tell there was one), its value is gone.
// The same marker as a finished callback's (and lib.lua's DROPPED).
const DroppedValue = callbacks.DroppedValue

// secureBatch bounds the interactions one secure_expire.lua run handles.
const secureBatch = 100

var scriptSecureExpire = script("secure_expire")

// secureNamesOf are the secure ones among names of vars: those the policy
// declares secure and those in extra (an IVR entry marked secure), as the
// JSON array the scripts read, "" for none.
func (p Policy) secureNamesOf(vars map[string]string, extra map[string]bool) (string, error) {
	var names []string
	for name := range vars {
		if p.SecureNames[name] || extra[name] {
			names = append(names, name)
		}
	}
	if len(names) == 0 {
		return "", nil
	}
	slices.Sort(names) // deterministic, easier to read back
	data, err := json.Marshal(names)
	if err != nil {
		return "", fmt.Errorf("secure names: %w", err)
	}
	return string(data), nil
}

// secureList are the secure ones among the names of vars, sorted (nil
// for none): what a callback records as secure (callbacks.Request.Secure).
func (p Policy) secureList(vars map[string]string) []string {
	var names []string
	for name := range vars {
		if p.SecureNames[name] {
			names = append(names, name)
		}
	}
	slices.Sort(names)
	return names
}

// secureKeepMS is the retention the scripts apply at the end, in ms (0:
// dropped at the end; a retention under a millisecond counts as none).
func (p Policy) secureKeepMS() int64 { return max(p.SecureRetention.Milliseconds(), 0) }

// DropDueSecureValues drops the secure values of up to max ended
// interactions whose retention has passed and returns how many it
// handled.
func (s *Store) DropDueSecureValues(ctx context.Context, max int) (int, error) {
	v, err := s.run(ctx, scriptSecureExpire, nil, max)
	if err != nil {
		return 0, fmt.Errorf("drop due secure values: %w", err)
	}
	n, err := luascript.Int(scriptSecureExpire.name, v)
	if err != nil {
		return 0, fmt.Errorf("drop due secure values: %w", err)
	}
	return int(n), nil
}

// secureNames are the variable names the engine's configuration declares
// secure: the secure variables of every queue and the variables of the
// IVR nodes that collect secure entries. A variable of those names
// attached to a call is secure at rest whichever queue the call reaches,
// or if it reaches none.
func secureNames(queues map[string]QueueSettings, ivr IVRMenus) map[string]bool {
	out := map[string]bool{}
	for _, q := range queues {
		for _, v := range q.Variables {
			if v.Secure {
				out[v.Name] = true
			}
		}
	}
	for _, n := range ivr.Nodes {
		if n.Secure && n.Variable != "" {
			out[n.Variable] = true
		}
	}
	return out
}
