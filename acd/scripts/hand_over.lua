-- hand_over.lua: the call's agent changes while it stays connected: a
-- consult transfer completes (the consulted party takes the customer), or
-- the agent leaves a conference. The leaving agent goes to wrap-up. The new
-- agent is '' when the customer is now with an outside number.
-- KEYS[1] = interaction hash
-- ARGV[3] = connection id, ARGV[4] = leaving agent, ARGV[5] = new agent,
-- ARGV[6] = new agent leg, ARGV[7] = wrap-up time (ms), ARGV[8] = why,
-- ARGV[9] = the queue the call now belongs to ('' = unchanged): a consult
-- transfer to an agent found through a queue moves the call to that queue.
-- Returns 1. Errors: ILLEGAL <state>.
local st = redis.call('HGET', KEYS[1], 'state')
if st ~= 'connected' then return redis.error_reply('ILLEGAL ' .. tostring(st)) end
-- Whoever takes the customer talks with them (talk.lua's states start over).
redis.call('HSET', KEYS[1], 'talk_state', 'talking')
local now = now_ms()
-- Talk time on the customer's call: the leaving agent's ends now, the new
-- agent's starts now.
if redis.call('HGET', KEYS[1], 'agent') == ARGV[4] then
  credit_talk(KEYS[1], ARGV[4], now)
  redis.call('HSET', KEYS[1], 'talk_from', now)
end
after_call(ARGV[4], ARGV[3], now, ARGV[7])
if ARGV[5] ~= '' then
  redis.call('HSET', KEYS[1], 'agent', ARGV[5], 'agent_leg', ARGV[6])
  -- A consulted agent reached through a queue was bound to the consult's
  -- own interaction; from now on they are on the customer's call.
  redis.call('HSET', k_agent(ARGV[5]), 'conn', ARGV[3])
else
  redis.call('HDEL', KEYS[1], 'agent', 'agent_leg')
end
local fields = {'from_agent', ARGV[4], 'to_agent', ARGV[5], 'why', ARGV[8]}
if ARGV[9] ~= '' then
  redis.call('HSET', KEYS[1], 'queue', ARGV[9])
  fields[#fields + 1], fields[#fields + 2] = 'queue', ARGV[9]
end
history('interaction', ARGV[3], 'connected', 'connected', now, fields)
return 1
