package web

import (
	"encoding/json"
	"io/fs"
	"net/http"
	"net/http/httptest"
	"path"
	"regexp"
	"strings"
	"testing"
)

func get(t *testing.T, h http.Handler, method, target string, hdr map[string]string) *httptest.ResponseRecorder {
	t.Helper()
	req := httptest.NewRequest(method, target, nil)
	for k, v := range hdr {
		req.Header.Set(k, v)
	}
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, req)
	return rec
}

func embedded(t *testing.T, name string) string {
	t.Helper()
	b, err := static.ReadFile("static/" + name)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// TestHandlerServesPagesAndAssets: each page and asset at its path with its
// content type, the root sent to the desktop, and the paths without their
// slash sent to the page.
func TestHandlerServesPagesAndAssets(t *testing.T) {
	h := Handler(Options{})
	for _, tc := range []struct {
		path, wantType, wantFile string
	}{
		{"/desktop/", "text/html; charset=utf-8", "desktop/index.html"},
		{"/wallboard/", "text/html; charset=utf-8", "wallboard/index.html"},
		{"/assets/tandem.js", "text/javascript; charset=utf-8", "assets/tandem.js"},
		{"/assets/style.css", "text/css; charset=utf-8", "assets/style.css"},
	} {
		rec := get(t, h, http.MethodGet, tc.path, nil)
		if rec.Code != http.StatusOK {
			t.Errorf("GET %s: %d, want 200", tc.path, rec.Code)
			continue
		}
		if got := rec.Header().Get("Content-Type"); got != tc.wantType {
			t.Errorf("GET %s: Content-Type %q, want %q", tc.path, got, tc.wantType)
		}
		if rec.Body.String() != embedded(t, tc.wantFile) {
			t.Errorf("GET %s: body is not %s", tc.path, tc.wantFile)
		}
		head := get(t, h, http.MethodHead, tc.path, nil)
		if head.Code != http.StatusOK || head.Body.Len() != 0 || head.Header().Get("Content-Type") != tc.wantType {
			t.Errorf("HEAD %s: %d, %d bytes, %q; want 200, no body, %q", tc.path, head.Code, head.Body.Len(), head.Header().Get("Content-Type"), tc.wantType)
		}
	}

	for _, tc := range []struct{ path, location string }{
		{"/", "/desktop/"},
		{"/desktop", "/desktop/"},
		{"/wallboard", "/wallboard/"},
	} {
		rec := get(t, h, http.MethodGet, tc.path, nil)
		if rec.Code != http.StatusFound && rec.Code != http.StatusMovedPermanently {
			t.Errorf("GET %s: %d, want a redirect", tc.path, rec.Code)
		}
		if got := rec.Header().Get("Location"); got != tc.location {
			t.Errorf("GET %s: Location %q, want %q", tc.path, got, tc.location)
		}
	}
	if rec := get(t, h, http.MethodGet, "/", nil); rec.Code != http.StatusFound {
		t.Errorf("GET /: %d, want 302", rec.Code)
	}
}

// TestHandlerAnswersUnknownPathsWithJSON: unknown assets, paths outside the
// site, attempts to climb out of it and other methods get the API's JSON
// error naming the field.
func TestHandlerAnswersUnknownPathsWithJSON(t *testing.T) {
	h := Handler(Options{})
	for _, tc := range []struct {
		method, path string
		status       int
		field        string
	}{
		{http.MethodGet, "/assets/nope.js", http.StatusNotFound, "path"},
		{http.MethodGet, "/assets/", http.StatusNotFound, "path"},
		{http.MethodGet, "/assets/../web.go", http.StatusNotFound, "path"},
		{http.MethodGet, "/assets/%2e%2e/web.go", http.StatusNotFound, "path"},
		{http.MethodGet, "/assets//tandem.js", http.StatusNotFound, "path"},
		{http.MethodGet, "/desktop/index.html/", http.StatusNotFound, "path"},
		{http.MethodGet, "/desktop/nope", http.StatusNotFound, "path"},
		{http.MethodGet, "/static/assets/tandem.js", http.StatusNotFound, "path"},
		{http.MethodGet, "/web.go", http.StatusNotFound, "path"},
		{http.MethodPost, "/desktop/", http.StatusMethodNotAllowed, "method"},
		{http.MethodDelete, "/assets/tandem.js", http.StatusMethodNotAllowed, "method"},
	} {
		rec := get(t, h, tc.method, tc.path, nil)
		if rec.Code != tc.status {
			t.Errorf("%s %s: %d, want %d", tc.method, tc.path, rec.Code, tc.status)
			continue
		}
		if ct := rec.Header().Get("Content-Type"); ct != "application/json" {
			t.Errorf("%s %s: Content-Type %q, want application/json", tc.method, tc.path, ct)
		}
		var body struct{ Error, Field string }
		if err := json.Unmarshal(rec.Body.Bytes(), &body); err != nil {
			t.Errorf("%s %s: body %q is not JSON: %v", tc.method, tc.path, rec.Body, err)
			continue
		}
		if body.Error == "" || body.Field != tc.field {
			t.Errorf("%s %s: body %+v, want an error naming %q", tc.method, tc.path, body, tc.field)
		}
		if tc.status == http.StatusMethodNotAllowed && rec.Header().Get("Allow") != "GET, HEAD" {
			t.Errorf("%s %s: Allow %q", tc.method, tc.path, rec.Header().Get("Allow"))
		}
		if rec.Header().Get("X-Content-Type-Options") != "nosniff" {
			t.Errorf("%s %s: no nosniff on an error", tc.method, tc.path)
		}
	}
}

// TestHandlerSetsSecurityAndCacheHeaders: every answer, pages, assets,
// redirects and errors alike, carries the CSP, nosniff and no-cache.
func TestHandlerSetsSecurityAndCacheHeaders(t *testing.T) {
	h := Handler(Options{})
	for _, p := range []string{"/", "/desktop/", "/wallboard/", "/assets/tandem.js", "/assets/nope.css"} {
		rec := get(t, h, http.MethodGet, p, nil)
		hdr := rec.Header()
		if got, want := hdr.Get("Content-Security-Policy"), "default-src 'self'; connect-src 'self'; img-src 'self' data:; frame-ancestors 'none'; form-action 'none'; base-uri 'none'"; got != want {
			t.Errorf("GET %s: CSP %q, want %q", p, got, want)
		}
		if got := hdr.Get("X-Content-Type-Options"); got != "nosniff" {
			t.Errorf("GET %s: X-Content-Type-Options %q", p, got)
		}
		if got := hdr.Get("Cache-Control"); got != "no-cache" {
			t.Errorf("GET %s: Cache-Control %q", p, got)
		}
	}
}

// TestHandlerRevalidatesByETag: no-cache makes the browser ask again; an
// unchanged file answers 304 without its body.
func TestHandlerRevalidatesByETag(t *testing.T) {
	h := Handler(Options{})
	first := get(t, h, http.MethodGet, "/assets/tandem.js", nil)
	etag := first.Header().Get("ETag")
	if etag == "" {
		t.Fatal("no ETag")
	}
	again := get(t, h, http.MethodGet, "/assets/tandem.js", map[string]string{"If-None-Match": etag})
	if again.Code != http.StatusNotModified || again.Body.Len() != 0 {
		t.Fatalf("revalidation: %d with %d bytes, want 304 and none", again.Code, again.Body.Len())
	}
	other := get(t, h, http.MethodGet, "/assets/style.css", nil).Header().Get("ETag")
	if other == etag {
		t.Fatalf("two files share the ETag %s", etag)
	}
}

// TestCSPAllowsEachReplicaAndItsWebSocketForm: connect-src lists every
// replica once, as http(s) and ws(s), and leaves out entries that could
// widen or break the policy.
func TestCSPAllowsEachReplicaAndItsWebSocketForm(t *testing.T) {
	h := Handler(Options{Replicas: []string{
		"http://127.0.0.1:8081",
		"http://127.0.0.1:8081/", // the same replica again
		"https://Tandem-2.example:8443",
		"http://127.0.0.1:8082/x",      // a path: refused
		"ftp://127.0.0.1",              // not http: refused
		"http://a; script-src *",       // would inject a directive: refused
		"http://127.0.0.1:8083?q=1",    // a query: refused
		"http://user@127.0.0.1:8084",   // a user: refused
		"//127.0.0.1:8085",             // no scheme: refused
		"http://127.0.0.1:8086#anchor", // a fragment: refused
	}})
	csp := get(t, h, http.MethodGet, "/desktop/", nil).Header().Get("Content-Security-Policy")
	want := "default-src 'self'; connect-src 'self' http://127.0.0.1:8081 ws://127.0.0.1:8081 https://tandem-2.example:8443 wss://tandem-2.example:8443; img-src 'self' data:; frame-ancestors 'none'; form-action 'none'; base-uri 'none'"
	if csp != want {
		t.Fatalf("CSP\n got %q\nwant %q", csp, want)
	}
	for _, bad := range []string{"http://127.0.0.1:8082/x", "ftp://x", "http://a; b", "http://h?q", "http://u@h", "//h", "http://h#f", ""} {
		if CheckReplica(bad) == nil {
			t.Errorf("CheckReplica(%q) accepted it", bad)
		}
	}
	for _, good := range []string{"http://127.0.0.1:8081", "https://tandem.example/", "http://[::1]:8080"} {
		if err := CheckReplica(good); err != nil {
			t.Errorf("CheckReplica(%q): %v", good, err)
		}
	}
}

// TestStaticFilesStayOnTheirOrigin: nothing the pages load comes from
// another host (no CDN): every src and href of the HTML is a path on the
// same site, CSS loads no url() from elsewhere, and modules import only
// paths. It also checks that every page's local reference is served.
func TestStaticFilesStayOnTheirOrigin(t *testing.T) {
	h := Handler(Options{})
	attr := regexp.MustCompile(`(?i)\b(?:src|href|action)\s*=\s*["']([^"']*)["']`)
	cssURL := regexp.MustCompile(`(?i)url\(\s*["']?([^"')]*)`)
	cssImport := regexp.MustCompile(`(?i)@import\s+["']([^"']*)`)
	jsImport := regexp.MustCompile(`(?m)^\s*(?:import|export)\b[^'"\n]*\bfrom\s*["']([^"']*)["']|\bimport\s*\(\s*["']([^"']*)["']`)
	err := fs.WalkDir(static, "static", func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		body := embedded(t, strings.TrimPrefix(p, "static/"))
		var refs []string
		switch {
		case strings.HasSuffix(p, ".html"):
			for _, m := range attr.FindAllStringSubmatch(body, -1) {
				refs = append(refs, m[1])
			}
		case strings.HasSuffix(p, ".css"):
			for _, re := range []*regexp.Regexp{cssURL, cssImport} {
				for _, m := range re.FindAllStringSubmatch(body, -1) {
					refs = append(refs, m[1])
				}
			}
		case strings.HasSuffix(p, ".js"):
			for _, m := range jsImport.FindAllStringSubmatch(body, -1) {
				refs = append(refs, m[1]+m[2])
			}
		}
		for _, ref := range refs {
			switch {
			case ref == "" || strings.HasPrefix(ref, "#") || strings.HasPrefix(ref, "data:"):
				continue
			case strings.Contains(ref, "//") || strings.Contains(ref, ":"):
				t.Errorf("%s refers to another origin: %q", p, ref)
			case strings.HasPrefix(ref, "/"):
				if rec := get(t, h, http.MethodGet, ref, nil); rec.Code != http.StatusOK {
					t.Errorf("%s refers to %q, which answers %d", p, ref, rec.Code)
				}
			case strings.HasPrefix(ref, "./"):
				target := path.Join("/", path.Dir(strings.TrimPrefix(p, "static/")), ref)
				if rec := get(t, h, http.MethodGet, target, nil); rec.Code != http.StatusOK {
					t.Errorf("%s refers to %q (%s), which answers %d", p, ref, target, rec.Code)
				}
			default:
				t.Errorf("%s refers to %q: use an absolute path (/assets/...) or ./", p, ref)
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}
