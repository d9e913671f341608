-- reindex.lua: build a queue's agent index (lib.lua: class and skill sets)
-- for its current configuration generation from its available set, after
-- the configuration changed. Called in chunks (bounded work): agents from
-- the available set in (idle-since, id) order after the cursor.
-- ARGV[3] = queue, ARGV[4] = the generation being built (the chunk does
-- nothing if the queue's configuration moved on), ARGV[5] = cursor score
-- ('' to start), ARGV[6] = cursor id, ARGV[7] = max agents
-- Returns {} when done, else {score, id}: the cursor for the next chunk.
local q = ARGV[3]
local cfg = queue_conf(q)
if cfg.gen ~= ARGV[4] then return {} end
local max = tonumber(ARGV[7])
local r
if ARGV[5] == '' then
  r = redis.call('ZRANGE', k_avail(q), 0, max - 1, 'WITHSCORES')
else
  -- Agents sharing the cursor's score are re-read and skipped up to its id.
  r = redis.call('ZRANGEBYSCORE', k_avail(q), ARGV[5], '+inf', 'WITHSCORES', 'LIMIT', 0, max)
end
local last_score, last_id
for i = 1, #r, 2 do
  local id, score = r[i], r[i + 1]
  if ARGV[5] == '' or tonumber(score) > tonumber(ARGV[5]) or id > ARGV[6] then
    local levels = parse_levels(redis.call('HGET', k_agent(id), 'skills') or nil)
    index_agent(q, cfg, id, levels, tonumber(score), false)
  end
  last_score, last_id = score, id
end
if #r < 2 * max then return {} end
return {last_score, last_id}
