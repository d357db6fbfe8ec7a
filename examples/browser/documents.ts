/**
 * The demo app's "Documents" panel: a textarea bound to the Yjs text "content" of a CRDT
 * record of `mesh.distributedStorage`. Create makes a private CRDT record owned by this tab;
 * Grant lets another peer read and write it; Open binds the textarea to the live document.
 * Typing applies the change to the Y.Text (one transaction per input event: the common
 * prefix and suffix of old and new text are kept); remote changes replace the textarea's text.
 *
 * For tests: `window.getDocumentsState()` gives the bound key, its text and the log.
 */
import type { PeerPigeonMesh } from "peerpigeon"

type Doc = Awaited<ReturnType<PeerPigeonMesh["distributedStorage"]["getDocument"]>>

const byId = <E extends HTMLElement>(id: string): E => {
  const found = document.getElementById(id)
  if (found === null) throw new Error(`missing #${id}`)
  return found as E
}

const describe = (error: unknown) => (error instanceof Error ? error.message : String(error))

/** `current` gives the app's mesh (it makes a new one when the network changes). */
export const startDocumentsPanel = (current: () => PeerPigeonMesh): void => {
  const area = byId<HTMLTextAreaElement>("doc-text")
  const log: Array<string> = []
  let bound: { readonly key: string; readonly doc: Doc } | undefined

  const note = (text: string) => {
    log.unshift(text)
    log.splice(30)
    byId("doc-log").replaceChildren(...log.map((t) => Object.assign(document.createElement("li"), { textContent: t })))
  }

  const bind = (key: string, doc: Doc) => {
    const text = doc.getText("content")
    bound = { key, doc }
    area.value = text.toJSON()
    area.disabled = false
    text.observe(() => {
      if (bound?.doc !== doc || area.value === text.toJSON()) return
      area.value = text.toJSON()
    })
  }

  area.addEventListener("input", () => {
    if (bound === undefined) return
    const text = bound.doc.getText("content")
    const before = text.toJSON()
    const after = area.value
    let start = 0
    while (start < before.length && start < after.length && before[start] === after[start]) start++
    let end = 0
    while (end < before.length - start && end < after.length - start && before[before.length - 1 - end] === after[after.length - 1 - end]) end++
    bound.doc.transact(() => {
      if (before.length - start - end > 0) text.delete(start, before.length - start - end)
      if (after.length - start - end > 0) text.insert(start, after.slice(start, after.length - end))
    })
  })

  byId<HTMLFormElement>("doc-form").addEventListener("submit", (event) => {
    event.preventDefault()
    const op = (event.submitter as HTMLButtonElement | null)?.dataset.op ?? "open"
    const key = byId<HTMLInputElement>("doc-key").value.trim()
    const peer = byId<HTMLInputElement>("doc-peer").value.trim()
    if (key === "") return note("a key is needed")
    const storage = current().distributedStorage
    const run = async () => {
      if (op === "create") {
        const r = await storage.store(key, { title: key }, { enableCRDT: true })
        note(`created ${key} v${r.version}`)
      } else if (op === "grant") {
        const r = await storage.grantAccess(key, peer, { write: true })
        note(`granted ${peer.slice(0, 8)} on ${key} v${r.version}`)
      } else {
        bind(key, await storage.getDocument(key))
        note(`opened ${key}`)
      }
    }
    run().catch((error: unknown) => note(`${op} ${key} failed: ${describe(error)}`))
  })

  Object.assign(window, {
    getDocumentsState: () => ({ key: bound?.key ?? null, text: bound?.doc.getText("content").toJSON() ?? null, log: [...log] })
  })
}
