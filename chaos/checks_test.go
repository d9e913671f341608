package chaos

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"
	"testing"

	"github.com/redis/go-redis/v9"

	"github.com/tandem-cc/tandem/acd"
	"github.com/tandem-cc/tandem/agents"
	"github.com/tandem-cc/tandem/callbacks"
	"github.com/tandem-cc/tandem/pbxsim"
)

// The end-of-scenario checks. Each reads the outcome where it is recorded
// (the history stream and the hashes in Redis, the PBX over ARI, the
// simulator's own counters), logs its figures, and fails the test with
// the figures and a few examples when an invariant does not hold.

// maxExamples bounds the examples a failed check prints.
const maxExamples = 8

func examples(list []string) string {
	if len(list) > maxExamples {
		return strings.Join(list[:maxExamples], "; ") + fmt.Sprintf("; … (%d in all)", len(list))
	}
	return strings.Join(list, "; ")
}

// entry is one history record: kind, id, from, to, and the extras (conn,
// agent, queue, ...), in stream order.
type entry struct {
	streamID           string
	kind, id, from, to string
	extra              map[string]string
}

// readHistory reads the whole history stream.
func readHistory(ctx context.Context, w *world) ([]entry, error) {
	var out []entry
	start := "-"
	for {
		msgs, err := w.rdb.XRangeN(ctx, w.keys.Events(), start, "+", 5000).Result()
		if err != nil {
			return nil, fmt.Errorf("read history: %w", err)
		}
		for _, m := range msgs {
			e := entry{streamID: m.ID, extra: map[string]string{}}
			for k, v := range m.Values {
				s, _ := v.(string)
				switch k {
				case "kind":
					e.kind = s
				case "id":
					e.id = s
				case "from":
					e.from = s
				case "to":
					e.to = s
				default:
					e.extra[k] = s
				}
			}
			out = append(out, e)
		}
		if len(msgs) < 5000 {
			return out, nil
		}
		start = "(" + msgs[len(msgs)-1].ID
	}
}

// historyFigures is what checkHistory found.
type historyFigures struct {
	entries, interactions, agents int
	offers, ronas                 int
	// twoAgentsOneCall: an agent took (reserved, ringing or connected)
	// a call another agent still held.
	twoAgentsOneCall []string
	// agentTwoCalls: an agent took a call while it still held another.
	agentTwoCalls []string
	// illegal: a transition not in the machines' tables.
	illegal []string
	// broken: an entry whose from is not the previous entry's to.
	broken []string
	// mismatched: the last recorded state is not the hash's state.
	mismatched []string
}

// busy are the agent states that hold a call.
func busy(s string) bool {
	switch agents.State(s) {
	case agents.Reserved, agents.Ringing, agents.Connected:
		return true
	}
	return false
}

// replay walks the history in order: every transition legal and chained
// to the previous one of the same interaction or agent, no call held by
// two agents at once, no agent holding two calls. It returns the figures
// and the last recorded state of every interaction and agent.
func replay(hist []entry) (f historyFigures, ixState, agState map[string]string) {
	f.entries = len(hist)
	ixState = map[string]string{}
	agState = map[string]string{}
	agConn := map[string]string{}           // agent → call it holds
	holders := map[string]map[string]bool{} // call → agents holding it
	for _, e := range hist {
		switch e.kind {
		case "interaction":
			prev, seen := ixState[e.id]
			if seen && prev != e.from || !seen && e.from != "" {
				f.broken = append(f.broken, fmt.Sprintf("interaction %s %q→%q after %q (%s)", e.id, e.from, e.to, prev, e.streamID))
			}
			if err := acd.CheckInteractionTransition(e.from, e.to); err != nil {
				f.illegal = append(f.illegal, fmt.Sprintf("%s %s (%s)", e.id, err, e.streamID))
			}
			if e.from == acd.StateOffered && e.to == acd.StateQueued {
				f.ronas++
			}
			if e.to == acd.StateOffered {
				f.offers++
			}
			ixState[e.id] = e.to
		case "agent":
			prev, seen := agState[e.id]
			if !seen {
				prev = string(agents.LoggedOut)
			}
			from := e.from
			if from == "" {
				from = string(agents.LoggedOut)
			}
			if prev != from {
				f.broken = append(f.broken, fmt.Sprintf("agent %s %q→%q after %q (%s)", e.id, e.from, e.to, prev, e.streamID))
			}
			if err := agents.CheckTransition(agents.State(from), agents.State(e.to)); err != nil {
				f.illegal = append(f.illegal, fmt.Sprintf("%s (%s)", err, e.streamID))
			}
			agState[e.id] = e.to
			held := agConn[e.id]
			conn := e.extra["conn"]
			if conn == "" {
				conn = held // reserved names the call; ringing and connected may not
			}
			if !busy(e.to) {
				if held != "" {
					delete(holders[held], e.id)
				}
				delete(agConn, e.id)
				continue
			}
			if conn == held {
				continue // the same call, one step further (ringing, connected)
			}
			if held != "" {
				f.agentTwoCalls = append(f.agentTwoCalls, fmt.Sprintf("agent %s took %s while holding %s (%s)", e.id, conn, held, e.streamID))
				delete(holders[held], e.id)
			}
			if holders[conn] == nil {
				holders[conn] = map[string]bool{}
			}
			for other := range holders[conn] {
				if other != e.id {
					f.twoAgentsOneCall = append(f.twoAgentsOneCall, fmt.Sprintf("call %s taken by %s while %s held it (%s)", conn, e.id, other, e.streamID))
				}
			}
			holders[conn][e.id] = true
			agConn[e.id] = conn
		}
	}
	f.interactions, f.agents = len(ixState), len(agState)
	return f, ixState, agState
}

