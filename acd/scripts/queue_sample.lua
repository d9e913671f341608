-- queue_sample.lua: records one wallboard sample of a queue for a sampling
-- slot, unless a replica has recorded that slot already, and forgets the
-- samples that have left the window. Every replica samples every queue
-- each slot; this script is what keeps one sample per slot among them.
-- KEYS[1] = the queue's history (ZSET {q:<queue>}:history: member
-- '<slot ms>:<waiting>:<service level>', score = slot ms)
-- ARGV[3] = the slot's start (ms since 1970, from the replica's clock: the
-- sampler's ticks and the slot must agree, and tests move that clock),
-- ARGV[4] = the sample (the member above), ARGV[5] = the window (ms)
-- Returns 1 when the sample was recorded, 0 when the slot had one.
-- Bounded: one ZRANGEBYSCORE with LIMIT 1; the trim removes what has aged
-- out since the last sample, a few members at most in steady state. The
-- key expires one window after its last write (Redis's clock: relative,
-- so a replica's clock being off does not matter), so the history of a
-- queue removed from the configuration goes by itself.
local slot = tonumber(ARGV[3])
local window = tonumber(ARGV[5])
if #redis.call('ZRANGEBYSCORE', KEYS[1], slot, slot, 'LIMIT', 0, 1) > 0 then
  return 0
end
redis.call('ZADD', KEYS[1], slot, ARGV[4])
local newest = redis.call('ZRANGE', KEYS[1], -1, -1, 'WITHSCORES')
local top = tonumber(newest[2])
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', top - window)
redis.call('PEXPIRE', KEYS[1], window)
return 1
