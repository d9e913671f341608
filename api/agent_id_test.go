package api

import (
	"net/http"
	"strings"
	"testing"
)

// TestAgentIDsThatAreNotNamesAreRefused: an agent id is letters, digits,
// '_' and '-', starting with a letter or digit, at most 64 characters.
// Anything else, ".." first (it would make the key agent:..), is refused
// with 400 naming the id, before the core is called, on every agent route.
func TestAgentIDsThatAreNotNamesAreRefused(t *testing.T) {
	for _, id := range []struct{ name, path string }{
		{"dot dot", "%2E%2E"},
		{"dot dot plain", ".."},
		{"dot", "a.b"},
		{"at", "@x"},
		{"at inside", "jane@acme"},
		{"leading dash", "-x"},
		{"leading underscore", "_x"},
		{"colon", "a:b"},
		{"braces", "%7Bq%7D"},
		{"NUL", "a%00b"},
		{"too long", strings.Repeat("a", 65)},
	} {
		for _, route := range []struct{ method, suffix, body string }{
			{"POST", "/login", `{"endpoint":"PJSIP/1001","queues":["sales"]}`},
			{"POST", "/available", ""},
			{"POST", "/logout", ""},
			{"GET", "", ""},
		} {
			t.Run(id.name+route.suffix, func(t *testing.T) {
				w := newWorld(t)
				rec := w.do(route.method, "/v1/agents/"+id.path+route.suffix, superTok, route.body)
				if id.path == ".." && rec.Code != http.StatusBadRequest {
					// A plain ".." is a path segment the router resolves
					// itself (a redirect or not found): it never reaches
					// the agent handlers either.
					if calls := w.core.Calls(); len(calls) != 0 {
						t.Fatalf("status %d and core called: %v", rec.Code, calls)
					}
					return
				}
				wantRefusedBeforeCore(t, w, rec, http.StatusBadRequest, "id")
			})
		}
	}
	// The boundary cases that are ids.
	for _, id := range []string{"a", "1001", "x-1_y", strings.Repeat("a", 64)} {
		w := newWorld(t)
		if rec := w.do("GET", "/v1/agents/"+id, superTok, ""); rec.Code != http.StatusOK {
			t.Errorf("id %q: status %d: %s", id, rec.Code, rec.Body)
		}
	}
}
