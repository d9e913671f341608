-- login.lua: an agent logs in with an endpoint, queues and skills.
-- KEYS[1] = agent hash, KEYS[2] = logged-in agents set
-- ARGV[3] = agent id, ARGV[4] = endpoint, ARGV[5] = queues (comma list),
-- ARGV[6] = skills ("billing:3,spanish:7", '' for none),
-- ARGV[7] = how long the record is kept once logged out (ms; kept in the
-- record as 'logged_out_ttl_ms' for every logout path: lib's logged_out),
-- ARGV[8] = actor: who asked (Go's actor.go: 'agent:<id>', 'supervisor:<name>'),
-- ARGV[9..] = legal transitions for 'login' as from, to pairs (Go's table)
-- Returns {state, since}. Errors: ILLEGAL <state>.
-- The record is written anew: a logged-out record's expiry (set at the
-- logout) goes with it, so a logged-in agent's record never expires.
local cur = redis.call('HGET', KEYS[1], 'state') or 'logged_out'
local to = transition_to(cur, 9)
if not to then return redis.error_reply('ILLEGAL ' .. cur) end
local now = now_ms()
redis.call('DEL', KEYS[1])
redis.call('HSET', KEYS[1], 'id', ARGV[3], 'endpoint', ARGV[4], 'queues', ARGV[5],
  'logged_out_ttl_ms', ARGV[7])
-- The skills live in the agent's hash and, for routing to read many agents'
-- at once, in one hash of all agents' skills.
if ARGV[6] ~= '' then
  redis.call('HSET', KEYS[1], 'skills', ARGV[6])
  redis.call('HSET', k_skills(), ARGV[3], ARGV[6])
else
  redis.call('HDEL', k_skills(), ARGV[3])
end
set_agent_state(ARGV[3], cur, to, now, nil, ARGV[8])
redis.call('SADD', KEYS[2], ARGV[3])
return {to, now}
