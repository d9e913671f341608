package api

import (
	"bytes"
	"encoding/json"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"reflect"
	"slices"
	"strings"
	"testing"
)

// fuzzDecoder is one request body as its handler reads it: decodeBody
// (required or not), then the request's own check.
type fuzzDecoder struct {
	name string
	// decode reads body as the handler does and returns the request, or
	// the error the handler would answer with.
	decode func(w http.ResponseWriter, r *http.Request) (any, error)
	// fields are the JSON names the request has at its top level (and,
	// under "window.", in a callback's window).
	fields []string
}

// decoderOf is the decoder of request type T: check is what its handler
// runs after decodeBody (validate, or parse for a callback).
func decoderOf[T any](name string, required bool, check func(T) error) fuzzDecoder {
	return fuzzDecoder{
		name: name,
		decode: func(w http.ResponseWriter, r *http.Request) (any, error) {
			var req T
			if err := decodeBody(w, r, &req, required); err != nil {
				return nil, err
			}
			if check != nil {
				if err := check(req); err != nil {
					return nil, err
				}
			}
			return req, nil
		},
		fields: jsonFields(reflect.TypeFor[T](), ""),
	}
}

// jsonFields lists the JSON names of a struct's fields, and those of a
// struct field's fields under "name.".
func jsonFields(t reflect.Type, prefix string) []string {
	for t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	if t.Kind() != reflect.Struct {
		return nil
	}
	var out []string
	for f := range t.Fields() {
		name, _, _ := strings.Cut(f.Tag.Get("json"), ",")
		if name == "" || name == "-" {
			continue
		}
		out = append(out, prefix+name)
		out = append(out, jsonFields(f.Type, prefix+name+".")...)
	}
	return out
}

// fuzzDecoders are the request bodies of every route that reads one, with
// the check its handler runs (handlers.go, call.go, callbacks.go,
// supervisor.go).
var fuzzDecoders = []fuzzDecoder{
	decoderOf("login", true, loginRequest.validate),
	decoderOf("idle", false, idleRequest.validate),
	decoderOf("target", true, targetRequest.validate), // consult and transfer
	decoderOf("pause", false, (func(pauseRequest) error)(nil)),
	decoderOf("wrapup", true, wrapUpRequest.validate),
	decoderOf("edit", true, editRequest.validate),
	decoderOf("reveal", false, (func(struct{}) error)(nil)),
	decoderOf("none", false, (func(noBody) error)(nil)), // available, logout, call actions, callback cancel
	decoderOf("callback", true, func(c createCallbackRequest) error { _, err := c.parse(); return err }),
	decoderOf("flow-start", false, flowStartRequest.validate),
	decoderOf("flow-register", false, flowRegisterRequest.validate),
	decoderOf("force-end", true, forceEndRequest.validate),
	decoderOf("force-state", true, forceStateRequest.validate),
}

// fieldlessErrors are the only 400s that name no field: they are about
// the body as a whole.
var fieldlessErrors = []string{"request body is required", "malformed JSON", "body must hold exactly one JSON object"}

// FuzzDecodeRequests feeds bodies to every request decoder of the API and
// checks what a client can rely on: no panic and no 5xx; a refusal is a
// 400 (413 when too large) whose JSON names a field of the request (or,
// for an unknown field, that field) or says what is wrong with the body
// as a whole; an accepted body encodes back to JSON that is accepted
// again as the same request.
//
// The decoder is picked by name; a name that is none (the fuzzer mutates
// it too) picks one by its length, so every input exercises a decoder.
// The seed corpus, in testdata/fuzz/FuzzDecodeRequests, has the README's
// examples of each body and the bad input issue 11 found.
func FuzzDecodeRequests(f *testing.F) {
	s := &server{log: slog.New(slog.DiscardHandler)}
	f.Fuzz(func(t *testing.T, name string, body []byte) {
		i := slices.IndexFunc(fuzzDecoders, func(d fuzzDecoder) bool { return d.name == name })
		if i < 0 {
			i = len(name) % len(fuzzDecoders)
		}
		d := fuzzDecoders[i]
		req, rec, err := decodeOnce(d, body)
		if err == nil {
			checkRoundTrip(t, d, body, req)
			return
		}
		s.fail(rec, httptest.NewRequest(http.MethodPost, "/", nil), err)
		checkRefusal(t, d, body, rec)
	})
}

