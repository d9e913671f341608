-- release.lua: the holder gives a callback back without dialling it (the
-- contact center is at its maximum of concurrent calls, or the queue is
-- closed): pending again, due after delay, no attempt counted, same place
-- in its queue.
-- KEYS[1] = callback hash
-- ARGV[2] = id, ARGV[3] = node, ARGV[4] = delay (ms)
-- Returns the record (HGETALL). Errors: NOTFOUND; LEASE if node does not
-- hold it; STARTED if a dial was started (its outcome must be completed).
local err = held(KEYS[1], ARGV[2], ARGV[3])
if err then return err end
local started = redis.call('HGET', KEYS[1], 'started')
if started then
  return redis.error_reply('STARTED ' .. ARGV[2] .. ' attempt ' .. started)
end
requeue(KEYS[1], ARGV[2], now_ms() + tonumber(ARGV[4]))
redis.call('HDEL', KEYS[1], 'conn', 'agent_leg')
return redis.call('HGETALL', KEYS[1])
