package pbxsim

// connVar is the channel variable naming Tandem's connection (interaction)
// id, which the double-offer check compares.
const connVar = "TANDEM_CONNECTION_ID"

// originIndex finds, without scanning every live channel, the channels
// countOriginate's checks can match: those dialled as an endpoint (by
// endpoint) and those that ever carried a connection id (by that id). It
// is a superset: countOriginate applies its exact predicate to each
// candidate, so the counters are the ones a scan of s.channels gives. Each
// channel remembers its keys and leaves the index when it is destroyed.
type originIndex struct {
	byEndpoint map[string]map[*channel]struct{}
	byConn     map[string]map[*channel]struct{}
}

// indexAdd puts c in (*m)[key], making the maps as needed.
func indexAdd(m *map[string]map[*channel]struct{}, key string, c *channel) {
	if *m == nil {
		*m = map[string]map[*channel]struct{}{}
	}
	set := (*m)[key]
	if set == nil {
		set = map[*channel]struct{}{}
		(*m)[key] = set
	}
	set[c] = struct{}{}
}

// indexEndpoint records that c was dialled as endpoint. Callers hold s.mu.
func (s *Sim) indexEndpoint(c *channel, endpoint string) {
	if endpoint == "" {
		return
	}
	indexAdd(&s.origins.byEndpoint, endpoint, c)
	c.indexedEndpoints = append(c.indexedEndpoints, endpoint)
}

// indexConn records that c carries connection id conn. Callers hold s.mu.
func (s *Sim) indexConn(c *channel, conn string) {
	if conn == "" {
		return
	}
	indexAdd(&s.origins.byConn, conn, c)
	c.indexedConns = append(c.indexedConns, conn)
}

// unindex removes c from the index (it was destroyed). Callers hold s.mu.
func (s *Sim) unindex(c *channel) {
	drop := func(m map[string]map[*channel]struct{}, keys []string) {
		for _, k := range keys {
			if set := m[k]; set != nil {
				delete(set, c)
				if len(set) == 0 {
					delete(m, k)
				}
			}
		}
	}
	drop(s.origins.byEndpoint, c.indexedEndpoints)
	drop(s.origins.byConn, c.indexedConns)
	c.indexedEndpoints, c.indexedConns = nil, nil
}

// liveDialled is the predicate countOriginate applied to every channel: a
// live (in s.channels, not hanging up) dialled leg that is not a Local
// pair's ;2 half.
func (s *Sim) liveDialled(c *channel) bool {
	return s.channels[c.id] == c && !c.hangingUp && c.endpoint != "" && c.half != 2
}

// originateConflicts tells whether endpoint already has a live dialled leg
// (two) and whether connection conn already has a live dialled leg
// (double). Only the channels indexed under endpoint or conn can match;
// scanning every live channel made each originate O(live channels), the
// simulator's bottleneck at 100,000 waiting calls. Callers hold s.mu.
func (s *Sim) originateConflicts(endpoint, conn string) (two, double bool) {
	for c := range s.origins.byEndpoint[endpoint] {
		if s.liveDialled(c) && c.endpoint == endpoint {
			two = true
			break
		}
	}
	if conn != "" {
		for c := range s.origins.byConn[conn] {
			if s.liveDialled(c) && c.vars[connVar] == conn && c.dial != nil {
				double = true
				break
			}
		}
	}
	return two, double
}
