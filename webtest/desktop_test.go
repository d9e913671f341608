package webtest

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/cdproto/cdp"
	"github.com/chromedp/cdproto/fetch"
	"github.com/chromedp/cdproto/network"
	"github.com/chromedp/chromedp"
	"github.com/chromedp/chromedp/kb"
	"github.com/redis/go-redis/v9"

	"github.com/tandem-cc/tandem/internal/browser"
	"github.com/tandem-cc/tandem/internal/keyspace"
	"github.com/tandem-cc/tandem/pbxsim"
)

// The browser tests of the agent desktop (web/static/desktop/index.html
// and assets/desktop.js): an agent's day through the page, against two
// replicas, the simulator's phones answered by hand.

// cardNumber is the secure variable's value: it must never reach the page.
const cardNumber = "4111111111111111"

// callVars are the channel variables of the calls the tests place.
func callVars() map[string]string {
	return map[string]string{
		"CUSTOMER_ID": "C-42", "LANGUAGE": "en", "BALANCE": "12.50", "CARD_NUMBER": cardNumber, "NOTE": "VIP",
	}
}

// durationText is what the page's timers show: m:ss or h:mm:ss.
var durationText = regexp.MustCompile(`^\d+:\d\d(:\d\d)?$`)

// desk is one agent's desktop in its own browser.
type desk struct {
	t     *testing.T
	w     *World
	b     *browser.Browser
	agent string
}

// streamReplica waits until the page's event stream is up and returns the
// replica it is connected to (the page's footer names it).
func (d *desk) streamReplica() *Replica {
	d.t.Helper()
	conn := d.b.WaitTextContains(browser.TestID("connection"), "connected to ")
	return d.w.Replica(strings.TrimPrefix(conn, "connected to "))
}

// takeACall places a sales call for the desk's agent (signed in and
// available, the only one in sales), waits for its request on the page,
// answers the agent's phone and waits until the call panel says connected.
func (d *desk) takeACall() *Caller {
	d.t.Helper()
	caller := d.w.PlaceCall(callVars())
	d.b.WaitVisible(browser.TestID("popover", "request"))
	d.w.AnswerAgentPhone(d.agent)
	d.waitCallState("connected")
	return caller
}

// openDesk starts a browser on the desktop page served by replica r.
func openDesk(t *testing.T, w *World, r *Replica) *desk {
	t.Helper()
	b := browser.Start(t)
	b.Navigate(r.URL + "/desktop/")
	b.WaitVisible(browser.TestID("signin-form"))
	return &desk{t: t, w: w, b: b}
}

// fillSignIn types the agent's id, a token and its endpoint; leaving the
// token field loads the settings (the queues to choose from).
func (d *desk) fillSignIn(agent, token string) {
	d.t.Helper()
	d.b.Fill(browser.TestID("signin-agent"), agent)
	d.b.Fill(browser.TestID("signin-token"), token)
	d.b.Fill(browser.TestID("signin-endpoint"), AgentEndpoint(agent))
}

// signIn signs agent in with its own token into the sales queue, the way
// a person would: fields, the queue's box, then Enter.
func (d *desk) signIn(agent string) {
	d.t.Helper()
	d.fillSignIn(agent, AgentToken(agent))
	d.b.Click(browser.TestID("queue-sales"))
	d.b.Type(browser.TestID("signin-endpoint"), kb.Enter)
	d.agent = agent
	d.waitState("idle")
	d.b.WaitTextContains(browser.TestID("connection"), "connected to ")
}

// attach opens the desktop of an agent signed in already (from Go, or in
// another tab): no endpoint or queue is asked for, and the page carries on
// in the state the agent is in.
func (d *desk) attach(agent, state string) {
	d.t.Helper()
	d.b.Fill(browser.TestID("signin-agent"), agent)
	d.b.Fill(browser.TestID("signin-token"), AgentToken(agent))
	d.b.Click(browser.TestID("signin-submit"))
	d.agent = agent
	d.waitState(state)
	d.b.WaitTextContains("#notice", "signed in already")
	d.b.WaitTextContains(browser.TestID("connection"), "connected to ")
}

// reload loads the desktop page again from replica r and signs the agent,
// who is in state, in again: the page starts from nothing but the API.
func (d *desk) reload(r *Replica, state string) {
	d.t.Helper()
	d.b.Navigate(r.URL + "/desktop/")
	d.b.WaitVisible(browser.TestID("signin-form"))
	d.attach(d.agent, state)
}

// seconds reads a timer's text (m:ss or h:mm:ss) as seconds.
func seconds(t *testing.T, text string) int {
	t.Helper()
	if !durationText.MatchString(text) {
		t.Fatalf("timer text %q", text)
	}
	n := 0
	for _, part := range strings.Split(text, ":") {
		v, err := strconv.Atoi(part)
		if err != nil {
			t.Fatalf("timer text %q: %v", text, err)
		}
		n = n*60 + v
	}
	return n
}

// waitState waits until the desktop shows the agent in state (the raw
// state is the state element's data-state).
func (d *desk) waitState(state string) {
	d.t.Helper()
	d.b.WaitCondition("the desktop shows state "+state,
		fmt.Sprintf(`document.querySelector('[data-testid="state"]').dataset.state === %q`, state))
}

// waitCallState waits until the call panel shows the call in state (its
// data-state: connected, held, consulting, consult-held, conference).
func (d *desk) waitCallState(state string) {
	d.t.Helper()
	d.b.WaitVisible(browser.TestID("call-panel"))
	d.b.WaitCondition("the call panel shows "+state,
		fmt.Sprintf(`(() => { const e = document.querySelector('[data-testid="call-state"]');
			return e && e.offsetParent !== null && e.dataset.state === %q; })()`, state))
}

// goAvailable makes the agent available with the page's button.
func (d *desk) goAvailable() {
	d.t.Helper()
	d.b.Click(browser.TestID("go-available"))
	d.waitState("available")
	d.w.WaitAgentState(d.agent, "available")
}

// noError fails the test if the page shows an error.
func (d *desk) noError() {
	d.t.Helper()
	var shown string
	d.b.EvalInto(`(() => { const e = document.querySelector('[data-testid="error"]'); return e.hidden ? "" : e.innerText; })()`, &shown)
	if shown != "" {
		d.t.Fatalf("the page shows an error: %s", shown)
	}
}

// noProblems fails the test if the page threw or logged an error.
func (d *desk) noProblems() {
	d.t.Helper()
	if p := d.b.Problems(); len(p) > 0 {
		d.t.Fatalf("the page failed: %v", p)
	}
	if off := d.b.OffLoopback(); len(off) > 0 {
		d.t.Fatalf("requests left loopback: %v", off)
	}
}

// popover is a contact request as the page shows it.
type popover struct {
	Conn    string `json:"conn"`
	Label   string `json:"label"`
	ANI     string `json:"ani"`
	DNIS    string `json:"dnis"`
	Queue   string `json:"queue"`
	Elapsed string `json:"elapsed"`
	Vars    []struct {
		Name string `json:"name"`
		Text string `json:"text"`
	} `json:"vars"`
}

// varTexts are the request's variables as name=shown text, in the order
// shown.
func (p popover) varTexts() []string {
	var out []string
	for _, v := range p.Vars {
		out = append(out, v.Name+"="+v.Text)
	}
	return out
}

// popUpVars is how a request shows the variables of callVars: the sales
// queue's pop-up variables in their configured order (NOTE is not one),
// the secure card number hidden.
var popUpVars = []string{"CUSTOMER_ID=Customer: C-42", "LANGUAGE=Language: en", "BALANCE=Balance: 12.50", "CARD_NUMBER=Card number: ••••••"}

