package esl

import (
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/tandem-cc/tandem/acd"
)

// originateArg builds the argument of `originate` for a ring (contract:
// "Ring"): the leg's own uuid, the owner in tandem_app so the leg's events
// pass this driver's filter, park_after_bridge so it survives its bridge
// peer leaving, ignore_early_media so a ringback is not an answer, and
// `&park()` so the answered leg waits, parked, for the ACD.
func originateArg(owner string, req acd.RingRequest) (string, error) {
	if req.Leg == "" || strings.ContainsAny(req.Leg, " ,{}'\"\r\n") {
		return "", fmt.Errorf("esl originate: bad leg id %q", req.Leg)
	}
	if req.Endpoint == "" || strings.ContainsAny(req.Endpoint, " \t\r\n{}") {
		return "", fmt.Errorf("esl originate %s: bad endpoint %q (a FreeSWITCH dial string without spaces, e.g. user/1001)", req.Leg, req.Endpoint)
	}
	secs := int((req.Timeout + time.Second - 1) / time.Second) // originate_timeout counts whole seconds
	vars := [][2]string{
		{"origination_uuid", req.Leg},
		{"tandem_app", owner},
		{"park_after_bridge", "true"},
		{"ignore_early_media", "true"},
		{"originate_timeout", strconv.Itoa(max(secs, 1))},
	}
	if req.CallerID != "" {
		vars = append(vars, [2]string{"origination_caller_id_number", req.CallerID}, [2]string{"origination_caller_id_name", req.CallerID})
	}
	keys := make([]string, 0, len(req.Vars))
	for k := range req.Vars {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	for _, k := range keys {
		if !validVarName(k) {
			return "", fmt.Errorf("esl originate %s: bad channel variable name %q", req.Leg, k)
		}
		vars = append(vars, [2]string{k, req.Vars[k]})
	}
	var b strings.Builder
	b.WriteByte('{')
	for i, kv := range vars {
		if i > 0 {
			b.WriteByte(',')
		}
		b.WriteString(kv[0])
		b.WriteByte('=')
		b.WriteString(quoteVar(kv[1]))
	}
	b.WriteByte('}')
	b.WriteString(req.Endpoint)
	b.WriteString(" &park()")
	return b.String(), nil
}

// quoteVar writes a value of a `{k=v,...}` list FreeSWITCH's way: a value
// with a separator in it (comma, space) or a quote is wrapped in single
// quotes, with ' and \ escaped by a backslash; anything else goes as it
// is. (FreeSWITCH splits the list on commas outside quotes, and the whole
// command on spaces outside quotes.)
func quoteVar(v string) string {
	if !strings.ContainsAny(v, ", '\"\\{}\t") {
		return v
	}
	r := strings.NewReplacer(`\`, `\\`, `'`, `\'`)
	return "'" + r.Replace(v) + "'"
}

// validVarName reports whether k can be a channel variable name in an
// originate list: letters, digits, _ and - only.
func validVarName(k string) bool {
	if k == "" {
		return false
	}
	for _, c := range k {
		ok := c == '_' || c == '-' || c >= '0' && c <= '9' || c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z'
		if !ok {
			return false
		}
	}
	return true
}
