-- set_attached.lua: the IVR attaches data to a live call: its attached
-- variables (JSON) and, in the same write, its secure names, so the end of
-- the call knows which values to drop (lib's end_secure). Refused once the
-- interaction has ended: the end has dropped its secure values already, and
-- data attached after it would stay in clear until the record expires (a
-- supervisor's force-end can end a call while its IVR runs). A script, not
-- a plain HSET, so that a fenced replica cannot write it either.
-- KEYS[1] = interaction hash
-- ARGV[3] = connection id, ARGV[4] = attached (JSON), ARGV[5] = secure
-- names (JSON array, '' for none)
-- Returns 1. Errors: NOTFOUND; ILLEGAL <state> once the interaction ended.
local st = redis.call('HGET', KEYS[1], 'state')
if not st then return redis.error_reply('NOTFOUND ' .. ARGV[3]) end
if st == 'ended' or st == 'abandoned' or st == 'failed' then
  return redis.error_reply('ILLEGAL ' .. st)
end
redis.call('HSET', KEYS[1], 'attached', ARGV[4])
if ARGV[5] ~= '' then redis.call('HSET', KEYS[1], 'secure', ARGV[5]) end
return 1
