-- talk.lua: the talk state of a connected call changes: the customer put on
-- hold or taken back, a consult started or ended, a conference started or
-- its consulted party left. These are ARCHITECTURE §4's held, consulting
-- and conferenced; they live in the interaction's talk_state field beside
-- state, which stays 'connected' so that every script and reader that
-- serves a connected call (finish, transfers, hand-over, views, metrics,
-- the replicas' takeover) keeps working unchanged. connect.lua and
-- hand_over.lua set talk_state to 'talking'; the scripts that end the
-- connected state (finish, transfer_queue, transfer_agent) delete it.
-- KEYS[1] = interaction hash
-- ARGV[3] = connection id, ARGV[4] = from (the talk state the call's actor
-- saw), ARGV[5] = to, ARGV[6] = what happened (the talk machine's event),
-- ARGV[7..] = field, value pairs for the history entry
-- Returns 1. Errors: ILLEGAL <state> unless the call is connected, STALE
-- <talk state> unless its talk state is from.
local st = redis.call('HGET', KEYS[1], 'state')
if st ~= 'connected' then return redis.error_reply('ILLEGAL ' .. tostring(st)) end
local cur = redis.call('HGET', KEYS[1], 'talk_state')
if not cur then cur = 'talking' end
if cur ~= ARGV[4] then return redis.error_reply('STALE talk ' .. cur .. ', not ' .. ARGV[4]) end
local now = now_ms()
redis.call('HSET', KEYS[1], 'talk_state', ARGV[5])
local extra = {'what', ARGV[6]}
for i = 7, #ARGV do extra[#extra + 1] = ARGV[i] end
history('talk', ARGV[3], ARGV[4], ARGV[5], now, extra)
return 1
