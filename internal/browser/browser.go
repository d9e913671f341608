// Package browser drives a headless Chromium for the browser tests of the
// agent desktop and the wallboard (package webtest): Debian's chromium,
// never a downloaded one, through chromedp.
//
// A Browser is one Chromium process with one tab, owned by one test: Start
// launches it with a fresh profile and t.Cleanup ends it. Its helpers find
// elements by CSS selector, usually built with TestID from the data-testid
// hooks the pages carry; every wait is bounded, and a failed one fails the
// test with what the page showed. Every URL the page requests (HTTP and
// WebSocket) is recorded, so a test can prove that nothing left loopback.
package browser

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/cdproto/network"
	"github.com/chromedp/cdproto/runtime"
	"github.com/chromedp/chromedp"
	"github.com/chromedp/chromedp/kb"
)

// DefaultChromium is where Debian's chromium package puts the browser.
const DefaultChromium = "/usr/bin/chromium"

// EnvChromium names another Chromium (or Chrome) executable.
const EnvChromium = "TANDEM_CHROMIUM"

// EnvScreenshots names a directory: Screenshot writes its PNGs there.
// Unset, Screenshot does nothing.
const EnvScreenshots = "TANDEM_SCREENSHOTS"

// DefaultWait bounds every wait of a Browser (SetWait changes it).
const DefaultWait = 15 * time.Second

// installHint is the failure message of a missing browser.
const installHint = "install Debian's chromium package (apt-get install -y chromium; scripts/test.sh does it), " +
	"or set " + EnvChromium + " to a Chromium or Chrome executable"

// Executable returns the Chromium to run: $TANDEM_CHROMIUM, else
// /usr/bin/chromium, else chromium on PATH.
func Executable() (string, error) {
	if p := os.Getenv(EnvChromium); p != "" {
		if _, err := exec.LookPath(p); err != nil {
			return "", fmt.Errorf("%s=%s is not an executable: %w; %s", EnvChromium, p, err, installHint)
		}
		return p, nil
	}
	if _, err := exec.LookPath(DefaultChromium); err == nil {
		return DefaultChromium, nil
	}
	if p, err := exec.LookPath("chromium"); err == nil {
		return p, nil
	}
	return "", fmt.Errorf("chromium not found at %s nor on PATH: %s", DefaultChromium, installHint)
}

// Browser is a headless Chromium with one tab.
type Browser struct {
	t    testing.TB
	ctx  context.Context // the tab's; canceled at cleanup
	wait time.Duration

	mu       sync.Mutex
	requests []string // URLs the page requested, in order
	problems []string // uncaught exceptions and console errors
}

// Start launches Chromium headless with a fresh profile (a t.TempDir) and
// opens a blank tab. A missing browser fails the test with an install
// hint. The flags keep the browser from reaching anything by itself: it
// has no network here beyond loopback.
func Start(t testing.TB) *Browser {
	t.Helper()
	exe, err := Executable()
	if err != nil {
		t.Fatal(err)
	}
	opts := append(chromedp.DefaultExecAllocatorOptions[:],
		chromedp.ExecPath(exe),
		chromedp.UserDataDir(t.TempDir()),
		chromedp.Headless,
		chromedp.NoSandbox,
		chromedp.DisableGPU,
		chromedp.Flag("disable-background-networking", true),
		chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-sync", true),
		chromedp.Flag("disable-domain-reliability", true),
		chromedp.Flag("no-pings", true),
		chromedp.WindowSize(1280, 900),
	)
	allocCtx, cancelAlloc := chromedp.NewExecAllocator(context.Background(), opts...)
	ctx, cancelTab := chromedp.NewContext(allocCtx)
	// Cleanups run last-registered first: the tab, then the browser
	// (whose cancel waits for the process to exit), then the profile dir.
	t.Cleanup(cancelAlloc)
	t.Cleanup(cancelTab)
	b := &Browser{t: t, ctx: ctx, wait: DefaultWait}

	// The first action starts the browser; it must run without a timeout,
	// which would otherwise bound the browser's whole life. Starting is
	// bounded by chromedp's own wait for the DevTools connection.
	if err := chromedp.Do(ctx); err != nil {
		t.Fatalf("start %s: %v (%s)", exe, err, installHint)
	}
	// Listen's func runs on the tab's reader goroutine: it only appends.
	err = chromedp.Listen(ctx, func(ev any) {
		switch ev := ev.(type) {
		case *network.EventRequestWillBeSent:
			b.record(ev.Request.URL, "")
		case *network.EventWebSocketCreated:
			b.record(ev.URL, "")
		case *runtime.EventExceptionThrown:
			b.record("", "exception: "+exceptionText(ev.ExceptionDetails))
		case *runtime.EventConsoleAPICalled:
			if ev.Type == runtime.ConsoleAPICalledTypeError {
				b.record("", "console.error: "+consoleText(ev.Args))
			}
		}
	})
	if err != nil {
		t.Fatalf("listen to the browser: %v", err)
	}
	return b
}

