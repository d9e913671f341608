// Package web serves the agent desktop and the supervisor wallboard: plain
// HTML, CSS and JavaScript modules embedded in the binary, so a browser is
// all an agent or a supervisor needs and no build step stands between the
// source and what is served.
//
// The pages hold no secret (the user types a token in), so the handler is
// public; every API call the pages make carries that token. The pages may
// talk to other replicas than the one that served them (failover), which
// the Content-Security-Policy allows for the replicas named in Options.
package web

import (
	"bytes"
	"crypto/sha256"
	"embed"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io/fs"
	"mime"
	"net/http"
	"net/url"
	"path"
	"strings"
	"time"
)

// static is the whole site: desktop/, wallboard/ and assets/.
//
//go:embed static
var static embed.FS

// Options shape the handler.
type Options struct {
	// Replicas are the base URLs (http or https, host and optional port,
	// no path) of the Tandem replicas the pages may call besides the one
	// that served them: config web.replicas. Each is allowed in the
	// Content-Security-Policy's connect-src in its http(s) form and its
	// ws(s) form, the event streams'. Entries CheckReplica refuses are left
	// out, so a bad one can never widen or break the policy.
	Replicas []string
}

// CheckReplica reports whether base is usable as a replica base URL:
// http or https, a host, and nothing after it but an optional "/".
func CheckReplica(base string) error {
	_, err := origin(base)
	return err
}

// origin returns base as scheme://host[:port], or why it cannot be one.
func origin(base string) (string, error) {
	u, err := url.Parse(base)
	if err != nil {
		return "", fmt.Errorf("not a URL: %w", err)
	}
	switch {
	case u.Scheme != "http" && u.Scheme != "https":
		return "", fmt.Errorf("must start with http:// or https://")
	case u.Host == "" || u.User != nil:
		return "", fmt.Errorf("must name a host (and no user)")
	case u.Path != "" && u.Path != "/", u.RawQuery != "", u.Fragment != "", u.Opaque != "":
		return "", fmt.Errorf("must be a base URL: no path, query or fragment")
	case strings.ContainsAny(u.Host, " ;,'\""):
		// Such a host would break out of its CSP source expression.
		return "", fmt.Errorf("host %q has characters a host cannot", u.Host)
	}
	return u.Scheme + "://" + strings.ToLower(u.Host), nil
}

// contentSecurityPolicy allows the page's own origin and the replicas (in
// both their HTTP and WebSocket forms) and nothing else: no CDN, no inline
// script, no framing by another site. No form may be submitted natively
// (form-action 'none': the pages' scripts handle every form, and a form
// injected into a page cannot post what is typed in it elsewhere), and no
// <base> may move the pages' relative URLs (base-uri 'none', which
// default-src does not cover).
func contentSecurityPolicy(replicas []string) string {
	connect := []string{"'self'"}
	seen := map[string]bool{}
	for _, r := range replicas {
		o, err := origin(r)
		if err != nil || seen[o] {
			continue
		}
		seen[o] = true
		ws := "ws" + strings.TrimPrefix(o, "http") // http→ws, https→wss
		connect = append(connect, o, ws)
	}
	return "default-src 'self'; connect-src " + strings.Join(connect, " ") +
		"; img-src 'self' data:; frame-ancestors 'none'; form-action 'none'; base-uri 'none'"
}

// file is one embedded file, read once.
type file struct {
	body        []byte
	contentType string
	etag        string
}

// handler serves the embedded files.
type handler struct {
	files map[string]file // by path below static/, e.g. "assets/tandem.js"
	csp   string
}

// Handler serves the pages and their assets:
//
//	/             302 to /desktop/
//	/desktop/     the agent desktop (desktop/index.html)
//	/wallboard/   the supervisor wallboard (wallboard/index.html)
//	/assets/...   scripts, styles and images
//
// for GET and HEAD. Anything else is a JSON error like the API's (404
// naming the field "path", 405 naming "method"). Every answer carries the
// security headers and Cache-Control: no-cache, so a browser revalidates
// (by ETag) and picks up a new release at once.
func Handler(opts Options) http.Handler {
	h := &handler{files: map[string]file{}, csp: contentSecurityPolicy(opts.Replicas)}
	err := fs.WalkDir(static, "static", func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		body, err := static.ReadFile(p)
		if err != nil {
			return err
		}
		sum := sha256.Sum256(body)
		h.files[strings.TrimPrefix(p, "static/")] = file{
			body:        body,
			contentType: contentType(p),
			etag:        `"` + hex.EncodeToString(sum[:12]) + `"`,
		}
		return nil
	})
	if err != nil {
		// The files are compiled in; failing to read them is a bug.
		panic(fmt.Sprintf("web: reading the embedded files: %v", err))
	}
	return h
}

// contentTypes are fixed here rather than taken from the system's MIME
// table, which differs between machines (a module script must be served as
// JavaScript or the browser refuses it).
var contentTypes = map[string]string{
	".html": "text/html; charset=utf-8",
	".js":   "text/javascript; charset=utf-8",
	".css":  "text/css; charset=utf-8",
	".svg":  "image/svg+xml",
	".png":  "image/png",
	".ico":  "image/x-icon",
	".json": "application/json",
	".txt":  "text/plain; charset=utf-8",
}

func contentType(p string) string {
	ext := path.Ext(p)
	if t, ok := contentTypes[ext]; ok {
		return t
	}
	if t := mime.TypeByExtension(ext); t != "" {
		return t
	}
	return "application/octet-stream"
}

func (h *handler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	hdr := w.Header()
	hdr.Set("Content-Security-Policy", h.csp)
	hdr.Set("X-Content-Type-Options", "nosniff")
	hdr.Set("Cache-Control", "no-cache")
	hdr.Set("Referrer-Policy", "no-referrer")

	if r.Method != http.MethodGet && r.Method != http.MethodHead {
		hdr.Set("Allow", "GET, HEAD")
		writeError(w, http.StatusMethodNotAllowed, "only GET and HEAD are served here", "method")
		return
	}
	p := r.URL.Path
	switch p {
	case "/":
		http.Redirect(w, r, "/desktop/", http.StatusFound)
		return
	case "/desktop", "/wallboard":
		http.Redirect(w, r, p+"/", http.StatusMovedPermanently)
		return
	}
	name, ok := h.lookup(p)
	if !ok {
		writeError(w, http.StatusNotFound, "no such page or asset", "path")
		return
	}
	f := h.files[name]
	hdr.Set("Content-Type", f.contentType)
	hdr.Set("ETag", f.etag)
	// ServeContent answers HEAD, If-None-Match (304) and ranges.
	http.ServeContent(w, r, name, time.Time{}, bytes.NewReader(f.body))
}

// lookup maps a request path to an embedded file: /desktop/ and
// /wallboard/ to their index.html, /assets/x to assets/x. Paths are taken
// as they are (no cleaning): one with "..", "//" or a trailing "/" below
// /assets/ names no file, so nothing outside static/ can be reached.
func (h *handler) lookup(p string) (string, bool) {
	var name string
	switch {
	case p == "/desktop/" || p == "/wallboard/":
		name = strings.TrimPrefix(p, "/") + "index.html"
	case strings.HasPrefix(p, "/assets/"):
		name = strings.TrimPrefix(p, "/")
	default:
		return "", false
	}
	_, ok := h.files[name]
	return name, ok
}

// writeError answers with the API's error shape: {"error":..,"field":..}.
func writeError(w http.ResponseWriter, status int, msg, field string) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(struct {
		Error string `json:"error"`
		Field string `json:"field,omitempty"`
	}{msg, field})
}
