-- set_agent_queues.lua: a supervisor changes a logged-in agent's queues.
-- It is what logging in with those queues does to routing, without a
-- change of state: an available agent leaves its old queues' available
-- sets and routing indexes and joins the new ones' at once, keeping its
-- place in line (its idle-since), and is offered the best waiting call of
-- its queues it may take (the offer goes to the call owner's inbox, as
-- for a forced state). An agent in any other state keeps its state; its
-- next availability uses the new queues.
-- KEYS[1] = agent hash, KEYS[2] = audit stream
-- ARGV[3] = agent id, ARGV[4] = the queues (comma list, validated by Go:
-- configured queues, no duplicates), ARGV[5] = who (the supervisor's
-- identity), ARGV[6] = reason (why, for the audit)
-- Returns {state, old queues}. Errors: NOTFOUND <agent>; ILLEGAL
-- logged_out (a logged-out agent brings its queues when it logs in).
-- Written: the audit entry (kind set_agent_queues, before and after), a
-- history entry of kind 'queues' (not 'agent': the state does not move),
-- and a 'queues' event on the agent's channel for its desktop.
local agent = ARGV[3]
local cur = redis.call('HGET', KEYS[1], 'state')
if not cur then return redis.error_reply('NOTFOUND ' .. agent) end
if cur == 'logged_out' then return redis.error_reply('ILLEGAL logged_out') end
local old = redis.call('HGET', KEYS[1], 'queues') or ''
local now = now_ms()
if cur == 'available' then
  -- Its place in line: the idle-since it has in its queues' sets.
  local since = nil
  for _, q in ipairs(split(old)) do
    since = redis.call('ZSCORE', k_avail(q), agent)
    if since then break end
  end
  since = tonumber(since or redis.call('HGET', KEYS[1], 'since') or now)
  make_unavailable(agent)
  redis.call('HSET', KEYS[1], 'queues', ARGV[4])
  make_available(agent, since)
  match_agent(agent, now, true)
else
  redis.call('HSET', KEYS[1], 'queues', ARGV[4])
end
history('queues', agent, old, ARGV[4], now, {'state', cur, 'actor', ARGV[5], 'who', ARGV[5], 'reason', ARGV[6]})
redis.call('XADD', KEYS[2], '*', 'kind', 'set_agent_queues', 'agent', agent,
  'actor', ARGV[5], 'who', ARGV[5], 'reason', ARGV[6], 'before', old, 'after', ARGV[4],
  'state', cur, 'at', tostring(now))
redis.call('PUBLISH', k_agent_chan(agent),
  cjson.encode({type = 'queues', agent = agent, state = cur, at_ms = now, queues = split(ARGV[4])}))
return {cur, old}
