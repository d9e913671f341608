-- ringing.lua: the agent's phone is ringing for an offered call.
-- KEYS[1] = interaction hash, KEYS[2] = agent hash
-- ARGV[3] = connection id, ARGV[4] = agent id, ARGV[5] = agent leg id
-- For a ring-all offer, each agent's leg is kept as 'leg:<agent>' until
-- one answers (ring_answered.lua); otherwise it is 'agent_leg'.
-- Returns 1. Errors: STALE if the offer was withdrawn meanwhile (the caller
-- hung up, or the offer was already given up).
local members, ring = ring_members(KEYS[1])
if redis.call('HGET', KEYS[1], 'state') ~= 'offered' or not contains(members, ARGV[4])
  or redis.call('HGET', KEYS[2], 'state') ~= 'reserved' or redis.call('HGET', KEYS[2], 'conn') ~= ARGV[3] then
  return redis.error_reply('STALE offer of ' .. ARGV[3] .. ' to ' .. ARGV[4])
end
local now = now_ms()
if ring then
  redis.call('HSET', KEYS[1], 'leg:' .. ARGV[4], ARGV[5])
else
  redis.call('HSET', KEYS[1], 'agent_leg', ARGV[5])
end
set_agent_state(ARGV[4], 'reserved', 'ringing', now, ARGV[3])
-- The ring timer starts now: the deadline moves with it.
mark_due(ARGV[4], redis.call('HGET', KEYS[1], 'queue'), now)
return 1
