-- give_back.lua: an offer whose agent's phone never rang goes back (the
-- replica that made it stopped before ringing, and the next holder of its
-- seat found no agent leg): the call returns to the head of its queue with
-- its original score, as after a RONA, but the agents were never rung, so
-- they are available again (not 'rona') and routing runs for both sides in
-- the same round trip (the agent may well get the call back).
-- KEYS[1] = interaction hash
-- ARGV[3] = connection id, ARGV[4] = why (recorded in the history)
-- Returns {} or an offer {conn, agent, endpoint, attempt} for this node
-- (others go to their owners' inboxes). Errors: STALE unless the call is
-- offered.
local members, ring = ring_members(KEYS[1])
if redis.call('HGET', KEYS[1], 'state') ~= 'offered' or #members == 0 then
  return redis.error_reply('STALE give-back of ' .. ARGV[3])
end
local now = now_ms()
local q = redis.call('HGET', KEYS[1], 'queue')
if ring then clear_ring(KEYS[1], members) end
redis.call('HSET', KEYS[1], 'state', 'queued')
redis.call('HDEL', KEYS[1], 'agent', 'agent_leg')
redis.call('ZADD', k_waiting(q), redis.call('HGET', KEYS[1], 'score'), ARGV[3])
history('interaction', ARGV[3], 'offered', 'queued', now,
  {'agent', table.concat(members, ','), 'reason', ARGV[4]})
-- after_call frees an agent still reserved for this call (and offers it
-- the best waiting call, maybe this one); its offers after the first go to
-- the owners' inboxes so that none is lost.
local offer
for _, m in ipairs(members) do
  local o = after_call(m, ARGV[3], now, '0', offer ~= nil)
  offer = offer or o
end
if not offer then offer = match_queue(q, now) end
return offer or {}
