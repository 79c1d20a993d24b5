-- Prepended to the scripts that rebase (flush.lua, rebase.lua) when they are loaded.
-- Moves a site's decay landmark from `old` to `new` and scales every hot score by
-- 2^((old - new)/half_life), so rankings and shown counts are unchanged while scores stop
-- growing without bound; members whose decayed count falls below `prune` views leave.
local function rebase(meta, scopes_key, p, old, new, half_life, prune)
  local factor = string.format('%.17g', 2 ^ ((old - new) / half_life))
  local scopes = redis.call('SMEMBERS', scopes_key)
  scopes[#scopes + 1] = 'all'
  for _, scope in ipairs(scopes) do
    local key = p .. 'hot:' .. scope
    redis.call('ZUNIONSTORE', key, 1, key, 'WEIGHTS', factor)
    redis.call('ZREMRANGEBYSCORE', key, '-inf', '(' .. prune)
  end
  redis.call('HSET', meta, 'landmark', string.format('%d', new))
end
