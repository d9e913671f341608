-- finish.lua: the call is over (a leg hung up, or it could not be served).
-- A connected call ends 'ended'; one that never reached an agent ends
-- 'abandoned' (the caller hung up) or 'failed' (Tandem gave up). The agent
-- bound to it, if any, is available again and is offered the next waiting
-- call of its queues in the same round trip: that is the hand-off. An
-- agent who talked goes to wrap-up first.
-- KEYS[1] = interaction hash
-- ARGV[3] = connection id, ARGV[4] = 'hangup' or 'failed', ARGV[5] = who
-- ended it ('caller', 'agent', 'system'), ARGV[6] = wrap-up time (ms)
-- Returns {final state} or {final state, conn, agent, endpoint, attempt}.
-- Errors: ILLEGAL <state> if already final, NOTFOUND if unknown.
local st = redis.call('HGET', KEYS[1], 'state')
if not st then return redis.error_reply('NOTFOUND ' .. ARGV[3]) end
if st == 'ended' or st == 'abandoned' or st == 'failed' then
  return redis.error_reply('ILLEGAL ' .. st)
end
local now = now_ms()
local to
if st == 'connected' then
  to = 'ended'
elseif ARGV[4] == 'failed' then
  to = 'failed'
else
  to = 'abandoned'
end
local q = redis.call('HGET', KEYS[1], 'queue')
if q then redis.call('ZREM', k_waiting(q), ARGV[3]) end
redis.call('HSET', KEYS[1], 'state', to, 'ended', now, 'ended_by', ARGV[5])
if to ~= 'ended' then
  local queued = redis.call('HGET', KEYS[1], 'queued')
  if queued then redis.call('HSET', KEYS[1], 'wait_ms', now - tonumber(queued)) end
end
history('interaction', ARGV[3], st, to, now, {'by', ARGV[5]})
if redis.call('HGET', KEYS[1], 'counted') == '1' then
  redis.call('DECR', k_active())
  redis.call('HSET', KEYS[1], 'counted', '0')
end
local offer = after_call(redis.call('HGET', KEYS[1], 'agent'), ARGV[3], now, ARGV[6])
local out = {to}
if offer then
  for i = 1, #offer do out[#out + 1] = offer[i] end
end
return out
