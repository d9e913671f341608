-- reserve_agent.lua: reserve a named agent for a consult or a blind
-- transfer of conn (only agents in one of the allowed states may be
-- chosen: available or idle for a consult, available for a transfer).
-- KEYS[1] = agent hash
-- ARGV[3] = agent id, ARGV[4] = connection id, ARGV[5] = allowed states
-- (comma list)
-- Returns the agent's endpoint. Errors: NOTFOUND, ILLEGAL <state>.
local cur = redis.call('HGET', KEYS[1], 'state')
if not cur or cur == 'logged_out' then return redis.error_reply('NOTFOUND ' .. ARGV[3]) end
local ok = false
for _, s in ipairs(split(ARGV[5])) do
  if s == cur then ok = true end
end
if not ok then return redis.error_reply('ILLEGAL ' .. cur) end
local now = now_ms()
if cur == 'idle' then
  -- An agent consulted while on a break goes back to that break afterwards.
  redis.call('HSET', KEYS[1], 'after_call', 'idle', 'after_reason', redis.call('HGET', KEYS[1], 'reason') or '')
end
make_unavailable(ARGV[3])
set_agent_state(ARGV[3], cur, 'reserved', now, ARGV[4])
mark_due(ARGV[3], redis.call('HGET', k_ix(ARGV[4]), 'queue'), now)
return redis.call('HGET', KEYS[1], 'endpoint')
