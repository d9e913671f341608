package demo

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"

	"github.com/tandem-cc/tandem/internal/redisserver"
)

// debianPackage provides redis-server on Debian and Ubuntu.
const debianPackage = "redis-server"

// EnsureRedisServer makes sure a redis-server binary is there for the
// demo's private Redis. When it is missing and the process runs as root on
// a machine with apt-get (a fresh Debian), it installs Debian's package,
// writing apt's output to log; otherwise it returns an error naming the
// package to install. It is called by `tandem demo` only, never by tests.
func EnsureRedisServer(ctx context.Context, log io.Writer) error {
	if _, err := redisserver.Binary(); err == nil {
		return nil
	}
	apt, err := exec.LookPath("apt-get")
	if err != nil {
		return fmt.Errorf("redis-server not found and there is no apt-get: install Redis (Debian/Ubuntu package %q), or pass --redis-addr host:port", debianPackage)
	}
	if os.Geteuid() != 0 {
		return fmt.Errorf("redis-server not found: install it with `sudo apt-get install -y %s`, or pass --redis-addr host:port", debianPackage)
	}
	_, _ = fmt.Fprintf(log, "redis-server not found; installing Debian's %s package (apt-get update && apt-get install -y %s)\n", debianPackage, debianPackage)
	for _, args := range [][]string{{"update"}, {"install", "-y", debianPackage}} {
		cmd := exec.CommandContext(ctx, apt, args...)
		cmd.Stdout, cmd.Stderr = log, log
		// Never stop to ask: the demo may run without a terminal.
		cmd.Env = append(os.Environ(), "DEBIAN_FRONTEND=noninteractive")
		if err := cmd.Run(); err != nil {
			return fmt.Errorf("apt-get %v: %w", args, err)
		}
	}
	if _, err := redisserver.Binary(); err != nil {
		return errors.New("redis-server still not found after installing the " + debianPackage + " package")
	}
	return nil
}
