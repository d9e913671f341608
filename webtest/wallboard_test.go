package webtest

import (
	"fmt"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp/kb"

	"github.com/tandem-cc/tandem/internal/browser"
)

// The wallboard's browser tests: a supervisor signs in at /wallboard/ of a
// replica and watches the figures move as calls come, are answered and
// abandoned; acts on agents, calls and callbacks; and keeps watching while
// the replica its event stream is on dies.

// agentSel selects inside the wallboard's row of agent (its data-agent).
func agentSel(agent string, ids ...string) string {
	return strings.TrimSpace(fmt.Sprintf(`[data-testid="agent-row"][data-agent=%q] `, agent) + browser.TestID(ids...))
}

// queueSel selects inside the card of queue (its data-queue).
func queueSel(queue string, ids ...string) string {
	return strings.TrimSpace(fmt.Sprintf(`[data-testid="queue-card"][data-queue=%q] `, queue) + browser.TestID(ids...))
}

// openWallboard loads /wallboard/ from r in a new browser and signs in
// with the supervisor token, waiting until the board shows the queues and
// its event stream is connected.
func openWallboard(t *testing.T, r *Replica) *browser.Browser {
	t.Helper()
	b := browser.Start(t)
	b.Navigate(r.URL + "/wallboard/")
	signIn(b, SupervisorToken)
	b.WaitVisible(queueSel("sales"))
	b.WaitTextContains(browser.TestID("connection"), "connected to ")
	return b
}

// signIn types token into the sign-in form and submits it with Enter.
func signIn(b *browser.Browser, token string) {
	b.WaitVisible(browser.TestID("wallboard-signin"))
	b.Fill(browser.TestID("wallboard-token"), token)
	b.Press(kb.Enter)
}

// waitFigure waits until the element sel shows exactly want.
func waitFigure(b *browser.Browser, sel, want string) {
	b.WaitText(sel, fmt.Sprintf("%q", want), func(s string) bool { return s == want })
}

// waitAgentState waits until the wallboard's row of agent shows state.
func waitAgentState(b *browser.Browser, agent, state string) {
	b.WaitCondition(fmt.Sprintf("the row of %s shows %s", agent, state), fmt.Sprintf(
		`document.querySelector(%q)?.dataset.state === %q`, agentSel(agent), state))
}

// confirmAction answers the open action dialog: types the audited reason
// and presses Enter (the keyboard path), then waits for it to close.
func confirmAction(b *browser.Browser, reason string) {
	b.WaitVisible(browser.TestID("action-dialog"))
	if reason != "" {
		b.Fill(browser.TestID("action-reason"), reason)
	} else {
		b.WaitVisible(browser.TestID("action-confirm"))
		b.Eval(`(document.querySelector('[data-testid="action-confirm"]').focus(), "")`)
	}
	b.Press(kb.Enter)
	b.WaitHidden(browser.TestID("action-dialog"))
}

// chartPoints is how many samples the chart of queue draws.
func chartPoints(b *browser.Browser, queue string) int {
	n, err := strconv.Atoi(b.Eval(fmt.Sprintf(
		`document.querySelector(%q)?.getAttribute("data-points") ?? ""`, queueSel(queue, "q-chart"))))
	if err != nil {
		return -1
	}
	return n
}

// scheduleCallback asks for a callback of sales due in an hour (so that
// it stays pending whatever the agents do) and returns its id.
func scheduleCallback(w *World, number string) string {
	w.t.Helper()
	var created struct {
		Callback struct {
			ID string `json:"id"`
		} `json:"callback"`
	}
	w.MustDo(SupervisorToken, http.MethodPost, "/v1/callbacks", map[string]any{
		"queue": "sales", "number": number,
		"earliest_at": time.Now().Add(time.Hour).UTC().Format(time.RFC3339),
	}, &created)
	if created.Callback.ID == "" {
		w.t.Fatal("POST /v1/callbacks answered no callback id")
	}
	return created.Callback.ID
}

