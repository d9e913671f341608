package callbacks

import (
	"embed"

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
	scriptAttach    = script("attach")
	scriptRelease   = script("release")
	scriptDueNow    = script("due_now")
	scriptReveal    = script("reveal")
)

// scriptError turns a script's error reply ("ILLEGAL dialing cancel") into
// the package's sentinel errors, keeping the reply text for context.
func scriptError(err error) error { return luascript.ReplyError(err, replyCodes) }

// replyCodes maps the scripts' error codes to the package's sentinels.
var replyCodes = map[string]error{
	"ILLEGAL":  ErrIllegalTransition,
	"NOTFOUND": ErrNotFound,
	"LEASE":    ErrLeaseLost,
	"STARTED":  ErrDialStarted,
	"EXISTS":   ErrExists,
	"FARAHEAD": errFarAhead,
}
