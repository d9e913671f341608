-- ring_answered.lua: one agent of a ring-all offer answered. The call is
-- now offered to that agent alone (its leg becomes the call's agent leg,
-- so connect.lua accepts it); every other agent rung is released at once:
-- available again and offered the next waiting call, in the same round
-- trip (or idle, if they asked for idle meanwhile).
-- KEYS[1] = interaction hash
-- ARGV[3] = connection id, ARGV[4] = the agent who answered
-- Returns {{released agent ids}, offer, offer, ...}: the offers for this
-- node made to the released agents (others went to their inboxes). For an
-- offer made to one agent only, releases nobody and returns {{}}.
-- Errors: STALE unless the call is offered to that agent and the agent is
-- still reserved or ringing for it.
local members, ring = ring_members(KEYS[1])
local a = k_agent(ARGV[4])
local ast = redis.call('HGET', a, 'state')
if redis.call('HGET', KEYS[1], 'state') ~= 'offered' or not contains(members, ARGV[4])
  or (ast ~= 'reserved' and ast ~= 'ringing') or redis.call('HGET', a, 'conn') ~= ARGV[3] then
  return redis.error_reply('STALE ring-all answer of ' .. ARGV[3] .. ' by ' .. ARGV[4])
end
if not ring then return {{}} end
local now = now_ms()
local leg = redis.call('HGET', KEYS[1], 'leg:' .. ARGV[4])
clear_ring(KEYS[1], members)
redis.call('HSET', KEYS[1], 'agent', ARGV[4])
if leg then redis.call('HSET', KEYS[1], 'agent_leg', leg) end
history('interaction', ARGV[3], 'offered', 'offered', now, {'agent', ARGV[4], 'ring_all', 'answered'})
local released, out = {}, {{}}
for _, m in ipairs(members) do
  if m ~= ARGV[4] then
    released[#released + 1] = m
    local o = after_call(m, ARGV[3], now, 0)
    if o then out[#out + 1] = o end
  end
end
out[1] = released
return out
