// Package redisserver starts a private redis-server on a free loopback port.
// Tests and `tandem demo` use it so that they never touch a Redis they did
// not start (a developer's machine may already run one on 6379).
//
// Beside the throw-away server of Start, StartWith runs one with AOF
// persistence or as a replica, and StartSentinel a Redis Sentinel: the
// high-availability tests build a primary, its replica and Sentinels from
// them, all from Debian's redis-server binary.
package redisserver

import (
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"time"

	"github.com/redis/go-redis/v9"
)

// Server is a running redis-server (or Sentinel) child process.
type Server struct {
	Addr string
	// Dir holds the server's files (AOF, logs, the Sentinel's config).
	Dir string

	bin  string
	args func(port int) []string
	port int
	cmd  *exec.Cmd
	done chan error
}

// Config shapes a server started by StartWith. The zero value is Start's
// server: no persistence at all.
type Config struct {
	// AppendOnly turns AOF persistence on (appendonly yes), with Fsync as
	// appendfsync: "always", "everysec" (the default) or "no".
	AppendOnly bool
	Fsync      string
	// ReplicaOf makes the server a replica of this host:port.
	ReplicaOf string
}

// Binary finds redis-server on PATH or in Debian's location.
func Binary() (string, error) {
	return find("redis-server", "install Debian's redis-server package (apt-get install -y redis-server)")
}

// SentinelBinary finds redis-sentinel (Debian's redis-sentinel package).
// In Debian both names are links to the same executable, which runs as a
// Sentinel when called redis-sentinel or given --sentinel; so without the
// package, redis-server with --sentinel is used.
func SentinelBinary() (bin string, sentinelFlag bool, err error) {
	if p, err := find("redis-sentinel", ""); err == nil {
		return p, false, nil
	}
	p, err := Binary()
	return p, true, err
}

func find(name, hint string) (string, error) {
	if p, err := exec.LookPath(name); err == nil {
		return p, nil
	}
	for _, dir := range []string{"/usr/bin", "/usr/local/bin"} {
		p := filepath.Join(dir, name)
		if _, err := os.Stat(p); err == nil {
			return p, nil
		}
	}
	return "", fmt.Errorf("%s not found: %s", name, hint)
}

// Start runs redis-server with no persistence on 127.0.0.1 and a free port,
// and returns once it answers PING. The process ends when Stop is called.
func Start(ctx context.Context) (*Server, error) {
	return StartWith(ctx, Config{})
}

// StartWith runs redis-server as cfg says on 127.0.0.1 and a free port, and
// returns once it answers PING.
func StartWith(ctx context.Context, cfg Config) (*Server, error) {
	bin, err := Binary()
	if err != nil {
		return nil, err
	}
	dir, err := os.MkdirTemp("", "tandem-redis-")
	if err != nil {
		return nil, fmt.Errorf("redis temp dir: %w", err)
	}
	s := &Server{Dir: dir, bin: bin, done: make(chan error, 1)}
	s.args = func(port int) []string {
		args := []string{
			"--port", strconv.Itoa(port), "--bind", "127.0.0.1",
			"--save", "", "--dir", dir, "--logfile", filepath.Join(dir, "redis.log"),
		}
		if cfg.AppendOnly {
			fsync := cfg.Fsync
			if fsync == "" {
				fsync = "everysec"
			}
			args = append(args, "--appendonly", "yes", "--appendfsync", fsync)
		} else {
			args = append(args, "--appendonly", "no")
		}
		if cfg.ReplicaOf != "" {
			host, port, err := net.SplitHostPort(cfg.ReplicaOf)
			if err == nil {
				args = append(args, "--replicaof", host, port)
			}
		}
		return args
	}
	if err := s.startOnFreePort(ctx); err != nil {
		_ = os.RemoveAll(dir)
		return nil, err
	}
	return s, nil
}

// SentinelConfig shapes a Sentinel started by StartSentinel.
type SentinelConfig struct {
	// MasterName is the name the Sentinel monitors Primary (host:port) as.
	MasterName string
	Primary    string
	// Quorum is how many Sentinels must agree that the primary is down
	// (default 1).
	Quorum int
	// DownAfter is how long the primary may not answer before it is
	// thought down (default 30s, Sentinel's own default: on a loaded test
	// machine a short one fails a healthy primary over; a test that
	// wants an automatic failover sets it).
	DownAfter time.Duration
	// FailoverTimeout bounds one failover attempt (default 10s, against
	// Sentinel's 3 min: a test's failover that stalls fails soon).
	FailoverTimeout time.Duration
}

