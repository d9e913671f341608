-- reclaim.lua: the safety net for dead nodes. Callbacks whose lease expired
-- go back to pending, due now, in their old place. No attempt is counted
-- here: if the dead node had started a dial (start_dial.lua), the callback
-- keeps 'started', 'leg' and 'owner', so the next claimer takes that leg
-- over and completes the attempt with its real outcome; it can never start
-- the same attempt again. 'conn' and 'agent_leg' stay too, so the next
-- claimer can clean up or continue what the dead node left.
--
-- Taking a started dial over takes its node's Stasis application at the
-- PBX, which stops that node if it is alive. So a started dial whose node
-- still beats ({cb}:alive:<node>, Store.Heartbeat) is left to it — its
-- lease lapsed because Redis did not answer, not because it died — for up
-- to ten leases more.
-- KEYS[1] = leases zset
-- ARGV[2] = max (bounded by the Go caller, so the loop is bounded)
-- Returns the ids reclaimed.
local now = now_ms()
local ids = redis.call('ZRANGEBYSCORE', KEYS[1], '-inf', now, 'LIMIT', 0, tonumber(ARGV[2]))
local out = {}
for _, id in ipairs(ids) do
  local key = k_cb(id)
  local f = redis.call('HMGET', key, 'state', 'started', 'node', 'lease', 'lease_ms')
  if f[1] ~= 'dialing' then
    redis.call('ZREM', KEYS[1], id)
  elseif f[2] and f[3] and redis.call('EXISTS', k_alive(node_of(f[3]))) == 1
      and now - tonumber(f[4]) < 10 * tonumber(f[5] or '0') then
    -- its node is alive: not reclaimed yet
  else
    requeue(key, id, now, true)
    out[#out + 1] = id
  end
end
return out
