-- recover.lua: puts back what a dead owner left reserved (in the way of a
-- job queue's lease recovery). Every agent reserved or ringing for a call
-- has a deadline in offers-due (the ring timeout + a margin, set when it
-- was reserved or rung: lib.lua's mark_due). Past it, if the call's owner
-- is not alive — or the deadline is far past, so a live owner lost the
-- offer — the agent is taken off the call and the call, if it was offered
-- to nobody else, goes back to its place at the head of its queue (its
-- original score, as on RONA). A live owner's overdue entry that is not
-- far past is looked at again later, so it never races that owner's own
-- ring timer and never holds the entries behind it up.
-- The agent of a dead owner did nothing wrong: it is available again (or
-- idle, if it asked for idle meanwhile) and offered the next waiting call
-- of a live owner in the same round trip. When a live owner lost the offer
-- far past its ring timer, the agent goes to 'rona' as that timer would
-- have put it (its phone may be what failed).
-- At most ARGV[4] due entries are looked at (bounded work, one round trip,
-- on Redis time); the next run goes on where this one stopped.
-- ARGV[3] = max entries, ARGV[4] = far past (ms after the deadline),
-- ARGV[5] = look again after (ms) at a live owner's overdue entry
-- Returns {{calls put back, agents freed, entries looked at}, offer, ...}:
-- the offers made to freed agents for this node's calls (others went to
-- their owners' inboxes).
local now = now_ms()
local far, again = tonumber(ARGV[4]), tonumber(ARGV[5])
local due = redis.call('ZRANGEBYSCORE', k_offers_due(), '-inf', now, 'WITHSCORES', 'LIMIT', 0, tonumber(ARGV[3]))
local calls, freed = 0, 0
local out = {{}}
for i = 1, #due, 2 do
  local agent = due[i]
  local a = k_agent(agent)
  local h = redis.call('HMGET', a, 'state', 'conn', 'offer_due')
  local st, conn = h[1], h[2]
  if (st ~= 'reserved' and st ~= 'ringing') or not conn then
    -- It moved on by a path that left its entry behind.
    clear_due(agent)
  else
    local ix = k_ix(conn)
    local f = redis.call('HMGET', ix, 'state', 'owner', 'queue', 'score')
    -- The deadline mark_due recorded (the entry's score once it was
    -- looked at and put off).
    local deadline = tonumber(h[3] or '') or tonumber(due[i + 1])
    local alive = owner_alive(f[2])
    if alive and now < deadline + far then
      redis.call('ZADD', k_offers_due(), now + again, agent)
    else
      local members, ring = ring_members(ix)
      if f[1] == 'offered' and contains(members, agent) then
        local left = {}
        for _, m in ipairs(members) do
          if m ~= agent then left[#left + 1] = m end
        end
        if #left > 0 then
          -- Ring-all: the others are still rung for it.
          redis.call('HDEL', ix, 'leg:' .. agent)
          redis.call('HSET', ix, 'ring', table.concat(left, ','), 'agent', left[1])
          history('interaction', conn, 'offered', 'offered', now, {'recovered', agent})
        else
          if ring then clear_ring(ix, members) end
          redis.call('HSET', ix, 'state', 'queued')
          redis.call('HDEL', ix, 'agent', 'agent_leg')
          if alive then redis.call('HINCRBY', ix, 'ronas', 1) end
          if f[3] and f[4] then redis.call('ZADD', k_waiting(f[3]), f[4], conn) end
          history('interaction', conn, 'offered', 'queued', now,
            {'agent', agent, 'reason', 'recovered', 'owner_alive', alive and '1' or '0'})
          calls = calls + 1
        end
      end
      freed = freed + 1
      if alive then
        set_agent_state(agent, st, 'rona', now, nil)
        redis.call('HDEL', a, 'conn')
        clear_due(agent)
      else
        -- after_call clears the deadline, makes the agent available (or
        -- idle) and offers it the best call of a live owner.
        local o = after_call(agent, conn, now, 0)
        if o then out[#out + 1] = o end
      end
    end
  end
end
out[1] = {calls, freed, #due / 2}
return out
