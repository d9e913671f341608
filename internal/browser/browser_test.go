package browser

import (
	"bytes"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

func TestLoopback(t *testing.T) {
	for raw, want := range map[string]bool{
		"http://127.0.0.1:8080/desktop/": true,
		"ws://127.0.0.1:9/v1/events":     true,
		"http://[::1]:80/":               true,
		"https://localhost/x":            true,
		"http://127.8.9.10/":             true,
		"data:image/png;base64,AAAA":     true,
		"about:blank":                    true,
		"https://cdn.example.com/x.js":   false,
		"http://10.0.0.1/":               false,
		"wss://192.168.1.2/":             false,
		"http://localhost.example.com/":  false,
		"ftp://127.0.0.1/":               false,
		"chrome-extension://abc/":        false,
		"::not a url":                    false,
	} {
		if got := Loopback(raw); got != want {
			t.Errorf("Loopback(%q) = %v, want %v", raw, got, want)
		}
	}
}

func TestExecutableNamesTheInstallWhenMissing(t *testing.T) {
	t.Setenv(EnvChromium, "/nonexistent/chromium")
	_, err := Executable()
	if err == nil || !strings.Contains(err.Error(), "apt-get install -y chromium") {
		t.Fatalf("err = %v, want the install hint", err)
	}
}

// page is a tiny site: a form whose script (an external file, as the
// page's CSP would demand) answers a click with text fetched from /data.
func page(t *testing.T) *httptest.Server {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /{$}", func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		_, _ = io.WriteString(w, `<!doctype html><html><head><title>t</title>
<script type="module" src="/app.js"></script></head><body>
<form data-testid="form"><label for="name">Name</label>
<input id="name" data-testid="name"><button type="submit" data-testid="go">Go</button></form>
<p data-testid="out" hidden></p></body></html>`)
	})
	mux.HandleFunc("GET /app.js", func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "text/javascript")
		_, _ = io.WriteString(w, `
const form = document.querySelector('[data-testid="form"]');
form.addEventListener('submit', async (e) => {
  e.preventDefault();
  const r = await fetch('/data');
  const out = document.querySelector('[data-testid="out"]');
  out.textContent = (await r.text()) + ', ' + document.querySelector('[data-testid="name"]').value;
  out.hidden = false;
});`)
	})
	mux.HandleFunc("GET /data", func(w http.ResponseWriter, _ *http.Request) {
		_, _ = io.WriteString(w, "hello")
	})
	srv := httptest.NewServer(mux)
	t.Cleanup(srv.Close)
	return srv
}

// TestBrowserDrivesAPageAndRecordsItsRequests: typing, the keyboard,
// clicking, reading text, the request log and a screenshot, against a
// page served on loopback.
func TestBrowserDrivesAPageAndRecordsItsRequests(t *testing.T) {
	shots := t.TempDir()
	t.Setenv(EnvScreenshots, shots)
	srv := page(t)
	b := Start(t)
	b.Navigate(srv.URL + "/")
	b.WaitVisible(TestID("form", "name"))
	b.WaitHidden(TestID("out"))

	b.Type(TestID("name"), "Ada")
	if got := b.Focused(); got != "name" {
		t.Fatalf("focused %q after typing, want name", got)
	}
	b.Tab()
	if got := b.Focused(); got != "go" {
		t.Fatalf("focused %q after Tab, want go", got)
	}
	b.Press("\r") // Enter on the button submits the form
	if got := b.WaitTextContains(TestID("out"), "hello"); got != "hello, Ada" {
		t.Fatalf("out = %q", got)
	}
	b.Fill(TestID("name"), "Grace")
	if got := b.Value(TestID("name")); got != "Grace" {
		t.Fatalf("value after Fill = %q", got)
	}
	b.Click(TestID("go"))
	b.WaitTextContains(TestID("out"), "Grace")
	if n := b.Count(`[data-testid]`); n != 4 {
		t.Fatalf("%d elements with a test id, want 4", n)
	}

	reqs := b.Requests()
	for _, want := range []string{srv.URL + "/", srv.URL + "/app.js", srv.URL + "/data"} {
		if !slices.Contains(reqs, want) {
			t.Errorf("requests %v lack %s", reqs, want)
		}
	}
	if off := b.OffLoopback(); len(off) > 0 {
		t.Errorf("requests left loopback: %v", off)
	}
	if p := b.Problems(); len(p) > 0 {
		t.Errorf("page problems: %v", p)
	}

	path := b.Screenshot("page")
	png, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.HasPrefix(png, []byte("\x89PNG\r\n\x1a\n")) {
		t.Fatalf("%s is not a PNG", path)
	}
}

// TestBrowserRecordsPageErrors: an uncaught exception and console.error
// are kept for the test to see.
func TestBrowserRecordsPageErrors(t *testing.T) {
	srv := page(t)
	b := Start(t)
	b.Navigate(srv.URL + "/")
	b.WaitVisible(TestID("form"))
	b.Eval(`(() => { console.error("broken", 42); setTimeout(() => { throw new Error("boom") }); return "" })()`)
	b.WaitUntil("both problems recorded", func() bool { return len(b.Problems()) >= 2 })
	got := strings.Join(b.Problems(), "\n")
	if !strings.Contains(got, `console.error: "broken" 42`) || !strings.Contains(got, "boom") {
		t.Fatalf("problems:\n%s", got)
	}
}

// A relative TANDEM_SCREENSHOTS is the module's, wherever go test runs.
func TestModuleRootHoldsGoMod(t *testing.T) {
	root, err := moduleRoot()
	if err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(filepath.Join(root, "go.mod")); err != nil {
		t.Fatalf("module root %s: %v", root, err)
	}
	if _, err := os.Stat(filepath.Join(root, "internal", "browser")); err != nil {
		t.Fatalf("module root %s does not hold internal/browser: %v", root, err)
	}
}
