// Package luascript loads a package's embedded Redis Lua scripts the way
// Tandem keeps them: scripts/<name>.lua, one operation per file, with the
// package's shared helpers (scripts/lib.lua) put in front, so each script
// is still one EVALSHA and one round trip however many helpers it uses.
package luascript

import (
	"context"
	"crypto/sha1"
	"encoding/hex"
	"errors"
	"fmt"
	"io/fs"
	"strings"
	"sync"
	"time"

	"github.com/redis/go-redis/v9"
)

// catalogue maps a loaded script's SHA1 to its name, for the latency hook.
// It is written only while packages initialise (Load runs from their
// package-level vars), then only read: a table of constants built at
// start, not state that changes while Tandem runs.
var catalogue sync.Map // sha1 hex → name

// Load returns scripts/<name>.lua of files with scripts/lib.lua in front
// (a package without a lib.lua gets the script alone). The files are
// embedded at build time, so a missing script is a programming error and
// panics at package initialisation.
func Load(files fs.FS, name string) *redis.Script {
	lib, err := fs.ReadFile(files, "scripts/lib.lua")
	if errors.Is(err, fs.ErrNotExist) {
		lib = nil
	} else if err != nil {
		panic(fmt.Sprintf("embedded lib.lua: %v", err))
	}
	body, err := fs.ReadFile(files, "scripts/"+name+".lua")
	if err != nil {
		panic(fmt.Sprintf("embedded %s.lua: %v", name, err))
	}
	sc := redis.NewScript(string(lib) + "\n" + string(body))
	catalogue.Store(sc.Hash(), name)
	return sc
}

// Name is the name a script was loaded under, from its SHA1.
func Name(sha string) (string, bool) {
	v, ok := catalogue.Load(strings.ToLower(sha))
	if !ok {
		return "", false
	}
	name, ok := v.(string)
	return name, ok
}

// Hook is a go-redis hook that times every script Tandem loaded with
// Load: observe gets the script's name and the command's latency (one
// EVALSHA, or the EVAL go-redis falls back to the first time). Scripts
// queued in a pipeline are not timed one by one (the pipeline is one
// round trip); nothing else is observed.
func Hook(observe func(script string, d time.Duration)) redis.Hook { return scriptHook{observe} }

type scriptHook struct{ observe func(string, time.Duration) }

func (scriptHook) DialHook(next redis.DialHook) redis.DialHook { return next }

func (scriptHook) ProcessPipelineHook(next redis.ProcessPipelineHook) redis.ProcessPipelineHook {
	return next
}

func (h scriptHook) ProcessHook(next redis.ProcessHook) redis.ProcessHook {
	return func(ctx context.Context, cmd redis.Cmder) error {
		name, ok := scriptOf(cmd)
		if !ok {
			return next(ctx, cmd)
		}
		start := time.Now()
		err := next(ctx, cmd)
		var reply redis.Error
		if errors.As(err, &reply) && strings.HasPrefix(reply.Error(), "NOSCRIPT") {
			return err // not run: go-redis sends the EVAL next, timed then
		}
		h.observe(name, time.Since(start))
		return err
	}
}

// scriptOf names the script an EVALSHA or EVAL runs, if Load loaded it.
func scriptOf(cmd redis.Cmder) (string, bool) {
	args := cmd.Args()
	if len(args) < 2 {
		return "", false
	}
	arg, ok := args[1].(string)
	if !ok {
		return "", false
	}
	switch strings.ToLower(cmd.Name()) {
	case "evalsha", "evalsha_ro":
		return Name(arg)
	case "eval", "eval_ro":
		sum := sha1.Sum([]byte(arg))
		return Name(hex.EncodeToString(sum[:]))
	}
	return "", false
}

// ReplyError turns a script's error reply into a sentinel error. Scripts
// reply "<CODE> <details>" (e.g. "ILLEGAL dialing cancel"); codes maps a
// code to the sentinel it stands for. The reply text is kept for context;
// an unknown code (or a Redis error) is returned as it is.
func ReplyError(err error, codes map[string]error) error {
	if err == nil {
		return nil
	}
	msg := err.Error()
	code, _, _ := strings.Cut(msg, " ")
	if sentinel, ok := codes[code]; ok {
		return fmt.Errorf("%s: %w", msg, sentinel)
	}
	return err
}
