package pbxsim

import (
	"bytes"
	"encoding/json"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"
)

// Handler serves ARI under /ari/: REST and the /ari/events WebSocket.
func (s *Sim) Handler() http.Handler { return http.HandlerFunc(s.serveHTTP) }

// badRequestHTML is the page Asterisk's HTTP server returns when the events
// WebSocket is requested without app (trace 12).
const badRequestHTML = "<!DOCTYPE HTML PUBLIC \"-//IETF//DTD HTML 2.0//EN\">\r\n<html><head>\r\n<title>400 Bad Request</title>\r\n</head><body>\r\n<h1>Bad Request</h1>\r\n<p>HTTP request to /ari/events missing param: [app]</p>\r\n<hr />\r\n<address>Asterisk Server</address>\r\n</body></html>\r\n"

func (s *Sim) serveHTTP(w http.ResponseWriter, r *http.Request) {
	h := w.Header()
	h.Set("Server", "Asterisk/22.10.1")
	h.Set("Cache-Control", "no-cache, no-store")
	s.mu.Lock()
	closed := s.closed
	s.mu.Unlock()
	if closed {
		writeError(w, http.StatusServiceUnavailable, "Simulator closed")
		return
	}
	if !strings.HasPrefix(r.URL.Path, "/ari/") {
		writeError(w, http.StatusNotFound, "Resource not found")
		return
	}
	if !s.authorized(r) {
		h.Set("WWW-Authenticate", `Basic realm="Asterisk REST Interface"`)
		writeError(w, http.StatusUnauthorized, "Authentication required")
		return
	}
	if r.URL.Path == "/ari/events" {
		if r.Method != http.MethodGet {
			writeError(w, http.StatusMethodNotAllowed, "Invalid method")
			return
		}
		app := r.URL.Query().Get("app")
		if app == "" {
			s.log.Warn("websocket upgrade without app", "error", "missing param: [app]")
			h.Set("Content-Type", "text/html")
			w.WriteHeader(http.StatusBadRequest)
			_, _ = io.WriteString(w, badRequestHTML)
			return
		}
		// Asterisk allows one comma-separated list of apps; Tandem uses one.
		s.serveEvents(w, r, app)
		return
	}
	p, err := readParams(r)
	if err != nil {
		writeError(w, http.StatusBadRequest, "Error parsing request body")
		return
	}
	s.route(w, r, p)
}

func (s *Sim) authorized(r *http.Request) bool {
	user, pass, ok := r.BasicAuth()
	if !ok {
		if key := r.URL.Query().Get("api_key"); key != "" {
			user, pass, ok = strings.Cut(key, ":")
		}
	}
	return ok && user == s.opts.Username && pass == s.opts.Password
}

// params are a request's parameters: query string, form body and JSON body
// merged the way Asterisk merges them (the JSON body wins; a repeated query
// parameter keeps its last value, trace 08).
type params struct {
	method string
	v      map[string]string
	num    map[string]string // JSON numbers and booleans, kept apart (see get)
	vars   map[string]string // "variables" object of a JSON body
	list   map[string]bool   // names that came as JSON arrays
	// jsonString: names that came as JSON strings (never split on commas)
	jsonString map[string]bool
}

// get returns a string parameter. A JSON number given for a string
// parameter reads as absent, as in Asterisk ({"value": 42} unsets, trace 12).
func (p params) get(k string) string { return p.v[k] }

func (p params) has(k string) bool {
	_, ok := p.v[k]
	return ok
}

// int returns an integer parameter from the query string or a JSON number.
func (p params) int(k string, def int) int {
	v, ok := p.num[k]
	if !ok {
		v = p.v[k]
	}
	n, err := strconv.Atoi(strings.TrimSpace(v))
	if err != nil {
		return def
	}
	return n
}

func readParams(r *http.Request) (params, error) {
	p := params{method: r.Method, v: map[string]string{}, num: map[string]string{}, list: map[string]bool{}}
	for k, vs := range r.URL.Query() {
		p.v[k] = vs[len(vs)-1]
	}
	body, _ := io.ReadAll(io.LimitReader(r.Body, 1<<20))
	body = bytes.TrimSpace(body)
	if len(body) == 0 {
		return p, nil
	}
	ct := r.Header.Get("Content-Type")
	if strings.HasPrefix(ct, "application/x-www-form-urlencoded") {
		form, err := url.ParseQuery(string(body))
		if err != nil {
			return p, err
		}
		for k, vs := range form {
			p.v[k] = vs[len(vs)-1]
		}
		return p, nil
	}
	var anyBody any
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.UseNumber()
	if err := dec.Decode(&anyBody); err != nil {
		return p, err
	}
	m, ok := anyBody.(map[string]any)
	if !ok {
		// A JSON array or scalar body carries no parameters.
		return p, nil
	}
	for k, v := range m {
		switch x := v.(type) {
		case map[string]any:
			if k == "variables" {
				p.vars = map[string]string{}
				for vk, vv := range x {
					p.vars[vk] = scalar(vv)
				}
			}
		case []any:
			parts := make([]string, 0, len(x))
			for _, e := range x {
				parts = append(parts, scalar(e))
			}
			p.v[k] = strings.Join(parts, ",")
			p.list[k] = true
		case nil:
		case string:
			p.v[k] = x
			if p.jsonString == nil {
				p.jsonString = map[string]bool{}
			}
			p.jsonString[k] = true
		default:
			delete(p.v, k)
			p.num[k] = scalar(x)
		}
	}
	return p, nil
}

func scalar(v any) string {
	switch x := v.(type) {
	case string:
		return x
	case json.Number:
		return x.String()
	case bool:
		return strconv.FormatBool(x)
	case nil:
		return ""
	}
	return string(marshal(v))
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	b := marshal(v)
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Content-Length", strconv.Itoa(len(b)))
	w.WriteHeader(status)
	_, _ = w.Write(b)
}

func writeError(w http.ResponseWriter, status int, msg string) {
	writeJSON(w, status, obj{{"message", msg}})
}

func writeNoContent(w http.ResponseWriter) {
	w.Header().Set("Content-Length", "0")
	w.WriteHeader(http.StatusNoContent)
}

// reply is what a REST handler returns; the router writes it after the world
// lock is released.
type reply struct {
	status      int
	body        any
	loc         string
	raw         []byte // a non-JSON body (recording download)
	contentType string
}

func ok(body any) reply { return reply{status: 200, body: body} }
func noContent() reply  { return reply{status: 204} }
func fail(status int, msg string) reply {
	return reply{status: status, body: obj{{"message", msg}}}
}

func (rp reply) write(w http.ResponseWriter) {
	if rp.loc != "" {
		w.Header().Set("Location", rp.loc)
	}
	if rp.raw != nil {
		w.Header().Set("Content-Type", rp.contentType)
		w.Header().Set("Content-Length", strconv.Itoa(len(rp.raw)))
		w.WriteHeader(rp.status)
		_, _ = w.Write(rp.raw)
		return
	}
	if rp.status == 204 || rp.body == nil {
		writeNoContent(w)
		return
	}
	writeJSON(w, rp.status, rp.body)
}
