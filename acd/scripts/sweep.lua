-- sweep.lua: the safety net. Routing is event-driven (enqueue, release and
-- available each try a match in their own script); this pairs whatever an
-- event may have missed. At most ARGV[4] matches per call, so the script's
-- work stays bounded.
-- KEYS[1] = the queue's waiting zset, KEYS[2] = its available zset
-- ARGV[3] = queue, ARGV[4] = max matches
-- Returns a list of offers for this node (others went to their inboxes).
local now = now_ms()
local out = {}
for _ = 1, tonumber(ARGV[4]) do
  local o, forwarded = match_queue(ARGV[3], now)
  if o then
    out[#out + 1] = o
  elseif not forwarded then
    break
  end
end
return out
