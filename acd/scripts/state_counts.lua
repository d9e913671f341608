-- state_counts.lua: the /metrics state gauges in one round trip
-- (acd/metrics_state.go): logged-in agents by state (whole contact center)
-- and the listed interactions by state, returned as counts, so a scrape's
-- reply does not grow with the agents and calls (it used to be one HGET
-- reply per agent and per call). Read-only. The work inside Redis is still
-- one HGET per agent and per listed call.
-- KEYS[1] = the logged-in agents set
-- ARGV[3..] = connection ids (the calls the scraping replica holds)
-- Returns {agents, calls}, each a flat list {state, n, state, n, ...}; an
-- agent or interaction whose hash is gone is not counted.
local function count(t, st)
  if st then t[st] = (t[st] or 0) + 1 end
end
local function flat(t)
  local out = {}
  for st, n in pairs(t) do
    out[#out + 1] = st
    out[#out + 1] = n
  end
  return out
end
local agents, calls = {}, {}
for _, id in ipairs(redis.call('SMEMBERS', KEYS[1])) do
  count(agents, redis.call('HGET', k_agent(id), 'state'))
end
for i = 3, #ARGV do
  count(calls, redis.call('HGET', k_ix(ARGV[i]), 'state'))
end
return {flat(agents), flat(calls)}