// popovers reads the contact requests on the page, top to bottom.
func (d *desk) popovers() []popover {
	d.t.Helper()
	var out []popover
	d.b.EvalInto(`[...document.querySelectorAll('[data-testid="request"]')].map(r => {
		const t = (id) => { const e = r.querySelector('[data-testid="' + id + '"]'); return e ? e.textContent.trim() : ""; };
		return {conn: r.dataset.connectionId, label: t("request-label"), ani: t("request-ani"), dnis: t("request-dnis"),
			queue: t("request-queue"), elapsed: t("request-elapsed"),
			vars: [...r.querySelectorAll('[data-testid="request-var"]')].map(v => ({name: v.dataset.name, text: v.textContent.trim()}))};
	})`, &out)
	return out
}

// pageHolds says whether the page's whole document (markup and input
// values) holds s anywhere.
func (d *desk) pageHolds(s string) bool {
	d.t.Helper()
	var found bool
	d.b.EvalInto(fmt.Sprintf(`document.documentElement.outerHTML.includes(%q) ||
		[...document.querySelectorAll('input, textarea, select')].some(e => e.value.includes(%q))`, s, s), &found)
	return found
}

// callView is GET /v1/agents/{id}/call.
type callView struct {
	ConnectionID string `json:"connection_id"`
	State        string `json:"state"`
	Agent        string `json:"agent"`
	Recording    *struct {
		Paused bool `json:"paused"`
	} `json:"recording"`
}

func (d *desk) apiCall() callView {
	d.t.Helper()
	var c callView
	d.w.MustDo(AgentToken(d.agent), http.MethodGet, "/v1/agents/"+d.agent+"/call", nil, &c)
	return c
}

// waitAPICallState waits until the API says the agent's call is in state.
func (d *desk) waitAPICallState(state string) {
	d.t.Helper()
	d.w.WaitUntil("the API shows the call of "+d.agent+" "+state, func() bool {
		st, body := d.w.Do(AgentToken(d.agent), http.MethodGet, "/v1/agents/"+d.agent+"/call", nil)
		var c callView
		return st == http.StatusOK && json.Unmarshal(body, &c) == nil && c.State == state
	})
}

// wrapUp picks the wrap-up code whose name contains search, through the
// dialog's search field and the Enter key, and checks the agent is
// available again.
func (d *desk) wrapUp(search, code string) {
	d.t.Helper()
	d.b.WaitVisible(browser.TestID("wrapup-dialog"))
	d.b.WaitText(browser.TestID("acw-countdown"), "a countdown", durationText.MatchString)
	d.b.Fill(browser.TestID("wrapup-search"), search)
	var shown []string
	d.b.EvalInto(`[...document.querySelectorAll('[data-testid="wrapup-code"]')].filter(o => !o.hidden).map(o => o.value)`, &shown)
	if !slices.Equal(shown, []string{code}) {
		d.t.Fatalf("searching %q shows the codes %v, want only %s", search, shown, code)
	}
	d.b.Press(kb.Enter)
	d.b.WaitHidden(browser.TestID("wrapup-dialog"))
	d.waitState("available")
	d.w.WaitAgentState(d.agent, "available")
	d.noError()
}

// redisAddrIn reads the Redis address from a replica's configuration
// file, where the world wrote it.
var redisAddrIn = regexp.MustCompile(`redis: \{addr: "([^"]+)"`)

// wrapupCode is the wrap-up code recorded on the interaction conn for
// agent ("" if none), read from Redis: the API does not show it.
func wrapupCode(t *testing.T, w *World, conn, agent string) string {
	t.Helper()
	cfg, err := os.ReadFile(w.Replicas[0].cfg)
	if err != nil {
		t.Fatal(err)
	}
	m := redisAddrIn.FindSubmatch(cfg)
	if m == nil {
		t.Fatalf("no Redis address in %s", w.Replicas[0].cfg)
	}
	rdb := redis.NewClient(&redis.Options{Addr: string(m[1]), ContextTimeoutEnabled: true})
	defer func() { _ = rdb.Close() }()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	code, err := rdb.HGet(ctx, keyspace.New(prefix).Interaction(conn), "wrapup:"+agent).Result()
	if err != nil && err != redis.Nil {
		t.Fatalf("read the wrap-up code of %s: %v", conn, err)
	}
	return code
}

// TestDesktopSignInAndStateControl: a wrong token is refused with the
// API's own words (and no token ever travels in a URL); the queues come from the server's settings; a sign-in
// without a queue says which field is missing; then the agent signs in
// with the keyboard, goes idle with a reason code, available, and logs
// out — the page's state and timer follow, and the API agrees each time.
func TestDesktopSignInAndStateControl(t *testing.T) {
	w := NewWorld(t, Options{})
	d := openDesk(t, w, w.Replicas[0])
	d.agent = "1001"

	d.fillSignIn("1001", "not-the-token")
	d.b.WaitTextContains(browser.TestID("error"), "invalid bearer token")

	d.fillSignIn("1001", AgentToken("1001"))
	d.b.WaitVisible(browser.TestID("queue-sales"))
	d.b.WaitVisible(browser.TestID("queue-support"))
	d.b.Click(browser.TestID("signin-submit"))
	d.b.WaitTextContains(browser.TestID("error"), "queues: choose at least one queue")

	// The API refuses the endpoint: its message names the field.
	d.b.Click(browser.TestID("queue-sales"))
	d.b.Fill(browser.TestID("signin-endpoint"), "PJSIP/10 01")
	d.b.Click(browser.TestID("signin-submit"))
	d.b.WaitTextContains(browser.TestID("error"), "endpoint: may contain only")

	d.b.Fill(browser.TestID("signin-endpoint"), AgentEndpoint("1001"))
	d.b.Press(kb.Enter)
	d.waitState("idle")
	d.noError()
	a := d.w.Agent("1001")
	if a.State != "idle" || !slices.Equal(a.Queues, []string{"sales"}) || a.Endpoint != AgentEndpoint("1001") {
		t.Fatalf("after sign-in the API shows %+v", a)
	}
	d.b.WaitText(browser.TestID("state-timer"), "a timer", durationText.MatchString)
	d.b.WaitTextContains(browser.TestID("connection"), "connected to http://127.0.0.1:")

	d.b.Select(browser.TestID("idle-reason"), "lunch")
	d.b.Click(browser.TestID("go-idle"))
	d.b.WaitTextContains(browser.TestID("state"), "lunch")
	if a := d.w.Agent("1001"); a.State != "idle" || a.Reason != "lunch" {
		t.Fatalf("idle with reason lunch: the API shows %+v", a)
	}

	d.goAvailable()
	d.b.WaitTextContains(browser.TestID("state"), "Available")

	d.b.Click(browser.TestID("logout"))
	d.b.WaitVisible(browser.TestID("signin-form"))
	d.w.WaitAgentState("1001", "logged_out")
	d.noError()
	d.noProblems()
	// Enter in the form, wrong tokens and right: no URL carried one.
	noSecretInURLs(t, d.b, AgentToken("1001"), "not-the-token")
}

