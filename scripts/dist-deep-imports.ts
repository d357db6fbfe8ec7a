/**
 * After `tsc` emits `dist/` (`npm run build`): each module's `import { Effect, Schema } from
 * "effect"` becomes `import * as Effect from "effect/Effect"; import * as Schema from
 * "effect/Schema"` (the same bindings; `effectDeepImports` of scripts/build-browser.ts). A
 * bundler of the published package then keeps only the Effect modules the library uses, as
 * our own browser build does: through the barrel, esbuild keeps every re-exported module whole
 * (for the browser entry, about 100 KiB gzip more).
 */
import { readdirSync, readFileSync, writeFileSync } from "node:fs"
import { join } from "node:path"
import { effectDeepImports } from "./build-browser.ts"

const walk = (dir: string): Array<string> =>
  readdirSync(dir, { withFileTypes: true }).flatMap((e) =>
    e.isDirectory() ? walk(join(dir, e.name)) : e.name.endsWith(".js") ? [join(dir, e.name)] : []
  )

const dist = process.argv[2] ?? "dist"
let changed = 0
for (const file of walk(dist)) {
  const source = readFileSync(file, "utf8")
  const rewritten = effectDeepImports(source)
  if (rewritten === source) continue
  writeFileSync(file, rewritten)
  changed++
}
console.log(`${dist}: Effect imported module by module in ${changed} files`)
