/**
 * Shared by the DHT benchmark's parent (bench/dht.ts) and its children (bench/dht-memory.ts,
 * bench/dht-webrtc.ts): the mesh benchmark's IPC figures, statistics and PRNG.
 */
export {
  arg,
  type ChildMessage,
  components,
  deadline,
  done,
  type Figure,
  log,
  mean,
  percentile,
  prng,
  report,
  sleep
} from "./mesh-common.ts"
