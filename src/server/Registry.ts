/**
 * Who is connected to the signaling server, in which network, and how to reach them.
 *
 * The protocol code only talks to this contract, so a shared backend (several servers
 * sharing presence through Redis) can replace the in-memory layer without touching it. The
 * contract and the in-memory implementation live in `internal/registry.ts`, which
 * `MemoryNetwork` shares without pulling in server code.
 *
 * @since 2.0.0
 */
import { Context, Effect, Layer } from "effect"
import { makeMemoryRegistry, type RegistryShape, RegistryUnavailable } from "../internal/registry.ts"
import type { RedisClusterOptions } from "./RedisCluster.ts"

export {
  type ClusterCounts,
  type ConnectionRecord,
  type Counts,
  type Delivery,
  type Displaced,
  type Knowledge,
  type LeaveResult,
  makeMemoryRegistry,
  type PeerRecord,
  type PeerSink,
  RegistryError,
  type RegistryShape,
  RegistryUnavailable,
  type RelayOutcome
} from "../internal/registry.ts"

export class Registry extends Context.Service<Registry, RegistryShape>()("peerpigeon/server/Registry") {
  /** The embedded default: everything in this process's memory. */
  static readonly layerMemory: Layer.Layer<Registry> = Layer.sync(Registry, () => makeMemoryRegistry())

  /**
   * Several servers as one through one Redis (RedisCluster.ts). Fails to build when Redis is
   * unreachable at start.
   */
  static readonly layerRedis = (options: RedisClusterOptions): Layer.Layer<Registry, RegistryUnavailable> =>
    // loaded only when asked for: a server without Redis never loads node-redis
    Layer.unwrap(Effect.promise(() => import("./RedisCluster.ts")).pipe(Effect.map(({ makeRedisCluster, nodeRedisLayer }) =>
      Layer.effect(Registry, Effect.map(makeRedisCluster(options), ({ registry }) => registry)).pipe(
        Layer.provide(nodeRedisLayer(options)),
        Layer.catchTag("RedisError", (cause) => Layer.effect(Registry, Effect.fail(new RegistryUnavailable({ operation: "connect", cause }))))
      )
    )))
}
