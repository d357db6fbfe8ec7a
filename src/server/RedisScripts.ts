/**
 * The Lua scripts of the Redis registry: each operation is one atomic script, one round trip.
 *
 * Keys (one Redis; the `{net}` hash tags keep a network's keys in one slot):
 * - `pp:owner` hash: peer id -> `<server>|<proven 0/1>|<network or empty>`; an id has one owner.
 * - `pp:srv:<S>` the lease of server S (`PX`, renewed every second); `pp:servers` every server
 *   id registered; `pp:srv:<S>:peers` the ids S owns; `pp:sweep:<S>` who sweeps a dead S.
 * - `pp:{<net>}:ids` zset (score 0; lowercase 40-hex ids, so lexicographic order is numeric
 *   order), `pp:{<net>}:rec` id -> record JSON, `pp:{<net>}:srv` id -> server; `pp:nets`.
 * - `pp:epoch`: random, set when missing; a changed epoch means Redis lost its data.
 *   `pp:fresh` (one lease long) is set when a server registered under an older epoch finds
 *   none: until it expires every live server has re-registered, so a relay target not found
 *   meanwhile is "not deliverable yet" (`relay-failed`), not `unknown-peer`.
 * Channels: `pp:to:<S>` each server's inbox (numbered by `pp:seq`, see `inbox` in
 * RedisLua.ts); `pp:ctl` the peers of a dead server.
 *
 * The helpers they share (owner, lease, XOR-closest, ring, gap) are in RedisLua.ts.
 *
 * @since 2.0.0
 */
import * as Redis from "effect/persistence/Redis"
import { inboxLua, lua } from "./RedisLua.ts"

/** Admission: `{1}` admitted; `{0, owner}` held by a live server; `{2, owner}` held by a dead one (sweep it first). */
export const admit = Redis.script((id: string, me: string, maxOwned: number) => [id, me, maxOwned], {
  numberOfKeys: 0,
  lua: lua(`
local id, me = ARGV[1], ARGV[2]
local s = owner(id)
if s and s ~= me then
  if alive(s) then return {0, s} end
  return {2, s}
end
redis.call('HSET', 'pp:owner', id, me .. '|0|')
redis.call('SADD', 'pp:srv:' .. me .. ':peers', id)
return {1}`)
}).withReturnType<[number, string?]>()

/**
 * A proven claim: `{0}` when a live server holds it proven; `{2, owner}` when a dead server
 * holds it; otherwise `{1, previousOwner, network, ...gap}` (the unverified holder is
 * dropped from its network and told to close over its server's inbox).
 */
export const claim = Redis.script((id: string, me: string, reason: string) => [id, me, reason], {
  numberOfKeys: 0,
  lua: lua(`
local id, me = ARGV[1], ARGV[2]
local s, p, n = owner(id)
local prev, net, g = '', '', {}
if s then
  if s ~= me and alive(s) and p == '1' then return {0} end
  if s ~= me and not alive(s) then return {2, s} end
  prev, net = s, n
  redis.call('SREM', 'pp:srv:' .. s .. ':peers', id)
  if n ~= '' then
    unlist(n, id)
    g = gap(n, id)
  end
  if s ~= me then inbox(s, 'd\\n' .. id .. '\\n' .. ARGV[3]) end
end
redis.call('HSET', 'pp:owner', id, me .. '|1|')
redis.call('SADD', 'pp:srv:' .. me .. ':peers', id)
return {1, prev, net, g[1] or '', g[2] or '', g[3] or '', g[4] or ''}`)
}).withReturnType<[number, string?, string?, string?, string?, string?, string?]>()

/** The owner's release of an id (only its own). */
export const release = Redis.script((id: string, me: string) => [id, me], {
  numberOfKeys: 0,
  lua: lua(`
local id, me = ARGV[1], ARGV[2]
local s, p, n = owner(id)
if s == me then
  if n ~= '' then unlist(n, id) end
  redis.call('HDEL', 'pp:owner', id)
end
redis.call('SREM', 'pp:srv:' .. me .. ':peers', id)
return 1`)
})

