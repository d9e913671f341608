-- cancel.lua: cancel a callback that is not being dialled: pending, or
-- claimed by a node but still waiting for an agent (no dial started). The
-- holder learns it from its next lease renewal (LEASE) or from the caller
-- of Store.Cancel, and withdraws the callback's interaction.
-- KEYS[1] = callback hash
-- ARGV[2] = id
-- Returns the record (HGETALL; 'conn' and 'cancelled_holder' tell the
-- holder's interaction). Errors: NOTFOUND; ILLEGAL <state> cancel once a
-- dial started (also while a reclaimed started dial waits to be taken
-- over: its legs live on) or it is over.
local f = redis.call('HMGET', KEYS[1], 'state', 'started', 'node')
local st = f[1]
if not st then return redis.error_reply('NOTFOUND ' .. ARGV[2]) end
if f[2] or (st ~= 'pending' and st ~= 'dialing') then
  if f[2] then st = 'dialing' end -- a started dial waiting to be taken over
  return redis.error_reply('ILLEGAL ' .. st .. ' cancel')
end
local holder = f[3]
finish(KEYS[1], ARGV[2], 'cancelled', now_ms())
if holder then redis.call('HSET', KEYS[1], 'cancelled_holder', holder) end
return redis.call('HGETALL', KEYS[1])
