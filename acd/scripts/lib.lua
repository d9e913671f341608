-- lib.lua: helpers shared by every script (prepended to each one when it is
-- loaded, so a script is still one EVALSHA and one round trip).
--
-- Every script takes ARGV[1] = key base ("tandem:v1:") and ARGV[2] = the
-- seat running it: "<node>", or "<node>|<token>" for a seat's engine, whose
-- fencing token it is. Scripts read the node as SELF (never ARGV[2]). With a
-- token, the prelude below refuses the script ("FENCED <node> <token>",
-- Go: errs.ErrFenced) unless node:<node>:fence still holds that token: a
-- paused or partitioned old owner of the seat changes nothing once a newer
-- holder acquired it (acd/lease.go). Key names mirror
-- internal/keyspace/keyspace.go (acd's keys_lua_test.go runs these builders
-- and compares).
--
-- Scripts build some key names at run time (the queues of an agent, the
-- agent chosen from a queue), which Redis Cluster would not allow across
-- slots; Tandem runs on a single Redis (or one shard) for now.

local B = ARGV[1]
local SELF, FENCE = ARGV[2], nil
local function k_fence(node) return B .. 'node:' .. node .. ':fence' end
do
  local bar = string.find(SELF, '|', 1, true)
  if bar then SELF, FENCE = string.sub(SELF, 1, bar - 1), string.sub(SELF, bar + 1) end
end
if FENCE and redis.call('GET', k_fence(SELF)) ~= FENCE then
  return redis.error_reply('FENCED ' .. SELF .. ' ' .. FENCE)
end

-- RETENTION_MS is how long a finished interaction's record is kept.
local RETENTION_MS = 7 * 24 * 3600 * 1000

local function k_ix(conn) return B .. 'ix:' .. conn end
local function k_waiting(q) return B .. '{q:' .. q .. '}:waiting' end
local function k_avail(q) return B .. '{q:' .. q .. '}:avail' end
local function k_agent(id) return B .. 'agent:' .. id end
local function k_events() return B .. 'events' end
local function k_inbox(node) return B .. 'node:' .. node .. ':inbox' end
-- k_seat_calls: the SET of a seat's non-terminal interactions (owner =
-- node); arrive and adopt add, finish removes (acd/reconcile.go reads it).
local function k_seat_calls(node) return B .. 'node:' .. node .. ':calls' end
local function k_agent_chan(id) return B .. 'agent-events:' .. id end
local function k_wrapup_due() return B .. 'wrapup-due' end
local function k_active() return B .. 'active-calls' end
local function k_refused_full() return B .. 'refused-full' end
local function k_alive(node) return B .. 'node:' .. node .. ':alive' end
local function k_seats() return B .. 'seats' end
-- Routing keys (acd/routing.go writes the config and reads the day stats):
--   {q:<q>}:config        HASH  strategy, weight, skills (requirements,
--                               encoded), call_skills (skills calls may
--                               require on their own: indexed), gen (bumped
--                               when strategy, skills or call_skills change:
--                               the index keys below carry it)
--   {q:<q>}:g<gen>:elig:<c>  ZSET  available agents of the queue whose
--                               class is c (below): every available agent
--                               of the queue is in exactly one of them
--   {q:<q>}:g<gen>:skill:<s> ZSET  available agents of the queue having
--                               skill s (any level), for each skill s
--                               in the queue's call_skills only
--                               Both scored by idle-since ms (longest idle
--                               first) or, for round_robin, 0 (agent-id
--                               order).
--   {q:<q>}:rr-last       STR   the agent round robin served last
--   {q:<q>}:sweep-at      STR   where the sweep's rotating window starts
--   agent-skills          HASH  agent id -> skills ("billing:3,spanish:7")
--   agent-day:<d>:calls / :talk  HASH  agent id -> calls answered / talk ms
--                               on UTC day d (days since 1970), kept 2 days
local function k_qconf(q) return B .. '{q:' .. q .. '}:config' end
local function k_elig(q, gen, c) return B .. '{q:' .. q .. '}:g' .. gen .. ':elig:' .. c end
local function k_skill(q, gen, s) return B .. '{q:' .. q .. '}:g' .. gen .. ':skill:' .. s end
local function k_rr(q) return B .. '{q:' .. q .. '}:rr-last' end
local function k_sweep_at(q) return B .. '{q:' .. q .. '}:sweep-at' end
local function k_skills() return B .. 'agent-skills' end
local function k_day(d, what) return B .. 'agent-day:' .. d .. ':' .. what end

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

local function contains(list, v)
  for _, x in ipairs(list) do
    if x == v then return true end
  end
  return false
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

