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
    cjson.encode({type = 'state', agent = id, state = to, at = now, connection_id = conn}))
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

-- match_queue offers the best waiting call of q to q's longest-idle agent,
-- if there are both. Two ZRANGEs: bounded work.
local function match_queue(q, now)
  local c = redis.call('ZRANGE', k_waiting(q), 0, 0)
  if #c == 0 then return nil end
  local a = redis.call('ZRANGE', k_avail(q), 0, 0)
  if #a == 0 then return nil end
  return make_offer(q, c[1], a[1], now)
end

-- match_agent offers a newly available agent the best waiting call across
-- all its queues (scores are comparable: priority band + arrival time).
-- Bounded by the agent's number of queues.
local function match_agent(id, now)
  local best_q, best_conn, best_score
  for _, q in ipairs(split(redis.call('HGET', k_agent(id), 'queues'))) do
    local r = redis.call('ZRANGE', k_waiting(q), 0, 0, 'WITHSCORES')
    if #r > 0 then
      local s = tonumber(r[2])
      if best_score == nil or s < best_score then
        best_q, best_conn, best_score = q, r[1], s
      end
    end
  end
  if best_conn == nil then return nil end
  return make_offer(best_q, best_conn, id, now)
end

-- release_agent frees the agent bound to conn (if it still is) and offers
-- it the next call. Returns the offer or nil.
local function release_agent(agent, conn, now)
  if not agent or agent == '' then return nil end
  local a = k_agent(agent)
  local st = redis.call('HGET', a, 'state')
  if redis.call('HGET', a, 'conn') ~= conn then return nil end
  if st ~= 'reserved' and st ~= 'ringing' and st ~= 'connected' then return nil end
  set_agent_state(agent, st, 'available', now, nil)
  redis.call('HDEL', a, 'conn')
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
