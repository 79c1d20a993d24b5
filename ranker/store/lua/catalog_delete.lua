-- Remove one catalog entry and every count of it: decayed, all-time and bucketed, so an id
-- created again starts from zero.
-- KEYS[1] item hash, KEYS[2] catalogued-ids set, KEYS[3] meta hash, KEYS[4] catalog log,
-- KEYS[5] hidden-ids set, KEYS[6] flags hash, KEYS[7] unrolled-minutes zset,
-- KEYS[8] published zset, KEYS[9] deleted-ids zset (a feed never brings the id back)
-- ARGV[1] id, ARGV[2] key prefix, ARGV[3] now (unix s),
-- ARGV[4..6] retention (s) after a minute/hour/day bucket ends, ARGV[7] d, then d day
-- starts (lib_days.lua): every day a bucket may still be kept for; then the reasons views
-- are held for: its held views go too.
-- An id that was never catalogued may have counts too, from signed beacons: they go as well.
-- Minutes not rolled yet are kept longer than the minute retention: the unrolled-minutes
-- zset lists them.
-- Returns 1 when the id had an entry or counts, else 0.
local minute_size, hour_size = BUCKET_SECONDS[1], BUCKET_SECONDS[2]
local id, p, now = ARGV[1], ARGV[2], tonumber(ARGV[3])
local section = redis.call('HGET', KEYS[1], 'section')
move_facets(p, id, read_facets(KEYS[1]), {})
redis.call('HDEL', key_pins(p), id)
redis.call('DEL', KEYS[1])
redis.call('SREM', KEYS[5], id)
redis.call('ZREM', KEYS[8], id)
if section and section ~= '' then redis.call('SREM', key_section(p, section), id) end
local catalogued = redis.call('SREM', KEYS[2], id) == 1
if not catalogued and not redis.call('ZSCORE', key_total(p, 'all'), id) then return 0 end
local retention = {tonumber(ARGV[4]), tonumber(ARGV[5]), tonumber(ARGV[6])}
local days, first_reason = read_days(7)
local unrolled = redis.call('ZRANGE', KEYS[7], 0, -1)
-- Out of every bucket `key(p, of, resolution, start)` still alive.
local function remove_from_buckets(key, of)
  for r, size in ipairs({minute_size, hour_size}) do
    local newest = now - (now % size)
    for start = newest, newest - retention[r] - size, -size do
      redis.call('ZREM', key(p, of, RESOLUTIONS[r], string.format('%d', start)), id)
    end
  end
  for _, m in ipairs(unrolled) do redis.call('ZREM', key(p, of, 'minute', m), id) end
  for _, day in ipairs(days) do
    redis.call('ZREM', key(p, of, 'day', string.format('%d', day)), id)
  end
end
redis.call('ZREM', key_hot(p, 'all'), id)
redis.call('ZREM', key_total(p, 'all'), id)
remove_from_buckets(key_bucket, 'all')
redis.call('HDEL', KEYS[6], id)
for a = first_reason, #ARGV do
  local reason = ARGV[a]
  if redis.call('ZREM', key_held_total(p, reason), id) == 1 then
    remove_from_buckets(key_held, reason)
  end
end
if catalogued then
  redis.call('ZADD', KEYS[9], now, id)
  local v = redis.call('HINCRBY', KEYS[3], 'catver', 1)
  redis.call('XADD', KEYS[4], 'MAXLEN', '~', CATALOG_LOG_MAX, '*', 'op', 'del', 'id', id, 'v', v)
end
return 1
