-- transfer_agent.lua: blind transfer of a connected call to a named agent,
-- who must be available. The transferring agent goes to wrap-up, the target
-- is reserved and the call is offered to them.
-- KEYS[1] = interaction hash, KEYS[2] = target agent hash
-- ARGV[3] = connection id, ARGV[4] = target agent, ARGV[5] = transferring
-- agent, ARGV[6] = wrap-up time (ms)
-- Returns {endpoint, attempt}. Errors: ILLEGAL <state> (of the call, or
-- 'agent <state>' of the target), NOTFOUND.
local st = redis.call('HGET', KEYS[1], 'state')
if st ~= 'connected' then return redis.error_reply('ILLEGAL ' .. tostring(st)) end
local target = redis.call('HGET', KEYS[2], 'state')
if not target or target == 'logged_out' then return redis.error_reply('NOTFOUND ' .. ARGV[4]) end
if target ~= 'available' then return redis.error_reply('ILLEGAL agent ' .. ARGV[4] .. ' is ' .. target) end
local now = now_ms()
credit_talk(KEYS[1], ARGV[5], now)
after_call(ARGV[5], ARGV[3], now, ARGV[6])
make_unavailable(ARGV[4])
set_agent_state(ARGV[4], 'available', 'reserved', now, ARGV[3])
mark_due(ARGV[4], redis.call('HGET', KEYS[1], 'queue'), now)
local attempt = redis.call('HINCRBY', KEYS[1], 'offers', 1)
redis.call('HSET', KEYS[1], 'state', 'offered', 'offered', now, 'agent', ARGV[4])
-- Talk states (talk.lua) belong to a connected call.
redis.call('HDEL', KEYS[1], 'talk_state')
redis.call('HDEL', KEYS[1], 'agent_leg', 'talk_from')
history('interaction', ARGV[3], 'connected', 'offered', now, {'agent', ARGV[4], 'transfer_from', ARGV[5]})
return {redis.call('HGET', KEYS[2], 'endpoint'), tostring(attempt)}
