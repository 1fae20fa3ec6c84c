/*
 * rl_redis_script.c — the two Lua scripts of the Redis backend. Each runs atomically in Redis, so
 * a check and its increment can never interleave with another gateway's. The clock is Redis's own
 * TIME, one clock for every replica. The arithmetic is rl_window.c's: slots of W/60, RL_SLOTS of
 * them live, GCRA for burst; keep the two in step.
 *
 * Keys per scope (KEYS[i] is the scope's base, prefix + id):
 *   base:rm base:rh base:tm base:th  hashes slot number -> count (requests/tokens per minute/hour),
 *                                    and t (the sum of the slots kept), o (the oldest slot kept),
 *                                    n (the newest): while the oldest slot is still in the window,
 *                                    t is what the window holds, read in one HMGET. The slots are
 *                                    read one by one only when the oldest has left (once per slot
 *                                    width at most), or for a refusal's wait when the oldest slot
 *                                    leaving is not enough.
 *   base:b                           GCRA theoretical arrival time, microseconds
 *   base:c                           sorted set of admitted tickets in flight, score = lease end (ms)
 * Every key carries an expiry a little longer than what it remembers, so idle scopes vanish.
 */
#include "rl_redis.h"

/* Lua shared by both scripts: the windows' bookkeeping. Expects now (ms) and SLOTS. */
#define RL_LUA_WINDOW                                                                                         \
    "local function sweep(key, s)\n"                                                                          \
    "  local h = redis.call('HGETALL', key)\n"                                                                \
    "  local used, o, n, dead = 0, nil, nil, {}\n"                                                            \
    "  for j = 1, #h, 2 do\n"                                                                                 \
    "    local k = tonumber(h[j])\n"                                                                          \
    "    if k then\n"                                                                                         \
    "      if k > s - SLOTS then\n"                                                                           \
    "        used = used + tonumber(h[j + 1])\n"                                                              \
    "        if o == nil or k < o then o = k end\n"                                                           \
    "        if n == nil or k > n then n = k end\n"                                                           \
    "      else dead[#dead + 1] = h[j] end\n"                                                                 \
    "    end\n"                                                                                               \
    "  end\n"                                                                                                 \
    "  if #dead > 0 then redis.call('HDEL', key, unpack(dead)) end\n"                                         \
    "  if o then redis.call('HSET', key, 't', used, 'o', o, 'n', n)\n"                                        \
    "  elseif #h > 0 then redis.call('DEL', key) end\n"                                                       \
    "  return used, o, n\n"                                                                                   \
    "end\n"                                                                                                   \
    "local function window(key, s)\n"                                                                         \
    "  local v = redis.call('HMGET', key, 't', 'o', 'n')\n"                                                   \
    "  local o = tonumber(v[2])\n"                                                                            \
    "  if o and o > s - SLOTS then return tonumber(v[1]), o, tonumber(v[3]) end\n"                            \
    "  return sweep(key, s)\n"                                                                                \
    "end\n"                                                                                                   \
    "local function count(key, s, wd, amount, o, n)\n"                                                        \
    "  redis.call('HINCRBY', key, s, amount)\n"                                                               \
    "  redis.call('HINCRBY', key, 't', amount)\n"                                                             \
    "  if n ~= s then\n"                                                                                      \
    "    if o then redis.call('HSET', key, 'n', s) else redis.call('HSET', key, 'n', s, 'o', s) end\n"        \
    "    redis.call('PEXPIRE', key, (SLOTS + 1) * wd)\n"                                                      \
    "  end\n"                                                                                                 \
    "end\n"

/* KEYS: scope bases. ARGV: lease_ms, ticket, then 6 limits per scope (RPM RPH TPM TPH BURST CONC,
 * -1 = none). Returns {admitted, now_ms, then per scope and limit: used, reset_ms, retry_ms}. */