// TestDesktopHandlesACallFromPopOverToWrapUp: an available agent is
// offered a call: the pop-over shows the label, ANI, DNIS, queue and the
// queue's pop-up variables in their configured order with the secure one
// hidden, and how long ago the request came. The agent answers on the
// (simulated) phone; the call panel shows the call, its timer and the
// recording; hold/resume and recording pause/resume work; an edit of a
// variable that someone else saved first shows the conflict and can be
// saved again or reverted; the agent ends the call and wraps up with a
// reason found by searching.
func TestDesktopHandlesACallFromPopOverToWrapUp(t *testing.T) {
	w := NewWorld(t, Options{})
	d := openDesk(t, w, w.Replicas[0])
	d.signIn("1001")
	d.goAvailable()

	caller := w.PlaceCall(callVars())
	d.b.WaitVisible(browser.TestID("popover", "request"))
	d.waitState("ringing")
	pops := d.popovers()
	if len(pops) != 1 {
		t.Fatalf("%d pop-overs, want 1: %+v", len(pops), pops)
	}
	p := pops[0]
	if p.Label != "inbound" || p.ANI != CallerANI || p.DNIS != SalesDNIS || p.Queue != "sales" {
		t.Fatalf("pop-over %+v, want inbound from %s to %s in sales", p, CallerANI, SalesDNIS)
	}
	if got := p.varTexts(); !slices.Equal(got, popUpVars) {
		t.Fatalf("pop-over variables\n%v\nwant (configured order, NOTE not a pop-up, card hidden)\n%v", got, popUpVars)
	}
	if !durationText.MatchString(p.Elapsed) {
		t.Fatalf("pop-over elapsed time %q", p.Elapsed)
	}
	if d.pageHolds(cardNumber) {
		t.Fatal("the secure card number reached the page")
	}
	// A reload while the phone rings: the page, signed in again, shows
	// the same request, its time counted from the offer, not the reload.
	d.reload(w.Replicas[0], "ringing")
	d.b.WaitVisible(browser.TestID("popover", "request"))
	again := d.popovers()
	if len(again) != 1 || again[0].Conn != p.Conn || again[0].Label != "inbound" || again[0].ANI != CallerANI ||
		again[0].DNIS != SalesDNIS || again[0].Queue != "sales" || !slices.Equal(again[0].varTexts(), popUpVars) {
		t.Fatalf("after a reload the desktop shows %+v, want %+v again", again, p)
	}
	if seconds(t, again[0].Elapsed) < seconds(t, p.Elapsed) {
		t.Fatalf("after a reload the request's time went back from %s to %s", p.Elapsed, again[0].Elapsed)
	}
	if d.pageHolds(cardNumber) {
		t.Fatal("the secure card number reached the reloaded page")
	}

	w.AnswerAgentPhone("1001")
	d.waitState("connected")
	d.waitCallState("connected")
	d.b.WaitGone(browser.TestID("popover", "request"))
	conn := d.apiCall().ConnectionID
	if conn != p.Conn {
		t.Fatalf("the pop-over was for %s, the agent is on %s", p.Conn, conn)
	}
	d.b.WaitText(browser.TestID("call-timer"), "a call timer", durationText.MatchString)
	d.b.WaitCondition("the recording indicator is on",
		`document.querySelector('[data-testid="rec-indicator"]').dataset.recording === "on"`)

	// Hold and resume.
	d.b.Click(browser.TestID("hold"))
	d.waitCallState("held")
	d.b.WaitTextContains(browser.TestID("call-state"), "on hold")
	d.waitAPICallState("held")
	d.b.Click(browser.TestID("resume"))
	d.waitCallState("connected")
	d.waitAPICallState("connected")

	// Recording pause and resume.
	d.b.Click(browser.TestID("rec-pause"))
	d.b.WaitCondition("the recording indicator shows the pause",
		`document.querySelector('[data-testid="rec-indicator"]').dataset.recording === "paused"`)
	if c := d.apiCall(); c.Recording == nil || !c.Recording.Paused {
		t.Fatalf("after pause the API shows the recording %+v", c.Recording)
	}
	d.b.Click(browser.TestID("rec-resume"))
	d.b.WaitCondition("the recording indicator is on again",
		`document.querySelector('[data-testid="rec-indicator"]').dataset.recording === "on"`)

	// The call's variables: the secure one is hidden here too.
	balance := browser.TestID("var-BALANCE")
	d.b.WaitCondition("the balance is shown", `document.querySelector('[data-testid="var-BALANCE"]')?.value === "12.50"`)
	if d.pageHolds(cardNumber) {
		t.Fatal("the secure card number reached the call panel")
	}

	// Someone else saves the balance first (a supervisor, through the
	// API, at the version the page read), then the agent saves theirs.
	var vars struct {
		Version int64 `json:"version"`
	}
	w.MustDo(AgentToken("1001"), http.MethodGet, "/v1/agents/1001/call/variables", nil, &vars)
	d.b.Fill(balance, "99.00")
	w.MustDo(SupervisorToken, http.MethodPut, "/v1/agents/1001/call/variables/BALANCE",
		map[string]any{"value": "20.00", "version": vars.Version}, nil)
	d.b.Click(browser.TestID("var-save-BALANCE"))
	conflict := d.b.WaitTextContains(browser.TestID("var-conflict"), "someone else saved")
	if !strings.Contains(conflict, `"20.00"`) || !strings.Contains(conflict, "Balance") {
		t.Fatalf("the conflict message %q does not name the variable and the other value", conflict)
	}
	if v := d.b.Value(balance); v != "99.00" {
		t.Fatalf("after the conflict the agent's value is %q, want 99.00 kept", v)
	}
	// The call timer runs (it counts from the answer, not from a hold).
	d.b.WaitText(browser.TestID("call-timer"), "a running call timer", func(s string) bool {
		return durationText.MatchString(s) && s != "0:00"
	})
	d.b.Screenshot("desktop")
	// Saving again, now over the winner's version, works.
	d.b.Click(browser.TestID("var-save-BALANCE"))
	d.b.WaitHidden(browser.TestID("var-conflict"))
	d.w.WaitUntil("the balance is 99.00 on the server", func() bool {
		_, body := w.Do(AgentToken("1001"), http.MethodGet, "/v1/agents/1001/call/variables", nil)
		return strings.Contains(string(body), `"value":"99.00"`)
	})
	// An edit reverted goes back to the saved value.
	d.b.Fill(balance, "1")
	d.b.Click(browser.TestID("var-revert-BALANCE"))
	if v := d.b.Value(balance); v != "99.00" {
		t.Fatalf("after revert the balance shows %q, want 99.00", v)
	}
	d.noError()

	// End and wrap up.
	d.b.Click(browser.TestID("end-call"))
	d.waitState("wrapup")
	d.b.WaitHidden(browser.TestID("call-panel"))
	d.wrapUp("follow", "follow-up")
	d.b.WaitTextContains("#notice", "Wrapped up: follow-up")
	if code := wrapupCode(t, w, conn, "1001"); code != "follow-up" {
		t.Fatalf("the call's wrap-up code is %q, want follow-up", code)
	}
	// End call hung the customer up.
	w.WaitUntil("the caller is hung up", func() bool {
		v, ok := w.Sim.Channel(caller.ID)
		return ok && v.HungUp
	})
	d.noProblems()
}

