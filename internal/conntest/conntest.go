// Package conntest holds what tests of Tandem's servers need to watch a
// raw TCP connection: open one, and wait until the server closes it.
package conntest

import (
	"errors"
	"io"
	"net"
	"testing"
	"time"
)

// Dial opens a TCP connection to addr, closed when the test ends.
func Dial(t testing.TB, addr string) net.Conn {
	t.Helper()
	conn, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = conn.Close() })
	return conn
}

// WaitClosedByServer reads r (conn, or a reader buffering it) until the
// server closes conn. It is a bound, not a timing check: 10 s passing
// first means the server kept the connection open, and fails the test.
func WaitClosedByServer(t testing.TB, conn net.Conn, r io.Reader) {
	t.Helper()
	_ = conn.SetReadDeadline(time.Now().Add(10 * time.Second))
	_, err := io.Copy(io.Discard, r)
	var ne net.Error
	if errors.As(err, &ne) && ne.Timeout() {
		t.Fatal("the server kept the connection open")
	}
}
