-- Hide or show an existing catalog entry.
-- KEYS[1] item hash, KEYS[2] hidden-ids set; ARGV[1] id, ARGV[2] "1" or "0".
-- Returns 1 when the entry exists, else 0 (and creates nothing).
if redis.call('EXISTS', KEYS[1]) == 0 then return 0 end
redis.call('HSET', KEYS[1], 'hidden', ARGV[2])
if ARGV[2] == '1' then
  redis.call('SADD', KEYS[2], ARGV[1])
else
  redis.call('SREM', KEYS[2], ARGV[1])
end
return 1
