-- Prepended to the scripts that rebase (flush.lua, release.lua, rebase.lua, maintain.lua)
-- when they are loaded.
-- Moves a site's decay landmark from `old` to `new` and scales every hot score by
-- 2^((old - new)/half_life), so rankings and shown counts are unchanged while scores stop
-- growing without bound; members whose decayed count falls below `prune` views leave.
local function rebase(meta, scopes_key, p, old, new, half_life, prune)
  local factor = string.format('%.17g', 2 ^ ((old - new) / half_life))
  local scopes = redis.call('SMEMBERS', scopes_key)
  scopes[#scopes + 1] = 'all'
  for _, scope in ipairs(scopes) do
    local key = key_hot(p, scope)
    redis.call('ZUNIONSTORE', key, 1, key, 'WEIGHTS', factor)
    redis.call('ZREMRANGEBYSCORE', key, '-inf', '(' .. prune)
  end
  redis.call('HSET', meta, 'landmark', string.format('%d', new))
end

-- The landmark to add weights at time `at` against: set to `at` if the site has none yet,
-- moved to `at` first if it lags by `rebase_after` half-lives, so 2^((at - L)/H) stays
-- finite however long the site was idle.
local function landmark_for(meta, scopes_key, p, at, half_life, rebase_after, prune)
  local landmark = tonumber(redis.call('HGET', meta, 'landmark'))
  if not landmark then
    landmark = math.floor(at)
    redis.call('HSET', meta, 'landmark', string.format('%d', landmark))
  elseif at - landmark >= tonumber(rebase_after) * half_life then
    rebase(meta, scopes_key, p, landmark, math.floor(at), half_life, prune)
    landmark = math.floor(at)
  end
  return landmark
end
