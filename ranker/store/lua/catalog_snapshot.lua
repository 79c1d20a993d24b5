-- Everything a collector needs to start following the catalog, read atomically.
-- KEYS[1] meta hash, KEYS[2] catalogued-ids set, KEYS[3] catalog log
-- Returns {version, last log entry id, id, id, ...}.
local last = redis.call('XREVRANGE', KEYS[3], '+', '-', 'COUNT', 1)
local out = {redis.call('HGET', KEYS[1], 'catver') or '0', last[1] and last[1][1] or '0-0'}
for _, id in ipairs(redis.call('SMEMBERS', KEYS[2])) do out[#out + 1] = id end
return out
