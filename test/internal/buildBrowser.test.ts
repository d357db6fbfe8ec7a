/**
 * The browser build's source rewrites (`scripts/build-browser.ts`): Effect's barrel imports as
 * one import per module, types kept as types, anything else left as it was; lib0's DOM schema
 * calls marked pure. (The Chromium tests run the bundle these make.)
 */
import { assert, describe, it } from "@effect/vitest"
import { existsSync, readFileSync } from "node:fs"
import { effectDeepImports, lib0DomPure, root } from "../../scripts/build-browser.ts"

describe("browser build rewrites", () => {
  it("effect's barrel imports become one import per module, the rest unchanged", () => {
    const ns = new Map([["Effect", "Effect"], ["Schema", "Schema"], ["Stream", "Stream"]])
    assert.strictEqual(
      effectDeepImports(`import { Effect, type Schema, pipe } from "effect"\nconst x = 1`, ns),
      `import * as Effect from "effect/Effect"; import type * as Schema from "effect/Schema"; import { pipe } from "effect"\nconst x = 1`
    )
    assert.strictEqual(
      effectDeepImports(`import {\n  Effect,\n  Stream\n} from "effect"`, ns),
      `import * as Effect from "effect/Effect"; import * as Stream from "effect/Stream"`
    )
    for (const unchanged of [`import { pipe } from "effect"`, `import type { Effect } from "effect"`, `import { Socket } from "effect/socket"`, `import { Effect as E } from "effect"`]) {
      assert.strictEqual(effectDeepImports(unchanged, ns), unchanged)
    }
  })

  it("every module the effect barrel re-exports whole is found, and exists", () => {
    const rewritten = effectDeepImports(`import { Effect, Schema, Layer, Stream, PubSub, Context } from "effect"`)
    const files = [...rewritten.matchAll(/from "effect\/(\w+)"/g)].map((m) => m[1]!)
    assert.deepStrictEqual(files, ["Effect", "Schema", "Layer", "Stream", "PubSub", "Context"])
    for (const file of files) assert.isTrue(existsSync(`${root}node_modules/effect/dist/${file}.js`), file)
  })

  it("lib0's DOM schemas are marked pure, nothing else changes", () => {
    const source = readFileSync(`${root}node_modules/lib0/dom.js`, "utf8")
    const pure = lib0DomPure(source)
    assert.isAtLeast((pure.match(/@__PURE__/g) ?? []).length, 3)
    assert.strictEqual(pure.replaceAll("/* @__PURE__ */ ", ""), source)
  })
})
