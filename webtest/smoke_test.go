package webtest

import (
	"io"
	"net/http"
	"slices"
	"strings"
	"testing"

	"github.com/tandem-cc/tandem/internal/browser"
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
