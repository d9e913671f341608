package eslsim

import (
	"context"
	"errors"
	"io"
	"net"
	"strconv"
	"strings"
	"testing"
	"time"
)

// testEvent is a channel event of leg owned by owner, numbered n.
func testEvent(p *protocol, name, leg, owner string, n int) Event {
	ev := Event{Headers: []Header{{Name: "Event-Name", Value: name}}}
	p.o.Stamp(&ev, "switch_channel.c", "test", 1)
	ev.Headers = append(ev.Headers,
		Header{Name: "Unique-ID", Value: leg},
		Header{Name: "variable_tandem_app", Value: owner},
		Header{Name: "Test-N", Value: strconv.Itoa(n)})
	return ev
}

func eventHeader(f serverFrame, name string) string {
	for _, h := range parseHeaderBlock(strings.SplitN(f.body, "\n\n", 2)[0]) {
		if h.Name == name {
			return h.Value
		}
	}
	return ""
}

// framesUntilAPI reads frames up to the next api/response (a barrier: every
// event published before the api was sent is queued ahead of it).
func (c *rawClient) framesUntilAPI() []serverFrame {
	c.t.Helper()
	c.send("api version\r\n\r\n")
	var out []serverFrame
	for {
		f := c.frame()
		if f.get("Content-Type") == "api/response" {
			return out
		}
		out = append(out, f)
	}
}

func TestBackgroundJobGoesToEverySubscribedConnection(t *testing.T) {
	_, addr := startProto(t, newTestSwitch(), protocolOptions{Reorder: -1})
	issuer, other, all, none := dialRaw(t, addr), dialRaw(t, addr), dialRaw(t, addr), dialRaw(t, addr)
	for _, c := range []*rawClient{issuer, other, all, none} {
		c.login()
	}
	mustEqual(t, "issuer", issuer.cmd("event plain BACKGROUND_JOB"), "+OK event listener enabled plain")
	mustEqual(t, "other", other.cmd("event plain BACKGROUND_JOB"), "+OK event listener enabled plain")
	mustEqual(t, "all", all.cmd("event plain ALL"), "+OK event listener enabled plain")
	mustEqual(t, "none", none.cmd("event plain CHANNEL_PARK"), "+OK event listener enabled plain")

	issuer.send("bgapi uuid_exists nope\r\nJob-UUID: job-42\r\n\r\n")
	if f := issuer.frame(); f.get("Reply-Text") != "+OK Job-UUID: job-42" || f.get("Job-UUID") != "job-42" {
		t.Fatalf("bgapi reply %q", f.raw)
	}
	for name, c := range map[string]*rawClient{"issuer": issuer, "other": other} {
		f := c.frame()
		if eventHeader(f, "Event-Name") != "BACKGROUND_JOB" || eventHeader(f, "Job-UUID") != "job-42" || f.body[strings.Index(f.body, "\n\n")+2:] != "false" {
			t.Fatalf("%s: got %q %q", name, f.raw, f.body)
		}
	}
	// ALL also sees the API event of the execution, then the job.
	api, job := all.frame(), all.frame()
	mustEqual(t, "API event", eventHeader(api, "Event-Name")+" "+eventHeader(api, "API-Command"), "API uuid_exists")
	mustEqual(t, "job on ALL", eventHeader(job, "Job-UUID"), "job-42")
	// The job was queued everywhere at once; none's next frame is its own reply.
	if fs := none.framesUntilAPI(); len(fs) != 0 {
		t.Fatalf("unsubscribed connection got %d frames: %q", len(fs), fs[0].raw)
	}
}

func TestFilterIsAWhitelist(t *testing.T) {
	p, addr := startProto(t, newTestSwitch(), protocolOptions{Reorder: -1})
	c := dialRaw(t, addr)
	c.login()
	c.cmd("event plain ALL")
	mustEqual(t, "filter", c.cmd("filter variable_tandem_app r1"), "+OK filter added. [variable_tandem_app]=[r1]")
	c.cmd("filter Event-Name BACKGROUND_JOB")
	for i, owner := range []string{"r2", "r1", "r2", "r1", "r3"} {
		p.publish(testEvent(p, "CHANNEL_PARK", "leg", owner, i))
	}
	var got []string
	for _, f := range c.framesUntilAPI() {
		got = append(got, eventHeader(f, "variable_tandem_app")+"#"+eventHeader(f, "Test-N"))
	}
	mustEqual(t, "delivered", strings.Join(got, ","), "r1#1,r1#3")
	if o := p.owners(); len(o) != 1 || o[0] != "r1" {
		t.Fatalf("owners %v", o)
	}
	mustEqual(t, "delete", c.cmd("filter delete variable_tandem_app r1"), "+OK filter deleted. [variable_tandem_app][r1]")
	if o := p.owners(); len(o) != 0 {
		t.Fatalf("owners after delete %v", o)
	}
}