func (b *Browser) record(u, problem string) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if u != "" {
		b.requests = append(b.requests, u)
	}
	if problem != "" {
		b.problems = append(b.problems, problem)
	}
}

func exceptionText(d *runtime.ExceptionDetails) string {
	if d == nil {
		return "?"
	}
	if d.Exception != nil && d.Exception.Description != "" {
		return d.Exception.Description
	}
	return fmt.Sprintf("%s (%s:%d)", d.Text, d.URL, d.LineNumber)
}

func consoleText(args []*runtime.RemoteObject) string {
	parts := make([]string, 0, len(args))
	for _, a := range args {
		switch {
		case a.Description != "":
			parts = append(parts, a.Description)
		case len(a.Value) > 0:
			parts = append(parts, string(a.Value))
		default:
			parts = append(parts, string(a.Type))
		}
	}
	return strings.Join(parts, " ")
}

// Context is the tab's context, for chromedp actions the helpers lack.
// Bound them with a timeout derived from it.
func (b *Browser) Context() context.Context { return b.ctx }

// SetWait changes the bound of every later wait.
func (b *Browser) SetWait(d time.Duration) { b.wait = d }

// TestID is the CSS selector of the elements whose data-testid is id;
// several ids select the last one inside the others:
// TestID("call-panel", "hold") is `[data-testid="call-panel"] [data-testid="hold"]`.
func TestID(ids ...string) string {
	parts := make([]string, len(ids))
	for i, id := range ids {
		parts[i] = fmt.Sprintf("[data-testid=%q]", id)
	}
	return strings.Join(parts, " ")
}

// do runs actions bounded by the wait, failing the test with what the
// page shows when they fail.
func (b *Browser) do(what string, actions ...chromedp.Action[chromedp.Void]) {
	b.t.Helper()
	ctx, cancel := context.WithTimeout(b.ctx, b.wait)
	defer cancel()
	if err := chromedp.Do(ctx, actions...); err != nil {
		b.fail(what, err)
	}
}

// fail ends the test: what was being done, why, and the page's state.
func (b *Browser) fail(what string, err error) {
	b.t.Helper()
	if errors.Is(err, context.DeadlineExceeded) {
		err = fmt.Errorf("not done within %v", b.wait)
	}
	b.Screenshot("failed-" + b.t.Name())
	b.t.Fatalf("%s: %v\n%s", what, err, b.describe())
}

