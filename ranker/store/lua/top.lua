-- The top of one ranking, catalogued and visible items only, with their catalog fields.
-- KEYS[1] meta hash, KEYS[2] the site's ranking (the hot or total zset, or a window's
-- union key), KEYS[3] its intersection with the member sets (only with some), KEYS[4]
-- unrolled-minutes zset, KEYS[5] published zset, KEYS[6] the recent stories' key and
-- KEYS[7] the list's intersection with it (both only for a max age), KEYS[8 .. 7 + m] the
-- member sets a story must be in (m = ARGV[9]: the section's first if there is one, then
-- an author's or a tag's), then a window's bucket zsets (none for hot/total).
-- ARGV[1] n, ARGV[2] key prefix, ARGV[3] section ('' for all), ARGV[4] cache TTL (ms,
--         0 = do not keep the unions), ARGV[5] most members to look at,
-- ARGV[6] the window's bucket resolution ('' for hot/total), ARGV[7] its oldest bucket's
--         start: minutes not rolled into hours and days yet are added from there on,
-- ARGV[8] published at or after this (unix s), '' for any time: stories without a publish
--         time are left out then, ARGV[9] m,
-- ARGV[10] now (unix s), ARGV[11] the window's name, ARGV[12] '1' when pins apply to the
--         list (not to an author's or a tag's).
-- Returns {landmark, pinned, {id, score, title, url, section, summary, image,
-- published_at, authors}, ...}: `pinned` the rows of the visible stories pinned in this
-- list (its section, or the site's; its window; not expired), each with the position
-- it is pinned at added, their scores in the list whatever their age.
-- Past the n-th visible member it keeps reading while scores tie (equal to 12 digits:
-- decayed counts that are equal can differ in their last bits), so the caller can break
-- ties by id.
local n, p, want_section = tonumber(ARGV[1]), ARGV[2], ARGV[3]
local ttl, max_scan = tonumber(ARGV[4]), tonumber(ARGV[5])
local resolution = ARGV[6]
local m = tonumber(ARGV[9])
local src = KEYS[2]
local sets, must = {}, {}  -- the member sets; those listed() checks (not the section's)
for i = 8, 7 + m do
  sets[#sets + 1] = KEYS[i]
  if i > 8 or want_section == '' then must[#must + 1] = KEYS[i] end
end
local made = {}  -- keys made here and not kept: deleted at the end
-- Make `key` with `make()` unless an earlier call made it and it is kept (a cache of
-- `ttl` ms); without a TTL it lasts this call only.
local function cached(key, make)
  if ttl > 0 and redis.call('EXISTS', key) == 1 then return end
  make()
  if ttl > 0 then redis.call('PEXPIRE', key, ttl) else made[#made + 1] = key end
end
if resolution ~= '' then
  cached(src, function()
    local buckets = {}
    for i = 8 + m, #KEYS do buckets[#buckets + 1] = KEYS[i] end
    if resolution ~= 'minute' then
      -- Views of minutes not rolled yet are in their minute only.
      for _, minute in ipairs(redis.call('ZRANGE', KEYS[4], ARGV[7], '+inf', 'BYSCORE')) do
        buckets[#buckets + 1] = key_bucket(p, 'all', 'minute', minute)
      end
    end
    redis.call('ZUNIONSTORE', src, #buckets, unpack(buckets))
  end)
end
if m > 0 then
  -- A section's, an author's or a tag's list is the site's, intersected with the members.
  cached(KEYS[3], function()
    local args = {KEYS[3], m + 1, src, unpack(sets)}
    args[#args + 1] = 'WEIGHTS'
    args[#args + 1] = 1
    for _ = 1, m do args[#args + 1] = 0 end
    redis.call('ZINTERSTORE', unpack(args))
  end)
  src = KEYS[3]
end
-- The pins of this list (key_pins: id -> "position|until|section|window,window").
local pinned, now, window = {}, tonumber(ARGV[10]), ARGV[11]
if ARGV[12] == '1' then
  local pins = redis.call('HGETALL', key_pins(p))
  for i = 1, #pins, 2 do
    local id = pins[i]
    local position, until_, section, windows = string.match(pins[i + 1],
      '^(%d+)|(%d+)|([^|]*)|([^|]*)')
    local here = false
    for w in string.gmatch(windows or '', '[^,]+') do here = here or w == window end
    if here and tonumber(until_) > now and section == want_section then
      local row = listed(p, id, redis.call('ZSCORE', src, id) or 0, '', {})
      if row then
        row[#row + 1] = position
        pinned[#pinned + 1] = row
      end
    end
  end
end
if ARGV[8] ~= '' then
  -- Recent stories only: the list intersected with those published since the cutoff,
  -- before the cut, so the list is whole when enough recent stories qualify.
  cached(KEYS[6], function()
    redis.call('ZRANGESTORE', KEYS[6], KEYS[5], ARGV[8], '+inf', 'BYSCORE')
  end)
  cached(KEYS[7], function()
    redis.call('ZINTERSTORE', KEYS[7], 2, src, KEYS[6], 'WEIGHTS', 1, 0)
  end)
  src = KEYS[7]
end
local out = {redis.call('HGET', KEYS[1], 'landmark') or false, pinned}
local found, last, pos, chunk = 0, nil, 0, math.max(2 * n, 32)
while pos < max_scan do
  local page = redis.call('ZREVRANGE', src, pos, pos + chunk - 1, 'WITHSCORES')
  if #page == 0 then break end
  for i = 1, #page, 2 do
    local id, score = page[i], page[i + 1]
    if found >= n and math.abs(tonumber(score) - last) > 1e-12 * math.abs(last) then
      pos = max_scan break
    end
    local row = listed(p, id, score, want_section, must)
    if row then
      found, last = found + 1, tonumber(score)
      out[#out + 1] = row
    end
  end
  pos = pos + chunk
end
if #made > 0 then redis.call('DEL', unpack(made)) end
return out
