-- no_answer.lua: RONA. The agent did not answer (timeout, busy, rejected,
-- unreachable): the call goes back to the head of its queue with its
-- original score (so its original arrival time), the agent goes to 'rona'
-- and stays out of routing until they choose available again; then the call
-- is offered to the next agent, in the same round trip.
-- A ring-all offer (several agents rung at once) stays offered to the
-- agents still ringing when one of them declines; it goes back to the queue
-- when the last one does, or at once with agent '' ("none answered": every
-- agent still ringing goes to 'rona').
-- KEYS[1] = interaction hash, KEYS[2] = agent hash (unused for agent '')
-- ARGV[3] = connection id, ARGV[4] = agent id or '', ARGV[5] = reason
-- Returns {} or an offer for this node. Errors: STALE if not offered to agent.
local members, ring = ring_members(KEYS[1])
if redis.call('HGET', KEYS[1], 'state') ~= 'offered' or #members == 0
  or (ARGV[4] ~= '' and not contains(members, ARGV[4])) then
  return redis.error_reply('STALE no-answer of ' .. ARGV[3] .. ' by ' .. ARGV[4])
end
local now = now_ms()
local gone, left = {}, {}
for _, m in ipairs(members) do
  if ARGV[4] == '' or m == ARGV[4] then gone[#gone + 1] = m else left[#left + 1] = m end
end
for _, m in ipairs(gone) do
  local a = k_agent(m)
  local st = redis.call('HGET', a, 'state')
  if (st == 'reserved' or st == 'ringing') and redis.call('HGET', a, 'conn') == ARGV[3] then
    set_agent_state(m, st, 'rona', now, nil)
    redis.call('HDEL', a, 'conn')
    clear_due(m)
  end
end
if #left > 0 then
  -- Ring-all: the others are still ringing.
  for _, m in ipairs(gone) do redis.call('HDEL', KEYS[1], 'leg:' .. m) end
  redis.call('HSET', KEYS[1], 'ring', table.concat(left, ','), 'agent', left[1])
  history('interaction', ARGV[3], 'offered', 'offered', now, {'declined', ARGV[4], 'reason', ARGV[5]})
  return {}
end
local q = redis.call('HGET', KEYS[1], 'queue')
if ring then clear_ring(KEYS[1], members) end
redis.call('HSET', KEYS[1], 'state', 'queued')
redis.call('HDEL', KEYS[1], 'agent', 'agent_leg')
redis.call('HINCRBY', KEYS[1], 'ronas', 1)
redis.call('ZADD', k_waiting(q), redis.call('HGET', KEYS[1], 'score'), ARGV[3])
history('interaction', ARGV[3], 'offered', 'queued', now, {'agent', ARGV[4] ~= '' and ARGV[4] or table.concat(members, ','), 'reason', ARGV[5]})
return match_queue(q, now) or {}