func TestReorderNeverLosesAnEvent(t *testing.T) {
	p, addr := startProto(t, newTestSwitch(), protocolOptions{Reorder: 0.5, Seed: 7})
	c := dialRaw(t, addr)
	c.login()
	c.cmd("event plain CHANNEL_STATE")
	const n = 2000
	for i := range n {
		p.publish(testEvent(p, "CHANNEL_STATE", "leg", "r1", i))
	}
	late := 0
	seen := map[int]bool{}
	for pos := range n {
		f := c.frame()
		i, err := strconv.Atoi(eventHeader(f, "Test-N"))
		if err != nil || seen[i] {
			t.Fatalf("position %d: bad or repeated event %q", pos, f.body)
		}
		seen[i] = true
		if i < pos-1 || i > pos+1 {
			t.Fatalf("event %d delivered at position %d: more than one place out", i, pos)
		}
		if i < pos {
			late++
		}
	}
	if late == 0 {
		t.Fatal("Reorder 0.5 delivered nothing late")
	}
	t.Logf("%d of %d events one place late", late, n)
}

func TestSyncAPIHoldsEventsBack(t *testing.T) {
	sw := newTestSwitch()
	sw.apiGate = make(chan struct{})
	p, addr := startProto(t, sw, protocolOptions{Reorder: -1})
	c := dialRaw(t, addr)
	c.login()
	c.cmd("event plain CHANNEL_ANSWER")
	c.send("api block\r\n\r\n")
	// Wait until the api runs (its hold is on), then publish during it.
	waitFor(t, func() bool {
		for _, cc := range p.live() {
			cc.q.mu.Lock()
			h := cc.q.holding
			cc.q.mu.Unlock()
			if h {
				return true
			}
		}
		return false
	})
	p.publish(testEvent(p, "CHANNEL_ANSWER", "leg", "r1", 1))
	close(sw.apiGate)
	if f := c.frame(); f.get("Content-Type") != "api/response" || f.body != "+OK unblocked\n" {
		t.Fatalf("first frame after a blocking api: %q %q", f.raw, f.body)
	}
	if f := c.frame(); eventHeader(f, "Event-Name") != "CHANNEL_ANSWER" {
		t.Fatalf("held event: %q", f.body)
	}
}

func waitFor(t *testing.T, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatal("condition not reached")
		}
		time.Sleep(time.Millisecond)
	}
}

// TestPublishNeverBlocksOnASilentReader: a client that stops reading
// cannot stall the switch; its queue is bounded and, like FreeSWITCH
// killing a listener that loses events, the connection is dropped.
func TestPublishNeverBlocksOnASilentReader(t *testing.T) {
	p, addr := startProto(t, newTestSwitch(), protocolOptions{Reorder: -1, MaxQueueBytes: 1 << 20})
	silent, frozen, reader := dialRaw(t, addr), dialRaw(t, addr), dialRaw(t, addr)
	for _, c := range []*rawClient{silent, frozen, reader} {
		c.login()
		c.cmd("event plain ALL")
	}
	frozen.cmd("filter variable_tandem_app r9")
	frozen.cmd("filter Event-Name CHANNEL_STATE")
	p.freezeConnections("r9")
	big := strings.Repeat("x", 2000)
	done := make(chan struct{})
	got := make(chan int)
	go func() { // the reader drains its own connection meanwhile
		n := 0
		for n < 20000 {
			f, err := readServerFrame(reader.r)
			if err != nil {
				break
			}
			if eventHeader(f, "Event-Name") == "CHANNEL_STATE" {
				n++
			}
		}
		got <- n
	}()
	go func() {
		defer close(done)
		for i := range 20000 {
			ev := testEvent(p, "CHANNEL_STATE", "leg", "r1", i)
			ev.Headers = append(ev.Headers, Header{Name: "Pad", Value: big})
			p.publish(ev)
		}
	}()
	select {
	case <-done:
	case <-time.After(60 * time.Second):
		t.Fatal("publish blocked")
	}
	if n := <-got; n != 20000 {
		t.Fatalf("the reading connection got %d of 20000 events", n)
	}
	// The silent connection was dropped: reading it ends in EOF, not a timeout.
	_ = silent.nc.SetReadDeadline(time.Now().Add(30 * time.Second))
	_, err := io.Copy(io.Discard, silent.nc)
	var ne net.Error
	if errors.As(err, &ne) && ne.Timeout() {
		t.Fatal("silent connection still open after its queue overflowed")
	}
	if o := p.owners(); len(o) != 1 || o[0] != "r9" {
		t.Fatalf("frozen connection should stay open: owners %v", o)
	}
}

