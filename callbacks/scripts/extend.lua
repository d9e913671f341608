-- extend.lua: renew the lease a node holds on a dialing callback.
-- KEYS[1] = callback hash, KEYS[2] = leases zset
-- ARGV[2] = id, ARGV[3] = node, ARGV[4] = lease (ms from Redis TIME)
-- Returns the new lease expiry (Redis ms). Errors: NOTFOUND; LEASE if the
-- callback is not dialing or another node holds it (it was reclaimed).
local err = held(KEYS[1], ARGV[2], ARGV[3])
if err then return err end
local until_ms = now_ms() + tonumber(ARGV[4])
redis.call('HSET', KEYS[1], 'lease', until_ms)
-- A taken-over dial keeps its owner's takeover lock with its lease.
local t = redis.call('HMGET', KEYS[1], 'started', 'owner')
if t[1] and t[2] then
  local lock = k_takeover(t[2])
  if redis.call('GET', lock) == node_of(ARGV[3]) then
    redis.call('PEXPIRE', lock, tonumber(ARGV[4]))
  end
end
redis.call('ZADD', KEYS[2], until_ms, ARGV[2])
return until_ms
