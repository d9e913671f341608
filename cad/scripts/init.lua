-- init.lua: stores an interaction's first call-associated data (from the
-- PBX / IVR) at version 1, unless it is already there: a replica that
-- retries after a takeover must not overwrite edits made since.
-- KEYS[1] = the interaction's CAD hash
-- ARGV    = field, value pairs (fields are "v:<name>"); may be empty
-- Returns the hash as HGETALL returns it (field, value, ...), version
-- included as field "_version".
-- Bounded: ARGV holds one pair per variable the queue defines (a handful:
-- a desktop shows them all), far below what unpack can take.
if redis.call('EXISTS', KEYS[1]) == 0 then
  redis.call('HSET', KEYS[1], '_version', 1, unpack(ARGV))
end
return redis.call('HGETALL', KEYS[1])