func TestUnauthenticatedConnectionClosedAfter25s(t *testing.T) {
	clock := newManualClock()
	_, addr := startProto(t, newTestSwitch(), protocolOptions{Clock: clock})
	unauth, authed := dialRaw(t, addr), dialRaw(t, addr)
	authed.login()
	if f := unauth.frame(); f.get("Content-Type") != "auth/request" {
		t.Fatalf("greeting %q", f.raw)
	}
	clock.Advance(25 * time.Second)
	if f := unauth.frame(); f.get("Content-Type") != "text/disconnect-notice" || f.body != goodbye {
		t.Fatalf("got %q", f.raw)
	}
	if _, err := readServerFrame(unauth.r); !errors.Is(err, io.EOF) {
		t.Fatalf("after the notice: %v, want EOF", err)
	}
	authed.send("api version\r\n\r\n")
	if f := authed.frame(); f.get("Content-Type") != "api/response" {
		t.Fatalf("authenticated connection after 25 s: %q", f.raw)
	}
}

func TestHeartbeatEvery20s(t *testing.T) {
	clock := newManualClock()
	_, addr := startProto(t, newTestSwitch(), protocolOptions{Clock: clock, Reorder: -1})
	c := dialRaw(t, addr)
	c.login()
	c.cmd("event plain HEARTBEAT")
	clock.Advance(20 * time.Second)
	f1 := c.frame()
	clock.Advance(20 * time.Second)
	f2 := c.frame()
	for _, f := range []serverFrame{f1, f2} {
		if eventHeader(f, "Event-Name") != "HEARTBEAT" || eventHeader(f, "Event-Info") != "System%20Ready" {
			t.Fatalf("heartbeat %q", f.body)
		}
	}
	mustEqual(t, "uptime", eventHeader(f2, "Uptime-msec"), "40000")
}

func TestMalformedFrameEndsOnlyThatConnection(t *testing.T) {
	_, addr := startProto(t, newTestSwitch(), protocolOptions{})
	bad, good := dialRaw(t, addr), dialRaw(t, addr)
	bad.login()
	good.login()
	bad.send("sendevent CUSTOM\r\nno colon here\r\n\r\n")
	if _, err := readServerFrame(bad.r); err == nil {
		t.Fatal("a malformed frame got a reply instead of a close")
	}
	mustEqual(t, "good", good.cmd("event plain ALL"), "+OK event listener enabled plain")
}

func TestOutboundDialFailsWhenNothingAccepts(t *testing.T) {
	p, _ := startProto(t, newTestSwitch(), protocolOptions{})
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	_ = ln.Close()
	if err := p.dialOutbound(context.Background(), []string{addr, addr}, "u"); err == nil {
		t.Fatal("dialOutbound succeeded with no listener")
	}
}

func TestBgapiReplyCutAt511Bytes(t *testing.T) {
	ok := string(bgapiReplyFrame(strings.Repeat("k", 200)))
	if !strings.HasSuffix(ok, "\n\n") {
		t.Fatalf("200-char Job-UUID reply is not complete: %q", ok)
	}
	cut := string(bgapiReplyFrame(strings.Repeat("k", 240)))
	if len(cut) != 538 || strings.HasSuffix(cut, "\n\n") {
		t.Fatalf("240-char Job-UUID reply: %d bytes, want 538 without its blank line", len(cut))
	}
}