// checkHistory replays the history stream (replay) and checks that the
// last recorded state of every interaction and agent is its hash's.
func checkHistory(t *testing.T, ctx context.Context, w *world) historyFigures {
	t.Helper()
	hist, err := readHistory(ctx, w)
	if err != nil {
		t.Fatal(err)
	}
	f, ixState, agState := replay(hist)
	for conn, last := range ixState {
		ix, err := w.store.Interaction(ctx, conn)
		if err != nil {
			f.mismatched = append(f.mismatched, fmt.Sprintf("interaction %s: history %s, hash: %v", conn, last, err))
			continue
		}
		if ix.State != last {
			f.mismatched = append(f.mismatched, fmt.Sprintf("interaction %s: history %s, hash %s", conn, last, ix.State))
		}
	}
	for id, last := range agState {
		a, err := w.store.Agent(ctx, id)
		if err != nil || string(a.State) != last {
			f.mismatched = append(f.mismatched, fmt.Sprintf("agent %s: history %s, hash %s (%v)", id, last, a.State, err))
		}
	}
	t.Logf("history: %d entries, %d interactions, %d agents, %d offers, %d RONAs; call held by two agents %d, agent with two calls %d, illegal %d, broken chains %d, history≠hash %d",
		f.entries, f.interactions, f.agents, f.offers, f.ronas, len(f.twoAgentsOneCall), len(f.agentTwoCalls), len(f.illegal), len(f.broken), len(f.mismatched))
	for _, c := range []struct {
		what string
		list []string
	}{
		{"a call offered to two agents at once", f.twoAgentsOneCall},
		{"an agent with two calls", f.agentTwoCalls},
		{"illegal transitions in the history", f.illegal},
		{"history not chained", f.broken},
		{"history inconsistent with the hashes", f.mismatched},
	} {
		if len(c.list) > 0 {
			t.Errorf("%s: %d: %s", c.what, len(c.list), examples(c.list))
		}
	}
	return f
}

// callFigures sums up the interactions.
type callFigures struct {
	interactions, answered, abandoned, failed, ended, callbackEnded int
	notTerminal, unaccounted                                        []string
	// unseen: calls without an interaction that left a paused replica's
	// application before its seat changed hands (chaos.watchPause).
	unseen []string
}

// allInteractions reads every interaction (not their sub-keys).
func allInteractions(ctx context.Context, w *world) ([]acd.Interaction, error) {
	cut := len(w.keys.Interaction(""))
	var out []acd.Interaction
	iter := w.rdb.Scan(ctx, 0, w.keys.Interaction("*"), 1000).Iterator()
	for iter.Next(ctx) {
		conn := iter.Val()[cut:]
		if strings.Contains(conn, ":") {
			continue // call-associated data and the like
		}
		ix, err := w.store.Interaction(ctx, conn)
		if errors.Is(err, acd.ErrNotFound) {
			continue
		}
		if err != nil {
			return nil, err
		}
		out = append(out, ix)
	}
	if err := iter.Err(); err != nil {
		return nil, fmt.Errorf("scan interactions: %w", err)
	}
	return out, nil
}

