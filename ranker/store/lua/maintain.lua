-- A site's periodic upkeep, done by whichever collector takes the lock first, at most once
-- per lock period: move the decay landmark when due (lib_rebase.lua), then in every hot
-- ranking drop members whose decayed count fell below `prune` views and keep at most
-- `hot_max` members, so the rankings stay small however many stories ever had a view.
-- Buckets need nothing: they expire.
-- KEYS[1] meta hash, KEYS[2] scopes set, KEYS[3] lock
-- ARGV[1] now (unix s), ARGV[2] half-life (s), ARGV[3] key prefix, ARGV[4] rebase after
-- (half-lives), ARGV[5] prune (views), ARGV[6] hot_max, ARGV[7] lock period (ms),
-- ARGV[8] lock owner
-- Returns {done (1, or 0: another collector has the lock), members pruned, members trimmed}.
if not redis.call('SET', KEYS[3], ARGV[8], 'NX', 'PX', ARGV[7]) then
  return {0, 0, 0}
end
local now, half_life, p = tonumber(ARGV[1]), tonumber(ARGV[2]), ARGV[3]
local landmark = tonumber(redis.call('HGET', KEYS[1], 'landmark'))
if not landmark then return {1, 0, 0} end  -- nothing counted yet
if now - landmark >= tonumber(ARGV[4]) * half_life then
  rebase(KEYS[1], KEYS[2], p, landmark, math.floor(now), half_life, ARGV[5])
  landmark = math.floor(now)
end
-- A member's decayed count is score * 2^((landmark - now)/H): below `prune` views means a
-- score below prune * 2^((now - landmark)/H).
local below = string.format('%.17g', tonumber(ARGV[5]) * 2 ^ ((now - landmark) / half_life))
local hot_max = tonumber(ARGV[6])
local scopes = redis.call('SMEMBERS', KEYS[2])
scopes[#scopes + 1] = 'all'
local pruned, trimmed = 0, 0
for _, scope in ipairs(scopes) do
  local key = key_hot(p, scope)
  pruned = pruned + redis.call('ZREMRANGEBYSCORE', key, '-inf', '(' .. below)
  local extra = redis.call('ZCARD', key) - hot_max
  if extra > 0 then
    trimmed = trimmed + redis.call('ZREMRANGEBYRANK', key, 0, extra - 1)
  end
end
return {1, pruned, trimmed}
