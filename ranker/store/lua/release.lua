-- Release an item's held views into its counts, atomically: each reason's held views move
-- from the held buckets into the counted buckets of the same start (site-wide, and its
-- section), into the all-time totals and into the hot ranking, and are held no more.
-- KEYS[1] meta hash, KEYS[2] scopes set, KEYS[3] item hash, KEYS[4] flags hash
-- ARGV[1] id, ARGV[2] key prefix, ARGV[3] now (unix s),
-- ARGV[4..6] retention (s) after a minute/hour/day bucket ends, ARGV[7] half-life (s),
-- ARGV[8] rebase after (half-lives), ARGV[9] prune threshold (views), ARGV[10] the UTC day
-- start of `now` (for the tally), ARGV[11..] the reasons to release.
-- The hot ranking gets each view at the start of the finest bucket that still knows it:
-- its minute within `retention.minute`, else its hour, else its day.
-- Returns {reason, views released, ...} for the reasons that had any.
local id, p, now = ARGV[1], ARGV[2], tonumber(ARGV[3])
local retention = {tonumber(ARGV[4]), tonumber(ARGV[5]), tonumber(ARGV[6])}
local half_life = tonumber(ARGV[7])

local section = redis.call('HGET', KEYS[3], 'section') or ''
local scopes = {'all'}
if section ~= '' then
  scopes[2] = section
  redis.call('SADD', KEYS[2], section)
end

local out, released = {}, 0
local expiry = {}
local weight = 0
local landmark
for a = 11, #ARGV do
  local reason = ARGV[a]
  local total = tonumber(redis.call('ZSCORE', key_held_total(p, reason), id) or '0')
  if total > 0 then
    landmark = landmark or landmark_for(KEYS[1], KEYS[2], p, now, half_life, ARGV[8], ARGV[9])
    -- Every held bucket still alive: from the one holding `now` back through the retention.
    local found = {{}, {}, {}}  -- resolution -> {start -> views}
    for r, size in ipairs(BUCKET_SECONDS) do
      local newest = now - (now % size)
      for start = newest, newest - retention[r] - size, -size do
        local start_text = string.format('%d', start)
        local key = key_held(p, reason, RESOLUTIONS[r], start_text)
        local v = redis.call('ZSCORE', key, id)
        if v then
          redis.call('ZREM', key, id)
          found[r][start] = tonumber(v)
          for _, scope in ipairs(scopes) do
            local counted = key_bucket(p, scope, RESOLUTIONS[r], start_text)
            redis.call('ZINCRBY', counted, v, id)
            expiry[counted] = start + size + retention[r]
          end
        end
      end
    end
    -- Decay weights: minutes first, then what the minutes of an hour did not hold, then
    -- what the hours of a day did not.
    local covered = {{}, {}}  -- hour start -> views in its minutes; day start -> in its hours
    for r = 1, 3 do
      for start, v in pairs(found[r]) do
        local extra = v - ((r > 1 and covered[r - 1][start]) or 0)
        if extra > 0 then weight = weight + extra * 2 ^ ((start - landmark) / half_life) end
        if r < 3 then
          local parent = start - (start % BUCKET_SECONDS[r + 1])
          covered[r][parent] = (covered[r][parent] or 0) + v
        end
      end
    end
    for _, scope in ipairs(scopes) do
      redis.call('ZINCRBY', key_total(p, scope), total, id)
    end
    redis.call('ZREM', key_held_total(p, reason), id)
    out[#out + 1] = reason
    out[#out + 1] = total
    released = released + total
  end
end
if released > 0 then
  if weight > 0 then
    local score = string.format('%.17g', weight)
    for _, scope in ipairs(scopes) do
      redis.call('ZINCRBY', key_hot(p, scope), score, id)
    end
  end
  redis.call('HDEL', KEYS[4], id)
  local tally = key_beacons(p, ARGV[10])
  redis.call('HINCRBY', tally, 'released', released)
  local day = BUCKET_SECONDS[3]
  redis.call('EXPIREAT', tally, string.format('%d', tonumber(ARGV[10]) + day + retention[3]))
  for key, at in pairs(expiry) do
    redis.call('EXPIREAT', key, string.format('%d', at))
  end
end
return out
