package chaos

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"net/http"
	"strings"
	"sync"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/tandem-cc/tandem/agents"
	"github.com/tandem-cc/tandem/pbxsim"
)

// agentCount agents log in through the API, each on both queues: the
// even ones on the Asterisk, the odd ones on the FreeSWITCH.
const agentCount = 16

// span is a uniform range of durations.
type span struct{ min, max time.Duration }

func (s span) draw(rng *rand.Rand) time.Duration {
	if s.max <= s.min {
		return s.min
	}
	return s.min + time.Duration(rng.Int64N(int64(s.max-s.min)+1))
}

// Scripted behaviour of the people on both ends.
var (
	ringFor  = span{150 * time.Millisecond, 900 * time.Millisecond}
	talkFor  = span{time.Second, 4 * time.Second}
	patience = span{4 * time.Second, 12 * time.Second}
	holdFor  = span{200 * time.Millisecond, 800 * time.Millisecond}
)

// traffic is the floor and the callers of one scenario. Every goroutine
// has its own random source drawn from the scenario's seed.
type traffic struct {
	w  *world
	sc scenario

	mu     sync.Mutex
	legs   []string // caller legs that reached a replica (on either node)
	n      counts
	placed bool // every call has been placed
}

// counts are what the traffic did, for the figures.
type counts struct {
	placed, refused                  int // calls, and those no application took
	placedFS                         int // of placed, those that came in on the FreeSWITCH
	dialogCallbacks, webCallbacks    int // callbacks asked for in queue (digits) and through the API
	holds, resumes, transfers        int // accepted API actions
	wrapups, supervisorAvail         int
	apiErrors, apiRefused, noReplica int // transport errors, 4xx/5xx answers, no replica to ask
}

func (tr *traffic) count(f func(*counts)) {
	tr.mu.Lock()
	defer tr.mu.Unlock()
	f(&tr.n)
}

func (tr *traffic) snapshot() (counts, []string, bool) {
	tr.mu.Lock()
	defer tr.mu.Unlock()
	return tr.n, append([]string(nil), tr.legs...), tr.placed
}

// agentID and endpoint name agent i; agentNode is the node its phone is
// on.
func agentID(i int) string { return fmt.Sprintf("%d", 2001+i) }

func agentNode(i int) string {
	if i%2 == 1 {
		return fsNode
	}
	return astNode
}

func endpoint(i int) string {
	if agentNode(i) == fsNode {
		return fsNode + "/user/" + agentID(i)
	}
	return astNode + "/PJSIP/" + agentID(i)
}

// agentIndex is the i of agent id, or -1.
func agentIndex(id string) int {
	for i := range agentCount {
		if agentID(i) == id {
			return i
		}
	}
	return -1
}

// api sends a request to a serving replica picked at random, and counts
// what went wrong; it returns the status (0 when none answered).
func (tr *traffic) api(ctx context.Context, rng *rand.Rand, method, path, body string) int {
	reps := tr.w.serving()
	if len(reps) == 0 {
		tr.count(func(c *counts) { c.noReplica++ })
		return 0
	}
	r := reps[rng.IntN(len(reps))]
	status, err := tr.w.apiCall(ctx, r, method, path, body)
	switch {
	case err != nil:
		tr.count(func(c *counts) { c.apiErrors++ })
	case status >= 400:
		tr.count(func(c *counts) { c.apiRefused++ })
	}
	return status
}

// login logs every agent in through a replica picked at random and makes
// them available; it must succeed (no chaos yet).
func (tr *traffic) login(ctx context.Context, rng *rand.Rand) error {
	for i := range agentCount {
		tr.drawPhone(rng, i)
		body := fmt.Sprintf(`{"endpoint":%q,"queues":["sales","support"]}`, endpoint(i))
		if st := tr.api(ctx, rng, http.MethodPost, "/v1/agents/"+agentID(i)+"/login", body); st != http.StatusOK {
			return fmt.Errorf("login %s: status %d", agentID(i), st)
		}
		if st := tr.api(ctx, rng, http.MethodPost, "/v1/agents/"+agentID(i)+"/available", ""); st != http.StatusOK {
			return fmt.Errorf("available %s: status %d", agentID(i), st)
		}
	}
	return nil
}

// drawPhone gives agent i's phone fresh ring and talk times (the
// simulator reads them when the next leg is rung); a third of the time
// the agent talks until the customer hangs up. The phone answers on its
// own node and through the trunk from the other one, which is how a
// caller on the other node reaches it (the two simulators are not
// joined: the trunk leg is the agent's phone on the caller's node).
func (tr *traffic) drawPhone(rng *rand.Rand, i int) {
	p := pbxsim.Phone{Mode: pbxsim.Answer, RingFor: ringFor.draw(rng)}
	if rng.IntN(3) > 0 {
		p.TalkFor = talkFor.draw(rng)
	}
	exten := agentID(i)
	if agentNode(i) == fsNode {
		tr.w.fs.SetPhone("user/"+exten, p)
		tr.w.sim.SetPhone(strings.ReplaceAll(trunkToFS, "{exten}", exten), p)
		return
	}
	tr.w.sim.SetPhone("PJSIP/"+exten, p)
	tr.w.fs.SetPhone(strings.ReplaceAll(trunkToAst, "{exten}", exten), p)
}

