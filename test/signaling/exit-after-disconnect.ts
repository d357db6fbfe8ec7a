// Connects a WsSignaling client in a Scope that is never closed, disconnects it, and stops the
// server: the process must then exit by itself. A client still reconnecting would keep timers
// (and sockets) alive, so this also shows that nothing reconnects after `disconnect`.
import { Context, Effect, Layer, Scope } from "effect"
import { Signaling } from "../../src/services/Signaling.ts"
import { clientLayer, startServer } from "./client.ts"

const program = Effect.gen(function*() {
  const forever = yield* Scope.make()
  const server = yield* startServer().pipe(Scope.provide(forever))
  const signaling = Context.get(yield* Layer.buildWithScope(clientLayer(), forever), Signaling)
  yield* signaling.connect(`http://127.0.0.1:${server.port}/`)
  const before = yield* signaling.isConnected
  yield* signaling.disconnect
  const after = yield* signaling.isConnected
  yield* Effect.promise(() => server.stop())
  return { before, after }
})

console.log(JSON.stringify(await Effect.runPromise(program)))