// checkInteractionsTerminal: every interaction ended, abandoned or
// failed, and every call that reached a replica has one, but the callers
// in unseen, who left a paused replica's application before anybody could
// know them (chaos.watchPause); those are counted apart.
func checkInteractionsTerminal(t *testing.T, ctx context.Context, w *world, legs []string, unseen map[string]bool) callFigures {
	t.Helper()
	ixs, err := allInteractions(ctx, w)
	if err != nil {
		t.Fatal(err)
	}
	var f callFigures
	f.interactions = len(ixs)
	byLeg := map[string]bool{}
	for _, ix := range ixs {
		byLeg[ix.CallerLeg] = true
		if !ix.Terminal() {
			f.notTerminal = append(f.notTerminal, fmt.Sprintf("%s %s owner %s agent %q", ix.ConnectionID, ix.State, ix.Owner, ix.Agent))
			continue
		}
		switch {
		case ix.State == acd.StateAbandoned:
			f.abandoned++
		case ix.State == acd.StateFailed:
			f.failed++
		case !ix.Answered.IsZero() && ix.Attached["callback_id"] == "":
			f.answered++
		case ix.Attached["callback_id"] != "":
			f.callbackEnded++
		default:
			f.ended++ // left for a callback in queue
		}
	}
	for _, leg := range legs {
		switch {
		case byLeg[leg]:
		case unseen[leg]:
			f.unseen = append(f.unseen, leg)
		default:
			f.unaccounted = append(f.unaccounted, legDetail(w, leg))
		}
	}
	t.Logf("interactions: %d (answered %d, abandoned %d, failed %d, ended unanswered %d, callbacks %d); not terminal %d; calls without one %d (and %d that left a paused seat before its takeover)",
		f.interactions, f.answered, f.abandoned, f.failed, f.ended, f.callbackEnded, len(f.notTerminal), len(f.unaccounted), len(f.unseen))
	if len(f.notTerminal) > 0 {
		t.Errorf("interactions not terminal: %d: %s", len(f.notTerminal), examples(f.notTerminal))
	}
	if len(f.unaccounted) > 0 {
		t.Errorf("calls that reached a replica without an interaction: %d: %s", len(f.unaccounted), examples(f.unaccounted))
	}
	return f
}

// legDetail names a caller leg with what its PBX says of it: the node,
// the application it was for, when it came in, how it ended.
func legDetail(w *world, leg string) string {
	node := fsNode
	v, ok := w.fs.Channel(leg)
	if !ok {
		node = astNode
		v, ok = w.sim.Channel(leg)
	}
	if !ok {
		return leg
	}
	return fmt.Sprintf("%s (%s, for %s, came in %s, state %s, hung up %v cause %d)", leg, node, v.App, v.Created.Format("15:04:05.000"), v.State, v.HungUp, v.Cause)
}

// pbxLeft lists the channels and bridges both PBX nodes still have: the
// Asterisk's over ARI, as an operator would ask it; the FreeSWITCH's from
// the simulator (its live channels, which is what `show channels` lists;
// it has no persistent bridges). Each channel names its node first.
func pbxLeft(ctx context.Context, w *world) (chans, bridges []string, err error) {
	var cs []struct {
		ID     string `json:"id"`
		Name   string `json:"name"`
		State  string `json:"state"`
		Dialpl struct {
			AppName string `json:"app_name"`
			AppData string `json:"app_data"`
		} `json:"dialplan"`
	}
	var bs []struct {
		ID       string   `json:"id"`
		Channels []string `json:"channels"`
	}
	b, err := w.ariGet(ctx, "/channels")
	if err != nil {
		return nil, nil, err
	}
	if err := json.Unmarshal(b, &cs); err != nil {
		return nil, nil, fmt.Errorf("ari channels: %w", err)
	}
	if b, err = w.ariGet(ctx, "/bridges"); err != nil {
		return nil, nil, err
	}
	if err := json.Unmarshal(b, &bs); err != nil {
		return nil, nil, fmt.Errorf("ari bridges: %w", err)
	}
	for _, c := range cs {
		chans = append(chans, fmt.Sprintf("%s %s %s %s %s(%s)", astNode, c.ID, c.Name, c.State, c.Dialpl.AppName, c.Dialpl.AppData))
	}
	for _, v := range w.fs.Channels() {
		chans = append(chans, fmt.Sprintf("%s %s %s %s tandem_app=%s%s", fsNode, v.ID, v.Name, v.State, v.App, describe(ctx, w, v.Vars["TANDEM_CONNECTION_ID"])))
	}
	for _, x := range bs {
		bridges = append(bridges, fmt.Sprintf("%s with %v%s", x.ID, x.Channels, describe(ctx, w, x.ID)))
	}
	return chans, bridges, nil
}