// TestWallboardSignsInWithASupervisorTokenOnly: the sign-in form is
// reachable with Tab (token, then the button) with the focus visible; a
// wrong token and an agent's token are refused with a clear alert and the
// form stays; the supervisor's token opens the board (every configured
// queue, the stream connected to a replica); a reload keeps the session
// and reads everything again; signing out forgets the token. Nothing left
// loopback, no URL carried a token, and the page threw nothing.
func TestWallboardSignsInWithASupervisorTokenOnly(t *testing.T) {
	w := NewWorld(t, Options{})
	r := w.Replicas[0]
	b := browser.Start(t)
	b.Navigate(r.URL + "/wallboard/")
	b.WaitVisible(browser.TestID("wallboard-signin"))
	if f := b.Focused(); f != "wallboard-token" {
		t.Fatalf("the page opens with the focus on %q, want the token field", f)
	}
	b.Tab()
	if f := b.Focused(); f != "wallboard-signin-submit" {
		t.Fatalf("Tab from the token goes to %q, want the sign-in button", f)
	}
	var outline string
	b.EvalInto(`getComputedStyle(document.activeElement).outlineStyle`, &outline)
	if outline == "none" || outline == "" {
		t.Fatal("the focused sign-in button has no visible outline")
	}

	signIn(b, "not-a-token")
	msg := b.WaitTextContains(browser.TestID("error"), "sign-in refused")
	b.WaitVisible(browser.TestID("wallboard-signin"))
	if b.Count(queueSel("sales")) != 0 {
		t.Fatalf("a wrong token shows queues (alert %q)", msg)
	}

	signIn(b, AgentToken("1001"))
	msg = b.WaitTextContains(browser.TestID("error"), "not a supervisor token")
	if !strings.Contains(msg, "only a supervisor token") {
		t.Fatalf("the alert %q does not carry the API's reason", msg)
	}
	b.WaitVisible(browser.TestID("wallboard-signin"))

	signIn(b, SupervisorToken)
	b.WaitVisible(queueSel("sales"))
	b.WaitVisible(queueSel("support"))
	b.WaitHidden(browser.TestID("wallboard-signin"))
	b.WaitHidden(browser.TestID("error"))
	conn := b.WaitTextContains(browser.TestID("connection"), "connected to ")
	w.Replica(strings.TrimPrefix(conn, "connected to "))
	waitFigure(b, queueSel("sales", "q-waiting"), "0")

	// A reload signs in again from the tab's session and re-reads it all.
	w.SignIn("1001")
	b.Navigate(r.URL + "/wallboard/")
	b.WaitVisible(agentSel("1001"))
	waitAgentState(b, "1001", "available")
	waitFigure(b, queueSel("sales", "q-agents-available"), "1")

	b.Click(browser.TestID("wallboard-signout"))
	b.WaitVisible(browser.TestID("wallboard-signin"))
	if v := b.Value(browser.TestID("wallboard-token")); v != "" {
		t.Fatalf("the token field still holds %q after sign-out", v)
	}
	b.Navigate(r.URL + "/wallboard/")
	b.WaitVisible(browser.TestID("wallboard-signin"))
	if b.Count(queueSel("sales")) != 0 {
		t.Fatal("after sign-out a reload shows the board again")
	}

	if off := b.OffLoopback(); len(off) > 0 {
		t.Fatalf("requests left loopback: %v", off)
	}
	if p := b.Problems(); len(p) > 0 {
		t.Fatalf("the page failed: %v", p)
	}
	noSecretInURLs(t, b, "not-a-token", AgentToken("1001"), SupervisorToken)
}

