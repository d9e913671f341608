package eslsim

import (
	"bufio"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
)

// traceLine is one line of a recorded trace (shared/esl-traces/*.jsonl):
// a frame the client sent, a frame FreeSWITCH sent, or the tracer's note.
type traceLine struct {
	T       float64 `json:"t"`
	Dir     string  `json:"dir"` // send | recv | note
	Conn    string  `json:"conn"`
	Headers string  `json:"headers"`
	Body    string  `json:"body"`
}

// traceDir finds shared/esl-traces beside the repository (the repo's parent
// directory holds shared/; a git worktree sits one level deeper).
func traceDir(t testing.TB) string {
	t.Helper()
	for _, d := range []string{"../../../shared/esl-traces", "../../../../shared/esl-traces"} {
		if fi, err := os.Stat(d); err == nil && fi.IsDir() {
			return d
		}
	}
	t.Skip("shared/esl-traces not found beside the repository")
	return ""
}

// loadTrace reads one trace file by name (e.g. "01-connect-auth").
func loadTrace(t testing.TB, name string) []traceLine {
	t.Helper()
	f, err := os.Open(filepath.Join(traceDir(t), name+".jsonl"))
	if err != nil {
		t.Fatalf("opening trace: %v", err)
	}
	defer func() { _ = f.Close() }()
	var out []traceLine
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 0, 1<<20), 64<<20)
	for sc.Scan() {
		var l traceLine
		if err := json.Unmarshal(sc.Bytes(), &l); err != nil {
			t.Fatalf("trace %s: %v", name, err)
		}
		out = append(out, l)
	}
	if err := sc.Err(); err != nil {
		t.Fatalf("trace %s: %v", name, err)
	}
	return out
}

// serverFrame is one frame as FreeSWITCH (or the simulator) sent it: the
// raw header block including its blank line, its headers in order, and the
// Content-Length body.
type serverFrame struct {
	raw     string
	headers []Header
	body    string
}

func (f serverFrame) get(name string) string {
	for _, h := range f.headers {
		if h.Name == name {
			return h.Value
		}
	}
	return ""
}

// parseHeaderBlock splits "Name: value\n..." lines (the blank line may be
// present or not).
func parseHeaderBlock(block string) []Header {
	var hs []Header
	for _, line := range strings.Split(strings.TrimRight(block, "\n"), "\n") {
		if line == "" {
			continue
		}
		n, v, _ := strings.Cut(line, ": ")
		hs = append(hs, Header{Name: n, Value: v})
	}
	return hs
}

// readServerFrame reads one server frame: LF-terminated header lines up to
// a blank line, then Content-Length bytes.
func readServerFrame(r *bufio.Reader) (serverFrame, error) {
	var raw strings.Builder
	for {
		line, err := r.ReadString('\n')
		if err != nil {
			if raw.Len() > 0 && errors.Is(err, io.EOF) {
				return serverFrame{}, io.ErrUnexpectedEOF
			}
			return serverFrame{}, err
		}
		raw.WriteString(line)
		if line == "\n" {
			break
		}
	}
	f := serverFrame{raw: raw.String()}
	f.headers = parseHeaderBlock(f.raw)
	if cl := f.get("Content-Length"); cl != "" {
		n, err := strconv.Atoi(cl)
		if err != nil {
			return f, fmt.Errorf("bad Content-Length %q", cl)
		}
		b := make([]byte, n)
		if _, err := io.ReadFull(r, b); err != nil {
			return f, err
		}
		f.body = string(b)
	}
	return f, nil
}

// traceFrame is a recv line as a serverFrame.
func traceFrame(l traceLine) serverFrame {
	return serverFrame{raw: l.Headers, headers: parseHeaderBlock(l.Headers), body: l.Body}
}
