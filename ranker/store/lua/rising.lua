-- Candidates for the rising list: visible, catalogued ids with at least `min_views` views
-- in the short window, with their views there and in the baseline window before it, and
-- how many distinct client networks the short window's views came from.
-- KEYS[1], KEYS[2] scratch keys for the two unions (deleted before returning),
-- KEYS[3 .. 2+ARGV[1]] the short window's buckets, then the baseline's buckets, then the
-- short window's per-minute network hashes (as many as its buckets). The buckets are the
-- site's; a section's are read through its members set.
-- ARGV[1] number of short buckets, ARGV[2] min views, ARGV[3] key prefix,
-- ARGV[4] section ('' for all), ARGV[5] most candidates to consider,
-- ARGV[6] networks worth counting (the crowd rule's threshold; counting stops there).
-- Returns {{id, short views, baseline views, title, url, section, networks}, ...}.
local n_short, min_views, p, want = tonumber(ARGV[1]), ARGV[2], ARGV[3], ARGV[4]
local crowd = tonumber(ARGV[6])
local n_base = #KEYS - 2 - 2 * n_short
local short, base, nets = {}, {}, {}
for i = 3, 2 + n_short do short[#short + 1] = KEYS[i] end
for i = 3 + n_short, 2 + n_short + n_base do base[#base + 1] = KEYS[i] end
for i = 3 + n_short + n_base, #KEYS do nets[#nets + 1] = KEYS[i] end
redis.call('ZUNIONSTORE', KEYS[1], #short, unpack(short))
if want ~= '' then
  -- A section's candidates are the site's, intersected with the section's members.
  redis.call('ZINTERSTORE', KEYS[1], 2, KEYS[1], key_section(p, want), 'WEIGHTS', 1, 0)
end
local candidates = redis.call('ZRANGE', KEYS[1], '+inf', min_views, 'BYSCORE', 'REV',
  'LIMIT', 0, tonumber(ARGV[5]), 'WITHSCORES')

-- Distinct networks over the short window, counted up to `crowd`.
local function networks(id)
  local seen, count = {}, 0
  for _, key in ipairs(nets) do
    local hashes = redis.call('HGET', key, id)
    if hashes then
      for j = 1, #hashes, 12 do
        local hash = string.sub(hashes, j, j + 11)
        if not seen[hash] then
          seen[hash] = true
          count = count + 1
          if count >= crowd then return count end
        end
      end
    end
  end
  return count
end

local out = {}
if #candidates > 0 then
  redis.call('ZUNIONSTORE', KEYS[2], #base, unpack(base))
  for i = 1, #candidates, 2 do
    local id = candidates[i]
    local f = redis.call('HMGET', key_item(p, id), 'title', 'url', 'section', 'hidden')
    if f[1] and f[4] ~= '1' and (want == '' or f[3] == want) then
      out[#out + 1] = {id, candidates[i + 1], redis.call('ZSCORE', KEYS[2], id) or '0',
        f[1], f[2] or '', f[3] or '', networks(id)}
    end
  end
end
redis.call('DEL', KEYS[1], KEYS[2])
return out