const char rl_redis_admit_lua[] =
    "local t = redis.call('TIME')\n"
    "local now_us = tonumber(t[1]) * 1000000 + tonumber(t[2])\n"
    "local now = math.floor(now_us / 1000)\n"
    "local lease, ticket = tonumber(ARGV[1]), ARGV[2]\n"
    "local SLOTS = 61\n"
    RL_LUA_WINDOW
    "local width = {1000, 60000, 1000, 60000}\n"
    "local suffix = {':rm', ':rh', ':tm', ':th'}\n"
    "local out, over, seen = {0, now}, false, {}\n"
    "local function ceil_div(a, b) if a <= 0 then return 0 end return math.floor((a + b - 1) / b) end\n"
    "for i = 1, #KEYS do\n"
    "  local base, a = KEYS[i], 2 + (i - 1) * 6\n"
    "  seen[i] = {}\n"
    "  for w = 1, 4 do\n"
    "    local limit = tonumber(ARGV[a + w])\n"
    "    local used, reset, retry = 0, 0, 0\n"
    "    if limit >= 0 then\n"
    "      local key, wd = base .. suffix[w], width[w]\n"
    "      local s = math.floor(now / wd)\n"
    "      local o, n\n"
    "      used, o, n = window(key, s)\n"
    "      seen[i][w] = {o, n}\n"
    "      if n and used > 0 then reset = (n + SLOTS) * wd - now end\n"
    "      if used >= limit then\n"
    "        over = true\n"
    "        -- when does enough leave? usually the oldest slot is enough (only a refusal pays for this)\n"
    "        local c = tonumber(redis.call('HGET', key, o) or '0')\n"
    "        if used - c < limit then retry = (o + SLOTS) * wd - now\n"
    "        else\n"
    "          local h, live = redis.call('HGETALL', key), {}\n"
    "          for j = 1, #h, 2 do\n"
    "            local k = tonumber(h[j])\n"
    "            if k and k > s - SLOTS then live[#live + 1] = {k, tonumber(h[j + 1])} end\n"
    "          end\n"
    "          table.sort(live, function(x, y) return x[1] < y[1] end)\n"
    "          local left = used\n"
    "          for _, sc in ipairs(live) do\n"
    "            left = left - sc[2]\n"
    "            if sc[2] ~= 0 and left < limit then retry = (sc[1] + SLOTS) * wd - now; break end\n"
    "          end\n"
    "        end\n"
    "      end\n"
    "    end\n"
    "    out[#out + 1] = used; out[#out + 1] = reset; out[#out + 1] = retry\n"
    "  end\n"
    "  local rpm, burst = tonumber(ARGV[a + 1]), tonumber(ARGV[a + 5])\n"
    "  local used, reset, retry = 0, 0, 0\n"
    "  if burst >= 0 and rpm >= 0 then\n"
    "    local iv = math.floor((60000000 + rpm - 1) / rpm)\n"
    "    local tat = tonumber(redis.call('GET', base .. ':b') or '0')\n"
    "    local ahead = tat > now_us and tat - now_us or 0\n"
    "    used, reset = ceil_div(ahead, iv), ceil_div(ahead, 1000)\n"
    "    retry = ceil_div(ahead + iv - burst * iv, 1000)\n"
    "    if used >= burst then over = true end\n"
    "  end\n"
    "  out[#out + 1] = used; out[#out + 1] = reset; out[#out + 1] = retry\n"
    "  local conc = tonumber(ARGV[a + 6])\n"
    "  used, reset, retry = 0, 0, 0\n"
    "  if conc >= 0 then\n"
    "    redis.call('ZREMRANGEBYSCORE', base .. ':c', '-inf', now)\n"
    "    used = redis.call('ZCARD', base .. ':c')\n"
    "    if used >= conc then over = true; retry = 1000 end\n"
    "  end\n"
    "  out[#out + 1] = used; out[#out + 1] = reset; out[#out + 1] = retry\n"
    "end\n"
    "if over then return out end\n"
    "out[1] = 1\n"
    "for i = 1, #KEYS do\n"
    "  local base, a = KEYS[i], 2 + (i - 1) * 6\n"
    "  for w = 1, 2 do\n"
    "    if tonumber(ARGV[a + w]) >= 0 then\n"
    "      local wd = width[w]\n"
    "      count(base .. suffix[w], math.floor(now / wd), wd, 1, seen[i][w][1], seen[i][w][2])\n"
    "    end\n"
    "  end\n"
    "  local rpm, burst = tonumber(ARGV[a + 1]), tonumber(ARGV[a + 5])\n"
    "  if burst >= 0 and rpm >= 0 then\n"
    "    local iv = math.floor((60000000 + rpm - 1) / rpm)\n"
    "    local tat = tonumber(redis.call('GET', base .. ':b') or '0')\n"
    "    local nt = (tat > now_us and tat or now_us) + iv\n"
    "    redis.call('SET', base .. ':b', string.format('%.0f', nt), 'PX', math.floor((nt - now_us) / 1000) + 1000)\n"
    "  end\n"
    "  if tonumber(ARGV[a + 6]) >= 0 then\n"
    "    redis.call('ZADD', base .. ':c', now + lease, ticket)\n"
    "    redis.call('PEXPIRE', base .. ':c', lease + 1000)\n"
    "  end\n"
    "end\n"
    "return out\n";

/* KEYS: scope bases. ARGV: ticket, tokens, then one flag set per scope (1: charge tokens per
 * minute, 2: per hour, 4: release the concurrency slot). */
const char rl_redis_complete_lua[] =
    "local t = redis.call('TIME')\n"
    "local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)\n"
    "local ticket, tokens = ARGV[1], tonumber(ARGV[2])\n"
    "local SLOTS = 61\n"
    RL_LUA_WINDOW
    "local function charge(key, wd)\n"
    "  local s = math.floor(now / wd)\n"
    "  local v = redis.call('HMGET', key, 'o', 'n')\n"
    "  local o = tonumber(v[1])\n"
    "  if o and o > s - SLOTS then count(key, s, wd, tokens, o, tonumber(v[2]))\n"
    "  else local _, o2, n2 = sweep(key, s); count(key, s, wd, tokens, o2, n2) end\n"
    "end\n"
    "for i = 1, #KEYS do\n"
    "  local base, f = KEYS[i], tonumber(ARGV[2 + i])\n"
    "  if tokens > 0 and f % 2 == 1 then charge(base .. ':tm', 1000) end\n"
    "  if tokens > 0 and math.floor(f / 2) % 2 == 1 then charge(base .. ':th', 60000) end\n"
    "  if math.floor(f / 4) % 2 == 1 then redis.call('ZREM', base .. ':c', ticket) end\n"
    "end\n"
    "return 1\n";
