-- secure_expire.lua: drops the secure values of ended interactions whose
-- retention (retention.secure_values) has passed (lib's drop_secure). Run
-- by every replica's sweep; at most ARGV[3] interactions per run (bounded
-- work), the rest at the next.
-- ARGV[3] = max interactions
-- Returns the number of interactions handled.
local now = now_ms()
local due = redis.call('ZRANGEBYSCORE', k_secure_due(), '-inf', now, 'LIMIT', 0, tonumber(ARGV[3]))
for _, conn in ipairs(due) do
  drop_secure(k_ix(conn)) -- a record already gone has nothing to drop
  redis.call('ZREM', k_secure_due(), conn)
end
return #due