// describe says which interaction a PBX object named after one (a bridge
// is named after its call's connection id) belongs to, if any.
func describe(ctx context.Context, w *world, id string) string {
	if id == "" {
		return ""
	}
	ix, err := w.store.Interaction(ctx, id)
	if err != nil {
		return ""
	}
	cb := ""
	if ix.Attached["callback_id"] != "" {
		cb = " callback " + ix.Attached["callback_id"]
	}
	return fmt.Sprintf(" (interaction %s, owner %s, ended by %q, agent %q, answered %v%s)", ix.State, ix.Owner, ix.EndedBy, ix.Agent, !ix.Answered.IsZero(), cb)
}

// checkPBXEmpty: once every caller has hung up, no channel and no bridge
// is left on either node. Snoop channels are channels (GET /channels lists
// them, named Snoop/…), counted apart in the log; a live recording always
// records a channel or a bridge and ends with it, so none can be left
// when neither is (ARI has no list of live recordings to ask). The
// FreeSWITCH simulator also says which recordings and three_way sessions
// it still runs; none may be left either.
func checkPBXEmpty(t *testing.T, ctx context.Context, w *world) (chans, bridges int) {
	t.Helper()
	cs, bs, err := pbxLeft(ctx, w)
	if err != nil {
		t.Fatal(err)
	}
	snoops, onFS := 0, 0
	for _, c := range cs {
		f := strings.Fields(c)
		if len(f) > 2 && strings.HasPrefix(f[2], "Snoop/") {
			snoops++
		}
		if f[0] == fsNode {
			onFS++
		}
	}
	fsLeft := w.fs.Leftovers()
	var fsMedia []string
	for _, r := range fsLeft.Recordings {
		fsMedia = append(fsMedia, fmt.Sprintf("recording %s of %s", r.Name, r.Target))
	}
	for _, v := range fsLeft.Snoops {
		fsMedia = append(fsMedia, fmt.Sprintf("three_way of %s %s", v.ID, v.Name))
	}
	t.Logf("PBX: %d channels (%d of them snoops, %d on %s) and %d bridges left; %s: %d recordings or three_way sessions left",
		len(cs), snoops, onFS, fsNode, len(bs), fsNode, len(fsMedia))
	if len(cs) > 0 {
		t.Errorf("channels left at the PBX: %d: %s", len(cs), examples(cs))
	}
	if len(bs) > 0 {
		t.Errorf("bridges left at the PBX: %d: %s", len(bs), examples(bs))
	}
	if len(fsMedia) > 0 {
		t.Errorf("recordings or three_way sessions left on %s: %d: %s", fsNode, len(fsMedia), examples(fsMedia))
	}
	return len(cs), len(bs)
}

// checkPBXOffers is the PBX's side of "one call, one agent", on each
// node: the simulator counts every agent leg rung for a call that already
// had a live one, and every leg rung to a phone already on a call. (An
// agent rung on both nodes at once, natively and through a trunk, is the
// history's to see: replay finds an agent holding two calls.)
func checkPBXOffers(t *testing.T, w *world) {
	t.Helper()
	for _, n := range []struct {
		node string
		st   pbxsim.Stats
	}{{astNode, w.sim.Stats()}, {fsNode, w.fs.Stats()}} {
		st := n.st
		t.Logf("PBX %s: %d calls placed, %d failed Stasis everywhere, %d bridged, %d abandoned by patience, %d originates, %d double offers, %d agents rung twice",
			n.node, st.CallsPlaced, st.CallsFailed, st.CallsBridged, st.CallsAbandoned, st.Originates, st.DoubleOffers, st.AgentsWithTwoCalls)
		if st.DoubleOffers > 0 {
			t.Errorf("PBX %s: %d agent legs rung for a call that already had one", n.node, st.DoubleOffers)
		}
		if st.AgentsWithTwoCalls > 0 {
			t.Errorf("PBX %s: %d agent legs rung to a phone already on a call", n.node, st.AgentsWithTwoCalls)
		}
	}
}

// crossFigures is what checkCrossing found.
type crossFigures struct {
	astToFS, fsToAst, sameNode int // callers who talked with an agent, by way
	wrongNode                  []string
}

