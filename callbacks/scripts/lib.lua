-- lib.lua: helpers shared by every callback script (prepended to each one
-- when it is loaded, so a script is still one EVALSHA and one round trip).
--
-- Every script takes ARGV[1] = key base ("tandem:v1:"). Key names mirror
-- internal/keyspace (keys_lua_test.go runs these builders and compares).
-- All callback keys share the hash tag {cb}, so they sit in one Redis
-- Cluster slot and a script may build ids' keys at run time.
--
--   {cb}:cb:<id>          HASH  one callback (fields: see callbacks/store.go)
--   {cb}:due              ZSET  pending callbacks by due time (Redis ms)
--   {cb}:leases           ZSET  dialing callbacks by lease expiry (Redis ms)
--   {cb}:pending:<queue>  HASH  normalised number -> id of the queue's live
--                               (pending or dialing) callback: the merge index
--   {cb}:waiting:<queue>  ZSET  the queue's pending callbacks by queue score
--   {cb}:takeover:<owner> STRING the node taking a dead owner's started
--                               dials over (expires with its leases)
--   {cb}:alive:<node>     STRING present while a node's scheduler runs
--                               (Store.Heartbeat)
--
-- States and transitions mirror callbacks/callback_fsm.go; a script that
-- refuses a transition replies 'ILLEGAL <state> <event>'.

local B = ARGV[1]

-- RETENTION_MS is how long a finished callback's record is kept.
local RETENTION_MS = 7 * 24 * 3600 * 1000

local function k_cb(id) return B .. '{cb}:cb:' .. id end
local function k_due() return B .. '{cb}:due' end
local function k_leases() return B .. '{cb}:leases' end
local function k_pending(q) return B .. '{cb}:pending:' .. q end
local function k_waiting(q) return B .. '{cb}:waiting:' .. q end
local function k_takeover(owner) return B .. '{cb}:takeover:' .. owner end
local function k_alive(node) return B .. '{cb}:alive:' .. node end

-- now_ms is the one clock every replica shares: Redis TIME.
local function now_ms()
  local t = redis.call('TIME')
  return tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
end

-- held replies an error unless holder (the token claim.lua gave,
-- '<node>#<n>') holds the lease of the callback at key. A lease is held
-- until it is reclaimed, even past its expiry: the record, not the clock,
-- fences.
local function held(key, id, node)
  local f = redis.call('HMGET', key, 'state', 'node')
  if not f[1] then return redis.error_reply('NOTFOUND ' .. id) end
  if f[1] ~= 'dialing' or f[2] ~= node then
    return redis.error_reply('LEASE ' .. id .. ' is ' .. f[1] .. ' held by ' .. tostring(f[2] or 'none'))
  end
  return nil
end

-- node_of is the node of a holder token ('<node>#<n>').
local function node_of(holder)
  return string.match(holder, '^(.*)#%d+$') or holder
end

-- add_attempt records attempt n (1-based) of the callback at key, made by
-- the node of holder.
local function add_attempt(key, n, at, outcome, holder)
  redis.call('HSET', key, 'attempts', n,
    'att:' .. n, cjson.encode({at = at, outcome = outcome, node = node_of(holder)}))
end

-- DROPPED replaces a secure value once the callback is over (Go:
-- callbacks.DroppedValue).
local DROPPED = '[dropped]'

-- drop_secure replaces the values of the callback's secure variables
-- ('secure', a JSON array of names of 'vars') with DROPPED: nobody can
-- reveal them once the callback is over. The names stay.
local function drop_secure(key)
  local f = redis.call('HMGET', key, 'secure', 'vars')
  if not f[1] or not f[2] then return end
  local ok1, names = pcall(cjson.decode, f[1])
  local ok2, vars = pcall(cjson.decode, f[2])
  if not (ok1 and ok2 and type(names) == 'table' and type(vars) == 'table') then return end
  local changed = false
  for _, n in ipairs(names) do
    local v = vars[n]
    if type(v) == 'string' and v ~= '' and v ~= DROPPED then
      vars[n] = DROPPED
      changed = true
    end
  end
  if changed then redis.call('HSET', key, 'vars', cjson.encode(vars)) end
end

-- finish moves the callback to a terminal state and out of every index;
-- its secure values are dropped in the same script.
local function finish(key, id, state, now)
  local f = redis.call('HMGET', key, 'queue', 'number')
  redis.call('ZREM', k_due(), id)
  redis.call('ZREM', k_leases(), id)
  redis.call('ZREM', k_waiting(f[1]), id)
  if redis.call('HGET', k_pending(f[1]), f[2]) == id then
    redis.call('HDEL', k_pending(f[1]), f[2])
  end
  redis.call('HSET', key, 'state', state, 'ended', now)
  redis.call('HDEL', key, 'node', 'lease', 'started', 'leg', 'owner', 'agent_leg')
  drop_secure(key)
  redis.call('PEXPIRE', key, RETENTION_MS)
end

-- requeue puts a dialing callback back to pending, due at due, in its old
-- place of the queue (same score). keep_dial keeps the started attempt and
-- its leg for the next claimer to take over (a reclaim); otherwise the
-- attempt is over and its leg forgotten.
local function requeue(key, id, due, keep_dial)
  local f = redis.call('HMGET', key, 'queue', 'score')
  redis.call('HSET', key, 'state', 'pending', 'due', due)
  redis.call('HDEL', key, 'node', 'lease')
  if not keep_dial then
    redis.call('HDEL', key, 'started', 'started_at', 'leg', 'owner', 'conn', 'agent_leg')
  end
  redis.call('ZREM', k_leases(), id)
  redis.call('ZADD', k_due(), due, id)
  redis.call('ZADD', k_waiting(f[1]), f[2], id)
end
