-- callback_cancel.lua: cancel callback. A caller who started a callback
-- and cancelled goes back to the queue in the place they had (same score),
-- and routing is tried at once.
-- KEYS[1] = interaction hash, KEYS[2] = the queue's waiting zset
-- ARGV[3] = connection id
-- Returns {} or an offer for this node. Errors: ILLEGAL <state> unless the
-- call is in 'callback'.
local f = redis.call('HMGET', KEYS[1], 'state', 'score', 'queue')
if f[1] ~= 'callback' then
  return redis.error_reply('ILLEGAL ' .. tostring(f[1]))
end
local now = now_ms()
redis.call('HSET', KEYS[1], 'state', 'queued')
if not redis.call('HGET', KEYS[1], 'queued') then redis.call('HSET', KEYS[1], 'queued', now) end
redis.call('ZADD', KEYS[2], f[2], ARGV[3])
history('interaction', ARGV[3], 'callback', 'queued', now, {'queue', f[3], 'why', 'callback_cancelled'})
return match_queue(f[3], now, ARGV[3]) or {}
