-- The latest published stories that a list may show: catalogued, visible, in the section if
-- one is asked for, published at or after a time; newest first (ties by id), with their
-- catalog fields. What fills a list up when fewer stories than it asks for have views.
-- KEYS[1] published zset (id -> publish time), KEYS[2..] the member sets (an author's or a
-- tag's) a story must be in
-- ARGV[1] how many, ARGV[2] key prefix, ARGV[3] section ('' for any), ARGV[4] published at
-- or after (unix s, '-inf' for any time), ARGV[5] most members to look at.
-- Returns {{id, publish time, title, url, section, summary, image, published_at, authors},
-- ...}.
local n, p, want_section = tonumber(ARGV[1]), ARGV[2], ARGV[3]
local max_scan = tonumber(ARGV[5])
local must = {}
for i = 2, #KEYS do must[#must + 1] = KEYS[i] end
local out, pos, chunk = {}, 0, math.max(2 * n, 32)
while #out < n and pos < max_scan do
  local page = redis.call('ZRANGE', KEYS[1], '+inf', ARGV[4], 'BYSCORE', 'REV', 'LIMIT', pos,
    chunk, 'WITHSCORES')
  if #page == 0 then break end
  for i = 1, #page, 2 do
    local row = listed(p, page[i], page[i + 1], want_section, must)
    if row then
      out[#out + 1] = row
      if #out >= n then break end
    end
  end
  pos = pos + chunk
end
return out
