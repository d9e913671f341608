-- reclaim.lua: the safety net for dead nodes. Callbacks whose lease expired
-- go back to pending, due now. If the dead node had started a dial
-- (start_dial.lua), that attempt is recorded with outcome 'failed' (node
-- lost) and counts: the next dial uses a new attempt number, and the
-- callback fails if that was its last attempt. Without a started dial no
-- attempt is counted.
-- KEYS[1] = leases zset
-- ARGV[2] = max (bounded by the Go caller, so the loop is bounded)
-- Returns the ids reclaimed.
local now = now_ms()
local ids = redis.call('ZRANGEBYSCORE', KEYS[1], '-inf', now, 'LIMIT', 0, tonumber(ARGV[2]))
for _, id in ipairs(ids) do
  local key = k_cb(id)
  local f = redis.call('HMGET', key, 'state', 'node', 'started', 'attempts', 'max_attempts')
  if f[1] ~= 'dialing' then
    redis.call('ZREM', KEYS[1], id)
  elseif f[3] then
    local n = tonumber(f[4]) + 1
    add_attempt(key, n, now, 'failed', f[2])
    if n >= tonumber(f[5]) then
      finish(key, id, 'failed', now)
    else
      requeue(key, id, now)
    end
  else
    requeue(key, id, now)
  end
end
return ids
