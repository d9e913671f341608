-- complete.lua: record the outcome of the attempt the holder dialled.
-- KEYS[1] = callback hash
-- ARGV[2] = id, ARGV[3] = node, ARGV[4] = outcome ('answered', 'no_answer',
-- 'busy', 'failed', 'agent_failed'; checked by the Go caller)
-- Returns the record (HGETALL): done if answered; else pending again, due
-- Redis TIME + retry delay, or failed once attempts reach max attempts.
-- Errors: NOTFOUND; LEASE if node does not hold the callback.
local err = held(KEYS[1], ARGV[2], ARGV[3])
if err then return err end
local now = now_ms()
local f = redis.call('HMGET', KEYS[1], 'attempts', 'max_attempts', 'retry_ms')
local n = tonumber(f[1]) + 1
add_attempt(KEYS[1], n, now, ARGV[4], ARGV[3])
if ARGV[4] == 'answered' then
  finish(KEYS[1], ARGV[2], 'done', now)
elseif n >= tonumber(f[2]) then
  finish(KEYS[1], ARGV[2], 'failed', now)
else
  requeue(KEYS[1], ARGV[2], now + tonumber(f[3]))
end
return redis.call('HGETALL', KEYS[1])
