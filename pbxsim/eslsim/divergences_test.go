package eslsim

import (
	"slices"
	"sort"
)

// divergence names one known difference between the simulator and a
// trace that the channel replay tolerates. key is the mismatch key
// ("reply:<line>", "job:<conn>:<cmd>:<arg>", "events:<conn>:<role>",
// "sets:<conn>:<role>", "layout:<Event-Name>"). Every entry is explained in
// DIVERGENCES.md under its name; an entry that stops matching fails the
// test.
type divergence struct {
	name  string
	trace string
	keys  []string
}

// divergences: names as in DIVERGENCES.md. Nothing else is tolerated.
var divergences = []divergence{
	{"rig-loopback-legs-in-show", "02-api-bgapi", []string{"reply:75", "reply:78"}},
	{"tandem-dialplan-sets", "03-inbound-call-lifecycle", []string{"sets:json:B1", "sets:plain:B1"}},
	{"ring-ready-race", "04-agent-leg", []string{"events:ctl:G1", "events:ctl:G4", "events:ctl:G5"}},
	{"caller-profile-after-bridge", "04-agent-leg", []string{"layout:CALL_UPDATE", "layout:CHANNEL_BRIDGE", "layout:CHANNEL_CALLSTATE", "layout:CHANNEL_DESTROY", "layout:CHANNEL_EXECUTE", "layout:CHANNEL_EXECUTE_COMPLETE", "layout:CHANNEL_HANGUP", "layout:CHANNEL_HANGUP_COMPLETE", "layout:CHANNEL_PARK", "layout:CHANNEL_STATE", "layout:CHANNEL_UNBRIDGE", "layout:CHANNEL_UNPARK"}},
	{"tandem-dialplan-sets", "04-agent-leg", []string{"sets:ctl:B1", "sets:ctl:B2"}},
	{"uuid-hold-stale-moh", "05-hold-music", []string{"events:ctl:B1"}},
	{"caller-profile-after-bridge", "05-hold-music", []string{"layout:CALL_UPDATE", "layout:CHANNEL_BRIDGE", "layout:CHANNEL_CALLSTATE", "layout:CHANNEL_DESTROY", "layout:CHANNEL_EXECUTE", "layout:CHANNEL_EXECUTE_COMPLETE", "layout:CHANNEL_HANGUP", "layout:CHANNEL_HANGUP_COMPLETE", "layout:CHANNEL_HOLD", "layout:CHANNEL_PARK", "layout:CHANNEL_STATE", "layout:CHANNEL_UNBRIDGE", "layout:CHANNEL_UNPARK"}},
	{"tandem-dialplan-sets", "05-hold-music", []string{"sets:ctl:B1"}},
	{"tandem-dialplan-sets", "06-dtmf", []string{"sets:ctl:B1"}},
	{"record-limit-runs-short", "07-recording", []string{"events:ctl:B1"}},
	{"tandem-dialplan-sets", "07-recording", []string{"sets:ctl:B1"}},
	{"xfer-context-plays-a-prompt", "08-transfer-consult", []string{"events:ctl:B1"}},
	{"call-update-on-rebridge", "08-transfer-consult", []string{"events:ctl:G1"}},
	{"caller-profile-after-bridge", "08-transfer-consult", []string{"layout:CALL_UPDATE", "layout:CHANNEL_BRIDGE", "layout:CHANNEL_CALLSTATE", "layout:CHANNEL_DESTROY", "layout:CHANNEL_EXECUTE", "layout:CHANNEL_EXECUTE_COMPLETE", "layout:CHANNEL_HANGUP", "layout:CHANNEL_HANGUP_COMPLETE", "layout:CHANNEL_PARK", "layout:CHANNEL_STATE", "layout:CHANNEL_UNBRIDGE", "layout:CHANNEL_UNPARK", "layout:COMMAND", "layout:MEDIA_BUG_START", "layout:MEDIA_BUG_STOP", "layout:PLAYBACK_START", "layout:PLAYBACK_STOP"}},
	{"tandem-dialplan-sets", "08-transfer-consult", []string{"sets:ctl:B1"}},
}

// checkAllowList fails on every mismatch not allow-listed and on every
// allow-list entry of this trace that no mismatch matched.
func (r *chanReplay) checkAllowList() {
	r.t.Helper()
	used := map[string]bool{}
	keys := make([]string, 0, len(r.found))
	for k := range r.found {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		i := slices.IndexFunc(divergences, func(d divergence) bool { return d.trace == r.name && slices.Contains(d.keys, k) })
		if i < 0 {
			r.t.Errorf("%s: %s", k, r.found[k])
			continue
		}
		used[k] = true
		r.t.Logf("allowed %s (%s): %s", k, divergences[i].name, r.found[k])
	}
	for _, d := range divergences {
		for _, k := range d.keys {
			if d.trace == r.name && !used[k] {
				r.t.Errorf("allow-list entry %s %s no longer matches: remove it", d.name, k)
			}
		}
	}
}
