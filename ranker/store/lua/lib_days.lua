-- Prepended to the scripts that place views in day buckets (flush.lua, maintain.lua,
-- release.lua, catalog_delete.lua) when they are loaded.
-- A site's days begin at its local midnight (sites.NAME.timezone), so they are not all
-- 86,400 s long; the caller passes the starts of the days the call may touch, ascending,
-- and the script reads them with these.

-- `count` day starts from ARGV[first]: the table, and the index of the argument after them.
local function read_days(first)
  local count, days = tonumber(ARGV[first]), {}
  for i = 1, count do days[i] = tonumber(ARGV[first + i]) end
  return days, first + count + 1
end

-- The start of the day holding `t`, and the start of the next (nil if not given): the
-- latest of `days` not after `t`. The caller gives days back to the earliest `t` it sends.
local function day_of(days, t)
  local found, after = days[1], nil
  for i = 1, #days do
    if days[i] <= t then found = days[i] else after = days[i] break end
  end
  return found, after
end