/**
 * Announce: `{-2}` epoch changed (resync first), `{-1}` not the owner, else
 * `{1, closest, pred, succ, random, ids, records}`.
 */
export const announce = Redis.script(
  (net: string, id: string, me: string, record: string, verified: boolean, k: number, random: number, epoch: string) => [
    `pp:{${net}}:ids`,
    `pp:{${net}}:rec`,
    `pp:{${net}}:srv`,
    id,
    me,
    record,
    verified ? "1" : "0",
    k,
    random,
    epoch,
    net
  ],
  {
    numberOfKeys: 3,
    lua: lua(`
local id, me, net = ARGV[1], ARGV[2], ARGV[8]
if redis.call('GET', 'pp:epoch') ~= ARGV[7] then return {-2} end
local s, p = owner(id)
if s ~= me then return {-1} end
if ARGV[4] == '1' then p = '1' end
redis.call('ZADD', KEYS[1], 0, id)
redis.call('HSET', KEYS[2], id, ARGV[3])
redis.call('HSET', KEYS[3], id, me)
redis.call('SADD', 'pp:nets', net)
redis.call('HSET', 'pp:owner', id, me .. '|' .. p .. '|' .. net)
local k, nrandom = tonumber(ARGV[5]), tonumber(ARGV[6])
local chosen, seen = {}, {[id] = true}
local near = {}
for _, other in ipairs(closest(KEYS[1], id, k + 1)) do
  if other ~= id then near[#near + 1] = other; seen[other] = true; chosen[#chosen + 1] = other end
end
local pred, succ = ring(KEYS[1], id)
if pred and not seen[pred] then seen[pred] = true; chosen[#chosen + 1] = pred end
if succ and not seen[succ] then seen[succ] = true; chosen[#chosen + 1] = succ end
local picks = {}
if nrandom > 0 then
  for _, other in ipairs(redis.call('ZRANDMEMBER', KEYS[1], nrandom + #chosen + 1)) do
    if #picks < nrandom and not seen[other] then seen[other] = true; picks[#picks + 1] = other; chosen[#chosen + 1] = other end
  end
end
local recs = {}
if #chosen > 0 then recs = redis.call('HMGET', KEYS[2], unpack(chosen)) end
return {1, near, pred or '', succ or '', picks, chosen, recs}`)
  }
).withReturnType<[number, Array<string>?, string?, string?, Array<string>?, Array<string>?, Array<string | null>?]>()

/** Leave: `{0}` not listed by this server, else `{1, pred, predRecord, succ, succRecord}` (empty when the gap closes on nobody). */
export const leave = Redis.script((net: string, id: string, me: string) => [`pp:{${net}}:srv`, id, me, net], {
  numberOfKeys: 1,
  lua: lua(`
local id, me, net = ARGV[1], ARGV[2], ARGV[3]
if redis.call('HGET', KEYS[1], id) ~= me then return {0} end
unlist(net, id)
local s, p = owner(id)
if s == me then redis.call('HSET', 'pp:owner', id, me .. '|' .. p .. '|') end
local g = gap(net, id)
return {1, g[1] or '', g[2] or '', g[3] or '', g[4] or ''}`)
}).withReturnType<[number, string?, string?, string?, string?]>()

/**
 * Relay: -2 epoch changed, -1 not announced in that network, else how many servers received
 * it (0: retry, then fail; also while `pp:fresh` lasts for a target not re-registered yet).
 */
export const relay = Redis.script((net: string, target: string, payload: string, epoch: string) => [
  `pp:{${net}}:srv`,
  target,
  payload,
  epoch
], {
  numberOfKeys: 1,
  // not the whole helper library: this is the hot path
  lua: inboxLua + `
if redis.call('GET', 'pp:epoch') ~= ARGV[3] then return -2 end
local s = redis.call('HGET', KEYS[1], ARGV[1])
if not s then
  if redis.call('EXISTS', 'pp:fresh') == 1 then return 0 end
  return -1
end
return inbox(s, ARGV[2])`
}).withReturnType<number>()

