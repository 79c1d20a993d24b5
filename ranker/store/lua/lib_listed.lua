-- Prepended to the scripts that answer lists (top.lua, latest.lua) when they are loaded.
-- The row a list shows for `id` with `score`: {id, score, title, url, section, summary,
-- image, published_at}; nil unless it is catalogued, visible and (when `want_section` is
-- not '') in that section.
local function listed(p, id, score, want_section)
  local f = redis.call('HMGET', key_item(p, id),
    'title', 'url', 'section', 'summary', 'image', 'published_at', 'hidden')
  if not f[1] or f[7] == '1' or (want_section ~= '' and f[3] ~= want_section) then
    return nil
  end
  return {id, score, f[1], f[2] or '', f[3] or '', f[4] or '', f[5] or '', f[6] or ''}
end
