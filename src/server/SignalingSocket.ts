/**
 * The server's `ws` sockets. platform-node hides the `ws` object behind `request.upgrade`;
 * we need it for protocol-level ping/pong, close codes and direct frame handling. `ws`
 * builds server sockets from the class given in the server options, and `setSocket` is
 * where it meets the HTTP request's socket, so the pair is remembered until the route takes
 * it. Frames, pongs and the close reach the connection through module-level listeners: no
 * closure per connection.
 *
 * @since 2.0.0
 */
import { WebSocket } from "ws"
import { finalize } from "./Admission.ts"
import { type Connection, OPEN } from "./Connection.ts"
import { receive, run } from "./Inbound.ts"

const upgraded = new WeakMap<object, SignalingWebSocket>()

/** Frames kept from before the route accepts the socket (normally none: it accepts within the tick). */
const MAX_EARLY_FRAMES = 64

/** The `ws` class of the signaling server's sockets (pass it as the `WebSocket` option). */
export class SignalingWebSocket extends WebSocket {
  /** Set once the route has accepted the socket. */
  connection: Connection | undefined = undefined
  /** Frames that arrived between the handshake and the route accepting the socket. */
  early: Array<string> | undefined = undefined

  setSocket(socket: object, ...rest: Array<unknown>): void {
    upgraded.set(socket, this)
    // listening from the handshake on, so no frame can arrive before anyone listens
    this.on("message", onMessage)
    this.on("pong", onPong)
    this.on("close", onClose)
    this.on("error", ignore) // ws closes the socket itself after an error; 'close' follows
    ;(WebSocket.prototype as unknown as { setSocket: (...args: Array<unknown>) => void }).setSocket.call(this, socket, ...rest)
  }

  /**
   * Effect's socket reader is only used to complete the handshake: its EventTarget
   * listeners would buffer every frame for a pull that never comes (and keep the request's
   * context alive), so they are not registered. Frames go to the listeners above.
   */
  override addEventListener(): void {}
}

/** The WebSocket upgraded from this HTTP request socket (once). */
export const takeWebSocket = (requestSocket: object): SignalingWebSocket | undefined => {
  const ws = upgraded.get(requestSocket)
  upgraded.delete(requestSocket)
  return ws
}

const ignore = (): void => {}

const textOf = (data: WebSocket.RawData): string =>
  Array.isArray(data)
    ? Buffer.concat(data).toString("utf8")
    : data instanceof ArrayBuffer
    ? Buffer.from(data).toString("utf8")
    : data.toString("utf8")

function onMessage(this: WebSocket, data: WebSocket.RawData): void {
  const ws = this as SignalingWebSocket
  if (ws.readyState !== OPEN) return
  const c = ws.connection
  if (c !== undefined) return receive(c, textOf(data))
  const early = ws.early ??= []
  if (early.length < MAX_EARLY_FRAMES) early.push(textOf(data))
  else ws.close(1008, "Rate limit exceeded")
}

function onPong(this: WebSocket): void {
  const c = (this as SignalingWebSocket).connection
  if (c !== undefined) c.lastSeen = Date.now()
}

function onClose(this: WebSocket, code: number): void {
  const c = (this as SignalingWebSocket).connection
  if (c === undefined) return
  c.closeCode = code
  run(c, finalize(c))
}
