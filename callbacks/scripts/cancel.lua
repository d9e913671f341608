-- cancel.lua: cancel a pending callback.
-- KEYS[1] = callback hash
-- ARGV[2] = id
-- Returns the record (HGETALL). Errors: NOTFOUND; ILLEGAL <state> cancel
-- unless it is pending (one being dialled cannot be cancelled).
local st = redis.call('HGET', KEYS[1], 'state')
if not st then return redis.error_reply('NOTFOUND ' .. ARGV[2]) end
if st ~= 'pending' then
  return redis.error_reply('ILLEGAL ' .. st .. ' cancel')
end
finish(KEYS[1], ARGV[2], 'cancelled', now_ms())
return redis.call('HGETALL', KEYS[1])
