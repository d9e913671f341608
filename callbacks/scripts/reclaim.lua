-- reclaim.lua: the safety net for dead nodes. Callbacks whose lease expired
-- go back to pending, due now, in their old place. No attempt is counted
-- here: if the dead node had started a dial (start_dial.lua), the callback
-- keeps 'started', 'leg' and 'owner', so the next claimer takes that leg
-- over and completes the attempt with its real outcome; it can never start
-- the same attempt again. 'conn' and 'agent_leg' stay too, so the next
-- claimer can clean up or continue what the dead node left.
-- KEYS[1] = leases zset
-- ARGV[2] = max (bounded by the Go caller, so the loop is bounded)
-- Returns the ids reclaimed.
local now = now_ms()
local ids = redis.call('ZRANGEBYSCORE', KEYS[1], '-inf', now, 'LIMIT', 0, tonumber(ARGV[2]))
for _, id in ipairs(ids) do
  local key = k_cb(id)
  if redis.call('HGET', key, 'state') ~= 'dialing' then
    redis.call('ZREM', KEYS[1], id)
  else
    requeue(key, id, now, true)
  end
end
return ids
