-- adopt.lua: this node takes over an interaction whose owner died (a
-- callback it continues): offers and commands for it now come here.
-- KEYS[1] = interaction hash
-- ARGV[3] = connection id
-- Returns the previous owner. Errors: NOTFOUND; ILLEGAL <state> if the
-- interaction is already over.
local f = redis.call('HMGET', KEYS[1], 'state', 'owner')
if not f[1] then return redis.error_reply('NOTFOUND ' .. ARGV[3]) end
if f[1] == 'ended' or f[1] == 'abandoned' or f[1] == 'failed' then
  return redis.error_reply('ILLEGAL ' .. f[1])
end
redis.call('HSET', KEYS[1], 'owner', SELF)
-- The seat index follows the owner.
if f[2] then redis.call('SREM', k_seat_calls(f[2]), ARGV[3]) end
redis.call('SADD', k_seat_calls(SELF), ARGV[3])
history('owner', ARGV[3], f[1], f[1], now_ms(), {'adopted_from', tostring(f[2]), 'node', SELF})
return f[2]
