-- Pin a catalogued story, replacing its pin, in one step with the check that it is
-- catalogued (a story deleted meanwhile is not pinned).
-- KEYS[1] catalogued-ids set, KEYS[2] pins hash
-- ARGV[1] id, ARGV[2] the pin: "position|until|section|windows"
-- Returns 1 when pinned, 0 when the id is not catalogued.
if redis.call('SISMEMBER', KEYS[1], ARGV[1]) == 0 then return 0 end
redis.call('HSET', KEYS[2], ARGV[1], ARGV[2])
return 1