// TestDesktopConsultsAndTransfers: during a call the consult dialog lists
// the other agents with their live states and the queues, filters the
// agents by a search, checks a typed number before dialling, and closes
// with Esc. The agent consults an idle agent (answered on that agent's
// phone), makes a conference and exits the consult; then consults
// another agent (whose desktop shows the consult request, also after a
// reload), switches between the two parties (consult on hold and back),
// transfers the customer to the consulted agent and wraps up.
func TestDesktopConsultsAndTransfers(t *testing.T) {
	w := NewWorld(t, Options{})
	// The others take support calls: the sales call goes to 1001.
	w.SignIn("1002", "support")
	w.SignIn("1003", "support")
	d := openDesk(t, w, w.Replicas[0])
	d.signIn("1001")
	d.goAvailable()
	// 1002's own desktop, from the other replica.
	d2 := openDesk(t, w, w.Replicas[1])
	d2.attach("1002", "available")

	d.takeACall()

	d.b.Click(browser.TestID("consult-open"))
	d.b.WaitVisible(browser.TestID("consult-dialog"))
	row := func(agent string) string {
		return fmt.Sprintf(`%s [data-testid="consult-agent"][data-agent=%q]`, browser.TestID("consult-dialog"), agent)
	}
	d.b.WaitVisible(row("1002"))
	d.b.WaitTextContains(row("1002"), "Available")
	d.b.WaitVisible(row("1003"))
	if n := d.b.Count(row("1001")); n != 0 {
		t.Fatal("the consult list offers the agent itself")
	}
	d.b.WaitVisible(browser.TestID("consult-queues") + ` [data-testid="consult-queue"][data-queue="support"]`)

	// Live states: 1003 goes idle; the open dialog shows it.
	w.MustDo(AgentToken("1003"), http.MethodPost, "/v1/agents/1003/idle", map[string]string{"reason": "break"}, nil)
	d.b.WaitTextContains(row("1003"), "break")

	// Esc closes the dialog; nothing happened to the call.
	if f := d.b.Focused(); f != "consult-search" {
		t.Fatalf("the open dialog has the focus on %q, want the search", f)
	}
	d.b.Press(kb.Escape)
	d.b.WaitHidden(browser.TestID("consult-dialog"))
	d.waitCallState("connected")

	// First consult: 1003 (idle agents may be consulted), found by a
	// search; then a conference, then the agent exits the consult.
	d.b.Click(browser.TestID("consult-open"))
	d.b.Fill(browser.TestID("consult-search"), "1003")
	d.b.WaitHidden(row("1002"))
	d.b.WaitVisible(row("1003"))

	// A number is checked as it is typed and when dialled.
	d.b.Fill(browser.TestID("consult-number"), "12ab")
	d.b.WaitTextContains(browser.TestID("consult-number-error"), `"a" is not allowed`)
	d.b.Fill(browser.TestID("consult-number"), "12")
	d.b.Click(browser.TestID("consult-dial"))
	d.b.WaitTextContains(browser.TestID("consult-number-error"), "must have 3 to 18 digits")

	d.b.Click(row("1003") + " button")
	d.b.WaitHidden(browser.TestID("consult-dialog"))
	d.waitCallState("consulting")
	w.AnswerAgentPhone("1003")
	d.b.WaitTextContains(browser.TestID("call-panel"), "(connected)")
	d.b.Click(browser.TestID("conference"))
	d.waitCallState("conference")
	d.waitAPICallState("conferenced")
	d.b.Click(browser.TestID("consult-end"))
	d.waitCallState("connected")
	d.waitAPICallState("connected")
	w.WaitAgentState("1003", "wrapup")

	// Second consult: 1002, then a consult transfer.
	d.b.Click(browser.TestID("consult-open"))
	d.b.WaitVisible(row("1002"))
	d.b.Click(row("1002") + " button")
	d.b.WaitHidden(browser.TestID("consult-dialog"))
	d.waitCallState("consulting")

	// 1002's desktop shows the consult request: who asks, the call's
	// pop-up variables, the secure one hidden.
	req := browser.TestID("popover", "request")
	d2.b.WaitVisible(req)
	if l := d2.b.Text(req + " " + browser.TestID("request-label")); !strings.EqualFold(l, "consult") {
		t.Fatalf("the consulted agent's pop-over is labelled %q", l)
	}
	d2.b.WaitTextContains(req, "from agent 1001")
	d2.b.WaitTextContains(req+` [data-testid="request-var"][data-name="CUSTOMER_ID"]`, "Customer: C-42")
	d2.b.WaitTextContains(req+` [data-testid="request-var"][data-name="CARD_NUMBER"]`, "Card number: ••••••")
	if d2.pageHolds(cardNumber) {
		t.Fatal("the secure card number reached the consulted agent's page")
	}
	// A reload while the phone rings shows the same consult request,
	// rebuilt from the call as read.
	d2.b.Navigate(w.Replicas[1].URL + "/desktop/")
	d2.attach("1002", "ringing")
	d2.b.WaitVisible(req)
	if l := d2.b.Text(req + " " + browser.TestID("request-label")); !strings.EqualFold(l, "consult") {
		t.Fatalf("after a reload the consulted agent's request is labelled %q", l)
	}
	d2.b.WaitTextContains(req, "from agent 1001")
	d2.b.WaitTextContains(req+` [data-testid="request-var"][data-name="CARD_NUMBER"]`, "Card number: ••••••")
	w.AnswerAgentPhone("1002")
	d.b.WaitTextContains(browser.TestID("call-panel"), "(connected)")
	d.waitAPICallState("consulting")
	d2.waitState("connected")
	d2.b.WaitGone(req)
	d2.waitCallState("consulting")

	// Back to the customer (the consulted agent waits), and back again.
	d.b.Click(browser.TestID("resume"))
	d.waitCallState("consult-held")
	d.b.WaitTextContains(browser.TestID("call-state"), "consult on hold")
	d.b.Click(browser.TestID("resume"))
	d.waitCallState("consulting")

	d.b.Click(browser.TestID("transfer"))
	d.waitState("wrapup")
	if a := w.WaitAgentState("1002", "connected"); a.ConnectionID == "" {
		t.Fatalf("after the transfer 1002 has no call: %+v", a)
	}
	d.b.WaitTextContains("#notice", "transferred")
	d.wrapUp("escal", "escalated")
	d.noError()
	d.noProblems()
	// 1002 has the customer now, and their desktop says so.
	d2.waitCallState("connected")
	d2.noError()
	d2.noProblems()
}

// TestDesktopBlindTransferToAnAgent: agent 1001, on a call, blind-transfers
// it through their desktop's Transfer dialog to agent 1002 (picked from
// the agent list). 1002's own desktop, served by the other replica, shows
// the contact request labelled "transfer" with the call's ANI, DNIS,
// queue and pop-up variables, the secure one hidden; 1002 answers on the
// phone (after reloading the page, which shows the same request again)
// and their call panel shows the call connected, while 1001 is in wrap-up
// and wraps up.
func TestDesktopBlindTransferToAnAgent(t *testing.T) {
	w := NewWorld(t, Options{})
	// 1002 takes support calls: the sales call goes to 1001.
	w.SignIn("1002", "support")
	d := openDesk(t, w, w.Replicas[0])
	d.signIn("1001")
	d.goAvailable()
	d2 := openDesk(t, w, w.Replicas[1])
	d2.attach("1002", "available")

	d.takeACall()
	conn := d.apiCall().ConnectionID

	d.b.Click(browser.TestID("transfer"))
	d.b.WaitVisible(browser.TestID("consult-dialog"))
	d.b.WaitTextContains("#consult-title", "Transfer")
	row := fmt.Sprintf(`%s [data-testid="consult-agent"][data-agent="1002"]`, browser.TestID("consult-dialog"))
	d.b.WaitTextContains(row, "Available")
	d.b.WaitTextContains(row+" button", "Transfer to")
	d.b.Click(row + " button")
	d.b.WaitHidden(browser.TestID("consult-dialog"))
	d.waitState("wrapup")
	d.b.WaitTextContains("#notice", "transferred")

	req := browser.TestID("popover", "request")
	d2.b.WaitVisible(req)
	d2.waitState("ringing")
	pops := d2.popovers()
	if len(pops) != 1 {
		t.Fatalf("1002's desktop shows %d requests, want 1: %+v", len(pops), pops)
	}
	p := pops[0]
	if p.Label != "transfer" || p.Conn != conn || p.ANI != CallerANI || p.DNIS != SalesDNIS || p.Queue != "sales" {
		t.Fatalf("1002's request %+v, want transfer of %s from %s to %s in sales", p, conn, CallerANI, SalesDNIS)
	}
	if got := p.varTexts(); !slices.Equal(got, popUpVars) {
		t.Fatalf("1002's request variables\n%v\nwant\n%v", got, popUpVars)
	}
	if !durationText.MatchString(p.Elapsed) {
		t.Fatalf("1002's request elapsed time %q", p.Elapsed)
	}
	if d2.pageHolds(cardNumber) {
		t.Fatal("the secure card number reached the page of the agent the call was transferred to")
	}
	// 1002 reloads the page while the phone rings: the desktop, signed in
	// again, rebuilds the request from the offer the server keeps, still
	// a transfer.
	d2.b.Navigate(w.Replicas[1].URL + "/desktop/")
	d2.attach("1002", "ringing")
	d2.b.WaitVisible(req)
	if again := d2.popovers(); len(again) != 1 || again[0].Label != "transfer" || again[0].Conn != conn ||
		again[0].ANI != CallerANI || again[0].DNIS != SalesDNIS || again[0].Queue != "sales" ||
		!slices.Equal(again[0].varTexts(), popUpVars) {
		t.Fatalf("after a reload 1002's desktop shows %+v, want the transfer request again", again)
	}
	if d2.pageHolds(cardNumber) {
		t.Fatal("the secure card number reached the reloaded page")
	}

	w.AnswerAgentPhone("1002")
	d2.waitState("connected")
	d2.waitCallState("connected")
	d2.b.WaitGone(req)
	if c := d2.apiCall(); c.ConnectionID != conn || c.Agent != "1002" {
		t.Fatalf("after answering, 1002's call is %+v, want %s", c, conn)
	}
	d2.b.WaitTextContains(browser.TestID("call-panel"), CallerANI)

	d.wrapUp("escal", "escalated")
	if code := wrapupCode(t, w, conn, "1001"); code != "escalated" {
		t.Fatalf("1001's wrap-up code of the call is %q, want escalated", code)
	}
	d2.waitCallState("connected")
	for _, dk := range []*desk{d, d2} {
		dk.noError()
		dk.noProblems()
	}
}

