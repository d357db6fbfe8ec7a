/**
 * A chat between terminals: run it in two (or more) terminals against one signaling server.
 *
 *   npm start -- --port 3000                                # the signaling server
 *   node examples/node/chat.ts ws://localhost:3000 alice    # terminal 1
 *   node examples/node/chat.ts ws://localhost:3000 bob      # terminal 2
 *
 * A line you type goes to everyone (a broadcast over the mesh). Commands:
 *   /to <peer-id> <text>   a direct message to one peer (routed over several hops if needed)
 *   /peers                 the peers this one is linked to
 *   /quit                  leave (so do Ctrl-C and Ctrl-D)
 * A third argument names the network (default "chat"): only peers of the same network meet.
 *
 * In an app, import from "peerpigeon" instead of the checkout's source.
 */
import * as readline from "node:readline"
import { PeerPigeonMesh } from "../../src/index.ts"

const [url, name, network = "chat"] = process.argv.slice(2)
if (url === undefined || name === undefined) {
  console.error("usage: node examples/node/chat.ts <signaling-url> <name> [network]")
  process.exit(2)
}

/** What this chat sends; other programs on the same network may send anything else. */
interface ChatLine {
  readonly name: string
  readonly text: string
}
const isChatLine = (content: unknown): content is ChatLine =>
  typeof content === "object" && content !== null &&
  typeof (content as ChatLine).name === "string" && typeof (content as ChatLine).text === "string"

const names = new Map<string, string>() // peer id -> the name it last wrote under
const who = (peerId: string) => names.get(peerId) ?? peerId.slice(0, 8)

const mesh = new PeerPigeonMesh({ networkName: network })
mesh.addEventListener("peerConnected", ({ peerId }) => console.log(`* linked to ${who(peerId)}`))
mesh.addEventListener("peerDisconnected", ({ peerId }) => console.log(`* ${who(peerId)} left`))
mesh.addEventListener("messageFailed", ({ reason }) => console.log(`* not delivered: ${reason}`))
mesh.addEventListener("messageReceived", ({ from, content, direct }) => {
  if (!isChatLine(content)) return
  names.set(from, content.name)
  console.log(direct ? `[${content.name} -> you] ${content.text}` : `[${content.name}] ${content.text}`)
})

await mesh.init()
console.log(`* ${name} is ${mesh.peerId}; connecting to ${url} (network "${network}")`)
await mesh.connect(url)
console.log("* connected: type a line to send it to everyone, /to <peer-id> <text>, /peers, /quit")

const input = readline.createInterface({ input: process.stdin })
input.on("SIGINT", () => input.close())
process.once("SIGINT", () => input.close())
process.once("SIGTERM", () => input.close())
for await (const line of input) {
  const text = line.trim()
  if (text === "") continue
  if (text === "/quit") break
  if (text === "/peers") {
    const ids = mesh.getConnectedPeerIds()
    console.log(ids.length === 0 ? "* no peers yet" : ids.map((id) => `* ${who(id)} ${id}`).join("\n"))
    continue
  }
  const direct = /^\/to\s+(\S+)\s+(.+)$/.exec(text)
  if (direct !== null) {
    const [, to, body] = direct as unknown as [string, string, string]
    mesh.sendDirectMessage(to, { name, text: body }) // the id at once; a failure comes as messageFailed
    continue
  }
  mesh.sendMessage({ name, text })
}
input.close()
console.log("* leaving")
await mesh.disconnect()
