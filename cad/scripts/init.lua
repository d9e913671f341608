-- init.lua: stores an interaction's first call-associated data (from the
-- PBX / IVR) at version 1, unless it is already there: a replica that
-- retries after a takeover must not overwrite edits made since.
-- KEYS[1] = the interaction's CAD hash
-- ARGV[1] = the names of the queue's secure variables (JSON array, '' for
--           none), kept as "_secure": the end of the interaction drops
--           their values (acd/scripts/lib.lua, drop_secure)
-- ARGV[2..] = field, value pairs (fields are "v:<name>"); may be empty
-- Returns the hash as HGETALL returns it (field, value, ...), version
-- included as field "_version".
-- Bounded: ARGV holds one pair per variable the queue defines (a handful:
-- a desktop shows them all), far below what unpack can take.
if redis.call('EXISTS', KEYS[1]) == 0 then
  redis.call('HSET', KEYS[1], '_version', 1, unpack(ARGV, 2))
  if ARGV[1] ~= '' then redis.call('HSET', KEYS[1], '_secure', ARGV[1]) end
end
return redis.call('HGETALL', KEYS[1])
