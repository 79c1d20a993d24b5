-- Create or replace one catalog entry; a new id is logged so collectors start counting it.
-- KEYS[1] item hash, KEYS[2] catalogued-ids set, KEYS[3] meta hash, KEYS[4] catalog log,
-- KEYS[5] hidden-ids set, KEYS[6] sections set, KEYS[7] published zset, KEYS[8] deleted-ids
-- zset (an id written again is no longer a deleted one)
-- ARGV[1] id, ARGV[2] key prefix, ARGV[3] its publish time (unix s, '' for none),
-- ARGV[4..] field, value, ... (including hidden = "1"/"0")
-- The entry's section, if any, lists it in that section's members set (the section's lists
-- are the site's intersected with it) and the section in the sections set.
-- Its authors and tags (fields `authors` and `tags`, a name a line, and their slugs in
-- `author_keys` and `tag_keys`) list it in each one's members set, and their names in the
-- names hashes (lib_facets.lua).
-- Returns 1 when the id is new, else 0.
local id, p = ARGV[1], ARGV[2]
redis.call('ZREM', KEYS[8], id)
-- A site's first data is written in this release's layout.
if redis.call('EXISTS', KEYS[3]) == 0 then redis.call('HSET', KEYS[3], 'layout', LAYOUT) end
local old = redis.call('HGET', KEYS[1], 'section') or ''
local old_facets = read_facets(KEYS[1])
redis.call('DEL', KEYS[1])
redis.call('HSET', KEYS[1], unpack(ARGV, 4))
move_facets(p, id, old_facets, read_facets(KEYS[1]))
if ARGV[3] ~= '' then
  redis.call('ZADD', KEYS[7], ARGV[3], id)
else
  redis.call('ZREM', KEYS[7], id)
end
local section = redis.call('HGET', KEYS[1], 'section') or ''
if old ~= section and old ~= '' then redis.call('SREM', key_section(p, old), id) end
if section ~= '' then
  redis.call('SADD', key_section(p, section), id)
  redis.call('SADD', KEYS[6], section)
end
if redis.call('HGET', KEYS[1], 'hidden') == '1' then
  redis.call('SADD', KEYS[5], id)
else
  redis.call('SREM', KEYS[5], id)
end
if redis.call('SADD', KEYS[2], id) == 0 then return 0 end
local v = redis.call('HINCRBY', KEYS[3], 'catver', 1)
redis.call('XADD', KEYS[4], 'MAXLEN', '~', CATALOG_LOG_MAX, '*', 'op', 'add', 'id', id, 'v', v)
return 1
