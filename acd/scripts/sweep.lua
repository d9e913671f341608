-- sweep.lua: the safety net. Routing is event-driven (enqueue, release and
-- available each try a match in their own script); this pairs whatever an
-- event may have missed, including calls whose skill requirements relaxed
-- while they waited. Each match looks at the queue's first SWEEP_WINDOW
-- calls, then SWEEP_WINDOW calls from a rotating offset (so a call stuck
-- behind many calls nobody available can take is reached within a few
-- sweeps), with agents from the queue's index; failing that, at the first
-- calls with agents straight from the available set (an index out of step
-- with it). At most ARGV[4] matches per call, so the work stays bounded.
-- KEYS[1] = the queue's waiting zset, KEYS[2] = its available zset
-- ARGV[3] = queue, ARGV[4] = max matches
-- Returns a list of offers for this node (others went to their inboxes).
local now = now_ms()
local q = ARGV[3]
local n = redis.call('ZCARD', KEYS[1])
local at = tonumber(redis.call('GET', k_sweep_at(q)) or '0')
if at >= n then at = 0 end
local out = {}
for _ = 1, tonumber(ARGV[4]) do
  local o, forwarded = match_queue(q, now, nil, SWEEP_WINDOW)
  if not o and not forwarded and at >= SWEEP_WINDOW then
    o, forwarded = match_queue(q, now, nil, SWEEP_WINDOW, false, at)
  end
  if not o and not forwarded then
    o, forwarded = match_queue(q, now, nil, SWEEP_WINDOW, true)
  end
  if o then
    out[#out + 1] = o
  elseif not forwarded then
    break
  end
end
at = at + SWEEP_WINDOW
if at >= n then at = 0 end
redis.call('SET', k_sweep_at(q), at)
return out
