-- lib.lua: helpers shared by every script (prepended to each one when it is
-- loaded, so a script is still one EVALSHA and one round trip).
--
-- Every script takes ARGV[1] = key base ("tandem:v1:") and ARGV[2] = the id
-- of the node running it. Key names mirror internal/keyspace/keyspace.go.
--
-- Scripts build some key names at run time (the queues of an agent, the
-- agent chosen from a queue), which Redis Cluster would not allow across
-- slots; Tandem runs on a single Redis (or one shard) for now.

local B = ARGV[1]
local SELF = ARGV[2]

local function k_ix(conn) return B .. 'ix:' .. conn end
local function k_waiting(q) return B .. '{q:' .. q .. '}:waiting' end
local function k_avail(q) return B .. '{q:' .. q .. '}:avail' end
local function k_agent(id) return B .. 'agent:' .. id end
local function k_events() return B .. 'events' end
local function k_inbox(node) return B .. 'node:' .. node .. ':inbox' end
local function k_agent_chan(id) return B .. 'agent-events:' .. id end
local function k_wrapup_due() return B .. 'wrapup-due' end
local function k_active() return B .. 'active-calls' end

-- now_ms is the one clock every replica shares: Redis TIME.
local function now_ms()
  local t = redis.call('TIME')
  return tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
end

