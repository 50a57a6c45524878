/**
 * The tier rules of `MemoryRateLimitStore` (src/core/governor/store.ts) as two Lua scripts, one per store
 * method, each run atomically by Redis: no other client's command lands between its read and its write,
 * so a fleet of processes counts one window without read-modify-write races. Time is Redis's own
 * (`TIME`), so processes on machines whose clocks disagree still agree on when a window ends.
 *
 * A key's state is one hash, with a TTL that outlives its window, block and probe lease by `idleMs`: a
 * tier nobody calls any more disappears on its own. Both scripts touch only KEYS[1] (cluster-safe).
 */
import { createHash } from "node:crypto";

/** A script and its SHA1, for EVALSHA. */
export interface LuaScript {
  readonly source: string;
  readonly sha: string;
}

function script(source: string): LuaScript {
  return { source, sha: createHash("sha1").update(source).digest("hex") };
}

/**
 * What both scripts share: reading the arguments and the hash, the clock, and writing the hash back.
 * Numbers are written with %.17g, which round-trips a double exactly (tostring would keep 14 digits).
 * ARGV[1..3] is the tier's policy (limit, windowMs, explicit), ARGV[4] idleMs, ARGV[5] a fixed time in ms
 * when tests give one (else Redis's clock).
 */
const PRELUDE = `
local key = KEYS[1]
local policyLimit = tonumber(ARGV[1])
local policyWindow = tonumber(ARGV[2])
local explicit = ARGV[3] == '1'
local idleMs = tonumber(ARGV[4])
local now = tonumber(ARGV[5])
if now == nil then
  local t = redis.call('TIME')
  now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
end

local f = redis.call('HMGET', key, 'id', 'count', 'end', 'endKnown', 'limit', 'windowMs', 'blockedUntil', 'probed', 'probeUntil', 'share', 'hit', 'counted',
  'pending', 'lastUsed', 'others', 'mine')
-- A new hash numbers its windows from the time: a response to a slot taken before Redis lost its data
-- (a restart) never matches a window opened after.
local w = {
  id = tonumber(f[1]) or now,
  count = tonumber(f[2]) or 0,
  ends = tonumber(f[3]) or 0,
  endKnown = f[4] == '1',
  limit = tonumber(f[5]),
  windowMs = tonumber(f[6]),
  blockedUntil = tonumber(f[7]) or 0,
  probed = f[8] == '1',
  probeUntil = tonumber(f[9]) or 0,
  share = tonumber(f[10]) or 1,
  hit = f[11] == '1',
  counted = f[12] == '1',
  pending = tonumber(f[13]) or 0,
  lastUsed = tonumber(f[14]) or 0,
  others = tonumber(f[15]) or 0,
  mine = tonumber(f[16]) or 0,
}

local function num(x)
  if x == nil then return '' end
  return string.format('%.17g', x)
end

local function flag(b)
  if b then return '1' end
  return '0'
end

local function save()
  redis.call('HSET', key, 'id', num(w.id), 'count', num(w.count), 'end', num(w.ends), 'endKnown', flag(w.endKnown),
    'limit', num(w.limit), 'windowMs', num(w.windowMs), 'blockedUntil', num(w.blockedUntil),
    'probed', flag(w.probed), 'probeUntil', num(w.probeUntil), 'share', num(w.share), 'hit', flag(w.hit), 'counted', flag(w.counted),
    'pending', num(w.pending), 'lastUsed', num(w.lastUsed),
    'others', num(w.others), 'mine', num(w.mine))
  -- A week at most: a lying server's Retry-After of years must not make an out-of-range expiry.
  local live = math.max(w.ends, w.blockedUntil, w.probeUntil) - now
  live = math.min(math.max(live, 0), 604800000)
  redis.call('PEXPIRE', key, math.ceil(live + idleMs))
end

-- What a server's word may hold the tier for, at most (MAX_BLOCK_MS and resetCap in store.ts).
local MAX_BLOCK_MS = 86400000
local function resetCap(windowMs)
  return 2 * math.max(windowMs or 60000, 1000)
end

local function guardMs(windowMs)
  return math.min(1000, math.ceil(windowMs * 0.05))
end

local function effectiveLimit()
  if policyLimit == nil then return w.limit end
  if w.limit == nil then return policyLimit end
  if explicit then return math.min(policyLimit, w.limit) end
  return w.limit
end

-- sharedLimit, shrunk, attribute and regrown in store.ts.
local function sharedLimit(limit)
  if limit == nil then return nil end
  return math.max(1, math.floor(limit * w.share))
end

local function shrink(limit)
  if limit == nil or not w.counted then w.share = w.share / 2; return end
  if w.others < 1 then return end
  w.share = math.max(w.share / 4, math.min(w.share / 2, math.max(1, w.mine - 1) / math.max(1, limit)))
end

local function attribute(used)
  if used < w.lastUsed then
    if w.lastUsed - used > w.pending then w.lastUsed = used end
    return
  end
  local counted = used - w.lastUsed
  local ours = math.min(counted, w.pending)
  w.pending = w.pending - ours
  w.others = w.others + counted - ours
  w.lastUsed = used
end

local function regrow(limit)
  if w.hit or w.share >= 1 then return end
  w.share = math.min(1, w.share + 1 / math.max(1, limit or 1))
end

local function currentWindowMs()
  if explicit then return policyWindow end
  if w.windowMs ~= nil then return w.windowMs end
  return policyWindow
end
`;

