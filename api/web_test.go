package api

import (
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
)

// pagesHandler stands in for package web's handler: it notes the paths
// it is asked for and answers with them.
type pagesHandler struct {
	mu    sync.Mutex
	paths []string
}

func (p *pagesHandler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	p.mu.Lock()
	p.paths = append(p.paths, r.Method+" "+r.URL.Path)
	p.mu.Unlock()
	w.Header().Set("Content-Type", "text/plain")
	_, _ = w.Write([]byte("page " + r.URL.Path))
}

func (p *pagesHandler) asked() []string {
	p.mu.Lock()
	defer p.mu.Unlock()
	return append([]string(nil), p.paths...)
}

// TestWebPagesAreServedWithoutAToken: with WithWeb, GET and HEAD of the
// pages' paths reach the handler as they were asked, without a token, and
// / redirects to the desktop.
func TestWebPagesAreServedWithoutAToken(t *testing.T) {
	pages := &pagesHandler{}
	h := New(newFakeCore(), testAuth, nil, WithWeb(pages))
	do := func(method, path string) *httptest.ResponseRecorder {
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, httptest.NewRequest(method, path, nil))
		return rec
	}
	if rec := do("GET", "/"); rec.Code != http.StatusFound || rec.Header().Get("Location") != "/desktop/" {
		t.Errorf("GET /: %d Location %q, want 302 to /desktop/", rec.Code, rec.Header().Get("Location"))
	}
	for _, path := range []string{"/desktop/", "/wallboard/", "/assets/tandem.js", "/assets/css/style.css"} {
		if rec := do("GET", path); rec.Code != http.StatusOK || rec.Body.String() != "page "+path {
			t.Errorf("GET %s: %d %q", path, rec.Code, rec.Body)
		}
		if rec := do("HEAD", path); rec.Code != http.StatusOK {
			t.Errorf("HEAD %s: %d", path, rec.Code)
		}
		rec := do("POST", path)
		if rec.Code != http.StatusMethodNotAllowed || rec.Header().Get("Allow") != "GET, HEAD" {
			t.Errorf("POST %s: %d Allow %q, want 405 with GET, HEAD", path, rec.Code, rec.Header().Get("Allow"))
		}
		decodeErr(t, rec)
	}
	want := "GET /desktop/,HEAD /desktop/,GET /wallboard/,HEAD /wallboard/,GET /assets/tandem.js,HEAD /assets/tandem.js,GET /assets/css/style.css,HEAD /assets/css/style.css"
	if got := strings.Join(pages.asked(), ","); got != want {
		t.Errorf("the handler was asked %s, want %s", got, want)
	}
	// The API is still the API.
	if rec := do("GET", "/v1/agents"); rec.Code != http.StatusUnauthorized {
		t.Errorf("GET /v1/agents without a token: %d", rec.Code)
	}
	if rec := do("GET", "/nope"); rec.Code != http.StatusNotFound {
		t.Errorf("GET /nope: %d", rec.Code)
	}
}

// TestNoWebNoPages: without WithWeb (web.enabled false), or with a nil
// handler, the pages' paths are the API's 404.
func TestNoWebNoPages(t *testing.T) {
	for _, h := range []http.Handler{New(newFakeCore(), testAuth, nil), New(newFakeCore(), testAuth, nil, WithWeb(nil))} {
		for _, path := range []string{"/", "/desktop/", "/wallboard/", "/assets/tandem.js"} {
			rec := httptest.NewRecorder()
			h.ServeHTTP(rec, httptest.NewRequest("GET", path, nil))
			if rec.Code != http.StatusNotFound {
				t.Errorf("GET %s: %d, want 404", path, rec.Code)
			}
			decodeErr(t, rec)
		}
	}
}
