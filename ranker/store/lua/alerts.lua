-- A site's alerts: who sends them, what is pending, what was sent. One script, three
-- operations, each atomic on the site's first shard.
-- KEYS[1] the lock, KEYS[2] the log hash, KEYS[3] the outbox zset.
--
-- ARGV[1] = 'lock', ARGV[2] owner, ARGV[3] ms: take the lock, or keep it if it is ours;
--   returns 1 when `owner` holds it now.
-- ARGV[1] = 'add', ARGV[2] owner, ARGV[3] when due, then pairs of field, record: each
--   alert not made before is recorded and queued (HSETNX, so none is made twice);
--   only while `owner` holds the lock. Returns how many were new.
-- ARGV[1] = 'done', ARGV[2] owner, ARGV[3] field, ARGV[4] record, ARGV[5] next due or
--   '': the outcome of an attempt; queued again when due is given, else leaves the outbox.
local held = redis.call('GET', KEYS[1])
if ARGV[1] == 'lock' then
  if held == false or held == ARGV[2] then
    redis.call('SET', KEYS[1], ARGV[2], 'PX', ARGV[3])
    return 1
  end
  return 0
end
if held ~= ARGV[2] then return -1 end  -- another collector took over: it does the work
if ARGV[1] == 'add' then
  local added = 0
  for j = 4, #ARGV, 2 do
    if redis.call('HSETNX', KEYS[2], ARGV[j], ARGV[j + 1]) == 1 then
      redis.call('ZADD', KEYS[3], ARGV[3], ARGV[j])
      added = added + 1
    end
  end
  return added
end
if ARGV[1] == 'done' then
  redis.call('HSET', KEYS[2], ARGV[3], ARGV[4])
  if ARGV[5] == '' then
    redis.call('ZREM', KEYS[3], ARGV[3])
  else
    redis.call('ZADD', KEYS[3], ARGV[5], ARGV[3])
  end
  return 1
end
return redis.error_reply('unknown operation')
