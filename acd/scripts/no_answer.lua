-- no_answer.lua: RONA. The agent did not answer (timeout, busy, rejected,
-- unreachable): the call goes back to the head of its queue with its
-- original score (so its original arrival time), the agent goes to 'rona'
-- and stays out of routing until they choose available again; then the call
-- is offered to the next agent, in the same round trip.
-- KEYS[1] = interaction hash, KEYS[2] = agent hash
-- ARGV[3] = connection id, ARGV[4] = agent id, ARGV[5] = reason
-- Returns {} or an offer for this node. Errors: STALE if not offered to agent.
if redis.call('HGET', KEYS[1], 'state') ~= 'offered' or redis.call('HGET', KEYS[1], 'agent') ~= ARGV[4] then
  return redis.error_reply('STALE no-answer of ' .. ARGV[3] .. ' by ' .. ARGV[4])
end
local now = now_ms()
local q = redis.call('HGET', KEYS[1], 'queue')
redis.call('HSET', KEYS[1], 'state', 'queued')
redis.call('HDEL', KEYS[1], 'agent', 'agent_leg')
redis.call('HINCRBY', KEYS[1], 'ronas', 1)
redis.call('ZADD', k_waiting(q), redis.call('HGET', KEYS[1], 'score'), ARGV[3])
history('interaction', ARGV[3], 'offered', 'queued', now, {'agent', ARGV[4], 'reason', ARGV[5]})
local st = redis.call('HGET', KEYS[2], 'state')
if (st == 'reserved' or st == 'ringing') and redis.call('HGET', KEYS[2], 'conn') == ARGV[3] then
  set_agent_state(ARGV[4], st, 'rona', now, nil)
  redis.call('HDEL', KEYS[2], 'conn')
end
return match_queue(q, now) or {}
