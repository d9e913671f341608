-- connect.lua: the agent answered; caller and agent are being bridged.
-- KEYS[1] = interaction hash, KEYS[2] = agent hash
-- ARGV[3] = connection id, ARGV[4] = agent id, ARGV[5] = agent leg id
-- Returns the answer time. Errors: STALE unless this leg is the live offer
-- (a ring-all offer must first be given to one agent: ring_answered.lua).
if redis.call('HGET', KEYS[1], 'state') ~= 'offered' or redis.call('HGET', KEYS[1], 'agent') ~= ARGV[4]
  or redis.call('HGET', KEYS[1], 'agent_leg') ~= ARGV[5] or redis.call('HEXISTS', KEYS[1], 'ring') == 1 then
  return redis.error_reply('STALE answer of ' .. ARGV[5])
end
local now = now_ms()
redis.call('HSET', KEYS[1], 'state', 'connected', 'talk_state', 'talking', 'answered', now, 'talk_from', now,
  'wait_ms', now - tonumber(redis.call('HGET', KEYS[1], 'queued')))
history('interaction', ARGV[3], 'offered', 'connected', now, {'agent', ARGV[4]})
set_agent_state(ARGV[4], redis.call('HGET', KEYS[2], 'state'), 'connected', now, ARGV[3])
clear_due(ARGV[4])
-- Calls answered today (fewest_calls ranks by it).
count_day(ARGV[4], 'calls', 1, now)
return now