// TestDesktopCarriesOnWhenItsReplicaDies: mid-call, the replica the
// desktop's event stream is connected to (which also runs the call: the
// call came into its application) is killed with SIGKILL. The desktop
// reconnects to the other replica by itself (no reload), reads the call
// again, and the agent carries on: hold and resume, end, wrap-up.
func TestDesktopCarriesOnWhenItsReplicaDies(t *testing.T) {
	w := NewWorld(t, Options{})
	d := openDesk(t, w, w.Replicas[0])
	// Takeover of the dead replica's seat and its call takes a few
	// seconds on top of the page's reconnect.
	d.b.SetWait(45 * time.Second)
	d.signIn("1001")
	d.goAvailable()

	dead := d.streamReplica()
	w.PlaceCallTo(dead, callVars())
	d.b.WaitVisible(browser.TestID("popover", "request"))
	w.AnswerAgentPhone("1001")
	d.waitCallState("connected")
	before := d.apiCall().ConnectionID

	// The page marks itself so that a reload would show (a reloaded page
	// would be signed out and lose the mark).
	d.b.Eval(`(() => { window.__noReload = "still here"; return ""; })()`)
	w.Kill(dead)
	d.b.WaitText(browser.TestID("connection"), "connected to the other replica", func(s string) bool {
		return strings.HasPrefix(s, "connected to ") && !strings.Contains(s, dead.URL)
	})
	if d.b.Eval(`window.__noReload || ""`) != "still here" {
		t.Fatal("the page was reloaded")
	}
	d.waitState("connected")
	d.waitCallState("connected")

	d.b.Click(browser.TestID("hold"))
	d.waitCallState("held")
	d.waitAPICallState("held")
	if c := d.apiCall(); c.ConnectionID != before {
		t.Fatalf("after the failover the agent is on call %s, want %s", c.ConnectionID, before)
	}
	d.b.Click(browser.TestID("resume"))
	d.waitCallState("connected")
	d.b.Click(browser.TestID("end-call"))
	d.waitState("wrapup")
	d.wrapUp("no-res", "no-resolution")
	d.noProblems()
}

// interception pauses the page's requests whose URL matches patterns
// (Chromium's Fetch domain), so a test can lose them on the way out or
// their answers on the way back.
type interception struct {
	d      *desk
	paused chan *fetch.EventRequestPaused
}

// intercept starts pausing the page's requests that match patterns.
func (d *desk) intercept(patterns ...*fetch.RequestPattern) *interception {
	d.t.Helper()
	in := &interception{d: d, paused: make(chan *fetch.EventRequestPaused, 64)}
	// Listen's func runs on the tab's reader goroutine: it only hands the
	// event over (the test answers it); a full buffer fails the test.
	if err := chromedp.Listen(d.b.Context(), func(ev any) {
		if p, ok := ev.(*fetch.EventRequestPaused); ok {
			select {
			case in.paused <- p:
			default:
				d.t.Errorf("more than %d paused requests unanswered", cap(in.paused))
			}
		}
	}); err != nil {
		d.t.Fatalf("listen to paused requests: %v", err)
	}
	in.call("enable request interception", func(ctx context.Context, tg *chromedp.Target) error {
		_, err := cdp.Call(ctx, tg, fetch.Enable, fetch.EnableParams{Patterns: patterns})
		return err
	})
	return in
}

func (in *interception) call(what string, f func(ctx context.Context, tg *chromedp.Target) error) {
	in.d.t.Helper()
	ctx, cancel := context.WithTimeout(in.d.b.Context(), 5*time.Second)
	defer cancel()
	if err := chromedp.Do(ctx, chromedp.Func(f)); err != nil {
		in.d.t.Fatalf("%s: %v", what, err)
	}
}

// next waits for the next paused request with method whose URL ends with
// suffix; a CORS preflight paused meanwhile is let through.
func (in *interception) next(method, suffix string) *fetch.EventRequestPaused {
	in.d.t.Helper()
	timeout := time.After(waitBound)
	for {
		select {
		case p := <-in.paused:
			if p.Request.Method == http.MethodOptions {
				in.pass(p)
				continue
			}
			if p.Request.Method != method || !strings.HasSuffix(p.Request.URL, suffix) {
				in.d.t.Fatalf("paused %s %s, want %s …%s", p.Request.Method, p.Request.URL, method, suffix)
			}
			return p
		case <-timeout:
			in.d.t.Fatalf("no %s …%s within %v", method, suffix, waitBound)
			return nil
		}
	}
}

// pass lets a paused request (or its answer) go on unchanged.
func (in *interception) pass(p *fetch.EventRequestPaused) {
	in.d.t.Helper()
	in.call("let "+p.Request.URL+" through", func(ctx context.Context, tg *chromedp.Target) error {
		if p.ResponseStatusCode != 0 || p.ResponseErrorReason != "" {
			_, err := cdp.Call(ctx, tg, fetch.ContinueResponse, fetch.ContinueResponseParams{RequestID: p.RequestID})
			return err
		}
		_, err := cdp.Call(ctx, tg, fetch.ContinueRequest, fetch.ContinueRequestParams{RequestID: p.RequestID})
		return err
	})
}

// lose fails a paused request as a connection reset would: before it
// left the browser (request stage), or after Tandem answered it
// (response stage: the step ran, the page never hears so).
func (in *interception) lose(p *fetch.EventRequestPaused) {
	in.d.t.Helper()
	in.call("lose "+p.Request.URL, func(ctx context.Context, tg *chromedp.Target) error {
		_, err := cdp.Call(ctx, tg, fetch.FailRequest, fetch.FailRequestParams{RequestID: p.RequestID, ErrorReason: network.ErrorReasonConnectionReset})
		return err
	})
}

// logRequests makes the page write down every API request it sends
// (window.__fetches, "METHOD url", in order: tandem.js sends them with the
// global fetch) and every notice it shows (window.__notices).
func (d *desk) logRequests() {
	d.t.Helper()
	d.b.Eval(`(() => {
		window.__fetches = [];
		const send = window.fetch;
		window.fetch = (url, init) => { __fetches.push(((init && init.method) || "GET") + " " + url); return send(url, init); };
		window.__notices = [];
		const n = document.getElementById("notice");
		new MutationObserver(() => { if (n.textContent) __notices.push(n.textContent); })
			.observe(n, {childList: true, characterData: true, subtree: true});
		return "";
	})()`)
}

