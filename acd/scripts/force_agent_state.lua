-- force_agent_state.lua: a supervisor puts an agent in a state (logged_out,
-- available, idle) whatever state Redis has it in, including reserved,
-- ringing or connected with a call no actor runs (issue 10's stuck agent).
-- The normal state table (set_state.lua) refuses those; this script does
-- not, except for a live call whose owner replica is alive: that call may
-- well be running, so the agent is not taken from under it (Go answers
-- 409 naming the call, or force-ends it first when asked to).
-- KEYS[1] = agent hash, KEYS[2] = logged-in agents set, KEYS[3] = audit
-- stream, KEYS[4] = the hash of the interaction Go saw the agent bound to
-- (any key when none), KEYS[5] = liveness key of that interaction's owner
-- (node:<owner>:alive; any key when none)
-- ARGV[3] = agent id, ARGV[4] = target state, ARGV[5] = idle reason code
-- (target idle), ARGV[6] = who (the supervisor's identity), ARGV[7] =
-- reason (why, for the audit), ARGV[8] = the connection id Go saw on the
-- agent ('' none), ARGV[9] = that interaction's owner as Go saw it
-- Returns {before, after} or, refused, {'busy', conn, interaction state}.
-- Errors: NOTFOUND <agent>; ILLEGAL logged_out (a logged-out agent logs in
-- itself: login brings its endpoint, queues and skills); STALE if the
-- agent's call or its owner changed since Go looked (Go looks again).
-- The agent's longest-idle sorted sets and routing indexes follow, as in
-- set_state.lua: leaving available takes the agent out of them; becoming
-- available puts it in, scored now, and offers it the best waiting call
-- (the offer goes to the call owner's inbox, as for a released ring-all).
local agent = ARGV[3]
local cur = redis.call('HGET', KEYS[1], 'state')
if not cur then return redis.error_reply('NOTFOUND ' .. agent) end
local conn = redis.call('HGET', KEYS[1], 'conn') or ''
if conn ~= ARGV[8] then return redis.error_reply('STALE agent moved') end
local to = ARGV[4]
if cur == 'logged_out' and to ~= 'logged_out' then
  return redis.error_reply('ILLEGAL logged_out')
end
if conn ~= '' and (cur == 'reserved' or cur == 'ringing' or cur == 'connected') then
  local ixst = redis.call('HGET', KEYS[4], 'state')
  if ixst and ixst ~= 'ended' and ixst ~= 'abandoned' and ixst ~= 'failed' then
    if (redis.call('HGET', KEYS[4], 'owner') or '') ~= ARGV[9] then
      return redis.error_reply('STALE owner changed')
    end
    if redis.call('EXISTS', KEYS[5]) == 1 then return {'busy', conn, ixst} end
  end
end
local now = now_ms()
local function audit(after)
  redis.call('XADD', KEYS[3], '*', 'kind', 'force_agent_state', 'agent', agent,
    'actor', ARGV[6], 'who', ARGV[6], 'reason', ARGV[7], 'before', cur, 'after', after,
    'connection_id', conn, 'at', tostring(now))
end
-- Already there: nothing moves (an available agent keeps its place in
-- line), but the request is audited. idle is applied again: the reason
-- code may change.
if cur == to and to ~= 'idle' then
  -- A logged-out record without expiry (written before logouts set one)
  -- gets it now.
  if to == 'logged_out' and redis.call('PTTL', KEYS[1]) == -1 then logged_out(agent) end
  audit(cur)
  return {cur, cur}
end
if cur == 'available' then make_unavailable(agent) end
if cur == 'wrapup' then redis.call('ZREM', k_wrapup_due(), agent) end
redis.call('HDEL', KEYS[1], 'conn', 'after_call', 'after_reason')
if to == 'idle' then
  redis.call('HSET', KEYS[1], 'reason', ARGV[5])
else
  redis.call('HDEL', KEYS[1], 'reason')
end
redis.call('HSET', KEYS[1], 'state', to, 'since', now)
local extra = {'forced', '1', 'by', 'supervisor', 'actor', ARGV[6], 'who', ARGV[6], 'reason', ARGV[7]}
if conn ~= '' then
  extra[#extra + 1] = 'conn'
  extra[#extra + 1] = conn
end
history('agent', agent, cur, to, now, extra)
-- The call the agent leaves (a dead replica's) gets the fact in its own
-- history too.
if conn ~= '' then
  redis.call('XADD', k_events(), 'MAXLEN', '~', '1000000', '*', 'kind', 'control', 'id', conn,
    'action', 'force_agent_state', 'agent', agent, 'before', cur, 'after', to, 'actor', ARGV[6], 'who', ARGV[6],
    'reason', ARGV[7])
end
redis.call('PUBLISH', k_agent_chan(agent),
  cjson.encode({type = 'state', agent = agent, state = to, at_ms = now}))
if to == 'logged_out' then
  redis.call('SREM', KEYS[2], agent)
  logged_out(agent) -- the record expires as after the agent's own logout
end
if to == 'available' then
  make_available(agent, now)
  match_agent(agent, now, true)
end
audit(to)
return {cur, to}
