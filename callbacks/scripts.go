package callbacks

import (
	"embed"
	"fmt"
	"strings"

	"github.com/redis/go-redis/v9"

	"github.com/tandem-cc/tandem/internal/luascript"
)

//go:embed scripts/*.lua
var scriptFiles embed.FS

// script loads scripts/<name>.lua with lib.lua in front of it.
func script(name string) *redis.Script { return luascript.Load(scriptFiles, name) }

// The scripts, each documented at the top of its file. They are immutable
// after package initialisation.
var (
	scriptCreate    = script("create")
	scriptCancel    = script("cancel")
	scriptClaim     = script("claim")
	scriptExtend    = script("extend")
	scriptStartDial = script("start_dial")
	scriptComplete  = script("complete")
	scriptReclaim   = script("reclaim")
)

// scriptError turns a script's error reply ("ILLEGAL dialing cancel") into
// the package's sentinel errors, keeping the reply text for context.
func scriptError(err error) error {
	if err == nil {
		return nil
	}
	msg := err.Error()
	switch {
	case strings.HasPrefix(msg, "ILLEGAL"):
		return fmt.Errorf("%s: %w", msg, ErrIllegalTransition)
	case strings.HasPrefix(msg, "NOTFOUND"):
		return fmt.Errorf("%s: %w", msg, ErrNotFound)
	case strings.HasPrefix(msg, "LEASE"):
		return fmt.Errorf("%s: %w", msg, ErrLeaseLost)
	case strings.HasPrefix(msg, "STARTED"):
		return fmt.Errorf("%s: %w", msg, ErrDialStarted)
	case strings.HasPrefix(msg, "EXISTS"):
		return fmt.Errorf("%s: %w", msg, ErrExists)
	}
	return err
}
