-- Prepended to the scripts that answer lists (top.lua, latest.lua) when they are loaded.
-- The row a list shows for `id` with `score`: {id, score, title, url, section, summary,
-- image, published_at, authors}; nil unless it is catalogued, visible, (when `want_section`
-- is not '') in that section and a member of every set in `must` (an author's or a tag's).
local function listed(p, id, score, want_section, must)
  local f = redis.call('HMGET', key_item(p, id),
    'title', 'url', 'section', 'summary', 'image', 'published_at', 'hidden', 'authors')
  if not f[1] or f[7] == '1' or (want_section ~= '' and f[3] ~= want_section) then
    return nil
  end
  for _, set in ipairs(must) do
    if redis.call('SISMEMBER', set, id) == 0 then return nil end
  end
  return {id, score, f[1], f[2] or '', f[3] or '', f[4] or '', f[5] or '', f[6] or '',
    f[8] or ''}
end
