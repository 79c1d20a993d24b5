-- Move a site's decay landmark forward now (lib_rebase.lua), unless it is recent.
-- KEYS[1] meta hash
-- ARGV[1] new landmark (unix s), ARGV[2] half-life (s), ARGV[3] key prefix,
-- ARGV[4] minimum move (s): a no-op unless the landmark lags by this much, so racing
--         callers rebase once; ARGV[5] prune threshold (views).
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
rebase(KEYS[1], ARGV[3], old, new, tonumber(ARGV[2]), ARGV[5])
return ARGV[1]