// checkCrossing: calls crossed the nodes both ways, and every agent leg
// was rung where the agent is: on its own node natively, or on the
// caller's node through the trunk to the agent's. What the PBX saw
// counts: the legs each caller shared media with, and every endpoint
// each simulator was asked to ring (a number no agent has is a customer's,
// dialled on the Asterisk).
func checkCrossing(t *testing.T, w *world, legs []string) crossFigures {
	t.Helper()
	var f crossFigures
	// kind reads an endpoint rung on node: "native" or "trunk" with the
	// agent index, or "" when it is no agent's.
	kind := func(node, ep string) (string, int) {
		var ext string
		var trunk bool
		switch {
		case node == astNode && strings.HasSuffix(ep, "@"+fsNode):
			ext, trunk = strings.TrimSuffix(strings.TrimPrefix(ep, "PJSIP/"), "@"+fsNode), true
		case node == astNode:
			ext = strings.TrimPrefix(ep, "PJSIP/")
		case strings.HasPrefix(ep, "sofia/gateway/"+astNode+"/"):
			ext, trunk = strings.TrimPrefix(ep, "sofia/gateway/"+astNode+"/"), true
		default:
			ext = strings.TrimPrefix(ep, "user/")
		}
		i := agentIndex(ext)
		switch {
		case i < 0:
			return "", -1
		case trunk:
			return "trunk", i
		}
		return "native", i
	}
	for _, n := range []struct {
		node string
		st   pbxsim.Stats
	}{{astNode, w.sim.Stats()}, {fsNode, w.fs.Stats()}} {
		for ep, count := range n.st.OriginatesByEndpoint {
			k, i := kind(n.node, ep)
			switch {
			case k == "" && n.node == astNode && strings.HasPrefix(ep, "PJSIP/+"):
				// a customer's number (a callback)
			case k == "":
				f.wrongNode = append(f.wrongNode, fmt.Sprintf("%s rang %s (%d times), no agent's phone", n.node, ep, count))
			case k == "native" && agentNode(i) != n.node, k == "trunk" && agentNode(i) == n.node:
				f.wrongNode = append(f.wrongNode, fmt.Sprintf("%s rang agent %s (on %s) at %s (%d times)", n.node, agentID(i), agentNode(i), ep, count))
			}
		}
	}
	for _, leg := range legs {
		node, peers, view := astNode, w.sim.BridgedWith(leg), w.sim.Channel
		if _, ok := w.fs.Channel(leg); ok {
			node, peers, view = fsNode, w.fs.BridgedWith(leg), w.fs.Channel
		}
		crossed, native := false, false
		for _, p := range peers {
			v, ok := view(p)
			if !ok {
				continue
			}
			switch k, _ := kind(node, v.Endpoint); k {
			case "trunk":
				crossed = true
			case "native":
				native = true
			}
		}
		switch {
		case crossed && node == astNode:
			f.astToFS++
		case crossed:
			f.fsToAst++
		case native:
			f.sameNode++
		}
	}
	t.Logf("crossing: callers who talked with an agent on their own node %d, through the trunk %s→%s %d, %s→%s %d; legs rung on the wrong node %d",
		f.sameNode, astNode, fsNode, f.astToFS, fsNode, astNode, f.fsToAst, len(f.wrongNode))
	if len(f.wrongNode) > 0 {
		t.Errorf("agent legs rung on the wrong node: %d: %s", len(f.wrongNode), examples(f.wrongNode))
	}
	if f.astToFS == 0 || f.fsToAst == 0 {
		t.Errorf("calls did not cross the nodes both ways: %s→%s %d, %s→%s %d", astNode, fsNode, f.astToFS, fsNode, astNode, f.fsToAst)
	}
	return f
}

// checkAgentsFree: no agent is left reserved, ringing or connected.
func checkAgentsFree(t *testing.T, ctx context.Context, w *world) map[string]int {
	t.Helper()
	states := map[string]int{}
	var stuck []string
	for i := range agentCount {
		a, err := w.store.Agent(ctx, agentID(i))
		if err != nil {
			t.Fatalf("agent %s: %v", agentID(i), err)
		}
		states[string(a.State)]++
		if busy(string(a.State)) {
			stuck = append(stuck, fmt.Sprintf("%s %s", a.ID, a.State))
		}
	}
	t.Logf("agents: %v", states)
	if len(stuck) > 0 {
		t.Errorf("agents stuck on a call: %d: %s", len(stuck), examples(stuck))
	}
	return states
}

