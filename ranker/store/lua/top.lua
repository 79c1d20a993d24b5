-- The top of one ranking, catalogued and visible items only, with their catalog fields.
-- KEYS[1] meta hash, KEYS[2] the ranking (a hot/total zset, or a window's union key),
-- KEYS[3..] a window's bucket zsets (none for hot/total).
-- ARGV[1] n, ARGV[2] key prefix, ARGV[3] section ('' for all), ARGV[4] union TTL (ms,
--         0 = do not keep the union), ARGV[5] most members to look at.
-- Returns {landmark, {id, score, title, url, section, summary, image, published_at}, ...}.
-- Past the n-th visible member it keeps reading while scores tie (equal to 12 digits:
-- decayed counts that are equal can differ in their last bits), so the caller can break
-- ties by id.
local n, p, want_section = tonumber(ARGV[1]), ARGV[2], ARGV[3]
local ttl, max_scan = tonumber(ARGV[4]), tonumber(ARGV[5])
local src = KEYS[2]
if #KEYS > 2 and (ttl <= 0 or redis.call('EXISTS', src) == 0) then
  local buckets = {}
  for i = 3, #KEYS do buckets[#buckets + 1] = KEYS[i] end
  redis.call('ZUNIONSTORE', src, #buckets, unpack(buckets))
  if ttl > 0 then redis.call('PEXPIRE', src, ttl) end
end
local out = {redis.call('HGET', KEYS[1], 'landmark') or false}
local found, last, pos, chunk = 0, nil, 0, math.max(2 * n, 32)
while pos < max_scan do
  local page = redis.call('ZREVRANGE', src, pos, pos + chunk - 1, 'WITHSCORES')
  if #page == 0 then break end
  for i = 1, #page, 2 do
    local id, score = page[i], page[i + 1]
    if found >= n and math.abs(tonumber(score) - last) > 1e-12 * math.abs(last) then
      pos = max_scan break
    end
    local f = redis.call('HMGET', key_item(p, id),
      'title', 'url', 'section', 'summary', 'image', 'published_at', 'hidden')
    if f[1] and f[7] ~= '1' and (want_section == '' or f[3] == want_section) then
      found, last = found + 1, tonumber(score)
      out[#out + 1] = {id, score, f[1], f[2] or '', f[3] or '', f[4] or '', f[5] or '', f[6] or ''}
    end
  end
  pos = pos + chunk
end
if #KEYS > 2 and ttl <= 0 then redis.call('DEL', src) end
return out
