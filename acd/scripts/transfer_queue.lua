-- transfer_queue.lua: blind transfer of a connected call to a queue. The
-- transferring agent goes to wrap-up; the call waits in the new queue as a
-- new arrival there and is never offered back to that agent; routing is
-- tried at once. Skill requirements the call carried from the IVR are
-- dropped: the new queue's apply (the agent chose that queue).
-- KEYS[1] = interaction hash, KEYS[2] = the new queue's waiting zset
-- ARGV[3] = connection id, ARGV[4] = queue, ARGV[5] = transferring agent,
-- ARGV[6] = wrap-up time (ms)
-- Returns {} or an offer for this node. Errors: ILLEGAL <state>.
local st = redis.call('HGET', KEYS[1], 'state')
if st ~= 'connected' then return redis.error_reply('ILLEGAL ' .. tostring(st)) end
local now = now_ms()
credit_talk(KEYS[1], ARGV[5], now)
after_call(ARGV[5], ARGV[3], now, ARGV[6])
local prio = tonumber(redis.call('HGET', KEYS[1], 'priority') or '0')
local score = string.format('%.0f', (9 - prio) * 1e13 + now)
redis.call('HSET', KEYS[1], 'state', 'queued', 'queue', ARGV[4], 'score', score, 'queued', now, 'exclude', ARGV[5])
-- Talk states (talk.lua) belong to a connected call.
redis.call('HDEL', KEYS[1], 'talk_state')
redis.call('HDEL', KEYS[1], 'agent', 'agent_leg', 'skills', 'talk_from')
redis.call('ZADD', KEYS[2], score, ARGV[3])
history('interaction', ARGV[3], 'connected', 'queued', now, {'queue', ARGV[4], 'transfer_from', ARGV[5]})
return match_queue(ARGV[4], now, ARGV[3]) or {}
