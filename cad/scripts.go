package cad

import (
	"embed"
	"fmt"

	"github.com/redis/go-redis/v9"
)

//go:embed scripts/*.lua
var scriptFiles embed.FS

// script loads scripts/<name>.lua; the contract (KEYS, ARGV, reply) is the
// comment at the top of each file.
func script(name string) *redis.Script {
	body, err := scriptFiles.ReadFile("scripts/" + name + ".lua")
	if err != nil {
		panic(fmt.Sprintf("embedded %s.lua: %v", name, err)) // cannot happen: embedded at build time
	}
	return redis.NewScript(string(body))
}

// The scripts are immutable after package initialisation.
var (
	scriptInit   = script("init")
	scriptEdit   = script("edit")
	scriptReveal = script("reveal")
)
