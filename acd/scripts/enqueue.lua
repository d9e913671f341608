-- enqueue.lua: put an arrived call in its queue and try to route it at once.
-- KEYS[1] = interaction hash, KEYS[2] = the queue's waiting zset
-- ARGV[3] = connection id, ARGV[4] = queue, ARGV[5] = priority (0..9, 9 best),
-- ARGV[6] = the call's own skill requirements (JSON, see lib.lua; ''
-- = the queue's), ARGV[7] = the queue's maximum of waiting calls (0 = none),
-- ARGV[8] = the score to wait with ('' = priority band + now; a callback
-- passes the one it keeps its place with)
-- Returns {} or an offer {conn, agent, endpoint, attempt[, agent, endpoint
-- ...]} for this node. Errors: ILLEGAL <state> unless the call is 'arrived';
-- QFULL if the queue holds its maximum (nothing changes).
local st = redis.call('HGET', KEYS[1], 'state')
if st ~= 'arrived' then
  return redis.error_reply('ILLEGAL ' .. tostring(st))
end
local max = tonumber(ARGV[7] or '0')
if max > 0 and redis.call('ZCARD', KEYS[2]) >= max then
  return redis.error_reply('QFULL ' .. ARGV[4])
end
local now = now_ms()
-- Score = priority band + arrival time: a higher priority always sorts
-- first, FIFO within a priority. 1e13 ms is ~300 years, so the bands never
-- overlap, and the largest score (1e14) is exact in a double.
local score = string.format('%.0f', (9 - tonumber(ARGV[5])) * 1e13 + now)
if ARGV[8] and ARGV[8] ~= '' then score = ARGV[8] end
redis.call('HSET', KEYS[1], 'state', 'queued', 'queue', ARGV[4], 'priority', ARGV[5],
  'score', score, 'queued', now)
if ARGV[6] ~= '' then redis.call('HSET', KEYS[1], 'skills', ARGV[6]) end
redis.call('ZADD', KEYS[2], score, ARGV[3])
history('interaction', ARGV[3], 'arrived', 'queued', now, {'queue', ARGV[4]})
-- The new call may be deeper than the head window: it is checked too.
return match_queue(ARGV[4], now, ARGV[3]) or {}