// TestWallboardNumbersMove: a call placed shows waiting 1 and a longest
// wait that ticks, and the chart gets a point with it; an agent made
// available is rung (ringing 1, then connected 1 when the phone is
// answered), the call leaves the queue (waiting 0), the agent's row shows
// the call, and ASA and service level get a value; a second call that
// the caller abandons moves the abandoned rate from 0% to 50%; a
// scheduled callback counts as pending. The screenshot of the wallboard
// (docs/screenshots/wallboard.png) is taken here.
func TestWallboardNumbersMove(t *testing.T) {
	w := NewWorld(t, Options{})
	// 1001 logs in idle: the first call waits.
	w.MustDo(AgentToken("1001"), http.MethodPost, "/v1/agents/1001/login",
		map[string]any{"endpoint": AgentEndpoint("1001"), "queues": []string{"sales"}}, nil)
	b := openWallboard(t, w.Replicas[0])
	waitAgentState(b, "1001", "idle")
	waitFigure(b, queueSel("sales", "q-agents-idle"), "1")
	waitFigure(b, queueSel("sales", "q-waiting"), "0")
	waitFigure(b, queueSel("sales", "q-abandoned"), "—")
	b.WaitCondition("the chart has a point", fmt.Sprintf(
		`+document.querySelector(%q).getAttribute("data-points") > 0`, queueSel("sales", "q-chart")))

	first := w.PlaceCall(map[string]string{"CUSTOMER_ID": "C-1"})
	waitFigure(b, queueSel("sales", "q-waiting"), "1")
	b.WaitText(queueSel("sales", "q-longest"), "a wait that ticks", func(s string) bool { return s != "0:00" })
	// The chart's latest sample is the waiting call: the sampler saw it.
	b.WaitCondition("the chart's latest sample has the call waiting", fmt.Sprintf(
		`document.querySelector(%q).getAttribute("aria-label").includes("latest 1 waiting")`, queueSel("sales", "q-chart")))

	w.MustDo(AgentToken("1001"), http.MethodPost, "/v1/agents/1001/available", nil, nil)
	waitFigure(b, queueSel("sales", "q-agents-ringing"), "1")
	waitAgentState(b, "1001", "ringing")
	w.AnswerAgentPhone("1001")
	waitFigure(b, queueSel("sales", "q-agents-connected"), "1")
	waitFigure(b, queueSel("sales", "q-agents-idle"), "0")
	waitFigure(b, queueSel("sales", "q-waiting"), "0")
	waitAgentState(b, "1001", "connected")
	b.WaitTextContains(agentSel("1001", "a-call"), "sales")
	b.WaitText(queueSel("sales", "q-asa"), "an ASA", func(s string) bool { return strings.Contains(s, ":") })
	b.WaitText(queueSel("sales", "q-sl"), "a service level", func(s string) bool { return strings.HasSuffix(s, "%") })
	waitFigure(b, queueSel("sales", "q-abandoned"), "0%")
	b.WaitText(agentSel("1001", "a-time"), "time in state ticking", func(s string) bool { return s != "0:00" })

	// 1001 is busy: the next call waits, and its caller gives up.
	second := w.PlaceCall(nil)
	waitFigure(b, queueSel("sales", "q-waiting"), "1")
	second.HangUp()
	waitFigure(b, queueSel("sales", "q-waiting"), "0")
	waitFigure(b, queueSel("sales", "q-abandoned"), "50%")

	scheduleCallback(w, "+12025550123")
	waitFigure(b, queueSel("sales", "q-callbacks"), "1")
	b.WaitVisible(browser.TestID("callback-row"))
	b.WaitTextContains(browser.TestID("callback-row"), "+12025550123")

	// A third caller waits, for the picture: a queue with everything on it.
	w.PlaceCall(nil)
	waitFigure(b, queueSel("sales", "q-waiting"), "1")
	b.WaitCondition("the chart has several points", fmt.Sprintf(
		`+document.querySelector(%q).getAttribute("data-points") >= 5`, queueSel("sales", "q-chart")))
	b.Screenshot("wallboard")

	first.HangUp()
	w.WaitAgentState("1001", "wrapup")
	waitAgentState(b, "1001", "wrapup")
	if p := b.Problems(); len(p) > 0 {
		t.Fatalf("the page failed: %v", p)
	}
}

