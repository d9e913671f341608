package pbxsim

import (
	"encoding/json"
	"io"
	"net/http"
	"net/url"
	"strings"
	"testing"

	"github.com/CyCoreSystems/ari/v5"
)

// post sends a raw ARI request and returns its status and message.
func (w *world) post(path string, q url.Values) (int, string) {
	w.t.Helper()
	req, _ := http.NewRequest(http.MethodPost, w.srv.URL+"/ari"+path+"?"+q.Encode(), nil)
	req.SetBasicAuth(testUser, testPass)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		w.t.Fatal(err)
	}
	defer func() { _ = resp.Body.Close() }()
	b, _ := io.ReadAll(resp.Body)
	var m struct{ Message string }
	_ = json.Unmarshal(b, &m)
	return resp.StatusCode, m.Message
}

// What Asterisk 22 refuses in an originate's originator and formats
// (res/ari/resource_channels.c), the simulator refuses the same way; what
// it accepts is recorded.
func TestOriginateOriginatorAndFormats(t *testing.T) {
	w := newWorld(t, fastTiming)
	w.sim.SetPhone("PJSIP/1001", Phone{Mode: NoAnswer})
	cl, rec := w.connect("acd")
	caller, err := w.sim.Call(Caller{ANI: "5551000", DNIS: "800"})
	if err != nil {
		t.Fatal(err)
	}
	rec.wait(t, "caller in stasis", isStasisStart(caller))

	base := func(kv ...string) url.Values {
		q := url.Values{"endpoint": {"PJSIP/1001"}, "app": {"acd"}, "timeout": {"5"}}
		for i := 0; i+1 < len(kv); i += 2 {
			q.Set(kv[i], kv[i+1])
		}
		return q
	}
	for _, tc := range []struct {
		name   string
		q      url.Values
		status int
		msg    string
	}{
		{"both", base("originator", caller, "formats", "ulaw"), 400, "Originator and formats can't both be specified"},
		{"both, even with a bad originator", base("originator", "nobody", "formats", "ulaw"), 400, "Originator and formats can't both be specified"},
		{"unknown originator", base("originator", "nobody"), 400, "Provided originator channel was not found"},
		{"unknown format", base("formats", "ulaw,mp3"), 400, "Provided format (mp3) was not found"},
		{"empty format after a comma", base("formats", "ulaw,"), 400, "Provided format () was not found"},
	} {
		if st, msg := w.post("/channels", tc.q); st != tc.status || msg != tc.msg {
			t.Errorf("%s: %d %q, want %d %q", tc.name, st, msg, tc.status, tc.msg)
		}
	}
	if n := len(w.sim.Originates()); n != 0 {
		t.Fatalf("refused originates recorded: %d", n)
	}

	h1, err := cl.Channel().Originate(nil, ari.OriginateRequest{Endpoint: "PJSIP/1001", App: "acd", Timeout: 5, Originator: caller})
	if err != nil {
		t.Fatal(err)
	}
	w.sim.SetPhone("PJSIP/1002", Phone{Mode: NoAnswer})
	h2, err := cl.Channel().Originate(nil, ari.OriginateRequest{Endpoint: "PJSIP/1002", App: "acd", Timeout: 5, Formats: "ulaw, alaw"})
	if err != nil {
		t.Fatal(err)
	}
	got := w.sim.Originates()
	want := []Originate{
		{Kind: "originate", Channel: h1.ID(), Endpoint: "PJSIP/1001", Originator: caller},
		{Kind: "originate", Channel: h2.ID(), Endpoint: "PJSIP/1002", Formats: "ulaw, alaw"},
	}
	if len(got) != len(want) || got[0] != want[0] || got[1] != want[1] {
		t.Fatalf("originates = %+v\nwant %+v", got, want)
	}
	// /channels/create does not refuse the pair: it prefers the originator.
	if st, msg := w.post("/channels/create", url.Values{"endpoint": {"Local/agent1@sim-agent"}, "app": {"acd"}, "originator": {caller}, "formats": {"ulaw"}}); st != 200 {
		t.Fatalf("create with both: %d %s", st, msg)
	}
	if last := w.sim.Originates()[2]; last.Kind != "create" || last.Originator != caller || !strings.HasPrefix(last.Endpoint, "Local/") {
		t.Fatalf("create recorded as %+v", last)
	}
}
