-- Release an item's held views into its counts, atomically: each reason's held views move
-- from the held buckets into the counted buckets of the same start, into the all-time
-- total and into the hot ranking, and are held no more.
-- KEYS[1] meta hash, KEYS[2] unrolled-minutes zset, KEYS[3] flags hash
-- ARGV[1] id, ARGV[2] key prefix, ARGV[3] now (unix s),
-- ARGV[4..6] retention (s) after a minute/hour/day bucket ends, ARGV[7] half-life (s),
-- ARGV[8] rebase after (half-lives), ARGV[9] prune threshold (views), ARGV[10] d, then d
-- day starts (lib_days.lua): every day a bucket may still be kept for, through the one
-- holding `now`; then the reasons to release.
-- As in flush.lua, a minute not rolled yet (after meta `rolled`) gets its views in its
-- minute bucket only: the roll-up adds them to its hour and day.
-- The hot ranking gets each view at the start of the finest bucket that still knows it:
-- its minute within `retention.minute`, else its hour, else its day.
-- Returns {reason, views released, ...} for the reasons that had any.
local minute_size, hour_size = BUCKET_SECONDS[1], BUCKET_SECONDS[2]
local id, p, now = ARGV[1], ARGV[2], tonumber(ARGV[3])
local retention = {tonumber(ARGV[4]), tonumber(ARGV[5]), tonumber(ARGV[6])}
local half_life = tonumber(ARGV[7])
local days, first_reason = read_days(10)
local rolled = tonumber(redis.call('HGET', KEYS[1], 'rolled')) or now - (now % minute_size)

-- Every bucket start still kept at each resolution, with when the bucket ends.
local starts = {{}, {}, {}}
for r, size in ipairs({minute_size, hour_size}) do
  local newest = now - (now % size)
  for start = newest, newest - retention[r] - size, -size do
    starts[r][#starts[r] + 1] = {start, start + size}
  end
end
for k = #days, 1, -1 do
  starts[3][#starts[3] + 1] = {days[k], days[k + 1] or days[k] + LONGEST_DAY}
end

local out, released = {}, 0
local expiry = {}
local weight = 0
local landmark
for a = first_reason, #ARGV do
  local reason = ARGV[a]
  local total = tonumber(redis.call('ZSCORE', key_held_total(p, reason), id) or '0')
  if total > 0 then
    landmark = landmark or landmark_for(KEYS[1], p, now, half_life, ARGV[8], ARGV[9])
    -- Every held bucket still alive, newest first at each resolution.
    local found = {{}, {}, {}}  -- resolution -> {start -> views}
    for r = 1, 3 do
      for _, bucket in ipairs(starts[r]) do
        local start_text = string.format('%d', bucket[1])
        local key = key_held(p, reason, RESOLUTIONS[r], start_text)
        local v = redis.call('ZSCORE', key, id)
        if v then
          redis.call('ZREM', key, id)
          found[r][bucket[1]] = {tonumber(v), bucket[2]}
        end
      end
    end
    -- Views of minutes not rolled: in their minute only (the roll-up carries them up).
    local later = {{}, {}}  -- hour start -> such views; day start -> such views
    for start, fv in pairs(found[1]) do
      if start > rolled then
        local hour, day = start - (start % hour_size), day_of(days, start)
        later[1][hour] = (later[1][hour] or 0) + fv[1]
        later[2][day] = (later[2][day] or 0) + fv[1]
        local key = key_bucket(p, 'all', 'minute', string.format('%d', start))
        redis.call('ZINCRBY', key, fv[1], id)
        redis.call('ZADD', KEYS[2], start, string.format('%d', start))
        expiry[key] = start + minute_size + retention[3]
      end
    end
    for r = 1, 3 do
      for start, fv in pairs(found[r]) do
        local v = fv[1] - ((r > 1 and later[r - 1][start]) or 0)
        if v > 0 and not (r == 1 and start > rolled) then
          local counted = key_bucket(p, 'all', RESOLUTIONS[r], string.format('%d', start))
          redis.call('ZINCRBY', counted, v, id)
          expiry[counted] = fv[2] + retention[r]
        end
      end
    end
    -- Decay weights: minutes first, then what the minutes of an hour did not hold, then
    -- what the hours of a day did not.
    local covered = {{}, {}}  -- hour start -> views in its minutes; day start -> in its hours
    for r = 1, 3 do
      for start, fv in pairs(found[r]) do
        local v = fv[1]
        local extra = v - ((r > 1 and covered[r - 1][start]) or 0)
        if extra > 0 then weight = weight + extra * 2 ^ ((start - landmark) / half_life) end
        if r < 3 then
          local parent = r == 1 and start - (start % hour_size) or day_of(days, start)
          covered[r][parent] = (covered[r][parent] or 0) + v
        end
      end
    end
    redis.call('ZINCRBY', key_total(p, 'all'), total, id)
    redis.call('ZREM', key_held_total(p, reason), id)
    out[#out + 1] = reason
    out[#out + 1] = total
    released = released + total
  end
end
if released > 0 then
  if weight > 0 then
    redis.call('ZINCRBY', key_hot(p, 'all'), string.format('%.17g', weight), id)
  end
  redis.call('HDEL', KEYS[3], id)
  local day, after = day_of(days, now)
  local tally = key_beacons(p, string.format('%d', day))
  redis.call('HINCRBY', tally, 'released', released)
  redis.call('EXPIREAT', tally, string.format('%d', (after or day + LONGEST_DAY) + retention[3]))
  for key, at in pairs(expiry) do
    redis.call('EXPIREAT', key, string.format('%d', at))
  end
end
return out