// TestWallboardSupervisorActions: each override from the agents' and
// callbacks' tables, through its dialog (audited reason typed, Enter to
// confirm, Esc to back out), shows its effect on the board and in the
// API: force idle with a reason code, force available, force logout (the
// row goes), force-end a call, cancel a callback, change an agent's
// queues. Refusals are shown in the alert with the API's field: an
// unknown queue ("queues: ..."), and logging out an agent on a call
// without ending it ("force_end: ...").
func TestWallboardSupervisorActions(t *testing.T) {
	w := NewWorld(t, Options{})
	w.SignIn("1001")
	w.SignIn("1002")
	w.MustDo(AgentToken("1003"), http.MethodPost, "/v1/agents/1003/login",
		map[string]any{"endpoint": AgentEndpoint("1003"), "queues": []string{"sales"}}, nil)
	b := openWallboard(t, w.Replicas[0])
	for _, a := range []string{"1001", "1002", "1003"} {
		b.WaitVisible(agentSel(a))
	}
	waitFigure(b, queueSel("sales", "q-agents-available"), "2")

	// Force idle, with a reason code.
	b.Select(agentSel("1001", "a-force"), "idle")
	b.Click(agentSel("1001", "a-force-go"))
	b.WaitVisible(browser.TestID("action-idle-reason"))
	b.Select(browser.TestID("action-idle-reason"), "meeting")
	confirmAction(b, "team meeting in five")
	waitAgentState(b, "1001", "idle")
	b.WaitTextContains(agentSel("1001", "a-state"), "meeting")
	b.WaitTextContains(browser.TestID("notice"), "1001 is now idle")
	if a := w.Agent("1001"); a.State != "idle" || a.Reason != "meeting" {
		t.Fatalf("after force idle the API says %+v", a)
	}
	if f := b.Focused(); f != "a-force-go" {
		t.Fatalf("after the dialog the focus is on %q, want back on the button that opened it", f)
	}

	// Esc backs out of a dialog: nothing is sent.
	b.Select(agentSel("1001", "a-force"), "logged_out")
	b.Click(agentSel("1001", "a-force-go"))
	b.WaitVisible(browser.TestID("action-reason"))
	b.Press(kb.Escape)
	b.WaitHidden(browser.TestID("action-dialog"))
	if a := w.Agent("1001"); a.State != "idle" {
		t.Fatalf("Esc on the logout dialog, yet the agent is %s", a.State)
	}

	// Force available.
	b.Select(agentSel("1001", "a-force"), "available")
	b.Click(agentSel("1001", "a-force-go"))
	confirmAction(b, "meeting cancelled")
	waitAgentState(b, "1001", "available")
	w.WaitAgentState("1001", "available")

	// Force logout: the row goes.
	b.Select(agentSel("1003", "a-force"), "logged_out")
	b.Click(agentSel("1003", "a-force-go"))
	confirmAction(b, "left for the day without logging out")
	b.WaitGone(agentSel("1003"))
	w.WaitAgentState("1003", "logged_out")

	// Change queues; an unknown queue is refused, naming the field.
	b.Fill(agentSel("1002", "a-queues"), "sales, support")
	b.Press(kb.Enter) // Enter in the field submits its form
	confirmAction(b, "support is short-handed")
	b.WaitTextContains(browser.TestID("notice"), "1002 now takes sales, support")
	w.WaitUntil("1002 takes sales and support", func() bool {
		return slices.Equal(w.Agent("1002").Queues, []string{"sales", "support"})
	})
	waitFigure(b, queueSel("support", "q-agents-available"), "1")
	b.Fill(agentSel("1002", "a-queues"), "sales, nosuch")
	b.Click(agentSel("1002", "a-queues-save"))
	confirmAction(b, "typo on purpose")
	alert := b.WaitTextContains(browser.TestID("error"), `queues: unknown queue "nosuch"`)
	if q := w.Agent("1002").Queues; !slices.Equal(q, []string{"sales", "support"}) {
		t.Fatalf("a refused change (%q) changed the queues to %v", alert, q)
	}
	b.Click(`#wb-error-dismiss`)
	b.WaitHidden(browser.TestID("error"))

	// A call for 1001 (1002 is made idle first, so the call is 1001's).
	b.Select(agentSel("1002", "a-force"), "idle")
	b.Click(agentSel("1002", "a-force-go"))
	confirmAction(b, "coaching session")
	w.WaitAgentState("1002", "idle")
	caller := w.PlaceCall(map[string]string{"CUSTOMER_ID": "C-9"})
	w.AnswerAgentPhone("1001")
	a := w.WaitAgentState("1001", "connected")
	b.WaitVisible(agentSel("1001", "a-end-call"))
	waitAgentState(b, "1001", "connected")

	// Logging out an agent on a call without ending it is refused.
	b.Select(agentSel("1001", "a-force"), "logged_out")
	b.Click(agentSel("1001", "a-force-go"))
	b.WaitVisible(browser.TestID("action-force-end"))
	confirmAction(b, "end of shift")
	alert = b.WaitTextContains(browser.TestID("error"), "force_end: ")
	if !strings.Contains(alert, a.ConnectionID) {
		t.Fatalf("the alert %q does not name the call %s", alert, a.ConnectionID)
	}
	if st := w.Agent("1001").State; st != "connected" {
		t.Fatalf("a refused logout left 1001 %s", st)
	}

	// Force-end the call.
	b.Click(agentSel("1001", "a-end-call"))
	confirmAction(b, "caller is abusive")
	b.WaitTextContains(browser.TestID("notice"), "Call "+a.ConnectionID+" ended")
	b.WaitHidden(browser.TestID("error")) // the success clears the old alert
	w.WaitUntil("the caller's channel is hung up", func() bool {
		c, ok := w.Sim.Channel(caller.ID)
		return ok && c.HungUp
	})
	b.WaitHidden(agentSel("1001", "a-end-call"))
	waitFigure(b, agentSel("1001", "a-call"), "—")
	if st := w.Agent("1001").State; st == "connected" {
		t.Fatal("after the force-end 1001 is still connected")
	}

	// Cancel a callback.
	id := scheduleCallback(w, "+12025550124")
	row := fmt.Sprintf(`[data-testid="callback-row"][data-callback=%q]`, id)
	b.WaitVisible(row)
	waitFigure(b, queueSel("sales", "q-callbacks"), "1")
	b.Click(row + " " + browser.TestID("cb-cancel"))
	confirmAction(b, "")
	b.WaitGone(row)
	waitFigure(b, queueSel("sales", "q-callbacks"), "0")
	var cb struct {
		State string `json:"state"`
	}
	w.MustDo(SupervisorToken, http.MethodGet, "/v1/callbacks/"+id, nil, &cb)
	if cb.State != "cancelled" {
		t.Fatalf("the cancelled callback is %q", cb.State)
	}

	if p := b.Problems(); len(p) > 0 {
		t.Fatalf("the page failed: %v", p)
	}
}