// StartSentinel runs a Redis Sentinel monitoring cfg.Primary on 127.0.0.1
// and a free port, and returns once it answers PING. A Sentinel rewrites
// its configuration file as it learns replicas and other Sentinels, so the
// file lives in the server's own directory.
func StartSentinel(ctx context.Context, cfg SentinelConfig) (*Server, error) {
	bin, flag, err := SentinelBinary()
	if err != nil {
		return nil, err
	}
	host, pport, err := net.SplitHostPort(cfg.Primary)
	if err != nil {
		return nil, fmt.Errorf("sentinel primary %q: %w", cfg.Primary, err)
	}
	if cfg.Quorum <= 0 {
		cfg.Quorum = 1
	}
	if cfg.DownAfter <= 0 {
		cfg.DownAfter = 30 * time.Second
	}
	if cfg.FailoverTimeout <= 0 {
		cfg.FailoverTimeout = 10 * time.Second
	}
	dir, err := os.MkdirTemp("", "tandem-sentinel-")
	if err != nil {
		return nil, fmt.Errorf("sentinel temp dir: %w", err)
	}
	conf := filepath.Join(dir, "sentinel.conf")
	m := cfg.MasterName
	text := fmt.Sprintf("sentinel monitor %s %s %s %d\n"+
		"sentinel down-after-milliseconds %s %d\n"+
		"sentinel failover-timeout %s %d\n"+
		"sentinel parallel-syncs %s 1\n",
		m, host, pport, cfg.Quorum, m, cfg.DownAfter.Milliseconds(), m, cfg.FailoverTimeout.Milliseconds(), m)
	if err := os.WriteFile(conf, []byte(text), 0o600); err != nil {
		_ = os.RemoveAll(dir)
		return nil, fmt.Errorf("write sentinel config: %w", err)
	}
	s := &Server{Dir: dir, bin: bin, done: make(chan error, 1)}
	s.args = func(port int) []string {
		args := []string{conf}
		if flag {
			args = append(args, "--sentinel")
		}
		return append(args, "--port", strconv.Itoa(port), "--bind", "127.0.0.1",
			"--dir", dir, "--logfile", filepath.Join(dir, "sentinel.log"))
	}
	if err := s.startOnFreePort(ctx); err != nil {
		_ = os.RemoveAll(dir)
		return nil, err
	}
	return s, nil
}

// startOnFreePort starts the server on a free port. A port can be taken
// between probing it and redis binding it; retry.
func (s *Server) startOnFreePort(ctx context.Context) error {
	var lastErr error
	for attempt := 0; attempt < 5; attempt++ {
		port, err := freePort()
		if err != nil {
			return err
		}
		if lastErr = s.run(ctx, port); lastErr == nil {
			return nil
		}
	}
	return fmt.Errorf("redis-server did not start: %w", lastErr)
}

// run starts the process on port and waits for PING; on failure the
// process is gone.
func (s *Server) run(ctx context.Context, port int) error {
	s.port = port
	s.Addr = net.JoinHostPort("127.0.0.1", strconv.Itoa(port))
	s.done = make(chan error, 1)
	s.cmd = exec.Command(s.bin, s.args(port)...)
	if err := s.cmd.Start(); err != nil {
		return fmt.Errorf("start %s: %w", s.bin, err)
	}
	cmd, done := s.cmd, s.done
	go func() { done <- cmd.Wait() }()
	if err := s.waitReady(ctx); err != nil {
		s.kill()
		return err
	}
	return nil
}

func (s *Server) waitReady(ctx context.Context) error {
	c := redis.NewClient(&redis.Options{Addr: s.Addr, MaxRetries: -1})
	defer func() { _ = c.Close() }()
	deadline := time.Now().Add(20 * time.Second)
	for time.Now().Before(deadline) {
		select {
		case err := <-s.done:
			s.done <- err
			return fmt.Errorf("redis-server exited: %v (log in %s)", err, s.Dir)
		case <-ctx.Done():
			return ctx.Err()
		default:
		}
		// A server loading its AOF answers PING with LOADING: not ready.
		if err := c.Ping(ctx).Err(); err == nil {
			return nil
		}
		time.Sleep(5 * time.Millisecond)
	}
	return errors.New("timed out waiting for PING")
}

func (s *Server) kill() {
	if s.cmd != nil && s.cmd.Process != nil {
		_ = s.cmd.Process.Kill()
	}
	<-s.done //nolint:errcheck // a killed server always exits with "signal: killed"
	s.cmd = nil
}

// Kill ends the server at once (SIGKILL), as a crash would, and keeps its
// directory, so Restart can bring it back from its files.
func (s *Server) Kill() {
	if s.cmd != nil {
		s.kill()
	}
}

// Shutdown stops the server cleanly with SHUTDOWN (which writes and fsyncs
// the AOF, whatever the fsync policy) and waits for the process to exit;
// the directory is kept for Restart.
func (s *Server) Shutdown(ctx context.Context) error {
	if s.cmd == nil {
		return errors.New("redis-server is not running")
	}
	c := redis.NewClient(&redis.Options{Addr: s.Addr, MaxRetries: -1})
	defer func() { _ = c.Close() }()
	// go-redis reads the connection closed by a successful SHUTDOWN as
	// success.
	if err := c.Shutdown(ctx).Err(); err != nil {
		return fmt.Errorf("SHUTDOWN %s: %w", s.Addr, err)
	}
	select {
	case err := <-s.done:
		s.done <- err
		s.cmd = nil
		return nil
	case <-ctx.Done():
		return fmt.Errorf("wait for redis-server %s to exit: %w", s.Addr, ctx.Err())
	}
}

// Restart starts the server again on the same port, with the same
// configuration and directory (so an AOF is loaded back), after Shutdown
// or Kill, and returns once it answers PING.
func (s *Server) Restart(ctx context.Context) error {
	if s.cmd != nil {
		return errors.New("redis-server is still running")
	}
	// The port was free a moment ago; retry briefly in case the old
	// process's socket is not released yet.
	var err error
	for attempt := 0; attempt < 5; attempt++ {
		if err = s.run(ctx, s.port); err == nil {
			return nil
		}
		if ctx.Err() != nil {
			break
		}
		time.Sleep(100 * time.Millisecond)
	}
	return fmt.Errorf("restart redis-server on %s: %w", s.Addr, err)
}

// Stop ends the server and removes its directory.
func (s *Server) Stop() {
	s.Kill()
	_ = os.RemoveAll(s.Dir)
}

func freePort() (int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, fmt.Errorf("find a free port: %w", err)
	}
	defer func() { _ = l.Close() }()
	return l.Addr().(*net.TCPAddr).Port, nil
}
