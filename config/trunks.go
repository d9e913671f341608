package config

import "strings"

// PBXTrunk is how node From rings an endpoint that lives on node To: a
// caller's agent leg is rung on the caller's node (the call's media stays
// on one PBX), so an agent on another node is reached through the SIP
// trunk between the two.
type PBXTrunk struct {
	From string `mapstructure:"from"`
	To   string `mapstructure:"to"`
	// Dial is the dial string From uses, a template: TrunkExten is
	// replaced by the last "/"-separated part of the agent endpoint's dial
	// string, TrunkDial by the whole dial string (both without the node):
	// "sofia/gateway/ast1/{exten}" on a FreeSWITCH, "PJSIP/{exten}@fs1" on
	// an Asterisk.
	Dial string `mapstructure:"dial"`
}

// The placeholders of PBXTrunk.Dial (pbxmux substitutes them).
const (
	TrunkExten = "{exten}"
	TrunkDial  = "{dial}"
)

// hasPlaceholder reports whether a trunk template names the endpoint: one
// without would ring the same number for every agent.
func hasPlaceholder(dial string) bool {
	return strings.Contains(dial, TrunkExten) || strings.Contains(dial, TrunkDial)
}

// PBXTrunks are pbx.trunks as pbxmux takes them: [from][to] → template.
// Empty (not nil) without trunks.
func (c Config) PBXTrunks() map[string]map[string]string {
	out := map[string]map[string]string{}
	for _, t := range c.PBX.Trunks {
		if out[t.From] == nil {
			out[t.From] = map[string]string{}
		}
		out[t.From][t.To] = t.Dial
	}
	return out
}