-- set_agent_state moves an agent and tells its desktop. actor is who asked
-- (Go's actor.go: 'agent:<id>', 'supervisor:<name>'); nil for a move
-- Tandem makes by itself (an offer, a RONA, the end of a call), which the
-- history names 'system'.
local function set_agent_state(id, from, to, now, conn, actor)
  redis.call('HSET', k_agent(id), 'state', to, 'since', now)
  if conn then redis.call('HSET', k_agent(id), 'conn', conn) end
  local extra = {'actor', actor or 'system'}
  if conn then
    extra[#extra + 1] = 'conn'
    extra[#extra + 1] = conn
  end
  history('agent', id, from, to, now, extra)
  redis.call('PUBLISH', k_agent_chan(id),
    cjson.encode({type = 'state', agent = id, state = to, at_ms = now, connection_id = conn}))
end

-- DEFAULT_LOGGED_OUT_TTL_MS keeps a logged-out record whose login did not
-- record its own time (a record from before it was recorded) a week.
local DEFAULT_LOGGED_OUT_TTL_MS = 7 * 24 * 3600 * 1000

-- logged_out is what every path to logged_out does besides the state
-- change (set_state.lua: the agent's logout; force_agent_state.lua: a
-- supervisor's): the record expires after the time its login recorded
-- (a login before then writes it anew, without expiry), and the agent's
-- entry in the skills hash goes (login writes it again; routing reads it
-- for available agents only). Nothing else names a logged-out agent:
-- the logged-in set is left by the caller, the day stats expire on their
-- own, so an expired record leaves nothing behind.
local function logged_out(id)
  local a = k_agent(id)
  local ttl = tonumber(redis.call('HGET', a, 'logged_out_ttl_ms') or '') or DEFAULT_LOGGED_OUT_TTL_MS
  redis.call('HDEL', k_skills(), id)
  redis.call('PEXPIRE', a, math.max(ttl, 1))
end

-- ------------------------------------------------------ agents' day stats --

local DAY_MS = 86400000

-- count_day adds n to an agent's figure for the UTC day of now ('calls'
-- answered, 'talk' ms). Each day is its own hash, expiring after two days:
-- "today" needs no reset.
local function count_day(agent, what, n, now)
  if not agent or agent == '' or n <= 0 then return end
  local k = k_day(math.floor(now / DAY_MS), what)
  redis.call('HINCRBY', k, agent, n)
  redis.call('EXPIRE', k, 172800)
end

-- credit_talk adds to agent's talk time today what it talked on the call
-- of ix since 'talk_from' (set when an agent answers or takes the call).
local function credit_talk(ix, agent, now)
  local from = tonumber(redis.call('HGET', ix, 'talk_from') or '')
  if from then count_day(agent, 'talk', now - from, now) end
end

-- ---------------------------------------------------------------- skills --
--
-- An agent's skills: "billing:3,spanish:7" (name:level, level 1..10).
-- A call's requirements, JSON (cjson decodes it in C):
--   [["spanish",7,30000,5,60000,3],["billing",3]]
-- i.e. per skill its name, minimum level, then (after ms, minimum level)
-- relaxation steps with increasing after and non-increasing levels. The
-- effective minimum of a skill is the level of its last step whose after
-- the call's wait (now - 'queued', Redis ms) has reached, else its base
-- minimum; 0 means the skill is no longer required. Go (routing.go)
-- validates and encodes both; skill names never contain ':' or ','.

-- level_pattern finds a skill's level in ",billing:3,spanish:7,".
local level_patterns = {}
local function level_pattern(skill)
  local p = level_patterns[skill]
  if not p then
    p = ',' .. string.gsub(skill, '[%-%.]', '%%%0') .. ':(%d+),'
    level_patterns[skill] = p
  end
  return p
end

-- parse_levels gives an agent's levels as a table read lazily: a skill's
-- level is looked up in the string the first time it is asked for (0 if
-- the agent lacks it), so an agent with many skills costs only the
-- lookups routing makes.
local function parse_levels(s)
  local wrapped = s and (',' .. s .. ',') or ''
  return setmetatable({}, {__index = function(t, skill)
    local l = tonumber(string.match(wrapped, level_pattern(skill)) or '0')
    rawset(t, skill, l)
    return l
  end})
end

local reqs_cache = {}
local function parse_reqs(s)
  if not s or s == '' then return {} end
  local r = reqs_cache[s]
  if not r then
    r = cjson.decode(s)
    reqs_cache[s] = r
  end
  return r
end

-- mins_at lists {skill, level} of every skill still required after wait.
local function mins_at(reqs, wait)
  local mins = {}
  for _, r in ipairs(reqs) do
    local m = r[2]
    for i = 3, #r - 1, 2 do
      if wait >= r[i] then m = r[i + 1] end
    end
    if m > 0 then mins[#mins + 1] = {r[1], m} end
  end
  return mins
end

-- meets: the agent's levels reach every minimum.
local function meets(levels, mins)
  for _, m in ipairs(mins) do
    if levels[m[1]] < m[2] then return false end
  end
  return true
end

-- queue_conf reads a queue's routing settings once per script. A queue
-- never configured routes longest idle, weight 0, no skills, gen 0.
-- Steps: the distinct relaxation times of all its skills, sorted; step j
-- (0..#thresholds) holds the minimums once the call waited thresholds[j]
-- (step 0: none reached). An agent's class in the queue is the first step
-- whose minimums it meets ('x' if none): a call at step k may go to the
-- agents of classes 0..k, and only to them.
local conf_cache = {}
local function queue_conf(q)
  local c = conf_cache[q]
  if c then return c end
  local h = redis.call('HMGET', k_qconf(q), 'strategy', 'weight', 'skills', 'gen', 'call_skills')
  c = {strategy = (h[1] and h[1] ~= '') and h[1] or 'longest_idle',
       weight = tonumber(h[2] or '') or 0, skills = h[3] or '', gen = h[4] or '0',
       call_skills = {}}
  for _, sk in ipairs(split(h[5] or nil)) do c.call_skills[sk] = true end
  c.rr = c.strategy == 'round_robin'
  c.reqs = parse_reqs(c.skills)
  local seen, ts = {}, {}
  for _, r in ipairs(c.reqs) do
    for i = 3, #r - 1, 2 do
      if not seen[r[i]] then seen[r[i]] = true; ts[#ts + 1] = r[i] end
    end
  end
  table.sort(ts)
  c.thresholds = ts
  c.step_mins = {[0] = mins_at(c.reqs, -1)}
  for j = 1, #ts do c.step_mins[j] = mins_at(c.reqs, ts[j]) end
  conf_cache[q] = c
  return c
end

local function agent_class(cfg, levels)
  for j = 0, #cfg.thresholds do
    if meets(levels, cfg.step_mins[j]) then return j end
  end
  return 'x'
end

local function step_of(cfg, wait)
  local k = 0
  for j = 1, #cfg.thresholds do
    if wait >= cfg.thresholds[j] then k = j end
  end
  return k
end

-- call_needs says what a waiting call asks of an agent: the minimum level
-- of each skill it still requires after waiting since 'queued' (its own
-- requirements from the IVR if it has any, else its queue's, then also its
-- step), the agent it excludes (a call transferred to a queue never goes
-- back to the agent who transferred it), the first required skill
-- (best_skill ranks by it) and the node that owns the call. One HMGET.
local function call_needs(q, conn, now)
  local h = redis.call('HMGET', k_ix(conn), 'skills', 'exclude', 'queued', 'owner')
  local wait = now - (tonumber(h[3] or '') or now)
  local needs = {exclude = h[2] or nil, owner = h[4] or nil}
  if h[1] and h[1] ~= '' then
    local reqs = parse_reqs(h[1])
    needs.own = true
    needs.mins = mins_at(reqs, wait)
    needs.first = reqs[1] and reqs[1][1] or nil
  else
    local cfg = queue_conf(q)
    needs.step = step_of(cfg, wait)
    needs.mins = cfg.step_mins[needs.step]
    needs.first = cfg.reqs[1] and cfg.reqs[1][1] or nil
  end
  return needs
end

-- ------------------------------------------------------ available agents --

-- index_agent adds (or, with remove, takes) an available agent to / from
-- its queue's indexes: its class set, and the set of each of its skills
-- that calls of the queue may require on their own (call_skills; each set
-- costs a write per availability change, hence not every skill).
local function index_agent(q, cfg, id, levels, now, remove)
  local score = cfg.rr and 0 or now
  local keys = {k_elig(q, cfg.gen, agent_class(cfg, levels))}
  for s in pairs(cfg.call_skills) do
    if levels[s] > 0 then keys[#keys + 1] = k_skill(q, cfg.gen, s) end
  end
  for _, k in ipairs(keys) do
    if remove then
      redis.call('ZREM', k, id)
    else
      redis.call('ZADD', k, score, id)
    end
  end
end

-- make_available puts an agent in every one of its queues' available sets,
-- scored by the moment it became idle (longest idle = lowest score), and
-- in the queues' indexes.
local function make_available(id, now)
  local h = redis.call('HMGET', k_agent(id), 'queues', 'skills')
  local levels = parse_levels(h[2] or nil)
  for _, q in ipairs(split(h[1] or nil)) do
    redis.call('ZADD', k_avail(q), now, id)
    index_agent(q, queue_conf(q), id, levels, now, false)
  end
end

local function make_unavailable(id)
  local h = redis.call('HMGET', k_agent(id), 'queues', 'skills')
  local levels = parse_levels(h[2] or nil)
  for _, q in ipairs(split(h[1] or nil)) do
    redis.call('ZREM', k_avail(q), id)
    index_agent(q, queue_conf(q), id, levels, 0, true)
  end
end

-- ------------------------------------------------- owners and deadlines --
--
-- A call is served by the seat that owns it (the interaction's 'owner').
-- The seat is alive iff node:<owner>:alive exists (its lease): routing
-- never offers a call whose owner is not alive (the offer would wait in a
-- dead inbox with its agent reserved), and the recoverer (recover.lua)
-- frees what a dead owner left reserved. Keys:
--   node:<node>:alive     STR   present while seat <node> is held
--   offers-due            ZSET  agent id -> the Redis ms past which its
--                               reservation or ring (for the call in its
--                               'conn') is overdue; the same ms is in the
--                               agent's 'offer_due' field (the score moves
--                               when the recoverer looks again later)
-- (k_alive is defined with the other key builders at the top.)
local function k_offers_due() return B .. 'offers-due' end

-- DEFAULT_RING_MS is the ring timeout of a queue whose configuration does
-- not say (the config's default, routing.ring_timeout).
local DEFAULT_RING_MS = 30000
-- OFFER_MARGIN_MS is added to the ring timeout to give an offer's
-- deadline: the owner delivers the offer to the call's actor, asks the PBX
-- to ring (its ring timer starts then, the PBX's own originate timeout is
-- the ring timeout + 2 s), and its timers run on its own clock, not on
-- Redis's. Past the deadline the PBX has given the agent's leg up.
local OFFER_MARGIN_MS = 10000

local alive_cache = {}
-- owner_alive says whether the seat owning a call is held. The node
-- running the script holds its own seat (a stale holder is fenced before
-- the script body runs); any other owner is alive iff its lease key
-- exists, read once per script. No owner: nobody can serve the call.
local function owner_alive(owner)
  if not owner or owner == '' then return false end
  if owner == SELF then return true end
  local a = alive_cache[owner]
  if a == nil then
    a = redis.call('EXISTS', k_alive(owner)) == 1
    alive_cache[owner] = a
  end
  return a
end

local ring_cache = {}
-- offer_deadline is when an offer or ring of a call of queue q made now is
-- overdue: now + the queue's ring timeout (written by SetQueues) + margin.
local function offer_deadline(q, now)
  local ms = q and ring_cache[q]
  if q and not ms then
    ms = tonumber(redis.call('HGET', k_qconf(q), 'ring_ms') or '') or DEFAULT_RING_MS
    ring_cache[q] = ms
  end
  return now + (ms or DEFAULT_RING_MS) + OFFER_MARGIN_MS
end

-- mark_due records that agent, now reserved or ringing for a call of
-- queue q, is overdue at the offer's deadline unless it moves on.
local function mark_due(agent, q, now)
  local due = offer_deadline(q, now)
  redis.call('ZADD', k_offers_due(), due, agent)
  redis.call('HSET', k_agent(agent), 'offer_due', due)
end

-- clear_due forgets an agent's deadline: it left reserved / ringing.
local function clear_due(agent)
  redis.call('ZREM', k_offers_due(), agent)
  redis.call('HDEL', k_agent(agent), 'offer_due')
end

-- ----------------------------------------------------------------- offers --

-- make_offer binds one waiting call to the chosen available agents (one,
-- or several for ring_all): the call leaves its queue (offered), the agents
-- leave every available set (reserved). Because this runs inside a script,
-- no other replica can offer the same call or the same agents in between:
-- double offers are impossible.
--
-- The offer is {conn, agent, endpoint, attempt} followed, for a ring-all
-- offer, by agent, endpoint pairs of the other agents rung at once (the
-- interaction's 'agent' is the first, 'ring' lists them all).
--
-- If the call is owned by another node, or to_inbox is set (the reply has
-- no room for this offer), the offer is appended to the owner's inbox
-- stream (same round trip) and nil, true is returned.
local function make_offer(q, conn, chosen, now, cfg, to_inbox)
  local ix = k_ix(conn)
  redis.call('ZREM', k_waiting(q), conn)
  local eps = {}
  for i, a in ipairs(chosen) do
    make_unavailable(a)
    set_agent_state(a, 'available', 'reserved', now, conn)
    mark_due(a, q, now)
    eps[i] = redis.call('HGET', k_agent(a), 'endpoint') or ''
  end
  local attempt = redis.call('HINCRBY', ix, 'offers', 1)
  redis.call('HSET', ix, 'state', 'offered', 'offered', now, 'agent', chosen[1])
  local extra = {'agent', chosen[1], 'queue', q}
  if #chosen > 1 then
    local ring = table.concat(chosen, ',')
    redis.call('HSET', ix, 'ring', ring)
    extra[#extra + 1] = 'ring'
    extra[#extra + 1] = ring
  end
  if cfg and cfg.rr then
    redis.call('SET', k_rr(q), chosen[1])
  end
  history('interaction', conn, 'queued', 'offered', now, extra)
  local owner = redis.call('HGET', ix, 'owner')
  if owner ~= SELF or to_inbox then
    local args = {k_inbox(owner), 'MAXLEN', '~', '100000', '*',
      'conn', conn, 'agent', chosen[1], 'endpoint', eps[1], 'attempt', tostring(attempt)}
    if #chosen > 1 then
      local others = {}
      for i = 2, #chosen do others[#others + 1] = {chosen[i], eps[i]} end
      args[#args + 1] = 'ring'
      args[#args + 1] = cjson.encode(others)
    end
    redis.call('XADD', unpack(args))
    return nil, true
  end
  local offer = {conn, chosen[1], eps[1], tostring(attempt)}
  for i = 2, #chosen do
    offer[#offer + 1] = chosen[i]
    offer[#offer + 1] = eps[i]
  end
  return offer
end

-- ---------------------------------------------------------------- routing --
--
-- Bounded work. A routing decision never walks a whole queue or a whole
-- available set.
--  * Queue side (match_queue: enqueue, no_answer, transfer_queue,
--    move_queue, sweep). For each call looked at, the candidate agents come
--    from the queue's index, so agents who cannot take it are not even
--    read: for a call with the queue's requirements at step k, the class
--    sets 0..k (every member eligible); for a call with its own
--    requirements, the skill set of its most selective required skill
--    (members have the skill, maybe not the level). At most AGENT_WINDOW
--    agents are taken from those sets in the strategy's order (a ZRANGE per
--    set, merged), checked still available (one ZMSCORE), their levels
--    read (one HMGET) and, for fewest_calls / least_talk_time, today's
--    figures (one HMGET); windows are shared by calls needing the same
--    sets. Calls looked at: the first CALL_WINDOW of the queue plus the
--    call just queued (one HMGET each); the sweep looks at SWEEP_WINDOW
--    from the head and SWEEP_WINDOW more from a rotating offset.
--  * Agent side (match_agent: set_state available, after_call, end_wrapup,
--    ring-all release). For each of the agent's queues, at most
--    AGENT_SIDE_WINDOW waiting calls from the head (one HMGET each),
--    stopping at the first the agent may take, or as soon as no call of
--    that queue can beat the best found.
-- Consequences: the strategies rank within a window (e.g. fewest_calls is
-- "fewest calls among the 50 longest-idle eligible agents"); a call with
-- its own requirements can miss an eligible agent behind 50 longer-idle
-- agents who have the skill below the level (they take other calls, so
-- this does not last); a call behind more than AGENT_SIDE_WINDOW calls
-- that its freed agent cannot take is reached by the sweep's rotating
-- window. Relaxation is driven by time, not by an event: a call that waited
-- long enough for more agents is paired by the next routing event of its
-- queue or, at the latest, the sweep.
--  * Dead owners. A call whose owner is not alive (owner_alive) is passed
--    over where it stands: it keeps its place for whoever takes its seat
--    over, and the next call of the window is served. Passing one over
--    costs the HMGET the call is read with anyway, plus one EXISTS per
--    distinct owner per script, so the windows above stay the look-ahead
--    bound: a freed agent finds a live call behind up to
--    AGENT_SIDE_WINDOW - 1 dead ones (a crashed replica's share of a
--    queue's head: tens of calls), a call being queued is always looked at
--    itself, and deeper calls are reached by the sweep's rotating window.
--    A larger window would only cost every routing decision more while a
--    replica is down; the rotating window already bounds the wait.
local AGENT_WINDOW = 50
local CALL_WINDOW = 10
local SWEEP_WINDOW = 50
local AGENT_SIDE_WINDOW = 50
local AGENT_SIDE_PAGE = 5
-- ring_all rings at most this many agents at once.
local RING_ALL_MAX = 10
-- Weight: an agent in several queues takes the call with the lowest
--   effective score = score - weight x WEIGHT_MS
-- where score = (9 - priority) x 1e13 + arrival ms (the waiting zset's
-- score). Priority still comes first (bands are 1e13 ms apart); within a
-- priority, each point of a queue's weight counts as one minute of extra
-- waiting for its calls. Equal weights: the oldest call wins.
local WEIGHT_MS = 60000

-- candidate_sets names the index sets a call's agents come from: for the
-- queue's requirements at step k, the class sets 0..k; for the call's own,
-- the set of its most selective required skill among the queue's
-- call_skills, else (none indexed, or nothing required any more) every
-- class set.
local function candidate_sets(q, cfg, needs, zcard_cache)
  local out = {}
  if not needs.own then
    for j = 0, needs.step do out[#out + 1] = k_elig(q, cfg.gen, j) end
    return out
  end
  local best, best_n
  for _, m in ipairs(needs.mins) do
    if cfg.call_skills[m[1]] then
      local k = k_skill(q, cfg.gen, m[1])
      local n = zcard_cache[k]
      if not n then
        n = redis.call('ZCARD', k)
        zcard_cache[k] = n
      end
      if best == nil or n < best_n then best, best_n = k, n end
    end
  end
  if best then return {best} end
  for j = 0, #cfg.thresholds do out[#out + 1] = k_elig(q, cfg.gen, j) end
  out[#out + 1] = k_elig(q, cfg.gen, 'x')
  return out
end

-- merge takes the first n of several sorted lists (by less).
local function merge(lists, n, less)
  if #lists == 1 then
    local l = lists[1]
    while #l > n do table.remove(l) end
    return l
  end
  local out, pos = {}, {}
  for i = 1, #lists do pos[i] = 1 end
  while #out < n do
    local bi
    for i, l in ipairs(lists) do
      local v = l[pos[i]]
      if v ~= nil and (bi == nil or less(v, lists[bi][pos[bi]])) then bi = i end
    end
    if not bi then break end
    out[#out + 1] = lists[bi][pos[bi]]
    pos[bi] = pos[bi] + 1
  end
  return out
end

local function by_score(a, b)
  if a[1] ~= b[1] then return a[1] < b[1] end
  return a[2] < b[2]
end
local function by_id(a, b) return a < b end

-- fetch_window lists up to n agents of the sets, merged in the strategy's
-- order (by score; for round robin, by id from the agent after the last
-- served, wrapping), that are still in q's available set; plain takes them
-- from the available set itself.
local function fetch_window(q, cfg, sets, plain, n)
  local ids
  if plain then
    ids = redis.call('ZRANGE', k_avail(q), 0, n - 1)
  elseif cfg.rr then
    local last = redis.call('GET', k_rr(q))
    local after, wrap = {}, {}
    for _, k in ipairs(sets) do
      after[#after + 1] = redis.call('ZRANGEBYLEX', k, last and ('(' .. last) or '-', '+', 'LIMIT', 0, n)
    end
    ids = merge(after, n, by_id)
    if last and #ids < n then
      for _, k in ipairs(sets) do
        wrap[#wrap + 1] = redis.call('ZRANGEBYLEX', k, '-', '[' .. last, 'LIMIT', 0, n - #ids)
      end
      for _, id in ipairs(merge(wrap, n - #ids, by_id)) do ids[#ids + 1] = id end
    end
  elseif #sets == 1 then
    ids = redis.call('ZRANGE', sets[1], 0, n - 1)
  else
    local lists = {}
    for _, k in ipairs(sets) do
      local r = redis.call('ZRANGE', k, 0, n - 1, 'WITHSCORES')
      local l = {}
      for i = 1, #r, 2 do l[#l + 1] = {tonumber(r[i + 1]), r[i]} end
      lists[#lists + 1] = l
    end
    ids = {}
    for i, e in ipairs(merge(lists, n, by_score)) do ids[i] = e[2] end
  end
  if #ids == 0 or plain then return ids end
  -- The index follows the available set in the same scripts; this check
  -- keeps a stale entry (e.g. from a configuration change under way) from
  -- ever reserving an agent twice.
  local present = redis.call('ZMSCORE', k_avail(q), unpack(ids))
  local out = {}
  for i, id in ipairs(ids) do
    if present[i] then
      out[#out + 1] = id
    else
      for _, k in ipairs(sets) do redis.call('ZREM', k, id) end
    end
  end
  return out
end

-- new_window wraps agent ids with lazy, read-once lookups of their levels
-- (only of the skills asked for) and of today's figure the strategy ranks
-- by.
local function new_window(ids, cfg)
  local w = {ids = ids}
  local raw, levels, figures = nil, {}, nil
  local function of(i)
    local l = levels[i]
    if not l then
      if not raw then raw = redis.call('HMGET', k_skills(), unpack(ids)) end
      l = parse_levels(raw[i] or nil)
      levels[i] = l
    end
    return l
  end
  function w.level(i, skill) return of(i)[skill] end
  function w.meets(i, mins)
    if #mins == 0 then return true end
    return meets(of(i), mins)
  end
  function w.figure(i, now)
    if not figures then
      local what = cfg.strategy == 'fewest_calls' and 'calls' or 'talk'
      figures = redis.call('HMGET', k_day(math.floor(now / DAY_MS), what), unpack(ids))
    end
    return tonumber(figures[i] or '') or 0
  end
  return w
end

-- choose picks, for a call with needs, the agents of the window the
-- queue's strategy gives it: a list of one agent (of up to RING_ALL_MAX
-- for ring_all), or nil if none may take it. Ties go to the agent earlier
-- in the window (longest idle).
local function choose(cfg, needs, win, now)
  local strat = cfg.strategy
  local ranked = strat == 'fewest_calls' or strat == 'least_talk_time' or strat == 'best_skill'
  local ring, best, best_key = {}, nil, nil
  for i, a in ipairs(win.ids) do
    if a ~= needs.exclude and win.meets(i, needs.mins) then
      if strat == 'ring_all' then
        ring[#ring + 1] = a
        if #ring >= RING_ALL_MAX then break end
      elseif ranked then
        local key
        if strat == 'best_skill' then
          if not needs.first then return {a} end
          key = -win.level(i, needs.first)
        else
          key = win.figure(i, now)
        end
        if best_key == nil or key < best_key then best, best_key = a, key end
      else
        return {a} -- longest_idle, round_robin: the first eligible
      end
    end
  end
  if #ring > 0 then return ring end
  if best then return {best} end
  return nil
end

-- FIRST_WINDOW: strategies that take the first eligible agent read this
-- many first (from class sets every one is eligible), the full
-- AGENT_WINDOW only if none of them may take the call.
local FIRST_WINDOW = 8

-- match_queue offers a waiting call of q to the agents q's strategy picks
-- among those who may take it: the first call, in queue order, of the
-- window (depth calls from rank from, CALL_WINDOW from the head by default,
-- plus extra: a call just queued, which may be deeper) that anyone may
-- take. plain takes the agents from q's available set itself rather than
-- the index (the sweep's safety net). Returns make_offer's result or nil.
local function match_queue(q, now, extra, depth, plain, from)
  if redis.call('ZCARD', k_avail(q)) == 0 then return nil end
  local cfg = queue_conf(q)
  local first_only = cfg.strategy == 'longest_idle' or cfg.strategy == 'round_robin'
  from = from or 0
  local conns = redis.call('ZRANGE', k_waiting(q), from, from + (depth or CALL_WINDOW) - 1)
  if extra and not contains(conns, extra) and redis.call('ZSCORE', k_waiting(q), extra) then
    conns[#conns + 1] = extra
  end
  local windows, zcards = {}, {}
  for _, c in ipairs(conns) do
    local needs = call_needs(q, c, now)
    -- A call whose owner is not alive keeps its place (see
    -- owner_alive); the next one is served.
    if owner_alive(needs.owner) then
      local sets = plain and {k_avail(q)} or candidate_sets(q, cfg, needs, zcards)
      local sig = table.concat(sets, '|')
      local win = windows[sig]
      local chosen
      if not win and first_only then
        local small = new_window(fetch_window(q, cfg, sets, plain, FIRST_WINDOW), cfg)
        chosen = choose(cfg, needs, small, now)
        if not chosen and #small.ids < FIRST_WINDOW then win = small end
      end
      if not chosen then
        if not win then
          win = new_window(fetch_window(q, cfg, sets, plain, AGENT_WINDOW), cfg)
          windows[sig] = win
        end
        if #win.ids > 0 then chosen = choose(cfg, needs, win, now) end
      end
      if chosen then return make_offer(q, c, chosen, now, cfg) end
      windows[sig] = win
    end
  end
  return nil
end

-- match_agent offers a newly available agent the best waiting call across
-- all its queues that it may take (its levels meet the call's requirements
-- and the call does not exclude it), by effective score (see WEIGHT_MS).
-- to_inbox: see make_offer.
local function match_agent(id, now, to_inbox)
  local h = redis.call('HMGET', k_agent(id), 'queues', 'skills')
  local levels = parse_levels(h[2] or nil)
  local best_q, best_conn, best_key
  for _, q in ipairs(split(h[1] or nil)) do
    local cfg = queue_conf(q)
    -- A first page of AGENT_SIDE_PAGE calls (usually enough), then the rest
    -- of the window.
    local from, to, done = 0, AGENT_SIDE_PAGE - 1, false
    while not done and from < AGENT_SIDE_WINDOW do
      local r = redis.call('ZRANGE', k_waiting(q), from, to, 'WITHSCORES')
      done = #r < 2 * (to - from + 1)
      for i = 1, #r, 2 do
        local key = tonumber(r[i + 1]) - cfg.weight * WEIGHT_MS
        if best_key ~= nil and key >= best_key then done = true; break end -- nothing better here
        local needs = call_needs(q, r[i], now)
        -- A dead owner's call is passed over (see owner_alive).
        if needs.exclude ~= id and owner_alive(needs.owner) and meets(levels, needs.mins) then
          best_q, best_conn, best_key = q, r[i], key
          done = true
          break
        end
      end
      from, to = to + 1, AGENT_SIDE_WINDOW - 1
    end
  end
  if best_conn == nil then return nil end
  return make_offer(best_q, best_conn, {id}, now, queue_conf(best_q), to_inbox)
end

-- ring_members lists the agents a call is offered to: every agent of a
-- ring-all offer, else its one agent.
local function ring_members(ix)
  local h = redis.call('HMGET', ix, 'ring', 'agent')
  if h[1] then return split(h[1]), true end
  if h[2] then return {h[2]}, false end
  return {}, false
end

-- clear_ring forgets a ring-all offer's list and per-agent legs.
local function clear_ring(ix, members)
  redis.call('HDEL', ix, 'ring')
  for _, m in ipairs(members) do redis.call('HDEL', ix, 'leg:' .. m) end
end

-- after_call moves an agent whose part in conn is over. One who talked goes
-- to wrap-up (after-call work) until a code is given or wrapup_ms passes;
-- one never connected (or any, with no wrap-up time) is available again at
-- once and offered the next call. Returns the offer or nil (to_inbox: see
-- make_offer). Does nothing unless the agent is still bound to conn.
local function after_call(agent, conn, now, wrapup_ms, to_inbox)
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
  if st ~= 'connected' then clear_due(agent) end
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
  return match_agent(agent, now, to_inbox)
end

-- end_wrapup ends an agent's after-call work with code: the agent becomes
-- available (and is offered the next call) or idle, if they asked for idle
-- during the call. actor is who gave the code (nil: 'system', a timeout).
-- Returns the offer or nil; false if not in wrap-up.
local function end_wrapup(agent, code, by, now, actor)
  local a = k_agent(agent)
  if redis.call('HGET', a, 'state') ~= 'wrapup' then return false end
  local conn = redis.call('HGET', a, 'conn')
  if conn then
    redis.call('HSET', k_ix(conn), 'wrapup:' .. agent, code)
    history('wrapup', agent, '', code, now, {'conn', conn, 'by', by, 'actor', actor or 'system'})
  end
  redis.call('ZREM', k_wrapup_due(), agent)
  redis.call('HDEL', a, 'conn')
  local pending = redis.call('HGET', a, 'after_call')
  if pending == 'idle' then
    redis.call('HSET', a, 'reason', redis.call('HGET', a, 'after_reason') or '')
    redis.call('HDEL', a, 'after_call', 'after_reason')
    set_agent_state(agent, 'wrapup', 'idle', now, nil, actor)
    return nil
  end
  set_agent_state(agent, 'wrapup', 'available', now, nil, actor)
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

-- --------------------------------------------------------- secure values --
--
-- A secure value (an IVR entry marked secure, a variable a queue declares
-- secure) is needed in clear only while its call runs: an agent on the
-- call may reveal it. Once the interaction ends nobody can, so it is not
-- kept: the end drops it (or, with a retention, the sweep drops it later,
-- secure_expire.lua). Dropping keeps the variable's name and replaces its
-- value with DROPPED, in the two places a value is kept:
--   ix:<conn>       'attached' (JSON object) — names listed in 'secure'
--                   (JSON array; acd/store.go writes it with 'attached')
--   ix:<conn>:cad   'v:<name>' — names listed in its '_secure' (JSON
--                   array; package cad writes it with the values)
-- Both lists are unioned and applied to both places: a name secure for
-- one is secure for the other. 'secure_keep_ms' (written at arrival) is
-- the retention.
local DROPPED = '[dropped]'
local function k_secure_due() return B .. 'secure-due' end

local function decode_names(raw, into)
  if not raw then return end
  local ok, list = pcall(cjson.decode, raw)
  if ok and type(list) == 'table' then
    for _, n in ipairs(list) do
      if type(n) == 'string' then into[n] = true end
    end
  end
end

-- secure_names is the set of an interaction's secure variable names.
local function secure_names(ix)
  local names = {}
  decode_names(redis.call('HGET', ix, 'secure'), names)
  decode_names(redis.call('HGET', ix .. ':cad', '_secure'), names)
  return names
end

-- drop_secure replaces every secure value of the interaction at ix with
-- DROPPED (empty values stay empty: there is nothing to hide). Bounded: a
-- call has a handful of variables.
local function drop_secure(ix)
  local names = secure_names(ix)
  if next(names) == nil then return end
  local raw = redis.call('HGET', ix, 'attached')
  if raw then
    local ok, att = pcall(cjson.decode, raw)
    if ok and type(att) == 'table' then
      local changed = false
      for n in pairs(names) do
        local v = att[n]
        if type(v) == 'string' and v ~= '' and v ~= DROPPED then
          att[n] = DROPPED
          changed = true
        end
      end
      if changed then redis.call('HSET', ix, 'attached', cjson.encode(att)) end
    end
  end
  local cad = ix .. ':cad'
  for n in pairs(names) do
    local v = redis.call('HGET', cad, 'v:' .. n)
    if v and v ~= '' and v ~= DROPPED then redis.call('HSET', cad, 'v:' .. n, DROPPED) end
  end
end

-- end_secure applies the retention of an interaction ending now: 0 drops
-- its secure values at once (in the script that ends it, so no ended
-- interaction keeps one); more schedules the drop (secure-due).
local function end_secure(ix, conn, now)
  local keep = tonumber(redis.call('HGET', ix, 'secure_keep_ms') or '') or 0
  if keep <= 0 then
    drop_secure(ix)
  elseif next(secure_names(ix)) ~= nil then
    redis.call('ZADD', k_secure_due(), now + keep, conn)
  end
end

-- ---------------------------------------------------------------- script --

-- close_interaction writes what every end of an interaction writes
-- (finish.lua, and force_end.lua for a supervisor's end): state `to` with
-- its time and who ended it; out of its queue's waiting list and out of
-- its seat's index (k_seat_calls: the next holder of the seat does not
-- rebuild it); no talk state; the wait of a call that never connected;
-- the agents' view of the call closed (nobody held, consulted or recorded
-- any more); kept a week (reports read the event stream, the record and
-- its call-associated data are for recent look-ups, so Redis does not
-- grow with every call); no longer counted against the concurrent-call
-- cap; its secure values dropped, or their drop scheduled (end_secure).
-- The caller appends the history entry and frees the agents.
local function close_interaction(ix, conn, st, to, now, by)
  local q = redis.call('HGET', ix, 'queue')
  if q then redis.call('ZREM', k_waiting(q), conn) end
  redis.call('HSET', ix, 'state', to, 'ended', now, 'ended_by', by)
  local owner = redis.call('HGET', ix, 'owner')
  if owner then redis.call('SREM', k_seat_calls(owner), conn) end
  -- 'pop': the screen pop of an offer (acd/offer_pop.go), over with the call.
  redis.call('HDEL', ix, 'talk_state', 'pop')
  if to ~= 'ended' then
    local queued = redis.call('HGET', ix, 'queued')
    if queued then redis.call('HSET', ix, 'wait_ms', now - tonumber(queued)) end
  end
  local view = redis.call('HGET', ix, 'view')
  if view then
    local v = cjson.decode(view)
    v.state, v.customer_held = to, false
    v.held_since, v.consult, v.recording = nil, nil, nil
    redis.call('HSET', ix, 'view', cjson.encode(v))
  end
  end_secure(ix, conn, now)
  redis.call('PEXPIRE', ix, RETENTION_MS)
  redis.call('PEXPIRE', ix .. ':cad', RETENTION_MS)
  if redis.call('HGET', ix, 'counted') == '1' then
    redis.call('DECR', k_active())
    redis.call('HSET', ix, 'counted', '0')
  end
end
