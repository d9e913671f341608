-- reveal.lua: returns one variable of a callback in clear and records who
-- asked in the audit stream, in one round trip, so no value leaves Redis
-- without its audit entry. The entry has the fields of a call variable's
-- reveal (cad/scripts/reveal.lua: kind, name, actor, agent, who, at) with
-- callback_id in place of connection_id and agent '' (a callback has no
-- agent yet); the value itself is never written to the stream.
-- KEYS[1] = callback hash, KEYS[2] = the audit stream
-- ARGV[2] = callback id, ARGV[3] = variable name, ARGV[4] = who (the API
-- principal's name, e.g. "supervisor:<name>")
-- Returns the value ('' when the callback has no such variable).
-- Errors: NOTFOUND <id>.
-- KEYS[1] and KEYS[2] are in different Cluster slots; Tandem runs on a
-- single Redis (or one shard) for now, like the CAD's reveal.
local raw = redis.call('HGET', KEYS[1], 'vars')
if not raw then return redis.error_reply('NOTFOUND ' .. ARGV[2]) end
local v = ''
local ok, vars = pcall(cjson.decode, raw)
if ok and type(vars) == 'table' and type(vars[ARGV[3]]) == 'string' then
  v = vars[ARGV[3]]
end
redis.call('XADD', KEYS[2], '*', 'kind', 'reveal', 'callback_id', ARGV[2],
  'name', ARGV[3], 'actor', ARGV[4], 'agent', '', 'who', ARGV[4], 'at', tostring(now_ms()))
return v
