package esl

import (
	"bufio"

	"encoding/json"
	"io"
	"log/slog"
	"net/textproto"
	"os"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/percipia/eslgo"

	"github.com/tandem-cc/tandem/acd"
)

// traceEvent is one plain event body copied from shared/esl-traces
// (recorded against a real FreeSWITCH 1.10.12), as FreeSWITCH sent it.
type traceEvent struct {
	Scenario string `json:"scenario"`
	Body     string `json:"body"`
}

func loadTrace(t *testing.T, name string) []string {
	t.Helper()
	f, err := os.Open("testdata/" + name)
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = f.Close() }()
	var out []string
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	for sc.Scan() {
		var te traceEvent
		if err := json.Unmarshal(sc.Bytes(), &te); err != nil {
			t.Fatal(err)
		}
		out = append(out, te.Body)
	}
	return out
}

// parsePlain reads a text/event-plain body the way eslgo v1.5.0 does
// (readPlainEvent: textproto headers, then Content-Length bytes of body).
func parsePlain(t *testing.T, body string) *eslgo.Event {
	t.Helper()
	r := bufio.NewReader(strings.NewReader(body))
	h, err := textproto.NewReader(r).ReadMIMEHeader()
	if err != nil {
		t.Fatalf("parse plain event: %v", err)
	}
	e := &eslgo.Event{Headers: h}
	if cl := h.Get("Content-Length"); cl != "" {
		n, err := strconv.Atoi(cl)
		if err != nil {
			t.Fatal(err)
		}
		e.Body = make([]byte, n)
		if _, err := io.ReadFull(r, e.Body); err != nil {
			t.Fatal(err)
		}
	}
	return e
}

// withHeaders adds header lines (already URL-encoded) right after the
// Event-Name line of a plain body: Tandem's channel variables, which the
// traced dialplan did not set.
func withHeaders(body string, lines ...string) string {
	first, rest, _ := strings.Cut(body, "\n")
	return first + "\n" + strings.Join(lines, "\n") + "\n" + rest
}

var headerRE = regexp.MustCompile(`(?m)^([A-Za-z0-9_-]+): (.*)$`)

// header returns a header's raw value in a plain body.
func header(body, name string) string {
	for _, m := range headerRE.FindAllStringSubmatch(body, -1) {
		if m[1] == name {
			return m[2]
		}
	}
	return ""
}

// recorder collects the port events a driver delivers.
type recorder struct {
	mu  sync.Mutex
	evs []acd.Event
}

func (r *recorder) handle(ev acd.Event) {
	r.mu.Lock()
	r.evs = append(r.evs, ev)
	r.mu.Unlock()
}

func (r *recorder) events() []acd.Event {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]acd.Event(nil), r.evs...)
}

func quietDriver(opts Options) *Driver {
	opts.Logger = slog.New(slog.DiscardHandler)
	if opts.App == "" {
		opts.App = "tandem-t"
	}
	return New(opts)
}

// feed hands bodies, in the given order, to the driver's intake as eslgo
// would, then releases everything held and translates it.
func feed(t *testing.T, d *Driver, rec *recorder, bodies []string) {
	t.Helper()
	t0 := time.Now()
	for i, b := range bodies {
		d.intake(fromESL(parsePlain(t, b), d.opts.AttachedVars), t0.Add(time.Duration(i)*time.Microsecond))
	}
	d.bufMu.Lock()
	evs := d.buf.due(t0.Add(time.Hour))
	d.bufMu.Unlock()
	for _, ev := range evs {
		d.translate(ev, rec.handle)
	}
}
