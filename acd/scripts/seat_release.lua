-- seat_release.lua: give seat SELF up (a replica draining on SIGTERM) and
-- tell the survivors, so one claims it at once instead of after the TTL.
-- KEYS[1] = the seat's lease, KEYS[2] = the seat-released channel
-- ARGV[2] = node (no token), ARGV[3] = holder instance, ARGV[4] = the
-- holder's fencing token
-- Returns 1 if released, 0 if the caller did not hold the seat (nothing
-- changed: the seat is someone else's).
if redis.call('GET', KEYS[1]) ~= ARGV[3] .. ' ' .. ARGV[4] then return 0 end
redis.call('DEL', KEYS[1])
redis.call('PUBLISH', KEYS[2], SELF)
return 1
