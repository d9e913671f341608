-- seat_acquire.lua: take seat SELF for the calling process even if another
-- process holds it: a replica starting as its own node takes its seat back
-- from a survivor hosting it (the survivor's next script is FENCED).
-- KEYS[1] = the seat's lease (node:<node>:alive), KEYS[2] = its fence
-- counter, KEYS[3] = the seat registry, KEYS[4] = the callback takeover lock
-- of the seat's application ({cb}:takeover:<app>)
-- ARGV[2] = node (no token), ARGV[3] = holder instance, ARGV[4] = lease
-- (ms), ARGV[5] = the seat's Stasis application
-- Returns the new fencing token (an integer, 1 and up).
--
-- The takeover lock names the seat's node for as long as the lease is held,
-- so callbacks whose dial the seat started are claimed by the seat's
-- holder only (callbacks' claim.lua), never taken over through a second
-- socket that would replace the holder's.
local tok = redis.call('INCR', KEYS[2])
redis.call('SET', KEYS[1], ARGV[3] .. ' ' .. tok, 'PX', ARGV[4])
redis.call('HSET', KEYS[3], SELF, ARGV[5])
redis.call('SET', KEYS[4], SELF, 'PX', ARGV[4])
return tok
