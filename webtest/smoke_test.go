package webtest

import (
	"encoding/base64"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"slices"
	"strings"
	"testing"

	"github.com/chromedp/chromedp/kb"

	"github.com/tandem-cc/tandem/internal/browser"
	"github.com/tandem-cc/tandem/web"
)

// servesPages checks that replica r serves the desktop page with the
// web package's headers, its policy allowing every replica's event
// stream (web.replicas reached the handler). A binary without the web
// pages mounted (api.WithWeb) fails here, saying so.
func servesPages(t *testing.T, w *World, r *Replica) {
	t.Helper()
	resp, err := w.http.Get(r.URL + "/desktop/")
	if err != nil {
		t.Fatalf("GET %s/desktop/: %v", r.URL, err)
	}
	body, _ := io.ReadAll(resp.Body)
	_ = resp.Body.Close()
	if resp.StatusCode != http.StatusOK || !strings.HasPrefix(resp.Header.Get("Content-Type"), "text/html") {
		t.Fatalf("replica %s does not serve the desktop: GET /desktop/ = %d %s %.200s\n"+
			"(the web pages are mounted by api.WithWeb and web.enabled; a tandem built without them cannot pass)",
			r.Node, resp.StatusCode, resp.Header.Get("Content-Type"), body)
	}
	csp := resp.Header.Get("Content-Security-Policy")
	for _, o := range w.Replicas {
		ws := "ws://" + strings.TrimPrefix(o.URL, "http://")
		if !strings.Contains(csp, " "+o.URL) || !strings.Contains(csp, " "+ws) {
			t.Fatalf("the policy of %s does not allow %s and %s (web.replicas not applied?): %q", r.Node, o.URL, ws, csp)
		}
	}
	if resp.Header.Get("X-Content-Type-Options") != "nosniff" {
		t.Fatalf("GET /desktop/ without nosniff")
	}
}

// TestDesktopPageLoadsWithoutNetwork: the desktop page loads from a
// replica in headless Chromium with nothing but loopback; its sign-in form
// is visible, reachable with the Tab key in a natural order (agent, token,
// then the submit button) with the focus visible; no request left
// loopback and the page threw nothing.
func TestDesktopPageLoadsWithoutNetwork(t *testing.T) {
	w := NewWorld(t, Options{})
	r := w.Replicas[0]
	servesPages(t, w, r)

	b := browser.Start(t)
	b.Navigate(r.URL + "/desktop/")
	b.WaitVisible(browser.TestID("signin-form"))
	for _, id := range []string{"signin-agent", "signin-token", "signin-submit"} {
		b.WaitVisible(browser.TestID("signin-form", id))
	}
	b.Screenshot("desktop-signin")

	// Tab through the page from its start until the submit button.
	var order []string
	for i := 0; i < 40 && !slices.Contains(order, "signin-submit"); i++ {
		b.Tab()
		order = append(order, b.Focused())
		if id := order[len(order)-1]; strings.HasPrefix(id, "signin-") {
			var outline string
			b.EvalInto(`getComputedStyle(document.activeElement).outlineStyle`, &outline)
			if outline == "none" || outline == "" {
				t.Errorf("%s has focus with no visible outline", id)
			}
		}
	}
	at := func(id string) int {
		i := slices.Index(order, id)
		if i < 0 {
			t.Fatalf("Tab never reached %s; focus went %v", id, order)
		}
		return i
	}
	if at("signin-agent") >= at("signin-token") || at("signin-token") >= at("signin-submit") {
		t.Fatalf("Tab order %v, want agent, then token, then submit", order)
	}

	reqs := b.Requests()
	if !slices.Contains(reqs, r.URL+"/desktop/") || !slices.ContainsFunc(reqs, func(u string) bool {
		return strings.HasPrefix(u, r.URL+"/assets/")
	}) {
		t.Fatalf("requests %v lack the page or its assets", reqs)
	}
	if off := b.OffLoopback(); len(off) > 0 {
		t.Fatalf("requests left loopback: %v", off)
	}
	if p := b.Problems(); len(p) > 0 {
		t.Fatalf("the page failed: %v", p)
	}
}

// noSecretInURLs fails the test if any URL the page requested (HTTP or
// WebSocket) carries one of tokens (as typed, URL-encoded or as the
// bearer subprotocol's base64url), or looks like it carries a token at
// all ("access_token", "bearer."): a URL ends up in histories, proxies'
// and servers' logs.
func noSecretInURLs(t *testing.T, b *browser.Browser, tokens ...string) {
	t.Helper()
	for _, u := range b.Requests() {
		lower := strings.ToLower(u)
		if strings.Contains(lower, "access_token") || strings.Contains(lower, "bearer.") {
			t.Errorf("the page requested %s, which looks like it carries a token", u)
		}
		for _, tok := range tokens {
			for _, form := range []string{tok, url.QueryEscape(tok), base64.RawURLEncoding.EncodeToString([]byte(tok))} {
				if strings.Contains(u, form) {
					t.Errorf("the page requested %s, which carries the token %q", u, tok)
					break
				}
			}
		}
	}
}

// TestSignInFormsSendNoTokenBeforeTheirScript: the desktop's and the
// wallboard's sign-in forms, served with their script failing to load (as
// before it has loaded, or when it never does), are filled in and Enter
// is pressed in the token field: the form is not submitted (no submit
// event, the page stays where it is), no request carries the token, and
// the page says its script is missing while its Sign in button is off.
func TestSignInFormsSendNoTokenBeforeTheirScript(t *testing.T) {
	site := web.Handler(web.Options{})
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/assets/desktop.js" || r.URL.Path == "/assets/wallboard.js" {
			http.Error(w, "gone", http.StatusServiceUnavailable)
			return
		}
		site.ServeHTTP(w, r)
	}))
	t.Cleanup(srv.Close)

	const token = "secret-token-typed-too-early"
	for _, page := range []struct {
		path, agent, token, submit string
	}{
		{path: "/desktop/", agent: "signin-agent", token: "signin-token", submit: "signin-submit"},
		{path: "/wallboard/", token: "wallboard-token", submit: "wallboard-signin-submit"},
	} {
		t.Run(strings.Trim(page.path, "/"), func(t *testing.T) {
			b := browser.Start(t)
			b.Navigate(srv.URL + page.path)
			b.WaitVisible(browser.TestID(page.token))
			// A submission, taken or not, is written down where a
			// navigation of the tab does not erase it.
			b.Eval(`(() => {
				sessionStorage.clear();
				document.addEventListener("submit", () => sessionStorage.setItem("submitted", location.href), true);
				return "";
			})()`)
			if page.agent != "" {
				b.Fill(browser.TestID(page.agent), "1001")
			}
			b.Fill(browser.TestID(page.token), token)
			b.Type(browser.TestID(page.token), kb.Enter)
			if got := b.Eval(`sessionStorage.getItem("submitted") ?? ""`); got != "" {
				t.Errorf("Enter submitted the form on %s before its script ran", got)
			}
			if got := b.Eval(`location.href`); got != srv.URL+page.path {
				t.Errorf("after Enter the page is at %s", got)
			}
			noSecretInURLs(t, b, token)
			var off bool
			b.EvalInto(`document.querySelector('[data-testid="`+page.submit+`"]').disabled`, &off)
			if !off {
				t.Error("the Sign in button is usable with no script to sign in")
			}
			if b.Count(browser.TestID("script-loading")+":not([hidden])") != 1 {
				t.Error("the page does not say its script is missing")
			}
		})
	}
}
