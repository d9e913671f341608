package acd

import (
	"embed"

	"github.com/redis/go-redis/v9"

	"github.com/tandem-cc/tandem/errs"

	"github.com/tandem-cc/tandem/internal/luascript"
)

//go:embed scripts/*.lua
var scriptFiles embed.FS

// luaScript is a loaded script and its name (errors about its reply name
// it).
type luaScript struct {
	name string
	*redis.Script
}

// script loads scripts/<name>.lua with lib.lua in front of it.
func script(name string) luaScript {
	return luaScript{name: name, Script: luascript.Load(scriptFiles, name)}
}

// The scripts, each documented at the top of its file. They are immutable
// after package initialisation.
var (
	scriptArrive   = script("arrive")
	scriptEnqueue  = script("enqueue")
	scriptRinging  = script("ringing")
	scriptConnect  = script("connect")
	scriptNoAnswer = script("no_answer")
	scriptFinish   = script("finish")
	scriptSweep    = script("sweep")
	scriptLogin    = script("login")
	scriptSetState = script("set_state")

	scriptWrapUp        = script("wrapup")
	scriptWrapUpExpire  = script("wrapup_expire")
	scriptReserveAgent  = script("reserve_agent")
	scriptAgentStep     = script("agent_step")
	scriptTransferQueue = script("transfer_queue")
	scriptTransferAgent = script("transfer_agent")
	scriptHandOver      = script("hand_over")
	scriptTalk          = script("talk")

	scriptCallbackStart  = script("callback_start")
	scriptCallbackCancel = script("callback_cancel")
	scriptAdopt          = script("adopt")
	scriptCountCall      = script("count_call")

	scriptSeatAcquire = script("seat_acquire")
	scriptSeatClaim   = script("seat_claim")
	scriptSeatRenew   = script("seat_renew")
	scriptSeatRelease = script("seat_release")
	scriptGiveBack    = script("give_back")

	scriptStateCounts = script("state_counts")
)

// scriptError turns a script's error reply ("ILLEGAL idle") into the
// package's sentinel errors, keeping the reply text for context.
func scriptError(err error) error { return luascript.ReplyError(err, replyCodes) }

// replyCodes maps the scripts' error codes to the package's sentinels.
var replyCodes = map[string]error{
	"ILLEGAL":  ErrIllegalTransition,
	"STALE":    ErrStale,
	"NOTFOUND": ErrNotFound,
	"EXISTS":   ErrExists,
	"FULL":     ErrFull,
	"QFULL":    ErrQueueFull,
	"NOTDUE":   ErrNotDue,
	"FENCED":   errs.ErrFenced,
}
