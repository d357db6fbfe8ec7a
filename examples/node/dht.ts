/**
 * A key/value command line over the WebDHT.
 *
 *   node examples/node/dht.ts <signaling-url> serve              stay online, holding records for the others
 *   node examples/node/dht.ts <signaling-url> put <key> <json>   store a value (writable: later runs may update it)
 *   node examples/node/dht.ts <signaling-url> get <key>          print the value as JSON (`null`, exit code 1, when absent)
 *   node examples/node/dht.ts <signaling-url> update <key> <json>
 *   node examples/node/dht.ts <signaling-url> delete <key>
 *   node examples/node/dht.ts <signaling-url> watch <key>        print the value, then every change, one JSON line each
 *
 * Every run is a peer of its own (a new key pair), so a value outlives the `put` that stored
 * it only while other peers hold it: keep one `serve` running (or more: each record lives on
 * the 3 peers XOR-closest to its key). Results go to stdout, progress to stderr.
 * Environment: DHT_NETWORK (default "dht-cli"), DHT_WAIT_PEERS (links to wait for before a
 * command, default 1), DHT_WAIT_MS (how long, default 15000).
 *
 * In an app, import from "peerpigeon" instead of the checkout's source.
 */
import { PeerPigeonMesh } from "../../src/index.ts"

const usage = "usage: node examples/node/dht.ts <signaling-url> serve | put <key> <json> | get <key> | update <key> <json> | delete <key> | watch <key>"
const [url, command, key, json] = process.argv.slice(2)
const fail = (message: string): never => {
  console.error(message)
  process.exit(2)
}
if (url === undefined || command === undefined) fail(usage)
if (command !== "serve" && key === undefined) fail(usage)
const parseValue = (text: string | undefined) => {
  if (text === undefined) return fail(usage)
  try {
    return JSON.parse(text) as Parameters<PeerPigeonMesh["dhtPut"]>[1]
  } catch {
    return fail(`not JSON: ${text}`)
  }
}

const mesh = new PeerPigeonMesh({ networkName: process.env["DHT_NETWORK"] ?? "dht-cli" })
await mesh.init()
console.error(`peer ${mesh.peerId}, connecting to ${url}`)
await mesh.connect(url!)

/** Resolves once this peer has `count` links, or after `ms` whatever it has. */
const waitForPeers = (count: number, ms: number) =>
  new Promise<void>((resolve) => {
    const check = () => {
      if (mesh.getConnectedPeerCount() < count) return
      mesh.removeEventListener("peerConnected", check)
      clearTimeout(timer)
      resolve()
    }
    const timer = setTimeout(() => {
      mesh.removeEventListener("peerConnected", check)
      console.error(`only ${mesh.getConnectedPeerCount()} of ${count} peers after ${ms} ms; going on`)
      resolve()
    }, ms)
    mesh.addEventListener("peerConnected", check)
    check()
  })

/** Waits for Ctrl-C (or SIGTERM), then leaves the network. */
const untilStopped = () =>
  new Promise<void>((resolve) => {
    process.once("SIGINT", resolve)
    process.once("SIGTERM", resolve)
  })

let exitCode = 0
try {
  if (command === "serve") {
    console.error("serving; Ctrl-C to stop")
    console.log(JSON.stringify({ serving: mesh.peerId }))
    await untilStopped()
  } else {
    await waitForPeers(Number(process.env["DHT_WAIT_PEERS"] ?? 1), Number(process.env["DHT_WAIT_MS"] ?? 15_000))
    switch (command) {
      case "put": {
        const version = await mesh.dhtPut(key!, parseValue(json), { writable: true })
        console.log(JSON.stringify({ key, version }))
        break
      }
      case "update": {
        const version = await mesh.dhtUpdate(key!, parseValue(json))
        console.log(JSON.stringify({ key, version }))
        break
      }
      case "get": {
        const value = await mesh.dhtGet(key!) // null when no peer holds it
        console.log(JSON.stringify(value))
        if (value === null) exitCode = 1
        break
      }
      case "delete": {
        console.log(JSON.stringify({ key, deleted: await mesh.dhtDelete(key!) }))
        break
      }
      case "watch": {
        mesh.addEventListener("dhtValueChanged", (change) => {
          if (change.key === key) console.log(JSON.stringify(change.deleted ? null : change.newValue))
        })
        console.log(JSON.stringify(await mesh.dhtSubscribe(key!)))
        await untilStopped()
        break
      }
      default:
        fail(usage)
    }
  }
} catch (error) {
  const tag = typeof error === "object" && error !== null ? (error as { _tag?: unknown })._tag : undefined
  console.error(`${command} failed:`, typeof tag === "string" ? tag : "", error instanceof Error ? error.message : error)
  exitCode = 1
} finally {
  await mesh.disconnect()
}
process.exitCode = exitCode