// TestDesktopReadsTheCallAgainWhenAnAnswerIsLost: a call step's request
// is lost on its way out (Hold: Tandem never gets it), then a step's
// answer is lost on its way back (Resume: Tandem carried it out). Each
// time the desktop reads the agent and the call again before anything
// else: Hold, not carried out, is sent again and the call is held; Resume,
// carried out, is not sent again, and the page says it is done with a
// plain notice, not an error.
func TestDesktopReadsTheCallAgainWhenAnAnswerIsLost(t *testing.T) {
	w := NewWorld(t, Options{})
	d := openDesk(t, w, w.Replicas[0])
	d.signIn("1001")
	d.goAvailable()
	d.takeACall()
	d.logRequests()
	in := d.intercept(
		&fetch.RequestPattern{URLPattern: "*/call/hold", RequestStage: fetch.RequestStageRequest},
		&fetch.RequestPattern{URLPattern: "*/call/resume", RequestStage: fetch.RequestStageResponse},
	)
	var fetches []string
	sent := func(method, suffix string) []int {
		d.b.EvalInto(`window.__fetches`, &fetches)
		var at []int
		for i, f := range fetches {
			if strings.HasPrefix(f, method+" ") && strings.HasSuffix(f, suffix) {
				at = append(at, i)
			}
		}
		return at
	}

	// Hold, lost before it left the browser: read again, then sent again.
	d.b.Click(browser.TestID("hold"))
	in.lose(in.next(http.MethodPost, "/v1/agents/1001/call/hold"))
	in.pass(in.next(http.MethodPost, "/v1/agents/1001/call/hold"))
	d.waitCallState("held")
	d.waitAPICallState("held")
	d.noError()
	holds, reads := sent(http.MethodPost, "/call/hold"), sent(http.MethodGet, "/v1/agents/1001/call")
	if len(holds) != 2 || !slices.ContainsFunc(reads, func(i int) bool { return i > holds[0] && i < holds[1] }) {
		t.Fatalf("Hold sent at %v and the call read at %v of %q: want Hold twice, the call read in between", holds, reads, fetches)
	}
	var notices []string
	d.b.EvalInto(`window.__notices`, &notices)
	if !slices.ContainsFunc(notices, func(n string) bool {
		return strings.Contains(n, "Hold: Tandem's answer was lost; reading the call again")
	}) {
		t.Fatalf("the notices %q do not tell the agent the call is read again", notices)
	}

	// Resume, carried out by Tandem, its answer lost: read again, found
	// done, not sent again.
	d.b.Click(browser.TestID("resume"))
	p := in.next(http.MethodPost, "/v1/agents/1001/call/resume")
	if p.ResponseStatusCode != http.StatusOK {
		t.Fatalf("Tandem answered Resume %d, want 200", p.ResponseStatusCode)
	}
	in.lose(p)
	d.b.WaitTextContains("#notice", "Resume: done.")
	d.waitCallState("connected")
	d.waitAPICallState("connected")
	d.noError()
	if n := len(sent(http.MethodPost, "/call/resume")); n != 1 {
		t.Fatalf("Resume was sent %d times: %q", n, fetches)
	}
	select {
	case p := <-in.paused:
		t.Fatalf("after Resume was found done the page sent %s %s", p.Request.Method, p.Request.URL)
	default:
	}

	d.b.Click(browser.TestID("end-call"))
	d.wrapUp("follow", "follow-up")
	d.noProblems()
}

// TestDesktopRONAOffersAvailableOrIdle: a call the agent does not answer
// in time takes the desktop to RONA, which shows its choice; "go idle"
// makes the agent idle with the chosen reason, "be available" available.
// The request shown while the phone rang (2 s) is counted by the page
// itself (countRequests), so a busy machine that takes longer than the
// ring to look at the page still sees that it was shown.
func TestDesktopRONAOffersAvailableOrIdle(t *testing.T) {
	w := NewWorld(t, Options{RingTimeout: 2 * time.Second})
	d := openDesk(t, w, w.Replicas[0])
	d.signIn("1001")
	d.goAvailable()
	d.countRequests()

	caller := w.PlaceCall(callVars())
	d.waitState("rona")
	if n := d.mostRequests(); n != 1 {
		t.Fatalf("while the phone rang the desktop showed %d requests, want 1", n)
	}
	d.b.WaitVisible(browser.TestID("rona-choice"))
	d.b.WaitGone(browser.TestID("popover", "request"))
	caller.HangUp()
	d.b.Select(browser.TestID("idle-reason"), "break")
	d.b.Click(browser.TestID("rona-idle"))
	d.waitState("idle")
	d.b.WaitHidden(browser.TestID("rona-choice"))
	if a := w.Agent("1001"); a.State != "idle" || a.Reason != "break" {
		t.Fatalf("after RONA and idle the API shows %+v", a)
	}

	d.goAvailable()
	caller = w.PlaceCall(callVars())
	d.waitState("rona")
	caller.HangUp()
	d.b.Click(browser.TestID("rona-available"))
	d.waitState("available")
	w.WaitAgentState("1001", "available")
	d.noError()
	d.noProblems()
}

// waitingConns are the connection ids of the calls waiting in queue.
func waitingConns(w *World, queue string) []string {
	w.t.Helper()
	var q struct {
		Waiting []struct {
			ConnectionID string `json:"connection_id"`
		} `json:"waiting"`
	}
	w.MustDo(SupervisorToken, http.MethodGet, "/v1/queues/"+queue, nil, &q)
	out := make([]string, 0, len(q.Waiting))
	for _, c := range q.Waiting {
		out = append(out, c.ConnectionID)
	}
	return out
}

// countRequests makes the page remember the most contact requests it
// ever showed at once (window.__mostRequests), from every change of the
// list: a request left over next to a newer one, however briefly, counts.
func (d *desk) countRequests() {
	d.t.Helper()
	d.b.Eval(`(() => {
		const list = document.querySelector('[data-testid="popover"]');
		const count = () => list.querySelectorAll(':scope > li').length;
		window.__mostRequests = count();
		new MutationObserver(() => { window.__mostRequests = Math.max(window.__mostRequests, count()); })
			.observe(list, {childList: true});
		return "";
	})()`)
}

// mostRequests is the most requests the page showed at once since
// countRequests.
func (d *desk) mostRequests() int {
	d.t.Helper()
	var n int
	d.b.EvalInto(`window.__mostRequests ?? -1`, &n)
	return n
}

// TestDesktopDropsARequestWhoseCallerHungUp: the caller of the call
// offered to the agent hangs up while the agent's phone rings, with a
// second caller waiting: the agent is handed the second call at once (the
// same Redis round trip frees them and offers it). The desktop drops the
// first request and shows the second one's, with the second caller's
// variables, and never shows the two at once; when that caller hangs up
// too, no request is left and the agent is available.
func TestDesktopDropsARequestWhoseCallerHungUp(t *testing.T) {
	w := NewWorld(t, Options{})
	d := openDesk(t, w, w.Replicas[0])
	d.signIn("1001")
	d.goAvailable()
	d.countRequests()

	req := browser.TestID("popover", "request")
	first := w.PlaceCall(callVars())
	d.b.WaitVisible(req)
	d.waitState("ringing")
	firstConn := d.popovers()[0].Conn
	secondVars := callVars()
	secondVars["CUSTOMER_ID"] = "C-77"
	second := w.PlaceCall(secondVars)
	var secondConn string
	w.WaitUntil("the second call waits in sales", func() bool {
		waiting := waitingConns(w, "sales")
		if len(waiting) == 1 {
			secondConn = waiting[0]
		}
		return secondConn != ""
	})

	first.HangUp()
	d.b.WaitCondition("the desktop shows the second call's request only",
		fmt.Sprintf(`(() => { const r = document.querySelectorAll('[data-testid="request"]');
			return r.length === 1 && r[0].dataset.connectionId === %q; })()`, secondConn))
	if a := w.WaitAgentState("1001", "ringing"); a.ConnectionID != secondConn {
		t.Fatalf("after the first caller hung up, 1001 is offered %q, want the waiting call %s", a.ConnectionID, secondConn)
	}
	p := d.popovers()[0]
	if p.Label != "inbound" || p.Conn == firstConn || !slices.Contains(p.varTexts(), "CUSTOMER_ID=Customer: C-77") {
		t.Fatalf("the second request %+v, want the inbound call of customer C-77", p)
	}
	d.waitState("ringing")

	second.HangUp()
	d.b.WaitGone(req)
	d.b.WaitVisible("#no-requests")
	d.waitState("available")
	w.WaitAgentState("1001", "available")
	if n := d.mostRequests(); n != 1 {
		t.Fatalf("the desktop showed %d requests at once, want 1 at most (and 1 at least)", n)
	}
	d.noError()
	d.noProblems()
}

