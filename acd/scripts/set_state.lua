-- set_state.lua: an agent (or supervisor) changes the agent's state:
-- available, idle with a reason, or logout. Becoming available tries to
-- route the best waiting call of the agent's queues in the same round trip.
-- KEYS[1] = agent hash, KEYS[2] = logged-in agents set
-- ARGV[3] = agent id, ARGV[4] = idle reason ('' otherwise),
-- ARGV[5] = actor: who asked (Go's actor.go: 'agent:<id>', 'supervisor:<name>'),
-- ARGV[6..] = legal transitions of the event as from, to pairs (Go's table)
-- Returns {state, since} or {state, since, conn, agent, endpoint, attempt}.
-- Errors: NOTFOUND, ILLEGAL <state>.
-- A logout starts the record's expiry (lib's logged_out).
local cur = redis.call('HGET', KEYS[1], 'state')
if not cur then return redis.error_reply('NOTFOUND ' .. ARGV[3]) end
-- Asking for idle while busy with a call is not a transition: it is what
-- the agent wants after the call (wrap-up ends in idle, not available).
if ARGV[4] ~= '' and (cur == 'reserved' or cur == 'ringing' or cur == 'connected' or cur == 'wrapup') then
  redis.call('HSET', KEYS[1], 'after_call', 'idle', 'after_reason', ARGV[4])
  return {cur, redis.call('HGET', KEYS[1], 'since')}
end
local to = transition_to(cur, 6)
if not to then return redis.error_reply('ILLEGAL ' .. cur) end
local now = now_ms()
if cur == 'available' then make_unavailable(ARGV[3]) end
if to == 'idle' then
  redis.call('HSET', KEYS[1], 'reason', ARGV[4])
else
  redis.call('HDEL', KEYS[1], 'reason')
end
set_agent_state(ARGV[3], cur, to, now, nil, ARGV[5])
if to == 'logged_out' then
  redis.call('SREM', KEYS[2], ARGV[3])
  logged_out(ARGV[3])
end
local out = {to, now}
if to == 'available' then
  make_available(ARGV[3], now)
  local offer = match_agent(ARGV[3], now)
  if offer then
    for i = 1, #offer do out[#out + 1] = offer[i] end
  end
end
return out
