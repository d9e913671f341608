package eslsim

import (
	"context"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/percipia/eslgo"
	eslcmd "github.com/percipia/eslgo/command"
)

// TestEslgoCannotTell drives the protocol with the unmodified eslgo v1.5.0
// client the driver uses: dial + auth, EnableEvents, filters, api, bgapi
// with its BACKGROUND_JOB, published events with awkward values decoded
// intact, and the disconnect callback when the socket is cut.
func TestEslgoCannotTell(t *testing.T) {
	p, addr := startProto(t, newTestSwitch(), protocolOptions{}) // default reordering on
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()

	disconnected := make(chan struct{})
	conn, err := eslgo.Dial(addr, testPassword, func() { close(disconnected) })
	if err != nil {
		t.Fatalf("eslgo.Dial: %v", err)
	}
	defer conn.Close()
	events := make(chan *eslgo.Event, 1000)
	conn.RegisterEventListener(eslgo.EventListenAll, func(e *eslgo.Event) { events <- e })
	if err := conn.EnableEvents(ctx); err != nil {
		t.Fatalf("EnableEvents: %v", err)
	}
	for _, f := range []eslcmd.Filter{
		{EventHeader: "variable_tandem_app", FilterValue: "tandem-r1"},
		{EventHeader: "Event-Name", FilterValue: "BACKGROUND_JOB"},
	} {
		resp, err := conn.SendCommand(ctx, f)
		if err != nil || !resp.IsOk() {
			t.Fatalf("filter %+v: %v %v", f, resp, err)
		}
	}
	if got := p.owners(); len(got) != 1 || got[0] != "tandem-r1" {
		t.Fatalf("owners %v, want [tandem-r1]", got)
	}

	resp, err := conn.SendCommand(ctx, eslcmd.API{Command: "version"})
	if err != nil {
		t.Fatalf("api version: %v", err)
	}
	mustEqual(t, "api version body", string(resp.Body), "FreeSWITCH Version 1.10.12-release~64bit ( 64bit)\n")
	resp, err = conn.SendCommand(ctx, eslcmd.API{Command: "status"}) // eslgo sends "api status " (trailing space)
	if err != nil || !strings.HasPrefix(string(resp.Body), "UP 0 years, ") {
		t.Fatalf("api status: %v %v", resp, err)
	}

	resp, err = conn.SendCommand(ctx, eslcmd.API{Command: "uuid_exists", Arguments: "no-such-leg", Background: true})
	if err != nil || !resp.IsOk() {
		t.Fatalf("bgapi: %v %v", resp, err)
	}
	job := resp.GetHeader("Job-UUID")
	if job == "" {
		t.Fatalf("bgapi reply without Job-UUID: %v", resp)
	}

	const awkward = "a b+c%zz&d=ü 100%25 /x:y"
	for i := range 50 {
		owner := "tandem-r1"
		if i%5 == 0 {
			owner = "tandem-r2" // filtered out
		}
		ev := Event{Headers: []Header{{Name: "Event-Name", Value: "CHANNEL_PARK"}}}
		p.o.Stamp(&ev, "switch_channel.c", "switch_channel_perform_mark_park", 1)
		ev.Headers = append(ev.Headers,
			Header{Name: "Unique-ID", Value: "leg-" + strconv.Itoa(i)},
			Header{Name: "variable_tandem_app", Value: owner},
			Header{Name: "variable_note", Value: awkward})
		p.publish(ev)
	}

	gotJob := false
	legs := map[string]bool{}
	for !gotJob || len(legs) < 40 {
		select {
		case e := <-events:
			switch e.GetName() {
			case "BACKGROUND_JOB":
				if e.GetHeader("Job-UUID") == job {
					mustEqual(t, "job body", string(e.Body), "false")
					gotJob = true
				}
			case "CHANNEL_PARK":
				if app := e.GetHeader("variable_tandem_app"); app != "tandem-r1" {
					t.Fatalf("event of owner %q passed the filter", app)
				}
				// "%25" is left alone by FreeSWITCH's encoder, so it decodes to "%".
				mustEqual(t, "decoded value", e.GetHeader("variable_note"), "a b+c%zz&d=ü 100% /x:y")
				legs[e.GetHeader("Unique-ID")] = true
			default:
				t.Fatalf("unexpected event %q", e.GetName())
			}
		case <-ctx.Done():
			t.Fatalf("events missing: job %v, %d of 40 legs", gotJob, len(legs))
		}
	}

	p.dropConnections("tandem-r1")
	select {
	case <-disconnected:
	case <-ctx.Done():
		t.Fatal("eslgo did not see the disconnect")
	}
}
