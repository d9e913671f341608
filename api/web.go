package api

import "net/http"

// WithWeb serves the agent desktop and the supervisor wallboard with h
// (package web's handler): GET and HEAD of /desktop/, /wallboard/ and
// /assets/{path...}, and / redirects to /desktop/. They take no token:
// the pages hold no secret, and the user types the token into them. A
// nil h serves no pages (web.enabled false): those paths are 404.
func WithWeb(h http.Handler) Option { return func(s *server) { s.web = h } }

// webRoutes registers the pages' routes, when there are pages.
func (s *server) webRoutes(mux *http.ServeMux) {
	if s.web == nil {
		return
	}
	s.route(mux, "GET", "/{$}", http.RedirectHandler("/desktop/", http.StatusFound))
	s.route(mux, "GET", "/desktop/", s.web)
	s.route(mux, "GET", "/wallboard/", s.web)
	s.route(mux, "GET", "/assets/{path...}", s.web)
}