// describe is the page's address, visible text (cut short) and problems,
// read with a short bound of its own: the page may be what is broken.
func (b *Browser) describe() string {
	ctx, cancel := context.WithTimeout(b.ctx, 2*time.Second)
	defer cancel()
	loc, _ := chromedp.Run(ctx, chromedp.Location())
	text, err := chromedp.Run(ctx, chromedp.Evaluate[string](`document.body ? document.body.innerText : ""`))
	if err != nil {
		text = "(page text unreadable: " + err.Error() + ")"
	}
	if len(text) > 3000 {
		text = text[:3000] + " …"
	}
	var sb strings.Builder
	fmt.Fprintf(&sb, "page %s shows:\n%s", loc, text)
	if p := b.Problems(); len(p) > 0 {
		fmt.Fprintf(&sb, "\npage problems:\n  %s", strings.Join(p, "\n  "))
	}
	return sb.String()
}

// Navigate loads url and waits for its load event.
func (b *Browser) Navigate(url string) {
	b.t.Helper()
	b.do("navigate to "+url, chromedp.Navigate(url))
}

// WaitVisible waits until an element matching sel is rendered visible.
func (b *Browser) WaitVisible(sel string) {
	b.t.Helper()
	b.do("wait for "+sel+" to be visible", chromedp.WaitVisible(chromedp.CSS(sel)))
}

// WaitHidden waits until an element matching sel exists and is not
// visible (hidden, display: none, a closed dialog).
func (b *Browser) WaitHidden(sel string) {
	b.t.Helper()
	b.do("wait for "+sel+" to be hidden", chromedp.WaitNotVisible(chromedp.CSS(sel)))
}

// WaitGone waits until no element matches sel.
func (b *Browser) WaitGone(sel string) {
	b.t.Helper()
	b.do("wait for "+sel+" to be gone", chromedp.WaitNotPresent(chromedp.CSS(sel)))
}

// Click clicks the first element matching sel, once it is visible.
func (b *Browser) Click(sel string) {
	b.t.Helper()
	b.do("click "+sel, chromedp.Click(chromedp.CSS(sel), chromedp.NodeVisible))
}

// Type focuses the first visible element matching sel and types text into
// it, key by key, after what it holds already ("\r" is Enter).
func (b *Browser) Type(sel, text string) {
	b.t.Helper()
	b.do("type into "+sel, chromedp.SendKeys(chromedp.CSS(sel), text))
}

// Fill replaces the value of the input matching sel with text, typed.
func (b *Browser) Fill(sel, text string) {
	b.t.Helper()
	b.WaitVisible(sel)
	// chromedp.Clear resets the value attribute only, not what was typed.
	if msg := b.Eval(fmt.Sprintf(`(() => {
		const e = document.querySelector(%q);
		if (!e || !("value" in e)) return "no input";
		e.value = "";
		e.dispatchEvent(new Event("input", {bubbles: true}));
		return "";
	})()`, sel)); msg != "" {
		b.fail("fill "+sel, errors.New(msg))
	}
	b.do("fill "+sel, chromedp.SendKeys(chromedp.CSS(sel), text))
}

// Select picks the option whose value is value in the <select> matching
// sel, and fires the change event a person's choice would.
func (b *Browser) Select(sel, value string) {
	b.t.Helper()
	js := fmt.Sprintf(`(() => {
		const s = document.querySelector(%q);
		if (!s) return "no element";
		if (![...s.options].some(o => o.value === %q)) return "no option " + %q;
		s.value = %q;
		s.dispatchEvent(new Event("input", {bubbles: true}));
		s.dispatchEvent(new Event("change", {bubbles: true}));
		return "";
	})()`, sel, value, value, value)
	b.WaitVisible(sel)
	if msg := b.Eval(js); msg != "" {
		b.fail("select "+value+" in "+sel, errors.New(msg))
	}
}

// Press sends keys to the focused element: kb.Tab, kb.Enter, kb.Escape or
// text.
func (b *Browser) Press(keys string) {
	b.t.Helper()
	b.do(fmt.Sprintf("press %q", keys), chromedp.KeyEvent(keys))
}

// Tab moves the focus forward as the Tab key does.
func (b *Browser) Tab() { b.t.Helper(); b.Press(kb.Tab) }

