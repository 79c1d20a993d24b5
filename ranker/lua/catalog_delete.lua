-- Remove one catalog entry and its decayed and all-time scores; logged for collectors.
-- Bucket counts are left to expire with their buckets (no public list shows an
-- uncatalogued id).
-- KEYS[1] item hash, KEYS[2] catalogued-ids set, KEYS[3] meta hash, KEYS[4] catalog log
-- ARGV[1] id, ARGV[2] key prefix
-- Returns 1 when the id existed, else 0.
local section = redis.call('HGET', KEYS[1], 'section')
redis.call('DEL', KEYS[1])
if redis.call('SREM', KEYS[2], ARGV[1]) == 0 then return 0 end
local scopes = {'all'}
if section and section ~= '' then scopes[2] = section end
for _, scope in ipairs(scopes) do
  redis.call('ZREM', ARGV[2] .. 'hot:' .. scope, ARGV[1])
  redis.call('ZREM', ARGV[2] .. 'tot:' .. scope, ARGV[1])
end
local v = redis.call('HINCRBY', KEYS[3], 'catver', 1)
redis.call('XADD', KEYS[4], 'MAXLEN', '~', 10000, '*', 'op', 'del', 'id', ARGV[1], 'v', v)
return 1
