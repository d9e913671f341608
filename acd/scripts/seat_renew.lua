-- seat_renew.lua: extend the caller's lease on seat SELF.
-- KEYS[1] = the seat's lease, KEYS[2] = its fence counter, KEYS[3] = the
-- callback takeover lock of the seat's application
-- ARGV[2] = node (no token), ARGV[3] = holder instance, ARGV[4] = lease
-- (ms), ARGV[5] = the holder's fencing token
-- Returns 1 if the caller still holds the seat (lease extended), 0 if it
-- lost it: another process acquired it (the fence moved on) or holds it.
-- A lease that merely lapsed while nobody took the seat (the fence still
-- holds the caller's token) is taken again: no newer holder exists.
local mine = ARGV[3] .. ' ' .. ARGV[5]
local cur = redis.call('GET', KEYS[1])
if cur ~= mine then
  if cur or redis.call('GET', KEYS[2]) ~= ARGV[5] then return 0 end
end
redis.call('SET', KEYS[1], mine, 'PX', ARGV[4])
redis.call('SET', KEYS[3], SELF, 'PX', ARGV[4])
return 1