// Focused describes the focused element: its data-testid, or its tag and
// id when it has none ("" for the body).
func (b *Browser) Focused() string {
	b.t.Helper()
	return b.Eval(`(() => {
		const e = document.activeElement;
		if (!e || e === document.body) return "";
		return e.dataset.testid || (e.tagName.toLowerCase() + (e.id ? "#" + e.id : ""));
	})()`)
}

// Text is the visible text of the first element matching sel, once it
// exists.
func (b *Browser) Text(sel string) string {
	b.t.Helper()
	ctx, cancel := context.WithTimeout(b.ctx, b.wait)
	defer cancel()
	s, err := chromedp.Run(ctx, chromedp.Text(chromedp.CSS(sel)))
	if err != nil {
		b.fail("read the text of "+sel, err)
	}
	return strings.TrimSpace(s)
}

// Value is the current value of the input or select matching sel.
func (b *Browser) Value(sel string) string {
	b.t.Helper()
	ctx, cancel := context.WithTimeout(b.ctx, b.wait)
	defer cancel()
	s, err := chromedp.Run(ctx, chromedp.Value(chromedp.CSS(sel)))
	if err != nil {
		b.fail("read the value of "+sel, err)
	}
	return s
}

// Count is how many elements match sel now.
func (b *Browser) Count(sel string) int {
	b.t.Helper()
	var n int
	b.EvalInto(fmt.Sprintf(`document.querySelectorAll(%q).length`, sel), &n)
	return n
}

// WaitText waits until the visible text of an element matching sel
// satisfies ok, and returns it; what describes the wait in a failure.
func (b *Browser) WaitText(sel, what string, ok func(text string) bool) string {
	b.t.Helper()
	deadline := time.Now().Add(b.wait)
	last := "(no element)"
	for {
		ctx, cancel := context.WithTimeout(b.ctx, time.Second)
		s, err := chromedp.Run(ctx, chromedp.Evaluate[string](fmt.Sprintf(
			`(() => { const e = document.querySelector(%q); return e ? e.innerText : "\u0000"; })()`, sel)))
		cancel()
		if err == nil && s != "\x00" {
			last = strings.TrimSpace(s)
			if ok(last) {
				return last
			}
		}
		if time.Now().After(deadline) {
			b.fail(fmt.Sprintf("wait for %s to show %s (last: %q)", sel, what, last), context.DeadlineExceeded)
		}
		// The page changes on its own (events, timers); look again soon.
		if err := sleep(b.ctx, 50*time.Millisecond); err != nil {
			b.fail("wait for "+sel, err)
		}
	}
}

// WaitTextContains waits until the text of sel contains want.
func (b *Browser) WaitTextContains(sel, want string) string {
	b.t.Helper()
	return b.WaitText(sel, fmt.Sprintf("%q", want), func(s string) bool { return strings.Contains(s, want) })
}

// WaitUntil waits until ok, a check on the Go side (the request log, the
// world behind the page), returns true; what describes it in a failure.
func (b *Browser) WaitUntil(what string, ok func() bool) {
	b.t.Helper()
	deadline := time.Now().Add(b.wait)
	for !ok() {
		if time.Now().After(deadline) {
			b.fail("wait until "+what, context.DeadlineExceeded)
		}
		if err := sleep(b.ctx, 20*time.Millisecond); err != nil {
			b.fail("wait until "+what, err)
		}
	}
}

// WaitCondition waits until the JavaScript expression js is truthy.
func (b *Browser) WaitCondition(what, js string) {
	b.t.Helper()
	b.do("wait until "+what, chromedp.Poll[chromedp.Void](js,
		chromedp.WithPollingInterval(50*time.Millisecond), chromedp.WithPollingTimeout(b.wait)))
}

func sleep(ctx context.Context, d time.Duration) error {
	tm := time.NewTimer(d)
	defer tm.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-tm.C:
		return nil
	}
}

// Eval evaluates a JavaScript expression whose value is a string.
func (b *Browser) Eval(js string) string {
	b.t.Helper()
	var s string
	b.EvalInto(js, &s)
	return s
}

