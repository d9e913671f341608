-- arrive.lua: create the interaction of a call that just reached Tandem.
-- KEYS[1] = interaction hash
-- ARGV[3] = connection id, ARGV[4] = caller leg, ARGV[5] = ANI,
-- ARGV[6] = DNIS, ARGV[7] = attached data (JSON object)
-- Returns the arrival time (Redis ms). Errors: EXISTS if the id is taken.
if redis.call('EXISTS', KEYS[1]) == 1 then
  return redis.error_reply('EXISTS ' .. ARGV[3])
end
local now = now_ms()
redis.call('HSET', KEYS[1], 'state', 'arrived', 'owner', SELF, 'caller_leg', ARGV[4],
  'ani', ARGV[5], 'dnis', ARGV[6], 'attached', ARGV[7], 'arrived', now, 'offers', 0)
history('interaction', ARGV[3], '', 'arrived', now, {'node', SELF})
return now
