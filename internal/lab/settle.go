package lab

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/tandem-cc/tandem/acd"
	"github.com/tandem-cc/tandem/internal/keyspace"
	"github.com/tandem-cc/tandem/pbxsim"
)

// Settled is what a lab looks like once its calls are over (Settle).
type Settled struct {
	// Live names the interactions Redis does not have as ended, abandoned
	// or failed, with their state ("conn (state)").
	Live []string
	// Channels counts the channels the PBX still has (snoops included).
	Channels int
	// Left is what the PBX still holds that a finished call can leave
	// behind: bridges, snoop channels, live recordings.
	Left pbxsim.Leftovers
}

// Clean says whether every interaction is over and the PBX holds no
// channel, bridge, snoop or live recording.
func (s Settled) Clean() bool { return len(s.Live) == 0 && s.Channels == 0 && s.Left.Empty() }

func (s Settled) String() string {
	return fmt.Sprintf("interactions not over: %v; channels: %d; left at the PBX: %s", s.Live, s.Channels, s.Left)
}

// settlePoll is how often Settle looks again: it waits for Tandem to
// finish its calls, which it does within a few PBX round trips.
const settlePoll = 10 * time.Millisecond

// Settle waits until the lab is Clean or ctx ends, and returns what it
// found last. With hangUp, every party still on the PBX hangs up first,
// as callers and phones putting the receiver down (PBXSim.HangUp; a
// snoop channel goes with the channel it snoops), and so does every
// channel that appears meanwhile (a ring Tandem starts for a callback).
// Without, it only waits (the demo, whose callers hang up by themselves).
//
// Tandem destroys a bridge after it has ended the call in Redis, so the
// PBX's objects are read after the interactions are all over, and waited
// for: what is left when ctx ends stays for good.
func (l *Lab) Settle(ctx context.Context, hangUp bool) Settled {
	// Redis is read under a context of its own, so that the last look,
	// when ctx ends, still sees the interactions.
	read := func() []string {
		rctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
		defer cancel()
		return l.liveInteractions(rctx)
	}
	for {
		if hangUp {
			for _, c := range l.PBX.Channels() {
				if !c.HungUp && !strings.HasPrefix(c.Name, "Snoop/") {
					_ = l.PBX.HangUp(c.ID) // gone meanwhile: fine
				}
			}
		}
		s := Settled{Live: read()}
		if len(s.Live) == 0 {
			s.Channels = len(l.PBX.Channels())
			s.Left = l.PBX.Leftovers()
			if s.Clean() {
				return s
			}
		}
		select {
		case <-ctx.Done():
			if len(s.Live) != 0 {
				s.Channels = len(l.PBX.Channels())
				s.Left = l.PBX.Leftovers()
			}
			return s
		case <-time.After(settlePoll):
		}
	}
}

// liveInteractions lists the interactions under the lab's prefix that are
// not over. A read that fails (ctx over) counts as not over, so Settle
// never reports a world it could not see as clean. A callback waiting in
// its queue for an agent is left out: nobody of it is on the PBX yet, and
// it waits for an agent, not for anyone to hang up.
func (l *Lab) liveInteractions(ctx context.Context) []string {
	keys := keyspace.New(l.opts.Prefix)
	cut := len(keys.Interaction(""))
	var live []string
	iter := l.RDB.Scan(ctx, 0, keys.Interaction("*"), 1000).Iterator()
	for iter.Next(ctx) {
		k := iter.Val()
		conn := k[cut:]
		if strings.Contains(conn, ":") {
			continue // a sub-key of an interaction (its call-associated data)
		}
		ix, err := l.Replicas[0].Store.Interaction(ctx, conn)
		if errors.Is(err, acd.ErrNotFound) {
			continue // expired between the scan and the read
		}
		if err != nil {
			live = append(live, fmt.Sprintf("%s (%v)", conn, err))
			continue
		}
		switch {
		case ix.Terminal():
		case ix.State == acd.StateQueued && ix.Attached["callback_id"] != "":
		default:
			live = append(live, fmt.Sprintf("%s (%s)", conn, ix.State))
		}
	}
	if err := iter.Err(); err != nil {
		live = append(live, fmt.Sprintf("scan: %v", err))
	}
	slices.Sort(live)
	return live
}

// AllowLeftovers records that this lab's test ends, on purpose, with calls
// that cannot end or objects left at the PBX (a replica crashed and no
// survivor takes its calls over), and why: the end-of-test check of
// Settle is then skipped and why logged instead.
func (l *Lab) AllowLeftovers(why string) {
	l.leftoversMu.Lock()
	defer l.leftoversMu.Unlock()
	l.leftoversWhy = why
}

// LeftoversAllowed returns why the lab may end with leftovers, "" if it
// may not (AllowLeftovers).
func (l *Lab) LeftoversAllowed() string {
	l.leftoversMu.Lock()
	defer l.leftoversMu.Unlock()
	return l.leftoversWhy
}