// EvalInto evaluates js (awaiting a promise) and decodes its JSON value
// into out (a pointer).
func (b *Browser) EvalInto(js string, out any) {
	b.t.Helper()
	ctx, cancel := context.WithTimeout(b.ctx, b.wait)
	defer cancel()
	raw, err := chromedp.Run(ctx, chromedp.Evaluate[[]byte](js, chromedp.EvalAwaitPromise))
	if err != nil {
		b.fail("evaluate "+short(js), err)
	}
	if err := decodeJSON(raw, out); err != nil {
		b.fail("decode the value of "+short(js), err)
	}
}

func short(js string) string {
	js = strings.Join(strings.Fields(js), " ")
	if len(js) > 120 {
		return js[:120] + "…"
	}
	return js
}

// Screenshot writes the whole page as <name>.png into $TANDEM_SCREENSHOTS
// when it is set (nothing otherwise), and returns the file's path or "".
// A relative directory is taken from the module's root, not from the
// package directory go test runs in, so TANDEM_SCREENSHOTS=docs/screenshots
// writes where the README links.
func (b *Browser) Screenshot(name string) string {
	b.t.Helper()
	dir := os.Getenv(EnvScreenshots)
	if dir == "" {
		return ""
	}
	if !filepath.IsAbs(dir) {
		root, err := moduleRoot()
		if err != nil {
			b.t.Errorf("screenshot %s: %v", name, err)
			return ""
		}
		dir = filepath.Join(root, dir)
	}
	ctx, cancel := context.WithTimeout(b.ctx, b.wait)
	defer cancel()
	png, err := chromedp.Run(ctx, chromedp.FullScreenshot(100))
	if err != nil {
		b.t.Errorf("screenshot %s: %v", name, err)
		return ""
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		b.t.Errorf("screenshot %s: %v", name, err)
		return ""
	}
	p := filepath.Join(dir, safeName.ReplaceAllString(name, "_")+".png")
	if err := os.WriteFile(p, png, 0o644); err != nil {
		b.t.Errorf("screenshot %s: %v", name, err)
		return ""
	}
	b.t.Logf("screenshot: %s", p)
	return p
}

var safeName = regexp.MustCompile(`[^A-Za-z0-9._-]+`)

// Requests returns every URL the page requested so far, HTTP and
// WebSocket, in order.
func (b *Browser) Requests() []string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return slices.Clone(b.requests)
}

// Problems returns the page's uncaught exceptions and console errors so
// far.
func (b *Browser) Problems() []string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return slices.Clone(b.problems)
}

// OffLoopback returns the requested URLs that name a host other than a
// loopback address or localhost (data: and about: URLs are local).
func (b *Browser) OffLoopback() []string {
	var off []string
	for _, u := range b.Requests() {
		if !Loopback(u) {
			off = append(off, u)
		}
	}
	return off
}

// Loopback says whether a URL stays on this machine: a loopback host,
// localhost, or a scheme without a host (data:, about:, blob:).
func Loopback(raw string) bool {
	u, err := url.Parse(raw)
	if err != nil {
		return false
	}
	switch u.Scheme {
	case "data", "about", "blob":
		return true
	case "http", "https", "ws", "wss":
	default:
		return false
	}
	host := u.Hostname()
	if host == "localhost" {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

func decodeJSON(raw []byte, out any) error {
	if err := json.Unmarshal(raw, out); err != nil {
		return fmt.Errorf("%w (value %s)", err, short(string(raw)))
	}
	return nil
}

// moduleRoot is the nearest directory at or above the working directory
// that holds a go.mod.
func moduleRoot() (string, error) {
	dir, err := os.Getwd()
	if err != nil {
		return "", fmt.Errorf("working directory: %w", err)
	}
	for {
		if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
			return dir, nil
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return "", errors.New("no go.mod at or above the working directory")
		}
		dir = parent
	}
}
