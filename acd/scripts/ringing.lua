-- ringing.lua: the agent's phone is ringing for an offered call.
-- KEYS[1] = interaction hash, KEYS[2] = agent hash
-- ARGV[3] = connection id, ARGV[4] = agent id, ARGV[5] = agent leg id
-- Returns 1. Errors: STALE if the offer was withdrawn meanwhile (the caller
-- hung up, or the offer was already given up).
if redis.call('HGET', KEYS[1], 'state') ~= 'offered' or redis.call('HGET', KEYS[1], 'agent') ~= ARGV[4]
  or redis.call('HGET', KEYS[2], 'state') ~= 'reserved' or redis.call('HGET', KEYS[2], 'conn') ~= ARGV[3] then
  return redis.error_reply('STALE offer of ' .. ARGV[3] .. ' to ' .. ARGV[4])
end
local now = now_ms()
redis.call('HSET', KEYS[1], 'agent_leg', ARGV[5])
set_agent_state(ARGV[4], 'reserved', 'ringing', now, ARGV[3])
return 1
