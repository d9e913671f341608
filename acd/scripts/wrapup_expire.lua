-- wrapup_expire.lua: the safety net for wrap-up timers. The node that put
-- an agent in wrap-up runs a timer; if that node died, any node's sweep
-- ends wrap-ups that are past due with the default code. At most ARGV[4]
-- agents per call (bounded work).
-- ARGV[3] = default code, ARGV[4] = max agents
-- Returns a list of offers for this node (others went to their inboxes).
local now = now_ms()
local due = redis.call('ZRANGEBYSCORE', k_wrapup_due(), '-inf', now, 'LIMIT', 0, tonumber(ARGV[4]))
local out = {}
for _, agent in ipairs(due) do
  local o = end_wrapup(agent, ARGV[3], 'timeout', now)
  if o == false then
    redis.call('ZREM', k_wrapup_due(), agent) -- left wrap-up some other way
  elseif o then
    out[#out + 1] = o
  end
end
return out