local function split(csv)
  local out = {}
  if csv then
    for item in string.gmatch(csv, '[^,]+') do out[#out + 1] = item end
  end
  return out
end

-- history appends one transition to the shared event stream. The stream is
-- capped (approximately) so it cannot grow without bound.
local function history(kind, id, from, to, now, extra)
  local args = {k_events(), 'MAXLEN', '~', '1000000', '*',
    'kind', kind, 'id', id, 'from', from or '', 'to', to, 'at', tostring(now)}
  if extra then
    for i = 1, #extra do args[#args + 1] = extra[i] end
  end
  redis.call('XADD', unpack(args))
end

-- set_agent_state moves an agent and tells its desktop.
local function set_agent_state(id, from, to, now, conn)
  redis.call('HSET', k_agent(id), 'state', to, 'since', now)
  if conn then redis.call('HSET', k_agent(id), 'conn', conn) end
  history('agent', id, from, to, now, conn and {'conn', conn} or nil)
  redis.call('PUBLISH', k_agent_chan(id),
    cjson.encode({type = 'state', agent = id, state = to, at_ms = now, connection_id = conn}))
end

-- make_available puts an agent in every one of its queues' available sets,
-- scored by the moment it became idle (longest idle = lowest score).
local function make_available(id, now)
  for _, q in ipairs(split(redis.call('HGET', k_agent(id), 'queues'))) do
    redis.call('ZADD', k_avail(q), now, id)
  end
end

local function make_unavailable(id)
  for _, q in ipairs(split(redis.call('HGET', k_agent(id), 'queues'))) do
    redis.call('ZREM', k_avail(q), id)
  end
end

-- make_offer binds one waiting call to one available agent: the call leaves
-- its queue (offered), the agent leaves every available set (reserved).
-- Because this runs inside a script, no other replica can offer the same
-- call or the same agent in between: double offers are impossible.
--
-- If the call is owned by another node, the offer is appended to that
-- node's inbox stream (same round trip) and nil, true is returned;
-- otherwise the offer is returned as {conn, agent, endpoint, attempt}.
local function make_offer(q, conn, agent, now)
  local ix = k_ix(conn)
  redis.call('ZREM', k_waiting(q), conn)
  make_unavailable(agent)
  set_agent_state(agent, 'available', 'reserved', now, conn)
  local attempt = redis.call('HINCRBY', ix, 'offers', 1)
  redis.call('HSET', ix, 'state', 'offered', 'offered', now, 'agent', agent)
  history('interaction', conn, 'queued', 'offered', now, {'agent', agent, 'queue', q})
  local endpoint = redis.call('HGET', k_agent(agent), 'endpoint')
  local owner = redis.call('HGET', ix, 'owner')
  local offer = {conn, agent, endpoint, tostring(attempt)}
  if owner ~= SELF then
    redis.call('XADD', k_inbox(owner), 'MAXLEN', '~', '100000', '*',
      'conn', conn, 'agent', agent, 'endpoint', endpoint, 'attempt', tostring(attempt))
    return nil, true
  end
  return offer
end

-- excluded says whether a call must not go to agent (a call transferred to
-- a queue never comes back to the agent who transferred it).
local function excluded(conn, agent)
  return redis.call('HGET', k_ix(conn), 'exclude') == agent
end

-- MATCH_WINDOW bounds how far past an excluded pairing a match looks, so a
-- script's work stays bounded however long the queue.
local MATCH_WINDOW = 5

-- match_queue offers the best waiting call of q to q's longest-idle agent
-- that the call does not exclude, if there are both.
local function match_queue(q, now)
  local c = redis.call('ZRANGE', k_waiting(q), 0, 0)
  if #c == 0 then return nil end
  local agents = redis.call('ZRANGE', k_avail(q), 0, MATCH_WINDOW - 1)
  for _, a in ipairs(agents) do
    if not excluded(c[1], a) then
      return make_offer(q, c[1], a, now)
    end
  end
  return nil
end

-- match_agent offers a newly available agent the best waiting call across
-- all its queues (scores are comparable: priority band + arrival time),
-- skipping calls that exclude it. Bounded by the agent's queues times
-- MATCH_WINDOW.
local function match_agent(id, now)
  local best_q, best_conn, best_score
  for _, q in ipairs(split(redis.call('HGET', k_agent(id), 'queues'))) do
    local r = redis.call('ZRANGE', k_waiting(q), 0, MATCH_WINDOW - 1, 'WITHSCORES')
    for i = 1, #r, 2 do
      if not excluded(r[i], id) then
        local s = tonumber(r[i + 1])
        if best_score == nil or s < best_score then
          best_q, best_conn, best_score = q, r[i], s
        end
        break
      end
    end
  end
  if best_conn == nil then return nil end
  return make_offer(best_q, best_conn, id, now)
end

-- after_call moves an agent whose part in conn is over. One who talked goes
-- to wrap-up (after-call work) until a code is given or wrapup_ms passes;
-- one never connected (or any, with no wrap-up time) is available again at
-- once and offered the next call. Returns the offer or nil. Does nothing unless the agent is still
-- bound to conn.
local function after_call(agent, conn, now, wrapup_ms)
  if not agent or agent == '' then return nil end
  local a = k_agent(agent)
  local st = redis.call('HGET', a, 'state')
  if redis.call('HGET', a, 'conn') ~= conn then return nil end
  if st == 'connected' and tonumber(wrapup_ms) > 0 then
    set_agent_state(agent, st, 'wrapup', now, conn)
    redis.call('ZADD', k_wrapup_due(), now + tonumber(wrapup_ms), agent)
    return nil
  end
  -- With no wrap-up time configured, an agent who talked is free at once.
  if st ~= 'reserved' and st ~= 'ringing' and st ~= 'connected' then return nil end
  redis.call('HDEL', a, 'conn')
  local pending = redis.call('HGET', a, 'after_call')
  if pending == 'idle' then
    redis.call('HSET', a, 'reason', redis.call('HGET', a, 'after_reason') or '')
    redis.call('HDEL', a, 'after_call', 'after_reason')
    set_agent_state(agent, st, 'idle', now, nil)
    return nil
  end
  set_agent_state(agent, st, 'available', now, nil)
  make_available(agent, now)
  return match_agent(agent, now)
end

-- end_wrapup ends an agent's after-call work with code: the agent becomes
-- available (and is offered the next call) or idle, if they asked for idle
-- during the call. Returns the offer or nil; false if not in wrap-up.
local function end_wrapup(agent, code, by, now)
  local a = k_agent(agent)
  if redis.call('HGET', a, 'state') ~= 'wrapup' then return false end
  local conn = redis.call('HGET', a, 'conn')
  if conn then
    redis.call('HSET', k_ix(conn), 'wrapup:' .. agent, code)
    history('wrapup', agent, '', code, now, {'conn', conn, 'by', by})
  end
  redis.call('ZREM', k_wrapup_due(), agent)
  redis.call('HDEL', a, 'conn')
  local pending = redis.call('HGET', a, 'after_call')
  if pending == 'idle' then
    redis.call('HSET', a, 'reason', redis.call('HGET', a, 'after_reason') or '')
    redis.call('HDEL', a, 'after_call', 'after_reason')
    set_agent_state(agent, 'wrapup', 'idle', now, nil)
    return nil
  end
  set_agent_state(agent, 'wrapup', 'available', now, nil)
  make_available(agent, now)
  return match_agent(agent, now)
end

-- transition_to finds where an agent in state cur goes, in the from, to
-- pairs Go passed from its state table starting at ARGV[first]; nil if the
-- event is illegal in cur.
local function transition_to(cur, first)
  for i = first, #ARGV, 2 do
    if ARGV[i] == cur then return ARGV[i + 1] end
  end
  return nil
end

-- ---------------------------------------------------------------- script --
