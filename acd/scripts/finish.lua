-- finish.lua: the call is over (a leg hung up, or it could not be served).
-- A connected call ends 'ended'; one that never reached an agent ends
-- 'abandoned' (the caller hung up) or 'failed' (Tandem gave up). The agent
-- bound to it, if any, is available again and is offered the next waiting
-- call of its queues in the same round trip: that is the hand-off. An
-- agent who talked goes to wrap-up first.
-- KEYS[1] = interaction hash
-- ARGV[3] = connection id, ARGV[4] = 'hangup', 'failed' or 'completed', ARGV[5] = who
-- ended it ('caller', 'agent', 'system'), ARGV[6] = wrap-up time (ms)
-- Returns {final state} or {final state, conn, agent, endpoint, attempt}.
-- A call ended while offered to several agents at once (ring_all) frees
-- them all; the first one's next offer is in the reply, the others' go to
-- the owners' inboxes (make_offer's to_inbox), so none is lost.
-- Errors: ILLEGAL <state> if already final, NOTFOUND if unknown.
local st = redis.call('HGET', KEYS[1], 'state')
if not st then return redis.error_reply('NOTFOUND ' .. ARGV[3]) end
if st == 'ended' or st == 'abandoned' or st == 'failed' then
  return redis.error_reply('ILLEGAL ' .. st)
end
local now = now_ms()
local to
if st == 'connected' then
  to = 'ended'
elseif ARGV[4] == 'failed' then
  to = 'failed'
elseif ARGV[4] == 'completed' then
  -- Served without an agent: self-service in the IVR, or a treatment
  -- (closed, queue full, overflow) that played its message.
  to = 'ended'
else
  to = 'abandoned'
end
close_interaction(KEYS[1], ARGV[3], st, to, now, ARGV[5])
history('interaction', ARGV[3], st, to, now, {'by', ARGV[5]})
if st == 'connected' then
  credit_talk(KEYS[1], redis.call('HGET', KEYS[1], 'agent'), now)
end
local members, ring = ring_members(KEYS[1])
if ring then clear_ring(KEYS[1], members) end
local offer
for _, m in ipairs(members) do
  local o = after_call(m, ARGV[3], now, ARGV[6], offer ~= nil)
  offer = offer or o
end
local out = {to}
if offer then
  for i = 1, #offer do out[#out + 1] = offer[i] end
end
return out
