-- Hide or show an existing catalog entry. KEYS[1] item hash; ARGV[1] "1" or "0".
-- Returns 1 when the entry exists, else 0 (and creates nothing).
if redis.call('EXISTS', KEYS[1]) == 0 then return 0 end
redis.call('HSET', KEYS[1], 'hidden', ARGV[1])
return 1
