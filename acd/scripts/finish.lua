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
local q = redis.call('HGET', KEYS[1], 'queue')
if q then redis.call('ZREM', k_waiting(q), ARGV[3]) end
redis.call('HSET', KEYS[1], 'state', to, 'ended', now, 'ended_by', ARGV[5])
-- Over: it leaves its seat's index (k_seat_calls), the one place an
-- interaction becomes terminal.
local owner = redis.call('HGET', KEYS[1], 'owner')
if owner then redis.call('SREM', k_seat_calls(owner), ARGV[3]) end
-- Talk states (talk.lua) belong to a connected call.
redis.call('HDEL', KEYS[1], 'talk_state')
if to ~= 'ended' then
  local queued = redis.call('HGET', KEYS[1], 'queued')
  if queued then redis.call('HSET', KEYS[1], 'wait_ms', now - tonumber(queued)) end
end
history('interaction', ARGV[3], st, to, now, {'by', ARGV[5]})
-- The agent's view of the call (written by its actor, JSON) follows the
-- interaction: whoever reads it after the end sees the end, with nobody
-- held, consulted or recorded any more.
local view = redis.call('HGET', KEYS[1], 'view')
if view then
  local v = cjson.decode(view)
  v.state, v.customer_held = to, false
  v.held_since, v.consult, v.recording = nil, nil, nil
  redis.call('HSET', KEYS[1], 'view', cjson.encode(v))
end
-- A finished interaction stays readable for a week (reports read the
-- event stream; the record and its call-associated data are for recent
-- look-ups), so Redis does not grow with every call ever taken.
redis.call('PEXPIRE', KEYS[1], RETENTION_MS)
redis.call('PEXPIRE', KEYS[1] .. ':cad', RETENTION_MS)
if redis.call('HGET', KEYS[1], 'counted') == '1' then
  redis.call('DECR', k_active())
  redis.call('HSET', KEYS[1], 'counted', '0')
end
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
