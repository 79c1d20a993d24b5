-- Put before catalog_put.lua for an entry a feed brings (Store.sync_items): a story an editor
-- deleted is not written again, an editor's takedown (hidden) is kept, and an entry stored
-- as it is already is not written at all, so polling an unchanged feed changes nothing.
-- KEYS and ARGV as catalog_put.lua's (KEYS[8] the deleted-ids zset).
-- Returns 3 for a deleted id, 2 for an entry stored as it is, else what catalog_put.lua
-- returns (1 new, 0 replaced).
if redis.call('ZSCORE', KEYS[8], ARGV[1]) then return 3 end
local stored = redis.call('HGETALL', KEYS[1])
local have = {}
for i = 1, #stored, 2 do have[stored[i]] = stored[i + 1] end
local same = #stored > 0 and #stored == #ARGV - 3
for i = 4, #ARGV, 2 do
  if ARGV[i] == 'hidden' then ARGV[i + 1] = have['hidden'] or '0' end
  if have[ARGV[i]] ~= ARGV[i + 1] then same = false end
end
if same then return 2 end
