-- A site's periodic upkeep, done by whichever collector takes the lock first, at most once
-- per lock period: roll finished minutes into their hour and day buckets, move the decay
-- landmark when due (lib_rebase.lua), then drop hot-ranking members whose decayed count
-- fell below `prune` views and keep at most `hot_max` members, so the ranking stays small
-- however many stories ever had a view. Buckets need nothing else: they expire.
-- KEYS[1] meta hash, KEYS[2] lock, KEYS[3] unrolled-minutes zset
-- ARGV[1] now (unix s), ARGV[2] half-life (s), ARGV[3] key prefix, ARGV[4] rebase after
-- (half-lives), ARGV[5] prune (views), ARGV[6] hot_max, ARGV[7] lock period (ms),
-- ARGV[8] lock owner, ARGV[9..11] retention (s) after a minute/hour/day bucket ends,
-- ARGV[12] minutes rolled into hours and days once they are this old (s),
-- ARGV[13] most minutes to roll in one call, ARGV[14] d, then d day starts (lib_days.lua)
-- from the day of the oldest minute not rolled.
-- Returns {done (1, or 0: another collector has the lock), members pruned, members
-- trimmed, minutes rolled}.
local minute_size, hour_size = BUCKET_SECONDS[1], BUCKET_SECONDS[2]
if not redis.call('SET', KEYS[2], ARGV[8], 'NX', 'PX', ARGV[7]) then
  return {0, 0, 0, 0}
end
if redis.call('EXISTS', KEYS[1]) == 0 then return {1, 0, 0, 0} end  -- no data yet
local now, half_life, p = tonumber(ARGV[1]), tonumber(ARGV[2]), ARGV[3]
local retention = {tonumber(ARGV[9]), tonumber(ARGV[10]), tonumber(ARGV[11])}
local days = read_days(14)

-- Roll-up: each finished minute not rolled yet is added to its hour and day, then marked
-- rolled, in one step: views are in the hour and day of a minute exactly when the minute
-- is at most `rolled` (flush.lua writes by the same rule), so nothing counts twice.
local rolled = tonumber(redis.call('HGET', KEYS[1], 'rolled'))
local settled = now - tonumber(ARGV[12])
-- The last minute that ended that long ago.
settled = settled - (settled % minute_size) - minute_size
local minutes = 0
local call_cost = 8  -- a ZINCRBY from here against one member of a merge (ZUNIONSTORE)
if not rolled then
  -- Data from before roll-ups had every view in its hour and day when written.
  rolled = now - (now % minute_size)
else
  local due = redis.call('ZRANGE', KEYS[3], '-inf', settled, 'BYSCORE', 'LIMIT', 0, ARGV[13])
  for _, m_text in ipairs(due) do
    local minute = tonumber(m_text)
    local key = key_bucket(p, 'all', 'minute', m_text)
    local size = redis.call('ZCARD', key)
    if size > 0 then
      local hour = minute - (minute % hour_size)
      local day, after = day_of(days, minute)
      local hour_key = key_bucket(p, 'all', 'hour', string.format('%d', hour))
      local day_key = key_bucket(p, 'all', 'day', string.format('%d', day))
      local counts
      for _, into in ipairs({hour_key, day_key}) do
        -- Member by member, or the two merged whole (which rebuilds the bucket, but
        -- without a call per member, each costing as much as several merged members):
        -- whichever costs less.
        if size * call_cost < redis.call('ZCARD', into) then
          counts = counts or redis.call('ZRANGE', key, 0, -1, 'WITHSCORES')
          for i = 1, #counts, 2 do redis.call('ZINCRBY', into, counts[i + 1], counts[i]) end
        else
          redis.call('ZUNIONSTORE', into, 2, into, key)
        end
      end
      redis.call('EXPIREAT', hour_key, string.format('%d', hour + hour_size + retention[2]))
      local day_ends = after or day + LONGEST_DAY
      redis.call('EXPIREAT', day_key, string.format('%d', day_ends + retention[3]))
      redis.call('EXPIREAT', key, string.format('%d', minute + minute_size + retention[1]))
    end
    redis.call('ZREM', KEYS[3], m_text)
    minutes = minutes + 1
  end
  -- Up to the last minute settled, unless the call stopped short of a minute not rolled.
  if #due < tonumber(ARGV[13]) then
    rolled = math.max(rolled, settled)
  else
    rolled = math.max(rolled, tonumber(due[#due]))
  end
end
redis.call('HSET', KEYS[1], 'rolled', string.format('%d', rolled))

local landmark = tonumber(redis.call('HGET', KEYS[1], 'landmark'))
if not landmark then return {1, 0, 0, minutes} end  -- nothing counted yet
if now - landmark >= tonumber(ARGV[4]) * half_life then
  rebase(KEYS[1], p, landmark, math.floor(now), half_life, ARGV[5])
  landmark = math.floor(now)
end
-- A member's decayed count is score * 2^((landmark - now)/H): below `prune` views means a
-- score below prune * 2^((now - landmark)/H).
local below = string.format('%.17g', tonumber(ARGV[5]) * 2 ^ ((now - landmark) / half_life))
local key = key_hot(p, 'all')
local pruned = redis.call('ZREMRANGEBYSCORE', key, '-inf', '(' .. below)
local trimmed = 0
local extra = redis.call('ZCARD', key) - tonumber(ARGV[6])
if extra > 0 then
  trimmed = redis.call('ZREMRANGEBYRANK', key, 0, extra - 1)
end
return {1, pruned, trimmed, minutes}
