package cad

import (
	"embed"

	"github.com/redis/go-redis/v9"

	"github.com/tandem-cc/tandem/internal/luascript"
)

//go:embed scripts/*.lua
var scriptFiles embed.FS

// script loads scripts/<name>.lua; the contract (KEYS, ARGV, reply) is the
// comment at the top of each file.
func script(name string) *redis.Script { return luascript.Load(scriptFiles, name) }

// The scripts are immutable after package initialisation.
var (
	scriptInit   = script("init")
	scriptEdit   = script("edit")
	scriptReveal = script("reveal")
)
