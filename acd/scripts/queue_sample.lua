-- queue_sample.lua: records one wallboard sample of a queue for the
-- current sampling slot, unless a replica has recorded that slot already,
-- and forgets the samples that have left the window. Every replica samples
-- every queue each slot; this script is what keeps one sample per slot
-- among them.
-- KEYS[1] = the queue's history (ZSET {q:<queue>}:history: member
-- '<slot ms>:<waiting>:<service level>', score = slot ms)
-- ARGV[3] = the sampling interval (ms, > 0), ARGV[4] = waiting calls,
-- ARGV[5] = the service level, ARGV[6] = the window (ms)
-- Returns {recorded, slot, next}: recorded 1 when the sample was recorded,
-- 0 when the slot had one; slot the slot's start (ms since 1970); next the
-- ms until the next slot begins.
-- The slot and the window are on Redis TIME, the one clock the replicas
-- share (ARCHITECTURE §2): slots are aligned on the epoch of that clock,
-- so a replica whose own clock is off, by seconds or by hours, still
-- offers its sample for the slot the others do, and can neither write a
-- slot in the past or the future nor trim the others' samples. The
-- replica only decides when to try (next tells it when the next slot
-- begins, as a duration, which its clock can count whatever its offset).
-- Bounded: one ZRANGEBYSCORE with LIMIT 1; the trims remove what has aged
-- out since the last sample, a few members at most in steady state (and
-- none after the slot). The
-- key expires one window after its last write, so the history of a queue
-- removed from the configuration goes by itself.
local interval = tonumber(ARGV[3])
local window = tonumber(ARGV[6])
local now = now_ms()
local slot = now - now % interval
local next = slot + interval - now
if #redis.call('ZRANGEBYSCORE', KEYS[1], slot, slot, 'LIMIT', 0, 1) > 0 then
  return {0, slot, next}
end
redis.call('ZADD', KEYS[1], slot, slot .. ':' .. ARGV[4] .. ':' .. ARGV[5])
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', now - window)
-- Samples after this slot cannot have come from this clock: an older
-- version's replica whose clock ran ahead, or a Redis failed over to one
-- whose clock is behind. They go, or they would stand on the chart.
redis.call('ZREMRANGEBYSCORE', KEYS[1], '(' .. slot, '+inf')
redis.call('PEXPIRE', KEYS[1], window)
return {1, slot, next}
