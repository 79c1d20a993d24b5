-- Prepended to the scripts that rebase (flush.lua, release.lua, rebase.lua, maintain.lua)
-- when they are loaded.
-- Moves a site's decay landmark from `old` to `new` and scales every hot score by
-- 2^((old - new)/half_life), so rankings and shown counts are unchanged while scores stop
-- growing without bound; members whose decayed count falls below `prune` views leave.
-- A site has one hot ranking: a section's is read through the section's members.
local function rebase(meta, p, old, new, half_life, prune)
  local factor = string.format('%.17g', 2 ^ ((old - new) / half_life))
  local key = key_hot(p, 'all')
  redis.call('ZUNIONSTORE', key, 1, key, 'WEIGHTS', factor)
  redis.call('ZREMRANGEBYSCORE', key, '-inf', '(' .. prune)
  redis.call('HSET', meta, 'landmark', string.format('%d', new))
end

-- The landmark to add weights at time `at` against: set to `at` if the site has none yet,
-- moved to `at` first if it lags by `rebase_after` half-lives, so 2^((at - L)/H) stays
-- finite however long the site was idle. The first landmark is also meta `since`, when
-- the site began counting (sites begun before it was kept have none).
local function landmark_for(meta, p, at, half_life, rebase_after, prune)
  local landmark = tonumber(redis.call('HGET', meta, 'landmark'))
  if not landmark then
    landmark = math.floor(at)
    local first = string.format('%d', landmark)
    redis.call('HSET', meta, 'landmark', first, 'since', first)
  elseif at - landmark >= tonumber(rebase_after) * half_life then
    rebase(meta, p, landmark, math.floor(at), half_life, prune)
    landmark = math.floor(at)
  end
  return landmark
end
