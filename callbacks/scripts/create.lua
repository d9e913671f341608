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
-- their values)
-- Returns {merged (0|1), record (HGETALL)}: merged = 1 when the queue already
-- has a pending or dialing callback for the number; that one is returned
-- unchanged. Due = max(Redis TIME, earliest). Errors: EXISTS if id is taken.
local now = now_ms()
local existing = redis.call('HGET', KEYS[2], ARGV[4])
if existing then
  local st = redis.call('HGET', k_cb(existing), 'state')
  if st == 'pending' or st == 'dialing' then
    return {1, redis.call('HGETALL', k_cb(existing))}
  end
end
if redis.call('EXISTS', KEYS[1]) == 1 then
  return redis.error_reply('EXISTS ' .. ARGV[2])
end
local due = math.max(now, tonumber(ARGV[9]))
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
