-- seat_release.lua: give seat SELF up (a replica draining on SIGTERM) and
-- tell the survivors, so one claims it at once instead of after the TTL.
-- KEYS[1] = the seat's lease, KEYS[2] = the seat-released channel, KEYS[3]
-- = the callback takeover lock of the seat's application (dropped if it
-- names the seat: the next holder sets it again)
-- ARGV[2] = node (no token), ARGV[3] = holder instance, ARGV[4] = the
-- holder's fencing token
-- Returns 1 if released, 0 if the caller did not hold the seat (nothing
-- changed: the seat is someone else's).
if redis.call('GET', KEYS[1]) ~= ARGV[3] .. ' ' .. ARGV[4] then return 0 end
redis.call('DEL', KEYS[1])
if redis.call('GET', KEYS[3]) == SELF then redis.call('DEL', KEYS[3]) end
redis.call('PUBLISH', KEYS[2], SELF)
return 1
