-- arrive.lua: create the interaction of a call that just reached Tandem.
-- KEYS[1] = interaction hash
-- ARGV[3] = connection id, ARGV[4] = caller leg, ARGV[5] = ANI,
-- ARGV[6] = DNIS, ARGV[7] = attached data (JSON object),
-- ARGV[8] = the contact center's maximum concurrent calls (0 = no cap),
-- ARGV[9] = '1' if the interaction counts towards that cap
-- ARGV[10] = how long its secure values are kept after its end (ms; 0 =
-- dropped at the end: lib's end_secure), ARGV[11] = the secure names
-- among the attached data (JSON array, '' for none)
-- The interaction joins its seat's index (k_seat_calls).
-- Returns the arrival time (Redis ms). Errors: EXISTS if the id is taken,
-- FULL if the cap is reached (the refusal is counted and recorded).
if redis.call('EXISTS', KEYS[1]) == 1 then
  return redis.error_reply('EXISTS ' .. ARGV[3])
end
local now = now_ms()
local max = tonumber(ARGV[8])
if ARGV[9] == '1' and max > 0 then
  if tonumber(redis.call('GET', k_active()) or '0') >= max then
    redis.call('INCR', k_refused_full())
    history('refused', ARGV[3], '', 'refused', now, {'reason', 'max_concurrent_calls', 'node', SELF})
    return redis.error_reply('FULL ' .. max)
  end
end
if ARGV[9] == '1' then redis.call('INCR', k_active()) end
redis.call('HSET', KEYS[1], 'state', 'arrived', 'owner', SELF, 'caller_leg', ARGV[4],
  'ani', ARGV[5], 'dnis', ARGV[6], 'attached', ARGV[7], 'arrived', now, 'offers', 0,
  'counted', ARGV[9], 'secure_keep_ms', ARGV[10])
if ARGV[11] ~= '' then redis.call('HSET', KEYS[1], 'secure', ARGV[11]) end
redis.call('SADD', k_seat_calls(SELF), ARGV[3])
history('interaction', ARGV[3], '', 'arrived', now, {'node', SELF})
return now
