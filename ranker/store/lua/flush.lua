-- Apply one aggregated batch of views for one site, atomically and at most once.
-- KEYS[1] meta hash, KEYS[2] the batch's marker hash (a field per chunk applied),
-- KEYS[3] catalogued-ids set, KEYS[4] unrolled-minutes zset
-- ARGV[1] batch reference time, ARGV[2] half-life (s), ARGV[3] key prefix "rk:{site}:"
-- ARGV[4..6] retention (s) after a minute/hour/day bucket ends, ARGV[7] marker TTL (s)
-- ARGV[8] rebase after (half-lives), ARGV[9] prune threshold (views)
-- ARGV[10] this chunk's number in the batch
-- ARGV[11] most client networks kept per item and minute (the crowd rule's threshold),
-- ARGV[12] how long (s) after its minute ends a minute's networks are kept
-- ARGV[13] the catalog version every row was accepted under (meta `catver` when the batch
--   opened), or -1: while the catalog is still at that version no id was deleted since,
--   and no row needs checking
-- ARGV[14] d, then d day starts (lib_days.lua) from the day of the batch's earliest minute
-- then r, then r pairs of reason, beacons not counted; with the views counted they are
--   added to the tally of the site's day holding ARGV[1]
-- then e, then e triples of hour, event ("placement|impression" or
--   "placement|click|position|id"), count: the boxes' impressions and clicks
-- then the rows, flat: id, weight relative to ref, signed (1/0), k, then k pairs of
-- minute, views counted; then the item's networks, "" or "minute:hashes;minute:hashes"
-- (12 hex digits a network, concatenated); then 0, or h and h triples of reason, minute,
-- views held, then "" or "network|share" (a view was held as concentrated).
--
-- What a flush writes per item is what must be fresh: the hot ranking, the all-time total
-- and the minute bucket. Hour and day buckets are filled from finished minutes by the
-- upkeep (maintain.lua), which moves meta `rolled` (the last minute rolled) forward; views
-- of a minute not rolled yet go only to its minute, which is listed in the unrolled set
-- for queries to add, and kept until it is rolled. Views of a minute already rolled (a
-- batch held back by an outage) go to its hour and day as well. Sections are not written:
-- a section's lists are the site's intersected with the section's members.
-- When the landmark lags the batch by `rebase after` half-lives it is moved first
-- (lib_rebase.lua), so however long a site was idle the conversion factor stays finite.
-- Views of an id deleted from the catalog since they were accepted are dropped, as the
-- deletion dropped its earlier counts; views accepted on a signed token count whether or
-- not the id is catalogued.
-- Every key name is built once per script and kept: with thousands of increments per call,
-- building strings cost as much as the increments.
-- Returns {applied (1/0), views dropped}.
-- The marker's life restarts with every attempt, so a batch some of whose chunks keep
-- failing is still recognised however long it is retried.
local minute_size, hour_size = BUCKET_SECONDS[1], BUCKET_SECONDS[2]
local fresh = redis.call('HSETNX', KEYS[2], ARGV[10], '1') == 1
redis.call('EXPIRE', KEYS[2], ARGV[7])
if not fresh then
  return {0, 0}
end
local ref = tonumber(ARGV[1])
local half_life = tonumber(ARGV[2])
local p = ARGV[3]
local retention = {tonumber(ARGV[4]), tonumber(ARGV[5]), tonumber(ARGV[6])}
local days, first_reason = read_days(14)

-- The day's tally of beacons: counted (below), and not counted by reason.
local day, next_day = day_of(days, ref)
local day_ends = next_day or day + LONGEST_DAY
local tally = key_beacons(p, string.format('%d', day))
local reasons = tonumber(ARGV[first_reason])
for j = first_reason + 1, first_reason + 2 * reasons, 2 do
  redis.call('HINCRBY', tally, ARGV[j], ARGV[j + 1])
end
local tally_expires = string.format('%d', day_ends + retention[3])
local first_event = first_reason + 1 + 2 * reasons
for j = first_event + 1, first_event + 3 * tonumber(ARGV[first_event]), 3 do
  local events = key_recirc(p, ARGV[j])
  redis.call('HINCRBY', events, ARGV[j + 1], ARGV[j + 2])
  redis.call('EXPIREAT', events, tonumber(ARGV[j]) + hour_size + retention[3])
end
local first_row = first_event + 1 + 3 * tonumber(ARGV[first_event])
if first_row > #ARGV then  -- no views, only refusals and the boxes' events
  if reasons > 0 then redis.call('EXPIREAT', tally, tally_expires) end
  return {1, 0}
end

-- A site's first data is written in this release's layout.
if redis.call('EXISTS', KEYS[1]) == 0 then redis.call('HSET', KEYS[1], 'layout', LAYOUT) end
local landmark = landmark_for(KEYS[1], p, ref, half_life, ARGV[8], ARGV[9])
-- The weight conversion uses the stored landmark, read inside this script, so a rebase
-- that races this batch cannot mis-scale it.
local factor = 2 ^ ((ref - landmark) / half_life)
local meta = redis.call('HMGET', KEYS[1], 'catver', 'rolled')
local trusted = ARGV[13] ~= '-1' and (meta[1] or '0') == ARGV[13]
local rolled = tonumber(meta[2])
if not rolled then
  -- Data from before roll-ups had every view in its hour and day when written.
  rolled = ref - (ref % minute_size)
  redis.call('HSET', KEYS[1], 'rolled', string.format('%d', rolled))
end

local expiry = {}  -- key -> unix time it expires
local traffic = {}  -- start of a TRAFFIC_SLOT -> views counted in it
-- minute -> {minute key, hour key or false, day key or false}: hour and day only for a
-- minute already rolled; the names of the rest of its buckets for held views.
local of_minute = {}
local function buckets_of(minute)
  local b = of_minute[minute]
  if not b then
    local hour = minute - (minute % hour_size)
    local d, after = day_of(days, minute)
    local m_text = string.format('%d', minute)
    b = {key_bucket(p, 'all', 'minute', m_text), false, false, minute, hour, d}
    if minute <= rolled then
      b[2] = key_bucket(p, 'all', 'hour', string.format('%d', hour))
      b[3] = key_bucket(p, 'all', 'day', string.format('%d', d))
      expiry[b[1]] = minute + minute_size + retention[1]
      expiry[b[2]] = hour + hour_size + retention[2]
      expiry[b[3]] = (after or d + LONGEST_DAY) + retention[3]
    else
      -- Kept until rolled, which shortens its life to the minute retention.
      expiry[b[1]] = minute + minute_size + retention[3]
      redis.call('ZADD', KEYS[4], minute, m_text)
    end
    b[7] = after or d + LONGEST_DAY
    of_minute[minute] = b
  end
  return b
end

-- Held views: per reason, buckets of every resolution (they are few) and a running total,
-- so a release can put them back where they would have been counted.
local held_keys = {}  -- reason -> {total key, {bucket name -> key}}
local function held_bucket(reason, resolution, start, ends)
  local h = held_keys[reason]
  if not h then
    h = {key_held_total(p, reason), {}}
    held_keys[reason] = h
  end
  local name = resolution .. start
  local key = h[2][name]
  if not key then
    key = key_held(p, reason, resolution, string.format('%d', start))
    h[2][name] = key
    expiry[key] = ends
  end
  return key, h[1]
end

local crowd_max, crowd_ttl = tonumber(ARGV[11]), tonumber(ARGV[12])
-- Add a minute's new networks of an item to what other collectors sent: a string of
-- 12-digit hashes, at most crowd_max of them (enough to tell a crowd).
local function add_networks(id, minute, hashes)
  local key = key_networks(p, minute)
  expiry[key] = tonumber(minute) + minute_size + crowd_ttl
  -- Most often no other collector has sent this minute's networks of the item: one write.
  if #hashes <= 12 * crowd_max and redis.call('HSETNX', key, id, hashes) == 1 then return end
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
  if added ~= '' then redis.call('HSET', key, id, known .. added) end
end

local hot_key, total_key = key_hot(p, 'all'), key_total(p, 'all')
local counted, dropped = 0, 0
local i, n = first_row, #ARGV
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
  local known = trusted or signed == '1' or redis.call('SISMEMBER', KEYS[3], id) == 1
  if not known then
    for j = first + 1, first + 2 * count - 1, 2 do dropped = dropped + tonumber(ARGV[j]) end
  else
    for j = held_first, held_first + 3 * held_count - 1, 3 do
      local reason, v = ARGV[j], ARGV[j + 2]
      local b = buckets_of(tonumber(ARGV[j + 1]))
      local m_end = b[4] + minute_size + retention[1]
      local minute, held_total = held_bucket(reason, 'minute', b[4], m_end)
      local hour = held_bucket(reason, 'hour', b[5], b[5] + hour_size + retention[2])
      local day = held_bucket(reason, 'day', b[6], b[7] + retention[3])
      for _, key in ipairs({minute, hour, day, held_total}) do redis.call('ZINCRBY', key, v, id) end
    end
    if networks ~= '' then
      for minute, hashes in string.gmatch(networks, '(%d+):(%x+)') do
        add_networks(id, minute, hashes)
      end
    end
    if flag ~= '' then
      redis.call('HSET', key_flags(p), id, flag .. '|' .. string.format('%d', ref))
    end
    if count > 0 then
      -- 17 digits: a number passed as is would be cut to 14, and equal counts would differ.
      redis.call('ZINCRBY', hot_key, string.format('%.17g', w * factor), id)
      local views = 0
      for j = first, first + 2 * count - 1, 2 do
        local v = ARGV[j + 1]
        local b = buckets_of(tonumber(ARGV[j]))
        redis.call('ZINCRBY', b[1], v, id)
        if b[2] then
          redis.call('ZINCRBY', b[2], v, id)
          redis.call('ZINCRBY', b[3], v, id)
        end
        views = views + tonumber(v)
        local slot = b[4] - (b[4] % TRAFFIC_SLOT)
        traffic[slot] = (traffic[slot] or 0) + tonumber(v)
      end
      redis.call('ZINCRBY', total_key, views, id)
      counted = counted + views
    end
  end
end
if counted > 0 then redis.call('HINCRBY', tally, 'counted', counted) end
-- Views counted per slot of time, for the alert of beacons dropping.
for start, views in pairs(traffic) do
  local key = key_traffic(p, string.format('%d', start))
  redis.call('INCRBY', key, string.format('%d', views))
  expiry[key] = start + TRAFFIC_SLOT + retention[2]
end
if counted > 0 or reasons > 0 then redis.call('EXPIREAT', tally, tally_expires) end
for key, at in pairs(expiry) do
  redis.call('EXPIREAT', key, string.format('%d', at))
end
return {1, dropped}