// TestWallboardCarriesOnWhenItsReplicaDies: the replica the wallboard's
// event stream is on (the one that served the page) is killed with
// SIGKILL; the page reconnects to the other replica, says so in its
// footer, and its numbers keep moving without a reload: a new call shows
// waiting 1, an agent answering it shows connected 1 and waiting 0, and
// the chart keeps getting points from the survivor's sampler.
func TestWallboardCarriesOnWhenItsReplicaDies(t *testing.T) {
	w := NewWorld(t, Options{})
	w.MustDo(AgentToken("1001"), http.MethodPost, "/v1/agents/1001/login",
		map[string]any{"endpoint": AgentEndpoint("1001"), "queues": []string{"sales"}}, nil)
	b := openWallboard(t, w.Replicas[0])
	waitAgentState(b, "1001", "idle")

	conn := b.WaitTextContains(browser.TestID("connection"), "connected to ")
	dead := w.Replica(strings.TrimPrefix(conn, "connected to "))
	var survivor *Replica
	for _, r := range w.Replicas {
		if r != dead {
			survivor = r
		}
	}
	b.WaitCondition("the chart has a point", fmt.Sprintf(
		`+document.querySelector(%q).getAttribute("data-points") > 0`, queueSel("sales", "q-chart")))
	before := chartPoints(b, "sales")
	b.Eval(`(window.__sameDocument = "yes")`) // gone if the page reloads

	w.Kill(dead)
	b.WaitTextContains(browser.TestID("connection"), "connected to "+survivor.URL)

	w.PlaceCallTo(survivor, map[string]string{"CUSTOMER_ID": "C-7"})
	waitFigure(b, queueSel("sales", "q-waiting"), "1")
	w.MustDo(AgentToken("1001"), http.MethodPost, "/v1/agents/1001/available", nil, nil)
	w.AnswerAgentPhone("1001")
	waitFigure(b, queueSel("sales", "q-agents-connected"), "1")
	waitFigure(b, queueSel("sales", "q-waiting"), "0")
	waitAgentState(b, "1001", "connected")
	b.WaitCondition("the chart gets points after the failover", fmt.Sprintf(
		`+document.querySelector(%q).getAttribute("data-points") >= %d`, queueSel("sales", "q-chart"), before+3))

	if b.Eval(`window.__sameDocument ?? ""`) != "yes" {
		t.Fatal("the page was reloaded during the failover")
	}
	if b.Count(browser.TestID("wallboard-signin")+":not([hidden])") != 0 {
		t.Fatal("the failover sent the supervisor back to the sign-in form")
	}
	var events int
	for _, u := range b.Requests() {
		if strings.HasSuffix(u, "/v1/events") && strings.HasPrefix(u, "ws://"+strings.TrimPrefix(survivor.URL, "http://")) {
			events++
		}
	}
	if events == 0 {
		t.Fatalf("no event stream was opened on the survivor %s: %v", survivor.URL, b.Requests())
	}
	if p := b.Problems(); len(p) > 0 {
		t.Fatalf("the page failed: %v", p)
	}
}

