-- edit.lua: an agent changes one variable, based on the version they saw.
-- Comparing the version and writing value + version happen in one script,
-- so of several edits based on the same version exactly one wins.
-- KEYS[1] = the interaction's CAD hash
-- ARGV[1] = field ("v:<name>"), ARGV[2] = new value, ARGV[3] = base version,
-- ARGV[4] = the variable's name if it is secure, else '': it joins
-- "_secure" (init.lua), so the end of the call drops its value even if the
-- data were first stored for a queue where it was not defined
-- Returns {1, hash} when the edit was applied (the hash carries the new
-- "_version"), {0, hash} when ARGV[3] is not the current version (nothing
-- changed); hash is field, value, ... as HGETALL returns it.
-- Errors: "NOTFOUND cad" when the interaction has no CAD, or its call has
-- ended: the end (acd's lib.lua close_interaction) drops the secure values
-- and gives the hash an expiry in the same script, so a hash with an
-- expiry is closed. An edit that lost the race with the end would
-- otherwise store a secure value in clear that nothing drops.
local cur = redis.call('HGET', KEYS[1], '_version')
if not cur or redis.call('PTTL', KEYS[1]) ~= -1 then
  return redis.error_reply('NOTFOUND cad')
end
if tonumber(cur) ~= tonumber(ARGV[3]) then
  return {0, redis.call('HGETALL', KEYS[1])}
end
redis.call('HSET', KEYS[1], ARGV[1], ARGV[2])
redis.call('HINCRBY', KEYS[1], '_version', 1)
if ARGV[4] ~= '' then
  local raw = redis.call('HGET', KEYS[1], '_secure')
  local names = raw and cjson.decode(raw) or {}
  local known = false
  for _, n in ipairs(names) do
    if n == ARGV[4] then known = true end
  end
  if not known then
    names[#names + 1] = ARGV[4]
    redis.call('HSET', KEYS[1], '_secure', cjson.encode(names))
  end
end
return {1, redis.call('HGETALL', KEYS[1])}
