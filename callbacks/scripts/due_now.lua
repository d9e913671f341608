-- due_now.lua: make a pending callback due now. A courtesy callback is
-- created held a little in the future while its caller hears the
-- confirmation, so that it exists (and survives a crash) before the call
-- ends but cannot ring the line its caller is still on; then it is made due.
-- KEYS[1] = callback hash, KEYS[2] = due zset
-- ARGV[2] = id
-- Returns the record (HGETALL). Errors: NOTFOUND; ILLEGAL <state> unless
-- pending (it was cancelled meanwhile).
local st = redis.call('HGET', KEYS[1], 'state')
if not st then return redis.error_reply('NOTFOUND ' .. ARGV[2]) end
if st ~= 'pending' then return redis.error_reply('ILLEGAL ' .. st .. ' due') end
local now = now_ms()
redis.call('HSET', KEYS[1], 'due', now)
redis.call('ZADD', KEYS[2], now, ARGV[2])
return redis.call('HGETALL', KEYS[1])