// TestWallboardReloadDuringAFailoverStaysSignedIn: the supervisor reloads
// the wallboard while no replica its API calls go to answers (the page's
// ?replicas= names only r2, killed with SIGKILL). The page keeps the token
// it saved in the tab, says it is reconnecting, and signs in again by
// itself once r2 is back: the supervisor is not sent back to the sign-in
// form, and the token stays saved.
func TestWallboardReloadDuringAFailoverStaysSignedIn(t *testing.T) {
	w := NewWorld(t, Options{})
	r1, r2 := w.Replicas[0], w.Replicas[1]
	b := browser.Start(t)
	// r2's restart and the page's backoff (up to 10 s) come on top.
	b.SetWait(45 * time.Second)
	page := r1.URL + "/wallboard/?replicas=" + r2.URL
	b.Navigate(page)
	signIn(b, SupervisorToken)
	b.WaitVisible(queueSel("sales"))
	b.WaitTextContains(browser.TestID("connection"), "connected to "+r2.URL)

	w.Kill(r2)
	b.Navigate(page)
	b.WaitTextContains(browser.TestID("connection"), "reconnecting")
	b.WaitTextContains(browser.TestID("notice"), "Signing in again")
	if b.Count(browser.TestID("wallboard-signin")+":not([hidden])") != 0 {
		t.Fatal("a reload with no replica answering sent the supervisor back to the sign-in form")
	}
	if got := b.Eval(`sessionStorage.getItem("tandem.wallboard.token") ?? ""`); got != SupervisorToken {
		t.Fatalf("while reconnecting the saved token is %q", got)
	}

	w.Restart(r2)
	b.WaitVisible(queueSel("sales"))
	b.WaitTextContains(browser.TestID("connection"), "connected to "+r2.URL)
	b.WaitHidden(browser.TestID("wallboard-signin"))
	b.WaitText(browser.TestID("notice"), "the reconnecting notice gone", func(s string) bool { return s == "" })
	if got := b.Eval(`sessionStorage.getItem("tandem.wallboard.token") ?? ""`); got != SupervisorToken {
		t.Fatalf("after signing in again the saved token is %q", got)
	}
	if p := b.Problems(); len(p) > 0 {
		t.Fatalf("the page failed: %v", p)
	}
	noSecretInURLs(t, b, SupervisorToken)
}
