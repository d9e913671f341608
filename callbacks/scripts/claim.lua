-- claim.lua: move up to max due callbacks to dialing under a lease.
-- KEYS[1] = due zset, KEYS[2] = leases zset
-- ARGV[2] = node, ARGV[3] = lease (ms), ARGV[4] = max (bounded by the Go
-- caller, so the loop is bounded)
-- Returns a list of records (HGETALL), now dialing and held by a fresh
-- holder token '<node>#<n>' (field 'node'; n counts the callback's claims):
-- every later call of the holder passes the token, so a stalled actor of
-- an earlier claim is fenced off even on the same node. Being one script,
-- two claimers can never take the same callback.
--
-- A due callback whose window has ended becomes expired instead and is not
-- returned (it still counts towards max: the work stays bounded) — unless
-- a dial of it was started: that attempt is taken over and completed
-- first. A started callback of a dead owner (its Stasis application) goes
-- only to the node holding that owner's takeover lock, or takes the lock:
-- one node takes a dead owner over, as Asterisk gives an application's
-- events to one socket.
local now = now_ms()
local until_ms = now + tonumber(ARGV[3])
local ids = redis.call('ZRANGEBYSCORE', KEYS[1], '-inf', now, 'LIMIT', 0, tonumber(ARGV[4]))
local out = {}
for _, id in ipairs(ids) do
  local key = k_cb(id)
  local f = redis.call('HMGET', key, 'state', 'window_end', 'queue', 'started', 'owner')
  local take = true
  if f[1] ~= 'pending' then
    -- A stale index entry (the record expired or moved on): drop it.
    redis.call('ZREM', KEYS[1], id)
    take = false
  elseif not f[4] and tonumber(f[2]) > 0 and now > tonumber(f[2]) then
    finish(key, id, 'expired', now)
    take = false
  elseif f[4] then
    local lock = k_takeover(f[5])
    local cur = redis.call('GET', lock)
    if cur and cur ~= ARGV[2] then
      take = false -- another node is taking that owner over: left due for it
    else
      redis.call('SET', lock, ARGV[2], 'PX', tonumber(ARGV[3]))
    end
  end
  if take then
    local n = redis.call('HINCRBY', key, 'claims', 1)
    redis.call('HSET', key, 'state', 'dialing', 'node', ARGV[2] .. '#' .. n, 'lease', until_ms, 'lease_ms', ARGV[3])
    redis.call('ZREM', KEYS[1], id)
    redis.call('ZADD', KEYS[2], until_ms, id)
    redis.call('ZREM', k_waiting(f[3]), id)
    out[#out + 1] = redis.call('HGETALL', key)
  end
end
return out
