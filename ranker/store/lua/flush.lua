-- Apply one aggregated batch of views for one site, atomically and at most once.
-- KEYS[1] meta hash, KEYS[2] the batch's marker hash (a field per chunk applied),
-- KEYS[3] scopes set
-- ARGV[1] batch reference time, ARGV[2] half-life (s), ARGV[3] key prefix "rk:{site}:"
-- ARGV[4..6] retention (s) after a minute/hour/day bucket ends, ARGV[7] marker TTL (s)
-- ARGV[8] rebase after (half-lives), ARGV[9] prune threshold (views)
-- ARGV[10] this chunk's number in the batch
-- ARGV[11] most client networks kept per item and minute (the crowd rule's threshold),
-- ARGV[12] how long (s) after its minute ends a minute's networks are kept
-- ARGV[13] r, then r pairs of reason, beacons not counted; with the views counted they
--   are added to the tally of the UTC day of ARGV[1]
-- then the rows, flat: id, weight relative to ref, signed (1/0), k, then k pairs of
-- minute, views counted; then the item's networks, "" or "minute:hashes;minute:hashes"
-- (12 hex digits a network, concatenated); then 0, or h and h triples of reason, minute,
-- views held, then "" or "network|share" (a view was held as concentrated).
-- When the landmark lags the batch by `rebase after` half-lives it is moved first
-- (lib_rebase.lua), so however long a site was idle the conversion factor stays finite.
-- Views of an id deleted from the catalog since they were accepted are dropped, as the
-- deletion dropped its earlier counts; views accepted on a signed token count in the
-- site-wide scope whether or not the id is catalogued.
-- Every key name is built once per script and kept: with thousands of increments per call,
-- building strings cost as much as the increments.
-- Returns {applied (1/0), views dropped}.
-- The marker's life restarts with every attempt, so a batch some of whose chunks keep
-- failing is still recognised however long it is retried.
local fresh = redis.call('HSETNX', KEYS[2], ARGV[10], '1') == 1
redis.call('EXPIRE', KEYS[2], ARGV[7])
if not fresh then
  return {0, 0}
end
local ref = tonumber(ARGV[1])
local half_life = tonumber(ARGV[2])
local p = ARGV[3]
local retention = {tonumber(ARGV[4]), tonumber(ARGV[5]), tonumber(ARGV[6])}

-- The day's tally of beacons: counted (below), and not counted by reason.
local day_size = BUCKET_SECONDS[3]
local day = ref - (ref % day_size)
local tally = key_beacons(p, string.format('%d', day))
local reasons = tonumber(ARGV[13])
for j = 14, 13 + 2 * reasons, 2 do
  redis.call('HINCRBY', tally, ARGV[j], ARGV[j + 1])
end
local tally_expires = string.format('%d', day + day_size + retention[3])
if 14 + 2 * reasons > #ARGV then  -- no views, only refusals
  if reasons > 0 then redis.call('EXPIREAT', tally, tally_expires) end
  return {1, 0}
end

local landmark = landmark_for(KEYS[1], KEYS[3], p, ref, half_life, ARGV[8], ARGV[9])
-- The weight conversion uses the stored landmark, read inside this script, so a rebase
-- that races this batch cannot mis-scale it.
local factor = 2 ^ ((ref - landmark) / half_life)

-- A bucket is a table {resolution (1..3), start, expires at}, one per bucket, so that it
-- keys the caches of names below.
local buckets = {{}, {}, {}}  -- resolution -> start -> bucket
local of_minute = {}  -- minute -> its minute, hour and day buckets
local function buckets_of(minute)
  local b = of_minute[minute]
  if not b then
    b = {}
    for r, size in ipairs(BUCKET_SECONDS) do
      local start = minute - (minute % size)
      local bucket = buckets[r][start]
      if not bucket then
        bucket = {r, start, start + size + retention[r]}
        buckets[r][start] = bucket
      end
      b[r] = bucket
    end
    of_minute[minute] = b
  end
  return b
end

-- scope -> {hot key, total key, {bucket -> key}, scope}, and the scopes seen (SADD once each)
local scope_keys = {}
local function keys_of(scope)
  local k = scope_keys[scope]
  if not k then
    k = {key_hot(p, scope), key_total(p, scope), {}, scope}
    scope_keys[scope] = k
    if scope ~= 'all' then redis.call('SADD', KEYS[3], scope) end
  end
  return k
end

local expiry = {}  -- key -> unix time it expires
local function bucket_key(k, bucket)
  local key = k[3][bucket]
  if not key then
    key = key_bucket(p, k[4], RESOLUTIONS[bucket[1]], string.format('%d', bucket[2]))
    k[3][bucket] = key
    expiry[key] = bucket[3]
  end
  return key
end

-- Held views: per reason, buckets like the counted ones (site-wide scope only) and a
-- running total, so a release can put them back where they would have been counted.
local held_keys = {}  -- reason -> {total key, {bucket -> key}}
local function held_bucket(reason, bucket)
  local h = held_keys[reason]
  if not h then
    h = {key_held_total(p, reason), {}}
    held_keys[reason] = h
  end
  local key = h[2][bucket]
  if not key then
    key = key_held(p, reason, RESOLUTIONS[bucket[1]], string.format('%d', bucket[2]))
    h[2][bucket] = key
    expiry[key] = bucket[3]
  end
  return key, h[1]
end

local crowd_max, crowd_ttl = tonumber(ARGV[11]), tonumber(ARGV[12])
-- Add a minute's new networks of an item to what other collectors sent: a string of
-- 12-digit hashes, at most crowd_max of them (enough to tell a crowd).
local function add_networks(id, minute, hashes)
  local key = key_networks(p, minute)
  local known = redis.call('HGET', key, id) or ''
  local have = #known / 12
  if have >= crowd_max then return end
  local seen = {}
  for j = 1, #known, 12 do seen[string.sub(known, j, j + 11)] = true end
  local added = ''
  for j = 1, #hashes, 12 do
    if have >= crowd_max then break end
    local hash = string.sub(hashes, j, j + 11)
    if not seen[hash] then
      seen[hash] = true
      added = added .. hash
      have = have + 1
    end
  end
  if added ~= '' then
    redis.call('HSET', key, id, known .. added)
    expiry[key] = tonumber(minute) + BUCKET_SECONDS[1] + crowd_ttl
  end
end

local counted = 0

local dropped = 0
local i, n = 14 + 2 * reasons, #ARGV
while i <= n do
  local id, w, signed, count = ARGV[i], tonumber(ARGV[i + 1]), ARGV[i + 2], tonumber(ARGV[i + 3])
  local first = i + 4
  i = first + 2 * count
  local networks = ARGV[i]
  local held_first, held_count, flag = i + 2, tonumber(ARGV[i + 1]), ''
  i = held_first + 3 * held_count
  if held_count > 0 then
    flag = ARGV[i]
    i = i + 1
  end
  -- Every catalog entry has a section field ('' for none): nil means no entry.
  local section = redis.call('HGET', key_item(p, id), 'section')
  if not section and signed == '1' then section = '' end
  if not section then
    for j = first + 1, first + 2 * count - 1, 2 do dropped = dropped + tonumber(ARGV[j]) end
  else
    for j = held_first, held_first + 3 * held_count - 1, 3 do
      local reason, v = ARGV[j], ARGV[j + 2]
      local total_key
      for _, bucket in ipairs(buckets_of(tonumber(ARGV[j + 1]))) do
        local key
        key, total_key = held_bucket(reason, bucket)
        redis.call('ZINCRBY', key, v, id)
      end
      redis.call('ZINCRBY', total_key, v, id)
    end
    if networks ~= '' then
      for minute, hashes in string.gmatch(networks, '(%d+):(%x+)') do
        add_networks(id, minute, hashes)
      end
    end
    if flag ~= '' then
      redis.call('HSET', key_flags(p), id, flag .. '|' .. string.format('%d', ref))
    end
  end
  if section and count > 0 then
    local scopes = {keys_of('all')}
    if section ~= '' then scopes[2] = keys_of(section) end
    -- 17 digits: a number passed as is would be cut to 14, and equal counts would differ.
    local score = string.format('%.17g', w * factor)
    for _, k in ipairs(scopes) do
      redis.call('ZINCRBY', k[1], score, id)
    end
    local views = 0
    if count == 1 then
      -- The common case: all of an item's views in this batch fall in one minute.
      local b, v = buckets_of(tonumber(ARGV[first])), ARGV[first + 1]
      views = v
      for _, k in ipairs(scopes) do
        for r = 1, 3 do
          redis.call('ZINCRBY', bucket_key(k, b[r]), v, id)
        end
      end
    else
      local per_bucket = {}  -- bucket -> views
      for j = first, first + 2 * count - 1, 2 do
        local v = tonumber(ARGV[j + 1])
        views = views + v
        for _, bucket in ipairs(buckets_of(tonumber(ARGV[j]))) do
          per_bucket[bucket] = (per_bucket[bucket] or 0) + v
        end
      end
      for _, k in ipairs(scopes) do
        for bucket, v in pairs(per_bucket) do
          redis.call('ZINCRBY', bucket_key(k, bucket), v, id)
        end
      end
    end
    for _, k in ipairs(scopes) do
      redis.call('ZINCRBY', k[2], views, id)
    end
    counted = counted + views
  end
end
if counted > 0 then redis.call('HINCRBY', tally, 'counted', counted) end
if counted > 0 or reasons > 0 then redis.call('EXPIREAT', tally, tally_expires) end
for key, at in pairs(expiry) do
  redis.call('EXPIREAT', key, string.format('%d', at))
end
return {1, dropped}
