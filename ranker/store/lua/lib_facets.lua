-- Prepended to the scripts that write catalog entries (catalog_put.lua, catalog_delete.lua).
-- An entry's authors and tags: the fields `authors`/`tags` hold the names and
-- `author_keys`/`tag_keys` their slugs, one a line, in the same order.
-- Kind -> the fields of its names and of their slugs.
local facet_fields = {author = {'authors', 'author_keys'}, tag = {'tags', 'tag_keys'}}

local function lines(text)
  local out = {}
  if text and text ~= '' then
    for line in string.gmatch(text, '[^\n]+') do out[#out + 1] = line end
  end
  return out
end

-- {kind = {{slug, name}, ...}} of the entry in hash `item`.
local function read_facets(item)
  local out = {}
  for kind, fields in pairs(facet_fields) do
    local f = redis.call('HMGET', item, fields[1], fields[2])
    local names, slugs, pairs_ = lines(f[1]), lines(f[2]), {}
    for i, s in ipairs(slugs) do pairs_[#pairs_ + 1] = {s, names[i] or s} end
    out[kind] = pairs_
  end
  return out
end

-- Moves `id` from the members sets of its `old` authors and tags to those of its `new` ones
-- (read_facets' shape; {} for none), keeping the names hashes: a slug's name is the last
-- written, and a slug no entry names any more goes.
local function move_facets(p, id, old, new)
  for kind, _ in pairs(facet_fields) do
    local now = {}
    for _, sn in ipairs(new[kind] or {}) do now[sn[1]] = true end
    for _, sn in ipairs(old[kind] or {}) do
      if not now[sn[1]] then
        local members = key_members(p, kind, sn[1])
        redis.call('SREM', members, id)
        if redis.call('SCARD', members) == 0 then redis.call('HDEL', key_names(p, kind), sn[1]) end
      end
    end
    for _, sn in ipairs(new[kind] or {}) do
      redis.call('SADD', key_members(p, kind, sn[1]), id)
      redis.call('HSET', key_names(p, kind), sn[1], sn[2])
    end
  end
end