// offline cuts the page off the network (true) or gives it back (false),
// as Chromium's network emulation does: new requests and connections
// fail; a WebSocket already open is left alone.
func (d *desk) offline(off bool) {
	d.t.Helper()
	rules := []*network.Conditions{}
	if off {
		rules = append(rules, &network.Conditions{Offline: true, DownloadThroughput: -1, UploadThroughput: -1})
	}
	ctx, cancel := context.WithTimeout(d.b.Context(), 5*time.Second)
	defer cancel()
	err := chromedp.Do(ctx, chromedp.Func(func(ctx context.Context, tg *chromedp.Target) error {
		_, err := cdp.Call(ctx, tg, network.EmulateNetworkConditionsByRule,
			network.EmulateNetworkConditionsByRuleParams{MatchedNetworkConditions: rules})
		return err
	}))
	if err != nil {
		d.t.Fatalf("network emulation offline=%v: %v", off, err)
	}
}

// TestDesktopDropsARequestThatEndedWhileDisconnected: the desktop loses its
// event stream while the agent's phone rings (the replica it streams from
// dies, and the network is down, so it cannot reconnect at once). Meanwhile
// the caller hangs up and the agent is handed the next waiting call. Back
// on the network, the desktop reconnects to the other replica and reads
// the desk again: it shows the new call's request, with its caller's
// variables, and not the one whose end it never heard of.
func TestDesktopDropsARequestThatEndedWhileDisconnected(t *testing.T) {
	w := NewWorld(t, Options{})
	d := openDesk(t, w, w.Replicas[0])
	// The page's reconnect backs off while the network is down.
	d.b.SetWait(30 * time.Second)
	d.signIn("1001")
	d.goAvailable()
	dead := d.streamReplica()
	live := w.Replicas[0]
	if live == dead {
		live = w.Replicas[1]
	}

	req := browser.TestID("popover", "request")
	first := w.PlaceCallTo(live, callVars())
	d.b.WaitVisible(req)
	d.waitState("ringing")
	firstConn := d.popovers()[0].Conn
	secondVars := callVars()
	secondVars["CUSTOMER_ID"] = "C-77"
	w.PlaceCallTo(live, secondVars)
	var secondConn string
	w.WaitUntil("the second call waits in sales", func() bool {
		if waiting := waitingConns(w, "sales"); len(waiting) == 1 {
			secondConn = waiting[0]
		}
		return secondConn != ""
	})

	d.offline(true)
	w.Kill(dead)
	d.b.WaitTextContains(browser.TestID("connection"), "reconnecting")
	first.HangUp()
	w.WaitUntil("1001 is offered the second call", func() bool {
		a := w.Agent("1001")
		return a.State == "ringing" && a.ConnectionID == secondConn
	})
	if p := d.popovers(); len(p) != 1 || p[0].Conn != firstConn {
		t.Fatalf("while disconnected the desktop shows %+v, want the first request still (it cannot know)", p)
	}

	d.offline(false)
	d.b.WaitText(browser.TestID("connection"), "connected to the live replica", func(s string) bool {
		return s == "connected to "+live.URL
	})
	d.b.WaitCondition("the desktop shows the second call's request only",
		fmt.Sprintf(`(() => { const r = document.querySelectorAll('[data-testid="request"]');
			return r.length === 1 && r[0].dataset.connectionId === %q; })()`, secondConn))
	d.b.WaitTextContains(req+` [data-testid="request-var"][data-name="CUSTOMER_ID"]`, "Customer: C-77")
	// Rebuilt from the offer the server keeps while the phone rings (GET
	// /v1/agents/{id} "offer"): the caller, DNIS and queue as well.
	if p := d.popovers()[0]; p.Label != "inbound" || p.ANI != CallerANI || p.DNIS != SalesDNIS || p.Queue != "sales" ||
		!durationText.MatchString(p.Elapsed) || !slices.Equal(p.varTexts(), []string{
		"CUSTOMER_ID=Customer: C-77", "LANGUAGE=Language: en", "BALANCE=Balance: 12.50", "CARD_NUMBER=Card number: ••••••",
	}) {
		t.Fatalf("the second request after the reconnect is %+v", p)
	}
	if d.pageHolds(cardNumber) {
		t.Fatal("the secure card number reached the page with the rebuilt request")
	}

	w.AnswerAgentPhone("1001")
	d.waitCallState("connected")
	d.b.WaitGone(req)
	d.b.Click(browser.TestID("end-call"))
	d.wrapUp("follow", "follow-up")
	d.noProblems()
}

// key presses keys on whatever has the focus, with modifiers, as a
// keyboard would (no element is clicked or focused by the test).
func (d *desk) key(keys string, mods ...chromedp.Modifier) {
	d.t.Helper()
	ctx, cancel := context.WithTimeout(d.b.Context(), 5*time.Second)
	defer cancel()
	if err := chromedp.Do(ctx, chromedp.KeyEvent(keys, chromedp.KeyModifiers(mods...))); err != nil {
		d.t.Fatalf("press %q: %v", keys, err)
	}
}

// maxTabs bounds tabTo: more than the page has places to stop at.
const maxTabs = 60

// tabTo moves the focus with Tab (back: Shift+Tab) until the element whose
// data-testid is id has it, failing the test if a whole round of the page
// does not reach it.
func (d *desk) tabTo(id string, back bool) {
	d.t.Helper()
	var path []string
	for range maxTabs {
		f := d.b.Focused()
		if f == id {
			return
		}
		path = append(path, f)
		if back {
			d.key(kb.Tab, chromedp.ModifierShift)
		} else {
			d.key(kb.Tab)
		}
	}
	d.t.Fatalf("%s cannot be reached with the keyboard (back=%v); the focus went %q", id, back, path)
}

// waitFocus waits until the element whose data-testid is id has the
// focus.
func (d *desk) waitFocus(id string) {
	d.t.Helper()
	d.b.WaitCondition("the focus is on "+id, fmt.Sprintf(`document.activeElement?.dataset?.testid === %q`, id))
}

