-- Claim a feed's next poll: whichever collector finds it due first moves `due` on and polls;
-- the others see the new `due` and wait for it. Times are the collectors' clocks.
-- KEYS[1] the feed's hash; ARGV[1] now (unix s), ARGV[2] when the poll after this one is due.
-- Returns {1 when claimed here else 0, when the next poll is due}.
local due = tonumber(redis.call('HGET', KEYS[1], 'due') or '0')
if due > tonumber(ARGV[1]) then return {0, tostring(due)} end
redis.call('HSET', KEYS[1], 'due', ARGV[2])
return {1, ARGV[2]}
