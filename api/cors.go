package api

import (
	"net/http"
	"net/url"
	"strings"
)

// Cross-origin pages. The desktop and the wallboard may be pointed at a
// list of replicas (web.replicas): a page served by one replica then calls
// the others from its own origin. Those origins are listed in
// http.allowed_origins; a page from any other origin gets no CORS headers,
// so the browser keeps the answer from it. No cookie or other credential
// is used (the token travels in Authorization, or in the WebSocket's
// subprotocols), so Access-Control-Allow-Credentials is never sent.

// Preflight answers (see cors).
const (
	corsMethods = "GET, POST, PUT, DELETE"
	corsHeaders = "Authorization, Content-Type"
	// corsMaxAge lets the browser reuse a preflight for ten minutes.
	corsMaxAge = "600"
	// corsExpose are the response headers a page may read besides the
	// simple ones: the wait a 429 or 503 asks for, where a created
	// callback is, and why a 401 was given.
	corsExpose = "Retry-After, Location, WWW-Authenticate"
)

// WithAllowedOrigins lets pages of these origins (scheme://host[:port],
// as http.allowed_origins holds them, validated by config) call the API
// and open its event WebSockets.
func WithAllowedOrigins(origins []string) Option {
	return func(s *server) {
		s.origins = make(map[string]bool, len(origins))
		s.wsOrigins = make([]string, 0, len(origins))
		for _, o := range origins {
			o = strings.ToLower(strings.TrimRight(o, "/"))
			s.origins[o] = true
			// The WebSocket library matches a pattern holding "://"
			// against the Origin's scheme://host with path.Match: the
			// metacharacters an origin may hold (an IPv6 host's brackets)
			// are escaped, so each pattern is one exact origin.
			s.wsOrigins = append(s.wsOrigins, patternEscaper.Replace(o))
		}
	}
}

// patternEscaper quotes path.Match's metacharacters.
var patternEscaper = strings.NewReplacer(`\`, `\\`, `*`, `\*`, `?`, `\?`, `[`, `\[`)

// cors adds the CORS headers to the answers to an allowed origin (and
// Vary: Origin to the answers to any request with an Origin), and
// answers the browsers' preflight OPTIONS requests on the /v1/ routes
// itself: 204, with the methods and headers allowed when the origin is
// listed, without them otherwise (the browser then refuses to send the
// request). An OPTIONS that is no preflight goes on to the routes (405).
func (s *server) cors(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		origin := r.Header.Get("Origin")
		allowed := origin != "" && s.origins[strings.ToLower(origin)]
		h := w.Header()
		if origin != "" {
			// The answer depends on the Origin for every origin, listed or
			// not (CORS headers or none): a cache must not give one
			// origin's answer to another.
			h.Add("Vary", "Origin")
		}
		if allowed {
			h.Set("Access-Control-Allow-Origin", origin)
			h.Set("Access-Control-Expose-Headers", corsExpose)
		}
		if r.Method == http.MethodOptions && origin != "" && r.Header.Get("Access-Control-Request-Method") != "" &&
			strings.HasPrefix(r.URL.Path, "/v1/") {
			if allowed {
				h.Set("Access-Control-Allow-Methods", corsMethods)
				h.Set("Access-Control-Allow-Headers", corsHeaders)
				h.Set("Access-Control-Max-Age", corsMaxAge)
			}
			w.WriteHeader(http.StatusNoContent)
			return
		}
		next.ServeHTTP(w, r)
	})
}

// socketOriginAllowed applies the WebSocket library's origin rule before
// the subscription and the upgrade, so that a refused page gets a JSON 403
// like every refusal (the library's own is plain text): no Origin (not a
// browser), the replica's own host, or an origin of http.allowed_origins.
func (s *server) socketOriginAllowed(r *http.Request) bool {
	origin := r.Header.Get("Origin")
	if origin == "" {
		return true
	}
	u, err := url.Parse(origin)
	if err != nil {
		return false
	}
	return strings.EqualFold(u.Host, r.Host) || s.origins[strings.ToLower(origin)]
}