/**
 * `take(key, policy)`; ARGV[6] is the probe's lease in ms. Answers `{1, window}` for a slot, or
 * `{0, waitMs, limit, windowMs, probing, guess, windowGuess}` with limit and windowMs as strings ('' when unknown).
 */
export const TAKE = script(`${PRELUDE}
local probeLeaseMs = tonumber(ARGV[6])

local function refused(waitMs, probing, guess)
  local windowGuess = 0
  if not explicit and w.windowMs == nil and w.limit ~= nil then windowGuess = 1 end
  return {0, math.max(1, math.ceil(waitMs)), num(sharedLimit(effectiveLimit())), num(currentWindowMs()), probing, guess, windowGuess}
end

if now < w.blockedUntil then return refused(w.blockedUntil - now, 0, 0) end
if policyLimit ~= nil and not explicit and not w.probed then
  if now < w.probeUntil then return refused(w.probeUntil - now, 1, 0) end
  w.probeUntil = now + probeLeaseMs
end
local windowMs = currentWindowMs()
local full = effectiveLimit()
if now >= w.ends then
  w.id = w.id + 1
  w.count = 0
  if windowMs == nil then w.ends = now else w.ends = now + windowMs + guardMs(windowMs) end
  w.endKnown = false
  regrow(full)
  w.hit = false
  w.mine = 0
end
local limit = sharedLimit(full)
if limit == nil or w.count < limit then
  w.count = w.count + 1
  w.pending = w.pending + 1
  w.mine = w.mine + 1
  save()
  return {1, w.id}
end
save()
local guess = 0
if not w.endKnown and w.limit ~= nil then guess = 1 end
return refused(w.ends - now, 0, guess)
`);

/**
 * `observe(key, policy, observation)`; ARGV[6..11] are the observation: window, answered ('1' or '0'),
 * limit, remaining, resetMs, blockMs, each '' when absent.
 */
export const OBSERVE = script(`${PRELUDE}
local window = tonumber(ARGV[6])
local answered = ARGV[7] == '1'
local oLimit = tonumber(ARGV[8])
local remaining = tonumber(ARGV[9])
local resetMs = tonumber(ARGV[10])
local blockMs = tonumber(ARGV[11])

w.probeUntil = 0
if answered then w.probed = true end
if oLimit ~= nil then w.limit = oLimit end
local limit = effectiveLimit()
if blockMs ~= nil then
  w.blockedUntil = math.max(w.blockedUntil, now + math.min(blockMs, MAX_BLOCK_MS))
  if not w.hit then
    if w.limit == nil then shrink(nil) else shrink(limit) end
    w.others = w.others / 2
  end
  w.hit = true
  w.count = 9007199254740991
  w.ends = w.blockedUntil
  w.endKnown = true
  save()
  return 1
end
if remaining ~= nil and limit ~= nil then
  w.counted = true
  attribute(limit - remaining)
end
if window ~= w.id then
  save()
  return 1
end
if remaining ~= nil and limit ~= nil then w.count = math.max(w.count, limit - remaining) end
if resetMs ~= nil then
  local bound = now + math.min(resetMs, resetCap(currentWindowMs()))
  if not w.endKnown or bound < w.ends then
    w.ends = bound
    w.endKnown = true
  end
  if not explicit then w.windowMs = math.max(w.windowMs or 1, math.min(resetMs, MAX_BLOCK_MS)) end
end
save()
return 1
`);

/** Every script the store runs, loaded on each connection. */
export const SCRIPTS: readonly LuaScript[] = [TAKE, OBSERVE];
