-- claim.lua: move up to max due callbacks to dialing under a lease.
-- KEYS[1] = due zset, KEYS[2] = leases zset
-- ARGV[2] = node, ARGV[3] = lease (ms), ARGV[4] = max (bounded by the Go
-- caller, so the loop is bounded)
-- Returns a list of records (HGETALL), now dialing and held by node. A due
-- callback whose window has ended becomes expired instead and is not
-- returned (it still counts towards max: the work stays bounded). Being one
-- script, two claimers can never take the same callback.
local now = now_ms()
local until_ms = now + tonumber(ARGV[3])
local ids = redis.call('ZRANGEBYSCORE', KEYS[1], '-inf', now, 'LIMIT', 0, tonumber(ARGV[4]))
local out = {}
for _, id in ipairs(ids) do
  local key = k_cb(id)
  local f = redis.call('HMGET', key, 'state', 'window_end', 'queue')
  if f[1] ~= 'pending' then
    -- A stale index entry (the record expired or moved on): drop it.
    redis.call('ZREM', KEYS[1], id)
  elseif tonumber(f[2]) > 0 and now > tonumber(f[2]) then
    finish(key, id, 'expired', now)
  else
    redis.call('HSET', key, 'state', 'dialing', 'node', ARGV[2], 'lease', until_ms)
    redis.call('ZREM', KEYS[1], id)
    redis.call('ZADD', KEYS[2], until_ms, id)
    redis.call('ZREM', k_waiting(f[3]), id)
    out[#out + 1] = redis.call('HGETALL', key)
  end
end
return out
