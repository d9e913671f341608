-- start_dial.lua: record that the holder is about to originate the next
-- attempt, and which leg it will ring through which PBX owner, so that a
-- replica taking over after its death continues that very leg instead of
-- dialling again (exactly one dial per attempt).
-- KEYS[1] = callback hash
-- ARGV[2] = id, ARGV[3] = node, ARGV[4] = leg id, ARGV[5] = PBX owner of
-- the leg (the Stasis application)
-- Returns the attempt number started (attempts recorded + 1). Errors:
-- NOTFOUND; LEASE if node does not hold the callback; STARTED if this
-- attempt was already started (never two dials for one attempt).
local err = held(KEYS[1], ARGV[2], ARGV[3])
if err then return err end
local f = redis.call('HMGET', KEYS[1], 'attempts', 'started')
local n = tonumber(f[1]) + 1
if f[2] then
  return redis.error_reply('STARTED ' .. ARGV[2] .. ' attempt ' .. f[2])
end
redis.call('HSET', KEYS[1], 'started', n, 'started_at', now_ms(), 'leg', ARGV[4], 'owner', ARGV[5])
return n