/**
 * Relays coalesced: the relays of one network that arrived in one event-loop turn, in order
 * (`targets[i]` gets `items[i]`, an inbox item), one PUBLISH per target server. Returns `{-2}`
 * when the epoch changed, else one result per relay as `relay` gives it (-1 not announced in
 * that network, else the receivers of its server's PUBLISH).
 */
export const relayMany = Redis.script((net: string, epoch: string, targets: ReadonlyArray<string>, items: ReadonlyArray<string>) => [
  `pp:{${net}}:srv`,
  epoch,
  ...targets.flatMap((t, i) => [t, items[i]!])
], {
  numberOfKeys: 1,
  lua: inboxLua + `
if redis.call('GET', 'pp:epoch') ~= ARGV[1] then return {-2} end
local byServer, order, at, fresh = {}, {}, {}, nil
for i = 2, #ARGV, 2 do
  local s = redis.call('HGET', KEYS[1], ARGV[i])
  if s then
    local b = byServer[s]
    if not b then b = {'f'}; byServer[s] = b; order[#order + 1] = s end
    b[#b + 1] = ARGV[i + 1]
    at[#at + 1] = s
  else
    if fresh == nil then fresh = redis.call('EXISTS', 'pp:fresh') == 1 end
    at[#at + 1] = fresh and 0 or -1
  end
end
local got = {}
for _, s in ipairs(order) do got[s] = inbox(s, table.concat(byServer[s], '\\n')) end
local out = {}
for i, s in ipairs(at) do
  if type(s) == 'number' then out[i] = s else out[i] = got[s] end
end
return out`
}).withReturnType<Array<number>>()

/** Frames for peers wherever they are (`ids[i]` gets `items[i]`), one PUBLISH per server; returns how many reached nobody. */
export const sendMany = Redis.script((ids: ReadonlyArray<string>, items: ReadonlyArray<string>) => ids.flatMap((id, i) => [id, items[i]!]), {
  numberOfKeys: 0,
  lua: lua(`
local byServer, order, lost = {}, {}, 0
for i = 1, #ARGV, 2 do
  local s = owner(ARGV[i])
  if s then
    if not byServer[s] then byServer[s] = {'f'}; order[#order + 1] = s end
    local b = byServer[s]
    b[#b + 1] = ARGV[i + 1]
  else
    lost = lost + 1
  end
end
for _, s in ipairs(order) do
  local b = byServer[s]
  if inbox(s, table.concat(b, '\\n')) == 0 then lost = lost + #b - 1 end
end
return lost`)
}).withReturnType<number>()

/**
 * Renews the lease; sets the epoch to `candidate` when Redis has none (and `pp:fresh` when
 * this server had registered under an epoch before: Redis lost its data); returns the epoch.
 * Also publishes a numbered probe (`p`) to the server's own inbox, so a gap in it shows
 * within a renewal even when nothing else is sent to it.
 */
export const renew = Redis.script((me: string, candidate: string, leaseMs: number, previous: string) => [me, candidate, leaseMs, previous], {
  numberOfKeys: 0,
  lua: inboxLua + `
local cur = redis.call('GET', 'pp:epoch')
if not cur then
  redis.call('SET', 'pp:epoch', ARGV[2])
  cur = ARGV[2]
  if ARGV[4] ~= '' then redis.call('SET', 'pp:fresh', '1', 'PX', tonumber(ARGV[3])) end
end
redis.call('SET', 'pp:srv:' .. ARGV[1], '1', 'PX', tonumber(ARGV[3]))
redis.call('SADD', 'pp:servers', ARGV[1])
inbox(ARGV[1], 'p')
return cur`
}).withReturnType<string>()

/**
 * Removes the peers of servers whose lease is gone (or of `me` itself, `self` = 1, after a
 * partition): `{dead..., "|", net, id, ..., "|", net, pred, predRec, succ, succRec, ...}`.
 */
