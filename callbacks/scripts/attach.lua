-- attach.lua: remember the interaction (connection id) and agent leg the
-- holder serves the callback with, so a replica that takes over after its
-- death can clean them up or continue them.
-- KEYS[1] = callback hash
-- ARGV[2] = id, ARGV[3] = node, ARGV[4] = connection id, ARGV[5] = agent
-- leg ('' = none yet)
-- Returns 1. Errors: NOTFOUND; LEASE if node does not hold the callback.
local err = held(KEYS[1], ARGV[2], ARGV[3])
if err then return err end
redis.call('HSET', KEYS[1], 'conn', ARGV[4], 'agent_leg', ARGV[5])
return 1
