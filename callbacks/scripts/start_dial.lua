-- start_dial.lua: record that the holder is about to originate the next
-- attempt, so a reclaim after its death counts that attempt as failed
-- instead of silently re-using its number.
-- KEYS[1] = callback hash
-- ARGV[2] = id, ARGV[3] = node
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
redis.call('HSET', KEYS[1], 'started', n, 'started_at', now_ms())
return n
