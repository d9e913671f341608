// Package luascript loads a package's embedded Redis Lua scripts the way
// Tandem keeps them: scripts/<name>.lua, one operation per file, with the
// package's shared helpers (scripts/lib.lua) put in front, so each script
// is still one EVALSHA and one round trip however many helpers it uses.
package luascript

import (
	"errors"
	"fmt"
	"io/fs"
	"strings"

	"github.com/redis/go-redis/v9"
)

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
	return redis.NewScript(string(lib) + "\n" + string(body))
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
