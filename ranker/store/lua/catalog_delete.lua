-- Remove one catalog entry and every count of it: decayed, all-time and bucketed, in every
-- section it was ever counted under, so an id created again starts from zero.
-- KEYS[1] item hash, KEYS[2] catalogued-ids set, KEYS[3] meta hash, KEYS[4] catalog log,
-- KEYS[5] hidden-ids set, KEYS[6] scopes set, KEYS[7] flags hash
-- ARGV[1] id, ARGV[2] key prefix, ARGV[3] now (unix s),
-- ARGV[4..6] retention (s) after a minute/hour/day bucket ends, ARGV[7..] the reasons views
-- are held for: its held views go too.
-- An id that was never catalogued may have counts too, from signed beacons: they go as well.
-- Returns 1 when the id had an entry or counts, else 0.
redis.call('DEL', KEYS[1])
redis.call('SREM', KEYS[5], ARGV[1])
local id, p, now = ARGV[1], ARGV[2], tonumber(ARGV[3])
local catalogued = redis.call('SREM', KEYS[2], id) == 1
if not catalogued and not redis.call('ZSCORE', key_total(p, 'all'), id) then return 0 end
local scopes = redis.call('SMEMBERS', KEYS[6])
scopes[#scopes + 1] = 'all'
local retention = {tonumber(ARGV[4]), tonumber(ARGV[5]), tonumber(ARGV[6])}
-- Out of every bucket `key(p, of, resolution, start)` still alive: from the one holding
-- `now` back through the retention, at each resolution.
local function remove_from_buckets(key, of)
  for r, size in ipairs(BUCKET_SECONDS) do
    local newest = now - (now % size)
    for start = newest, newest - retention[r] - size, -size do
      redis.call('ZREM', key(p, of, RESOLUTIONS[r], string.format('%d', start)), id)
    end
  end
end
for _, scope in ipairs(scopes) do
  redis.call('ZREM', key_hot(p, scope), id)
  redis.call('ZREM', key_total(p, scope), id)
  remove_from_buckets(key_bucket, scope)
end
redis.call('HDEL', KEYS[7], id)
for a = 7, #ARGV do
  local reason = ARGV[a]
  if redis.call('ZREM', key_held_total(p, reason), id) == 1 then
    remove_from_buckets(key_held, reason)
  end
end
if catalogued then
  local v = redis.call('HINCRBY', KEYS[3], 'catver', 1)
  redis.call('XADD', KEYS[4], 'MAXLEN', '~', CATALOG_LOG_MAX, '*', 'op', 'del', 'id', id, 'v', v)
end
return 1
