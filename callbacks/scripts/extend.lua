-- extend.lua: renew the lease a node holds on a dialing callback.
-- KEYS[1] = callback hash, KEYS[2] = leases zset
-- ARGV[2] = id, ARGV[3] = node, ARGV[4] = lease (ms from Redis TIME)
-- Returns the new lease expiry (Redis ms). Errors: NOTFOUND; LEASE if the
-- callback is not dialing or another node holds it (it was reclaimed).
local err = held(KEYS[1], ARGV[2], ARGV[3])
if err then return err end
local until_ms = now_ms() + tonumber(ARGV[4])
redis.call('HSET', KEYS[1], 'lease', until_ms)
redis.call('ZADD', KEYS[2], until_ms, ARGV[2])
return until_ms
