-- callback_start.lua: start callback. The caller leaves the queue to give
-- a number for a courtesy callback; the interaction remembers its score
-- (its place in line), which the callback will wait with, or which cancel
-- (callback_cancel.lua) puts it back with. From 'arrived' (an IVR branch
-- or a treatment before queueing) the place is the call's arrival in
-- queue's priority band.
-- KEYS[1] = interaction hash, KEYS[2] = the queue's waiting zset
-- ARGV[3] = connection id, ARGV[4] = queue, ARGV[5] = priority (0..9)
-- Returns the score kept. Errors: ILLEGAL <state> unless queued or arrived.
local f = redis.call('HMGET', KEYS[1], 'state', 'score', 'queue', 'arrived')
local st = f[1]
if st ~= 'queued' and st ~= 'arrived' then
  return redis.error_reply('ILLEGAL ' .. tostring(st))
end
local now = now_ms()
local score = f[2]
if st == 'queued' then
  redis.call('ZREM', k_waiting(f[3]), ARGV[3])
else
  score = string.format('%.0f', (9 - tonumber(ARGV[5])) * 1e13 + tonumber(f[4]))
  redis.call('HSET', KEYS[1], 'queue', ARGV[4], 'priority', ARGV[5], 'score', score)
end
redis.call('HSET', KEYS[1], 'state', 'callback')
history('interaction', ARGV[3], st, 'callback', now, {'queue', ARGV[4]})
return score
