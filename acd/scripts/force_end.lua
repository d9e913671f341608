-- force_end.lua: a supervisor ends an interaction that no actor will end:
-- its owner replica is dead, or alive but not running the call (the stuck
-- case of issue 10). acd/supervisor.go has hung up the legs and destroyed
-- the bridge on the PBX first; this script makes the interaction terminal,
-- takes it out of its queue and frees its agents, in one round trip, and
-- writes the audit entry with it (so no forced end goes unaudited).
-- KEYS[1] = interaction hash, KEYS[2] = audit stream,
-- KEYS[3] = liveness key of the owner Go saw (node:<owner>:alive)
-- ARGV[3] = connection id, ARGV[4] = the owner Go saw,
-- ARGV[5] = why the owner does not end it: 'dead' (its liveness key was
--           absent) or 'orphan' (alive, but it answered that it does not
--           run the call),
-- ARGV[6] = who (the supervisor's identity), ARGV[7] = reason,
-- ARGV[8] = wrap-up time (ms)
-- Returns {before, after, agent, agent_before, agent_after} ('' where
-- there is no agent).
-- Errors: NOTFOUND <conn>; ILLEGAL <state> if already terminal;
-- STALE if the owner changed, or came back (for 'dead'), since Go looked:
-- Go looks again and asks the owner.
-- Final state: 'ended' if the call was ever answered (connected, or
-- queued again after a transfer), 'abandoned' otherwise: the caller never
-- reached an agent. The agent goes where any ended call sends it
-- (after_call): to wrap-up if it talked and wrap-up time is configured,
-- so its after-call work and code are recorded as for a normal end (every
-- replica's sweep ends an overdue wrap-up, so a dead owner's timer is not
-- needed); else available at once, offered the next call through the
-- owners' inboxes.
local st = redis.call('HGET', KEYS[1], 'state')
if not st then return redis.error_reply('NOTFOUND ' .. ARGV[3]) end
if st == 'ended' or st == 'abandoned' or st == 'failed' then
  return redis.error_reply('ILLEGAL ' .. st)
end
if (redis.call('HGET', KEYS[1], 'owner') or '') ~= ARGV[4] then
  return redis.error_reply('STALE owner changed')
end
if ARGV[5] == 'dead' and redis.call('EXISTS', KEYS[3]) == 1 then
  return redis.error_reply('STALE owner alive')
end
local now = now_ms()
local to = 'abandoned'
if st == 'connected' or redis.call('HEXISTS', KEYS[1], 'answered') == 1 then to = 'ended' end
-- The consulted agent named in the desktops' view is freed too (read
-- before close_interaction clears the view's consult).
local consulted
local view = redis.call('HGET', KEYS[1], 'view')
if view then
  local v = cjson.decode(view)
  if type(v.consult) == 'table' and type(v.consult.agent) == 'string' then consulted = v.consult.agent end
end
close_interaction(KEYS[1], ARGV[3], st, to, now, 'supervisor')
history('interaction', ARGV[3], st, to, now, {'by', 'supervisor', 'who', ARGV[6], 'reason', ARGV[7], 'forced', '1'})
local agent = redis.call('HGET', KEYS[1], 'agent') or ''
local agent_before = agent ~= '' and (redis.call('HGET', k_agent(agent), 'state') or '') or ''
if st == 'connected' then credit_talk(KEYS[1], agent, now) end
local members, ring = ring_members(KEYS[1])
if ring then clear_ring(KEYS[1], members) end
if consulted and not contains(members, consulted) then members[#members + 1] = consulted end
for _, m in ipairs(members) do
  -- to_inbox: an offer a freed agent gets goes to its call's owner.
  after_call(m, ARGV[3], now, ARGV[8], true)
end
local agent_after = agent ~= '' and (redis.call('HGET', k_agent(agent), 'state') or '') or ''
-- The history records who asked and why as the owner path does (a
-- control entry), besides the transition above.
redis.call('XADD', k_events(), 'MAXLEN', '~', '1000000', '*', 'kind', 'control', 'id', ARGV[3],
  'action', 'force_end', 'actor', ARGV[6], 'who', ARGV[6], 'reason', ARGV[7], 'path', ARGV[5])
redis.call('XADD', KEYS[2], '*', 'kind', 'force_end', 'connection_id', ARGV[3],
  'actor', ARGV[6], 'who', ARGV[6], 'reason', ARGV[7], 'path', ARGV[5], 'owner', ARGV[4],
  'before', st, 'after', to, 'agent', agent, 'agent_before', agent_before,
  'agent_after', agent_after, 'at', tostring(now))
return {st, to, agent, agent_before, agent_after}