// TestDesktopKeyboardOnly: an agent's whole path through a call with the
// keyboard alone — Tab, Shift+Tab, Enter, Space and Escape, never a click
// nor a focus set by the test: sign in (typing the fields, Space on the
// queue's box), go available, (a call is offered and answered on the
// phone) hold, resume, end, close the wrap-up dialog with Escape and open
// it again from the state panel, and wrap up with a reason found by
// searching. A button its own action disables (Available, Hold, Resume)
// hands the focus on to the next one of its row rather than dropping it.
func TestDesktopKeyboardOnly(t *testing.T) {
	w := NewWorld(t, Options{})
	d := openDesk(t, w, w.Replicas[0])
	d.agent = "1001"

	d.tabTo("signin-agent", false)
	d.key("1001")
	d.tabTo("signin-token", false)
	d.key(AgentToken("1001"))
	// Leaving the token field loads the queues to choose from.
	d.tabTo("signin-endpoint", false)
	d.key(AgentEndpoint("1001"))
	d.b.WaitVisible(browser.TestID("queue-sales"))
	d.tabTo("queue-sales", false)
	d.key(" ")
	var checked bool
	d.b.EvalInto(`document.querySelector('[data-testid="queue-sales"]').checked`, &checked)
	if !checked {
		t.Fatal("Space on the sales queue's box did not tick it")
	}
	d.tabTo("signin-submit", false)
	d.key(kb.Enter)
	d.waitState("idle")
	d.b.WaitTextContains(browser.TestID("connection"), "connected to ")

	// The desk opens with the focus on Available.
	if f := d.b.Focused(); f != "go-available" {
		t.Fatalf("after sign-in the focus is on %q, want go-available", f)
	}
	d.key(kb.Enter)
	d.waitState("available")
	w.WaitAgentState("1001", "available")
	// Available is disabled now: the focus stays in its row.
	d.waitFocus("go-idle")

	caller := d.takeACall()

	d.tabTo("hold", false)
	d.key(kb.Enter)
	d.waitCallState("held")
	d.waitAPICallState("held")
	// Hold is disabled on hold: the focus moves on to Resume.
	d.waitFocus("resume")
	d.key(" ")
	d.waitCallState("connected")
	d.waitAPICallState("connected")
	d.waitFocus("hold")
	// Forward past the buttons the call does not allow, then back with
	// Shift+Tab and forward again.
	d.tabTo("end-call", false)
	d.tabTo("hold", true)
	d.tabTo("end-call", false)
	d.key(kb.Enter)
	d.waitState("wrapup")

	// The wrap-up dialog opens with the focus in its search; Escape
	// leaves it for later, and the state panel's button opens it again.
	d.b.WaitVisible(browser.TestID("wrapup-dialog"))
	if f := d.b.Focused(); f != "wrapup-search" {
		t.Fatalf("the wrap-up dialog opened with the focus on %q, want its search", f)
	}
	d.key(kb.Escape)
	d.b.WaitHidden(browser.TestID("wrapup-dialog"))
	d.b.WaitVisible(browser.TestID("wrapup-open"))
	d.tabTo("wrapup-open", true)
	d.key(kb.Enter)
	d.b.WaitVisible(browser.TestID("wrapup-dialog"))
	if f := d.b.Focused(); f != "wrapup-search" {
		t.Fatalf("the wrap-up dialog opened again with the focus on %q, want its search", f)
	}
	d.key("follow")
	d.key(kb.Enter)
	d.b.WaitHidden(browser.TestID("wrapup-dialog"))
	d.waitState("available")
	w.WaitAgentState("1001", "available")
	d.b.WaitTextContains("#notice", "Wrapped up: follow-up")
	w.WaitUntil("the caller is hung up", func() bool {
		v, ok := w.Sim.Channel(caller.ID)
		return ok && v.HungUp
	})
	d.noError()
	d.noProblems()
}

// callbackPopover is the callback request as the page shows it.
type callbackPopover struct {
	Conn    string `json:"conn"`
	Label   string `json:"label"`
	Number  string `json:"number"`
	Queue   string `json:"queue"`
	Elapsed string `json:"elapsed"`
	Accept  bool   `json:"accept"`
}

// callbackPopovers reads the callback requests on the page.
func (d *desk) callbackPopovers() []callbackPopover {
	d.t.Helper()
	var out []callbackPopover
	d.b.EvalInto(`[...document.querySelectorAll('[data-testid="callback-request"]')].map(r => {
		const t = (id) => { const e = r.querySelector('[data-testid="' + id + '"]'); return e ? e.textContent.trim() : ""; };
		const b = r.querySelector('[data-testid="callback-accept"]');
		return {conn: r.dataset.connectionId, label: t("request-label"), number: t("callback-number"), queue: t("request-queue"),
			elapsed: t("request-elapsed"), accept: !!b && !b.disabled && b.offsetParent !== null};
	})`, &out)
	return out
}

// TestDesktopCallbackPopOverAccept: a web callback routed to the agent
// shows the callback pop-over (label, the customer's number, the queue,
// how long ago it was asked for); the agent answers their phone, accepts,
// and the customer is dialled and put through. The pop-over survives a
// reload while the phone rings and one after the answer (before the
// accept): rebuilt from the offer the server keeps, with its Accept
// button, and its time still counted from the request.
func TestDesktopCallbackPopOverAccept(t *testing.T) {
	w := NewWorld(t, Options{})
	const number = "+12025550188"
	w.Sim.SetPhone(OutsideEndpoint(number), pbxsim.Phone{Mode: pbxsim.NoAnswer})
	d := openDesk(t, w, w.Replicas[0])
	d.signIn("1001")
	d.goAvailable()

	w.MustDo(SupervisorToken, http.MethodPost, "/v1/callbacks", map[string]any{"queue": "sales", "number": number}, nil)
	pop := browser.TestID("popover", "callback-request")
	d.b.WaitVisible(pop)
	if l := d.b.Text(pop + " " + browser.TestID("request-label")); !strings.EqualFold(l, "callback") {
		t.Fatalf("callback pop-over label %q", l)
	}
	d.b.WaitTextContains(pop+" "+browser.TestID("callback-number"), number)
	d.b.WaitTextContains(pop+" "+browser.TestID("request-queue"), "sales")
	d.b.WaitText(pop+" "+browser.TestID("request-elapsed"), "an elapsed time", durationText.MatchString)
	shown := d.callbackPopovers()
	if len(shown) != 1 || !shown[0].Accept {
		t.Fatalf("callback pop-overs %+v, want one with its Accept button", shown)
	}
	first := shown[0]
	// same: the page shows that pop-over again, its time still running.
	same := func(when string) {
		t.Helper()
		d.b.WaitVisible(pop + " " + browser.TestID("callback-accept"))
		got := d.callbackPopovers()
		if len(got) != 1 || got[0].Conn != first.Conn || !strings.EqualFold(got[0].Label, "callback") ||
			!strings.Contains(got[0].Number, number) || got[0].Queue != "sales" || !got[0].Accept {
			t.Fatalf("%s the desktop shows %+v, want %+v again", when, got, first)
		}
		if seconds(t, got[0].Elapsed) < seconds(t, first.Elapsed) {
			t.Fatalf("%s the callback's time went back from %s to %s", when, first.Elapsed, got[0].Elapsed)
		}
		if n := len(d.popovers()); n != 0 {
			t.Fatalf("%s the desktop also shows %d other requests", when, n)
		}
	}
	d.reload(w.Replicas[0], "ringing")
	same("after a reload while the phone rings")

	w.AnswerAgentPhone("1001")
	d.waitState("connected")
	// Answered but not accepted: the customer is not dialled yet and the
	// pop-over stays with its accept button, also after a reload.
	d.b.WaitVisible(pop + " " + browser.TestID("callback-accept"))
	d.reload(w.Replicas[1], "connected")
	same("after a reload once answered")
	if n := w.Sim.Stats().OriginatesByEndpoint[OutsideEndpoint(number)]; n != 0 {
		t.Fatalf("the customer was dialled %d times before the agent accepted", n)
	}
	d.b.Click(pop + " " + browser.TestID("callback-accept"))
	var leg string
	w.WaitUntil("the customer's phone rings", func() bool {
		legs := w.Sim.LiveLegs(OutsideEndpoint(number))
		if len(legs) == 0 {
			return false
		}
		leg = legs[0]
		return true
	})
	w.WaitUntil("the customer answers", func() bool { return w.Sim.AnswerPhone(leg) == nil })
	d.b.WaitGone(pop)
	d.waitCallState("connected")
	d.noError()
	d.b.Click(browser.TestID("end-call"))
	d.wrapUp("follow", "follow-up")
	d.noProblems()
}
