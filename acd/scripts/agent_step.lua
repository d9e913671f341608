-- agent_step.lua: move an agent that is bound to conn in a part of the call
-- that is not the interaction's main offer (a consult, a conference, the
-- agent leaving a conference): reserved → ringing → connected, no answer
-- (→ rona), or done (→ wrap-up if they talked, else available).
-- KEYS[1] = agent hash
-- ARGV[3] = agent id, ARGV[4] = connection id, ARGV[5] = step: 'ring',
-- 'connect', 'no_answer' or 'done', ARGV[6] = wrap-up time (ms)
-- Returns {} or an offer for this node (an agent made available may be
-- offered the next call). Errors: STALE if the agent is not bound to conn in
-- a state the step applies to.
local cur = redis.call('HGET', KEYS[1], 'state')
if redis.call('HGET', KEYS[1], 'conn') ~= ARGV[4] then
  return redis.error_reply('STALE ' .. ARGV[3] .. ' not on ' .. ARGV[4])
end
local now = now_ms()
local step = ARGV[5]
if step == 'ring' and cur == 'reserved' then
  set_agent_state(ARGV[3], cur, 'ringing', now, ARGV[4])
  mark_due(ARGV[3], redis.call('HGET', k_ix(ARGV[4]), 'queue'), now)
elseif step == 'connect' and (cur == 'reserved' or cur == 'ringing') then
  set_agent_state(ARGV[3], cur, 'connected', now, ARGV[4])
  clear_due(ARGV[3])
elseif step == 'no_answer' and (cur == 'reserved' or cur == 'ringing') then
  set_agent_state(ARGV[3], cur, 'rona', now, nil)
  redis.call('HDEL', KEYS[1], 'conn')
  clear_due(ARGV[3])
elseif step == 'done' then
  return after_call(ARGV[3], ARGV[4], now, ARGV[6]) or {}
else
  return redis.error_reply('STALE ' .. step .. ' in ' .. tostring(cur))
end
return {}
