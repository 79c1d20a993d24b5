-- Move a site's decay landmark forward and scale every hot score to match, atomically:
-- rankings and shown counts are unchanged, and scores stop growing without bound.
-- KEYS[1] meta hash, KEYS[2] scopes set
-- ARGV[1] new landmark (unix s), ARGV[2] half-life (s), ARGV[3] key prefix,
-- ARGV[4] minimum move (s): a no-op unless the landmark lags by this much, so racing
--         collectors rebase once; ARGV[5] prune: members whose decayed count falls below
--         this leave the hot rankings.
-- Returns the landmark in force afterwards.
local landmark = redis.call('HGET', KEYS[1], 'landmark')
if not landmark then
  redis.call('HSET', KEYS[1], 'landmark', ARGV[1])
  return ARGV[1]
end
local old, new = tonumber(landmark), tonumber(ARGV[1])
if new - old < tonumber(ARGV[4]) then
  return landmark
end
local factor = 2 ^ ((old - new) / tonumber(ARGV[2]))
local p = ARGV[3]
local scopes = redis.call('SMEMBERS', KEYS[2])
scopes[#scopes + 1] = 'all'
for _, scope in ipairs(scopes) do
  local key = p .. 'hot:' .. scope
  redis.call('ZUNIONSTORE', key, 1, key, 'WEIGHTS', string.format('%.17g', factor))
  redis.call('ZREMRANGEBYSCORE', key, '-inf', '(' .. ARGV[5])
end
redis.call('HSET', KEYS[1], 'landmark', ARGV[1])
return ARGV[1]
