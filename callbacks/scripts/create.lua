-- create.lua: create a callback, or merge it into the queue's live one.
-- KEYS[1] = new callback hash, KEYS[2] = merge index of the queue
-- ({cb}:pending:<queue>), KEYS[3] = due zset, KEYS[4] = waiting zset of the
-- queue
-- ARGV[2] = id, ARGV[3] = queue, ARGV[4] = normalised number, ARGV[5] = name,
-- ARGV[6] = vars (JSON object), ARGV[7] = kind, ARGV[8] = queue score ('' =
-- creation time in Redis ms), ARGV[9] = earliest due (unix ms, 0 = now),
-- ARGV[10] = window end (unix ms, 0 = none), ARGV[11] = max attempts,
-- ARGV[12] = retry delay (ms), ARGV[13] = media for the agent to hear first
-- (''), ARGV[14] = outbound caller id (''), ARGV[15] = DNIS of the original
-- call (''), ARGV[16] = the customer's time zone (''), ARGV[17] = the
-- secure names among vars (JSON array, '' for none: lib's finish drops
-- their values), ARGV[18] = how far ahead of Redis TIME earliest and
-- window end may be (ms)
-- Returns {merged (0|1), record (HGETALL)}: merged = 1 when the queue already
-- has a pending or dialing callback for the number; that one is returned,
-- as it was but for its due time: a pending one becomes due at the earlier
-- of its own due time and this request's (a "call me now" is not held back
-- by an earlier request for next week; one being dialled is left alone).
-- Due = max(Redis TIME, earliest).
-- Errors: FARAHEAD <earliest_at|window_end> <limit ms> when a time is more
-- than ARGV[18] after Redis TIME (checked first: a refused request merges
-- into nothing); EXISTS if id is taken.
local now = now_ms()
local limit = now + tonumber(ARGV[18])
if tonumber(ARGV[9]) > limit then
  return redis.error_reply('FARAHEAD earliest_at ' .. limit)
end
if tonumber(ARGV[10]) > limit then
  return redis.error_reply('FARAHEAD window_end ' .. limit)
end
local due = math.max(now, tonumber(ARGV[9]))
local existing = redis.call('HGET', KEYS[2], ARGV[4])
if existing then
  local key = k_cb(existing)
  local f = redis.call('HMGET', key, 'state', 'due')
  if f[1] == 'pending' or f[1] == 'dialing' then
    if f[1] == 'pending' and due < tonumber(f[2]) then
      redis.call('HSET', key, 'due', due)
      redis.call('ZADD', KEYS[3], due, existing)
    end
    return {1, redis.call('HGETALL', key)}
  end
end
if redis.call('EXISTS', KEYS[1]) == 1 then
  return redis.error_reply('EXISTS ' .. ARGV[2])
end
local score = ARGV[8]
if score == '' then score = tostring(now) end
redis.call('HSET', KEYS[1], 'id', ARGV[2], 'queue', ARGV[3], 'number', ARGV[4],
  'name', ARGV[5], 'vars', ARGV[6], 'kind', ARGV[7], 'state', 'pending',
  'score', score, 'due', due, 'window_end', ARGV[10], 'attempts', 0,
  'max_attempts', ARGV[11], 'retry_ms', ARGV[12], 'created', now,
  'media', ARGV[13], 'caller_id', ARGV[14], 'dnis', ARGV[15], 'tz', ARGV[16])
if ARGV[17] ~= '' then redis.call('HSET', KEYS[1], 'secure', ARGV[17]) end
redis.call('HSET', KEYS[2], ARGV[4], ARGV[2])
redis.call('ZADD', KEYS[3], due, ARGV[2])
redis.call('ZADD', KEYS[4], score, ARGV[2])
return {0, redis.call('HGETALL', KEYS[1])}
