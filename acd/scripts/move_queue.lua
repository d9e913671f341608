-- move_queue.lua: overflow. A waiting call moves to another queue with its
-- score unchanged, so it keeps its original arrival time (and priority)
-- there: fairness to callers who waited longest. Routing is tried in the
-- new queue in the same round trip.
-- KEYS[1] = interaction hash, KEYS[2] = old queue's waiting zset,
-- KEYS[3] = new queue's waiting zset
-- ARGV[3] = connection id, ARGV[4] = new queue, ARGV[5] = why
-- Returns {} or an offer for this node. Errors: ILLEGAL <state>.
local st = redis.call('HGET', KEYS[1], 'state')
if st ~= 'queued' then return redis.error_reply('ILLEGAL ' .. tostring(st)) end
local now = now_ms()
local score = redis.call('HGET', KEYS[1], 'score')
local from = redis.call('HGET', KEYS[1], 'queue')
redis.call('ZREM', KEYS[2], ARGV[3])
redis.call('ZADD', KEYS[3], score, ARGV[3])
redis.call('HSET', KEYS[1], 'queue', ARGV[4])
history('interaction', ARGV[3], 'queued', 'queued', now, {'from_queue', from, 'queue', ARGV[4], 'why', ARGV[5]})
return match_queue(ARGV[4], now, ARGV[3]) or {}
