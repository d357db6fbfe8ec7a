/**
 * The Lua helpers every script of the Redis registry (RedisScripts.ts) starts with: a peer
 * id's owner in `pp:owner`, whether a server's lease is alive, a network's keys, its ring
 * neighbours, the gap a leaver leaves, the XOR-closest members, and `inbox`, the one way
 * frames are published to a server's inbox.
 *
 * XOR-closest in Redis: the ids sharing a p-bit prefix with a target are one lexicographic
 * range, so `ZLEXCOUNT` finds the deepest prefix still holding enough ids, that range's
 * deeper half is taken whole (everything in it is closer than anything outside), and the
 * search goes on in the sibling subtree (the target with that bit flipped): exact, like
 * `internal/xorIndex.ts`, which the tests use as the oracle.
 *
 * @since 2.0.0
 */

/**
 * `inbox(s, payload)`: PUBLISHes `<n>\n<payload>` to server s's inbox, `n` counting up in
 * `pp:seq` so that s sees a gap when Redis dropped messages it had accepted for it (a slow
 * subscriber cut at its output buffer limit); a PUBLISH that reached nobody takes its number
 * back (its sender is told). Returns the receivers.
 */
export const inboxLua = `
local function inbox(s, payload)
  local n = redis.call('HINCRBY', 'pp:seq', s, 1)
  local got = redis.call('PUBLISH', 'pp:to:' .. s, n .. '\\n' .. payload)
  if got == 0 then redis.call('HINCRBY', 'pp:seq', s, -1) end
  return got
end
`

const common = inboxLua + `
local function owner(id)
  local v = redis.call('HGET', 'pp:owner', id)
  if not v then return nil end
  return string.match(v, '^([^|]*)|([01])|(.*)$')
end
local function alive(s) return redis.call('EXISTS', 'pp:srv:' .. s) == 1 end
local ZEROS = string.rep('0', 40)
local FS = string.rep('f', 40)
local HEX = '0123456789abcdef'
local function bounds(u, p)
  if p >= 160 then return u, u end
  local d = math.floor(p / 4)
  local r = p % 4
  local head = string.sub(u, 1, d)
  if r == 0 then return head .. string.sub(ZEROS, 1, 40 - d), head .. string.sub(FS, 1, 40 - d) end
  local digit = tonumber(string.sub(u, d + 1, d + 1), 16)
  local span = 2 ^ (4 - r)
  local low = digit - (digit % span)
  local high = low + span - 1
  return head .. string.sub(HEX, low + 1, low + 1) .. string.sub(ZEROS, 1, 39 - d),
    head .. string.sub(HEX, high + 1, high + 1) .. string.sub(FS, 1, 39 - d)
end
local function count(key, u, p)
  local a, b = bounds(u, p)
  return redis.call('ZLEXCOUNT', key, '[' .. a, '[' .. b)
end
local function members(key, u, p)
  local a, b = bounds(u, p)
  return redis.call('ZRANGE', key, '[' .. a, '[' .. b, 'BYLEX')
end
local function flip(u, p)
  local d = math.floor(p / 4)
  local digit = tonumber(string.sub(u, d + 1, d + 1), 16)
  local bitv = 2 ^ (3 - p % 4)
  local nd = digit + bitv
  if (digit % (2 * bitv)) >= bitv then nd = digit - bitv end
  return string.sub(u, 1, d) .. string.sub(HEX, nd + 1, nd + 1) .. string.sub(u, d + 2)
end
local function closest(key, t, want)
  local out = {}
  local u = t
  local q = 0
  while want > 0 do
    if count(key, u, q) <= want then
      for _, id in ipairs(members(key, u, q)) do out[#out + 1] = id end
      return out
    end
    local lo, hi = q, 159
    while lo < hi do
      local mid = math.floor((lo + hi + 1) / 2)
      if count(key, u, mid) >= want then lo = mid else hi = mid - 1 end
    end
    local taken = members(key, u, lo + 1)
    for _, id in ipairs(taken) do out[#out + 1] = id end
    want = want - #taken
    u = flip(u, lo)
    q = lo + 1
  end
  return out
end
local function ring(key, id)
  local succ = redis.call('ZRANGE', key, '(' .. id, '+', 'BYLEX', 'LIMIT', 0, 1)[1]
  if not succ then succ = redis.call('ZRANGE', key, 0, 0)[1] end
  local pred = redis.call('ZRANGE', key, '(' .. id, '-', 'BYLEX', 'REV', 'LIMIT', 0, 1)[1]
  if not pred then pred = redis.call('ZRANGE', key, -1, -1)[1] end
  if succ == id then succ = nil end
  if pred == id then pred = nil end
  return pred, succ
end
local function netkey(net, what) return 'pp:{' .. net .. '}:' .. what end
local function unlist(net, id)
  redis.call('ZREM', netkey(net, 'ids'), id)
  redis.call('HDEL', netkey(net, 'rec'), id)
  redis.call('HDEL', netkey(net, 'srv'), id)
  if redis.call('EXISTS', netkey(net, 'ids')) == 0 then redis.call('SREM', 'pp:nets', net) end
end
local function gap(net, id)
  local pred, succ = ring(netkey(net, 'ids'), id)
  if not pred or not succ or pred == succ then return {} end
  local recs = redis.call('HMGET', netkey(net, 'rec'), pred, succ)
  return {pred, recs[1], succ, recs[2]}
end
`

/** A script body after the shared helpers. */
export const lua = (body: string): string => common + body