// callers places the scenario's calls at its rate. Odd calls come in on
// the FreeSWITCH, even ones on the Asterisk. On the Asterisk, call k
// follows the README's dialplan from replica k mod 3's application: that
// application, then the next ones. On the FreeSWITCH, the README's
// dialplan sets tandem_app to replica k mod 3's application and parks the
// call: there is no fallback, a call for a dead replica waits parked
// until a survivor hosts its seat. Some callers ask for a callback in
// queue (1, then # for their own number; the callback is dialled on the
// Asterisk), and every tenth call a web callback is requested through
// the API.
func (tr *traffic) callers(ctx context.Context, rng *rand.Rand) {
	defer tr.count(func(*counts) { tr.placed = true })
	start := time.Now()
	t := time.NewTimer(0)
	defer t.Stop()
	for k := range tr.sc.calls {
		t.Reset(time.Until(start.Add(time.Duration(float64(k) / tr.sc.rate * float64(time.Second)))))
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		apps := make([]string, replicaCount)
		for j := range apps {
			apps[j] = fmt.Sprintf("tandem-r%d", (k+j)%replicaCount+1)
		}
		dnis := salesDNIS
		if rng.IntN(5) == 0 {
			dnis = supportDNIS
		}
		cl := pbxsim.Caller{
			ANI: fmt.Sprintf("+1415555%04d", k), DNIS: dnis,
			Vars:     map[string]string{"CUSTOMER_ID": fmt.Sprintf("C%05d", k)},
			Patience: patience.draw(rng), TalkFor: talkFor.draw(rng),
		}
		dialog := rng.IntN(15) == 0
		if dialog {
			cl.ANI = fmt.Sprintf("+1202555%04d", k)
			cl.Digits, cl.DigitsAfter = "1#", 400*time.Millisecond
			cl.Patience = 20 * time.Second
			tr.w.sim.SetPhone("PJSIP/"+cl.ANI, pbxsim.Phone{Mode: pbxsim.Answer, RingFor: 300 * time.Millisecond, TalkFor: talkFor.draw(rng)})
		}
		onFS := k%2 == 1
		var leg string
		var err error
		if onFS {
			cl.App = apps[0]
			leg, err = tr.w.fs.Call(cl)
		} else {
			leg, err = tr.w.sim.CallFallback(cl, apps)
		}
		tr.count(func(c *counts) {
			c.placed++
			if onFS {
				c.placedFS++
			}
			if err != nil {
				c.refused++
				return
			}
			tr.legs = append(tr.legs, leg)
			if dialog {
				c.dialogCallbacks++
			}
		})
		if k%10 == 5 {
			number := fmt.Sprintf("+1303555%04d", k)
			tr.w.sim.SetPhone("PJSIP/"+number, pbxsim.Phone{Mode: pbxsim.Answer, RingFor: 300 * time.Millisecond, TalkFor: talkFor.draw(rng)})
			body := fmt.Sprintf(`{"queue":"sales","number":%q}`, number)
			if st := tr.api(ctx, rng, http.MethodPost, "/v1/callbacks", body); st == http.StatusCreated || st == http.StatusOK {
				tr.count(func(c *counts) { c.webCallbacks++ })
			}
		}
	}
}

// desk is the agents' hands and their supervisor, every 100 ms: an agent
// in RONA is made available again, one in wrap-up gives a code half the
// time (else it times out), a connected one now and then holds and
// resumes, or blind-transfers the customer to the support queue. Every
// action goes through the API of a serving replica picked at random;
// refusals (the call ended meanwhile, its owner is gone) are counted, not
// fatal.
func (tr *traffic) desk(ctx context.Context, rng *rand.Rand) {
	resumeAt := map[int]time.Time{}
	tick := time.NewTicker(100 * time.Millisecond)
	defer tick.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-tick.C:
		}
		for i := range agentCount {
			st, err := tr.w.rdb.HGet(ctx, tr.w.keys.Agent(agentID(i)), "state").Result()
			if err != nil && !errors.Is(err, redis.Nil) {
				continue // the context ended; the loop notices
			}
			base := "/v1/agents/" + agentID(i)
			switch agents.State(st) {
			case agents.RONA:
				if tr.api(ctx, rng, http.MethodPost, base+"/available", "") == http.StatusOK {
					tr.count(func(c *counts) { c.supervisorAvail++ })
				}
			case agents.WrapUp:
				if rng.IntN(2) == 0 && tr.api(ctx, rng, http.MethodPost, base+"/wrapup", `{"code":"resolved"}`) == http.StatusOK {
					tr.count(func(c *counts) { c.wrapups++ })
				}
			case agents.Available:
				delete(resumeAt, i)
				tr.drawPhone(rng, i)
			case agents.Connected:
				if at, held := resumeAt[i]; held {
					if time.Now().After(at) {
						delete(resumeAt, i)
						if tr.api(ctx, rng, http.MethodPost, base+"/call/resume", "") == http.StatusOK {
							tr.count(func(c *counts) { c.resumes++ })
						}
					}
					continue
				}
				switch n := rng.IntN(100); {
				case n < 4:
					if tr.api(ctx, rng, http.MethodPost, base+"/call/hold", "") == http.StatusOK {
						tr.count(func(c *counts) { c.holds++ })
						resumeAt[i] = time.Now().Add(holdFor.draw(rng))
					}
				case n < 6:
					if tr.api(ctx, rng, http.MethodPost, base+"/call/transfer", `{"kind":"queue","value":"support"}`) == http.StatusOK {
						tr.count(func(c *counts) { c.transfers++ })
					}
				}
			}
		}
	}
}
