-- edit.lua: an agent changes one variable, based on the version they saw.
-- Comparing the version and writing value + version happen in one script,
-- so of several edits based on the same version exactly one wins.
-- KEYS[1] = the interaction's CAD hash
-- ARGV[1] = field ("v:<name>"), ARGV[2] = new value, ARGV[3] = base version
-- Returns {1, hash} when the edit was applied (the hash carries the new
-- "_version"), {0, hash} when ARGV[3] is not the current version (nothing
-- changed); hash is field, value, ... as HGETALL returns it.
-- Errors: "NOTFOUND cad" when the interaction has no CAD.
local cur = redis.call('HGET', KEYS[1], '_version')
if not cur then return redis.error_reply('NOTFOUND cad') end
if tonumber(cur) ~= tonumber(ARGV[3]) then
  return {0, redis.call('HGETALL', KEYS[1])}
end
redis.call('HSET', KEYS[1], ARGV[1], ARGV[2])
redis.call('HINCRBY', KEYS[1], '_version', 1)
return {1, redis.call('HGETALL', KEYS[1])}