// callbackFigures sums up the callbacks.
type callbackFigures struct{ total, done, failed, attempts, dials int }

// checkCallbacks: every callback done or failed, each with its attempts,
// and no number dialled more often than its callback has attempts.
func checkCallbacks(t *testing.T, ctx context.Context, w *world) callbackFigures {
	t.Helper()
	var f callbackFigures
	var open, twice, noAttempt []string
	st := w.sim.Stats()
	pfx := w.cbs.Keys().Callback("")
	iter := w.rdb.Scan(ctx, 0, pfx+"*", 500).Iterator()
	for iter.Next(ctx) {
		id := strings.TrimPrefix(iter.Val(), pfx)
		cb, err := w.cbs.Get(ctx, id)
		if err != nil {
			t.Fatalf("callback %s: %v", id, err)
		}
		f.total++
		f.attempts += len(cb.Attempts)
		dials := st.OriginatesByEndpoint["PJSIP/"+cb.Number]
		f.dials += dials
		switch cb.State {
		case callbacks.StateDone:
			f.done++
		case callbacks.StateFailed:
			f.failed++
		default:
			open = append(open, fmt.Sprintf("%s %s (%d attempts)", cb.ID, cb.State, len(cb.Attempts)))
		}
		if (cb.State == callbacks.StateDone || cb.State == callbacks.StateFailed) && len(cb.Attempts) == 0 {
			noAttempt = append(noAttempt, fmt.Sprintf("%s %s", cb.ID, cb.State))
		}
		if dials > len(cb.Attempts) {
			twice = append(twice, fmt.Sprintf("%s %s dialled %d times for %d attempts", cb.ID, cb.Number, dials, len(cb.Attempts)))
		}
	}
	if err := iter.Err(); err != nil {
		t.Fatal(err)
	}
	t.Logf("callbacks: %d (done %d, failed %d), %d attempts, %d customer dials; not finished %d, dialled twice %d",
		f.total, f.done, f.failed, f.attempts, f.dials, len(open), len(twice))
	if len(open) > 0 {
		t.Errorf("callbacks not done or failed: %d: %s", len(open), examples(open))
	}
	if len(noAttempt) > 0 {
		t.Errorf("callbacks finished without an attempt: %d: %s", len(noAttempt), examples(noAttempt))
	}
	if len(twice) > 0 {
		t.Errorf("numbers dialled more than once for one attempt: %d: %s", len(twice), examples(twice))
	}
	return f
}

// liveCallbacks counts callbacks waiting to be due or being served.
func liveCallbacks(ctx context.Context, w *world) (int64, error) {
	k := w.cbs.Keys()
	due, err := w.rdb.ZCard(ctx, k.Due()).Result()
	if err != nil && !errors.Is(err, redis.Nil) {
		return 0, fmt.Errorf("callbacks due: %w", err)
	}
	held, err := w.rdb.ZCard(ctx, k.Leases()).Result()
	if err != nil && !errors.Is(err, redis.Nil) {
		return 0, fmt.Errorf("callback leases: %w", err)
	}
	return due + held, nil
}

// settled says whether the world has come to rest: every call placed,
// every interaction terminal, no callback live, no channel on either PBX
// node, no agent on a call.
func settled(ctx context.Context, w *world, tr *traffic) (bool, string) {
	_, _, placed := tr.snapshot()
	if !placed {
		return false, "calls still being placed"
	}
	ixs, err := allInteractions(ctx, w)
	if err != nil {
		return false, err.Error()
	}
	live := 0
	for _, ix := range ixs {
		if !ix.Terminal() {
			live++
		}
	}
	if live > 0 {
		return false, fmt.Sprintf("%d interactions live", live)
	}
	if n, err := liveCallbacks(ctx, w); err != nil || n > 0 {
		return false, fmt.Sprintf("%d callbacks live (%v)", n, err)
	}
	cs, bs, err := pbxLeft(ctx, w)
	if err != nil || len(cs)+len(bs) > 0 {
		return false, fmt.Sprintf("%d channels and %d bridges at the PBX (%v)", len(cs), len(bs), err)
	}
	for i := range agentCount {
		st, err := w.rdb.HGet(ctx, w.keys.Agent(agentID(i)), "state").Result()
		if err != nil || busy(st) || slices.Contains([]string{string(agents.WrapUp), string(agents.RONA)}, st) {
			return false, fmt.Sprintf("agent %s %s (%v)", agentID(i), st, err)
		}
	}
	return true, ""
}