func decodeOnce(d fuzzDecoder, body []byte) (any, *httptest.ResponseRecorder, error) {
	r := httptest.NewRequest(http.MethodPost, "/", bytes.NewReader(body))
	rec := httptest.NewRecorder()
	req, err := d.decode(rec, r)
	return req, rec, err
}

// checkRoundTrip: what was accepted, encoded again, is accepted as the
// same request (nothing the decoder kept is lost or changed on the way).
func checkRoundTrip(t *testing.T, d fuzzDecoder, body []byte, req any) {
	t.Helper()
	again, err := json.Marshal(req)
	if err != nil {
		t.Fatalf("%s: accepted %q, but it does not encode: %v", d.name, body, err)
	}
	back, _, err := decodeOnce(d, again)
	if err != nil {
		t.Fatalf("%s: accepted %q as %s, which is refused: %v", d.name, body, again, err)
	}
	if !reflect.DeepEqual(back, req) {
		t.Fatalf("%s: accepted %q as %#v; encoded %s reads back as %#v", d.name, body, req, again, back)
	}
}

// checkRefusal: a refusal is a 400 or a 413 with a JSON error that names a
// field of the request, the unknown field, or a fault of the whole body.
func checkRefusal(t *testing.T, d fuzzDecoder, body []byte, rec *httptest.ResponseRecorder) {
	t.Helper()
	var e errorBody
	if err := json.Unmarshal(rec.Body.Bytes(), &e); err != nil || e.Error == "" {
		t.Fatalf("%s: %q refused with %d and no JSON error: %q", d.name, body, rec.Code, rec.Body)
	}
	switch rec.Code {
	case http.StatusRequestEntityTooLarge:
		if len(body) <= maxBody {
			t.Fatalf("%s: %d bytes refused as too large: %+v", d.name, len(body), e)
		}
		return
	case http.StatusBadRequest:
	default:
		t.Fatalf("%s: %q refused with %d, want 400: %+v", d.name, body, rec.Code, e)
	}
	switch {
	case e.Field == "" && e.Error == "unknown field":
		// An unknown field named "" (`{"":0}`): its name is the empty
		// string, which errorBody leaves out.
		if !bytes.Contains(body, []byte(`""`)) {
			t.Fatalf("%s: %q refused for an unknown field it does not name: %+v", d.name, body, e)
		}
	case e.Field == "":
		// Only a fault of the body as a whole names no field; a value of
		// the wrong type at the top ("[]" for an object) is one.
		if !slices.Contains(fieldlessErrors, e.Error) && !strings.HasPrefix(e.Error, "wrong type: got a JSON ") {
			t.Fatalf("%s: %q refused with a 400 that names no field: %+v", d.name, body, e)
		}
	case e.Error == "unknown field":
		if knownEverywhere(d.fields, e.Field) {
			t.Fatalf("%s: %q: the request's own field %q refused as unknown", d.name, body, e.Field)
		}
	default:
		if !slices.Contains(d.fields, fieldRoot(e.Field)) {
			t.Fatalf("%s: %q refused naming %q, which is no field of the request (%v): %+v", d.name, body, e.Field, d.fields, e)
		}
	}
}

// fieldRoot is the field a message names, without the map key or index
// that follows it: "variables.order" -> "variables", "queues[2]" ->
// "queues", "window.from" -> "window.from" (a field of the window).
func fieldRoot(field string) string {
	if i := strings.IndexByte(field, '['); i >= 0 {
		field = field[:i]
	}
	for _, nested := range []string{"window."} {
		if strings.HasPrefix(field, nested) {
			return field
		}
	}
	root, _, _ := strings.Cut(field, ".")
	return root
}

// knownEverywhere reports whether name is a field of the request at every
// level of it (the top and each nested object): encoding/json reports an
// unknown field by its name alone, so only then is it surely a known
// one. It matches names as encoding/json does, without regard to case.
func knownEverywhere(fields []string, name string) bool {
	levels := []string{""}
	for _, f := range fields {
		if i := strings.LastIndexByte(f, '.'); i >= 0 && !slices.Contains(levels, f[:i+1]) {
			levels = append(levels, f[:i+1])
		}
	}
	for _, l := range levels {
		if !slices.ContainsFunc(fields, func(f string) bool { return strings.EqualFold(f, l+name) }) {
			return false
		}
	}
	return true
}
