-- Create or replace one catalog entry; a new id is logged so collectors start counting it.
-- KEYS[1] item hash, KEYS[2] catalogued-ids set, KEYS[3] meta hash, KEYS[4] catalog log,
-- KEYS[5] hidden-ids set
-- ARGV[1] id, ARGV[2..] field, value, ... (including hidden = "1"/"0")
-- Returns 1 when the id is new, else 0.
redis.call('DEL', KEYS[1])
redis.call('HSET', KEYS[1], unpack(ARGV, 2))
if redis.call('HGET', KEYS[1], 'hidden') == '1' then
  redis.call('SADD', KEYS[5], ARGV[1])
else
  redis.call('SREM', KEYS[5], ARGV[1])
end
if redis.call('SADD', KEYS[2], ARGV[1]) == 0 then return 0 end
local v = redis.call('HINCRBY', KEYS[3], 'catver', 1)
redis.call('XADD', KEYS[4], 'MAXLEN', '~', CATALOG_LOG_MAX, '*', 'op', 'add', 'id', ARGV[1], 'v', v)
return 1
