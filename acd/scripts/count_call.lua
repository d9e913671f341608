-- count_call.lua: a callback's customer is about to be dialled: from now on
-- it holds a line like any call, so it counts towards the contact center's
-- maximum of concurrent calls (a callback waiting in queue does not: nobody
-- is on the line yet). finish.lua gives the count back.
-- KEYS[1] = interaction hash
-- ARGV[3] = connection id, ARGV[4] = the maximum (0 = no cap)
-- Returns 1. Errors: FULL at the cap (nothing changes); NOTFOUND;
-- ILLEGAL <state> unless the interaction is connected (its agent waits
-- for the customer): a finished one would never give the count back.
local f = redis.call('HMGET', KEYS[1], 'counted', 'state')
local counted = f[1]
if not counted then return redis.error_reply('NOTFOUND ' .. ARGV[3]) end
if f[2] ~= 'connected' then return redis.error_reply('ILLEGAL ' .. tostring(f[2])) end
if counted == '1' then return 1 end
local max = tonumber(ARGV[4])
if max > 0 and tonumber(redis.call('GET', k_active()) or '0') >= max then
  return redis.error_reply('FULL ' .. max)
end
redis.call('INCR', k_active())
redis.call('HSET', KEYS[1], 'counted', '1')
return 1