export const sweep = Redis.script((me: string, self: boolean) => [me, self ? "1" : "0"], {
  numberOfKeys: 0,
  lua: lua(`
local me = ARGV[1]
local dead = {}
if ARGV[2] == '1' then dead[1] = me else
  for _, s in ipairs(redis.call('SMEMBERS', 'pp:servers')) do
    if s ~= me and not alive(s) and redis.call('SET', 'pp:sweep:' .. s, me, 'NX', 'PX', 10000) then dead[#dead + 1] = s end
  end
end
local removed, intros, seen = {}, {}, {}
local gone = {}
for _, s in ipairs(dead) do
  for _, id in ipairs(redis.call('SMEMBERS', 'pp:srv:' .. s .. ':peers')) do
    local o, p, n = owner(id)
    if o == s then
      redis.call('HDEL', 'pp:owner', id)
      if n ~= '' then unlist(n, id); removed[#removed + 1] = n; removed[#removed + 1] = id; gone[#gone + 1] = {n, id} end
    end
  end
  redis.call('DEL', 'pp:srv:' .. s .. ':peers')
  if s ~= me then
    redis.call('SREM', 'pp:servers', s)
    redis.call('HDEL', 'pp:seq', s)
  end
end
for _, g in ipairs(gone) do
  local r = gap(g[1], g[2])
  if r[1] and not seen[g[1] .. r[1] .. r[3]] then
    seen[g[1] .. r[1] .. r[3]] = true
    intros[#intros + 1] = g[1]
    for _, x in ipairs(r) do intros[#intros + 1] = x or '' end
  end
end
local out = {}
for _, s in ipairs(dead) do out[#out + 1] = s end
out[#out + 1] = '|'
for _, x in ipairs(removed) do out[#out + 1] = x end
out[#out + 1] = '|'
for _, x in ipairs(intros) do out[#out + 1] = x end
return out`)
}).withReturnType<Array<string>>()

/** The announced record of an id, wherever it is: `{network, record}` or empty. */
export const lookup = Redis.script((id: string) => [id], {
  numberOfKeys: 0,
  lua: lua(`
local s, p, n = owner(ARGV[1])
if not s or n == '' then return {} end
local r = redis.call('HGET', netkey(n, 'rec'), ARGV[1])
if not r then return {} end
return {n, r}`)
}).withReturnType<Array<string>>()

/** Re-registers this server's peers after Redis lost its data: args are `id, proven, net, record` per peer. */
export const resync = Redis.script((me: string, rows: ReadonlyArray<string>) => [me, ...rows], {
  numberOfKeys: 0,
  lua: lua(`
local me, done = ARGV[1], 0
for i = 2, #ARGV, 4 do
  local id, p, n, r = ARGV[i], ARGV[i + 1], ARGV[i + 2], ARGV[i + 3]
  local s = owner(id)
  if not s or s == me or not alive(s) then
    redis.call('HSET', 'pp:owner', id, me .. '|' .. p .. '|' .. n)
    redis.call('SADD', 'pp:srv:' .. me .. ':peers', id)
    if n ~= '' then
      redis.call('ZADD', netkey(n, 'ids'), 0, id)
      redis.call('HSET', netkey(n, 'rec'), id, r)
      redis.call('HSET', netkey(n, 'srv'), id, me)
      redis.call('SADD', 'pp:nets', n)
    end
    done = done + 1
  end
end
return done`)
}).withReturnType<number>()

/** The deployment: `{serversAlive, connections, net1, count1, ...}`. */
export const cluster = Redis.script(() => [], {
  numberOfKeys: 0,
  lua: lua(`
local alive_count = 0
for _, s in ipairs(redis.call('SMEMBERS', 'pp:servers')) do if alive(s) then alive_count = alive_count + 1 end end
local out = {alive_count, redis.call('HLEN', 'pp:owner')}
for _, n in ipairs(redis.call('SMEMBERS', 'pp:nets')) do
  out[#out + 1] = n
  out[#out + 1] = redis.call('ZCARD', netkey(n, 'ids'))
end
return out`)
}).withReturnType<Array<string | number>>()
