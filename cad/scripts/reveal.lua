-- reveal.lua: returns one variable in clear and records who asked, in one
-- round trip, so no value leaves Redis without its audit entry.
-- KEYS[1] = the interaction's CAD hash, KEYS[2] = the audit stream
-- ARGV[1] = field ("v:<name>"), ARGV[2] = connection id,
-- ARGV[3] = variable name, ARGV[4] = the actor, who asked ("agent:<id>" or
-- "supervisor:<name>"), ARGV[5] = the agent on whose call, and on whose
-- behalf, the value is shown ('' when none)
-- Returns the value ('' when the variable has none). The value itself is
-- never written to the stream.
-- Errors: "NOTFOUND cad" when the interaction has no CAD.
-- The stream is not trimmed here: every entry is a person's click, and how
-- long audit records are kept is an operations decision (export, then
-- XTRIM), not something a reveal should decide.
-- KEYS[1] and KEYS[2] are in different Cluster slots; Tandem runs on a
-- single Redis (or one shard) for now, like the ACD's scripts.
if redis.call('EXISTS', KEYS[1]) == 0 then return redis.error_reply('NOTFOUND cad') end
local v = redis.call('HGET', KEYS[1], ARGV[1]) or ''
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
redis.call('XADD', KEYS[2], '*', 'kind', 'reveal', 'connection_id', ARGV[2],
  'name', ARGV[3], 'actor', ARGV[4], 'agent', ARGV[5],
  'who', ARGV[4], 'at', tostring(now))
return v
