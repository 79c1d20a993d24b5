-- Apply one aggregated batch of views for one site, atomically and at most once.
-- KEYS[1] meta hash, KEYS[2] batch marker, KEYS[3] scopes set
-- ARGV[1] batch reference time, ARGV[2] half-life (s), ARGV[3] key prefix "rk:{site}:"
-- ARGV[4..6] retention (s) after a minute/hour/day bucket ends, ARGV[7] marker TTL (s)
-- ARGV[8] JSON [[id, weight relative to ref, [[minute, views], ...]], ...]
-- ARGV[9] rebase after (half-lives), ARGV[10] prune threshold (views)
-- When the landmark lags the batch by `rebase after` half-lives it is moved first
-- (lib_rebase.lua), so however long a site was idle the conversion factor stays finite.
-- Views of an id deleted from the catalog since they were accepted are dropped, as the
-- deletion dropped its earlier counts.
-- Returns {applied (1/0), views dropped}.
if not redis.call('SET', KEYS[2], '1', 'NX', 'EX', ARGV[7]) then
  return {0, 0}
end
local ref = tonumber(ARGV[1])
local half_life = tonumber(ARGV[2])
local p = ARGV[3]
local landmark = tonumber(redis.call('HGET', KEYS[1], 'landmark'))
if not landmark then
  landmark = math.floor(ref)
  redis.call('HSET', KEYS[1], 'landmark', string.format('%d', landmark))
elseif ref - landmark >= tonumber(ARGV[9]) * half_life then
  rebase(KEYS[1], KEYS[3], p, landmark, math.floor(ref), half_life, ARGV[10])
  landmark = math.floor(ref)
end
-- The weight conversion uses the stored landmark, read inside this script, so a rebase
-- that races this batch cannot mis-scale it.
local factor = 2 ^ ((ref - landmark) / half_life)
local sizes = {minute = 60, hour = 3600, day = 86400}
local retention = {minute = tonumber(ARGV[4]), hour = tonumber(ARGV[5]), day = tonumber(ARGV[6])}
local expiry = {}  -- bucket key -> unix time it expires
local dropped = 0
local known_sections = {}  -- SADD each section once per batch, not once per item
for _, row in ipairs(cjson.decode(ARGV[8])) do
  local id, w, minutes = row[1], row[2], row[3]
  -- Every catalog entry has a section field ('' for none): nil means no entry.
  local section = redis.call('HGET', p .. 'item:' .. id, 'section')
  local views = 0
  local per_bucket = {}  -- "res:start" -> views
  local expires = {}     -- "res:start" -> unix time
  for _, mv in ipairs(minutes) do
    views = views + mv[2]
    for res, size in pairs(sizes) do
      local start = mv[1] - (mv[1] % size)
      local suffix = res .. ':' .. string.format('%d', start)
      per_bucket[suffix] = (per_bucket[suffix] or 0) + mv[2]
      expires[suffix] = start + size + retention[res]
    end
  end
  if not section then
    dropped = dropped + views
  else
    local scopes = {'all'}
    if section ~= '' then
      scopes[2] = section
      if not known_sections[section] then
        known_sections[section] = true
        redis.call('SADD', KEYS[3], section)
      end
    end
    for _, scope in ipairs(scopes) do
      redis.call('ZINCRBY', p .. 'hot:' .. scope, w * factor, id)
      redis.call('ZINCRBY', p .. 'tot:' .. scope, views, id)
      for suffix, n in pairs(per_bucket) do
        local key = p .. 'b:' .. scope .. ':' .. suffix
        redis.call('ZINCRBY', key, n, id)
        expiry[key] = expires[suffix]
      end
    end
  end
end
for key, at in pairs(expiry) do
  redis.call('EXPIREAT', key, string.format('%d', at))
end
return {1, dropped}
