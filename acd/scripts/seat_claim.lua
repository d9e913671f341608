-- seat_claim.lua: take seat SELF only if nobody holds it (its lease lapsed
-- or was released): of several survivors claiming one dead seat, one wins.
-- KEYS and ARGV as seat_acquire.lua.
-- Returns the new fencing token, or 0 if the seat is held.
if redis.call('EXISTS', KEYS[1]) == 1 then return 0 end
local tok = redis.call('INCR', KEYS[2])
redis.call('SET', KEYS[1], ARGV[3] .. ' ' .. tok, 'PX', ARGV[4])
redis.call('HSET', KEYS[3], SELF, ARGV[5])
redis.call('SET', KEYS[4], SELF, 'PX', ARGV[4])
return tok
