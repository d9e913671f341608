-- wrapup.lua: an agent ends after-call work with a reason code, or the
-- wrap-up time ran out and the default code applies. The agent becomes
-- available (offered the next call in the same round trip) or idle if they
-- asked for idle during the call.
-- KEYS[1] = agent hash
-- ARGV[3] = agent id, ARGV[4] = code, ARGV[5] = 'agent' or 'timeout' (a
-- timeout that is not due yet, by the wrap-up-due set, changes nothing),
-- ARGV[6] = actor: who gave the code (Go's actor.go; 'system' for a timeout)
-- Returns {state} or {state, conn, agent, endpoint, attempt}.
-- Errors: NOTFOUND, ILLEGAL <state> unless the agent is in wrap-up,
-- NOTDUE for a timeout that is not due.
local cur = redis.call('HGET', KEYS[1], 'state')
if not cur then return redis.error_reply('NOTFOUND ' .. ARGV[3]) end
if cur ~= 'wrapup' then return redis.error_reply('ILLEGAL ' .. cur) end
local now = now_ms()
if ARGV[5] == 'timeout' then
  local due = redis.call('ZSCORE', k_wrapup_due(), ARGV[3])
  if not due or tonumber(due) > now then return redis.error_reply('NOTDUE ' .. ARGV[3]) end
end
local offer = end_wrapup(ARGV[3], ARGV[4], ARGV[5], now, ARGV[6])
local out = {redis.call('HGET', KEYS[1], 'state')}
if offer then
  for i = 1, #offer do out[#out + 1] = offer[i] end
end
return out
