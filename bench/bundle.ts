/**
 * Browser bundle size: `npm run bench:bundle` (not part of the test suite).
 *
 * Builds with esbuild, minified, ES2022, for the browser (scripts/build-browser.ts), and
 * prints raw, gzip (level 9) and brotli (quality 11) sizes of:
 *   - the whole browser entry (src/browser.ts: every export, what dist/browser/peerpigeon.js is);
 *   - what an app that uses only `PeerPigeonMesh` and `DebugLogger` ships (tree-shaken);
 * and the largest contributors to the whole bundle, by source folder.
 */
import { mkdtemp, readFile, rm } from "node:fs/promises"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { brotliCompressSync, constants, gzipSync } from "node:zlib"
import * as esbuild from "esbuild"
import { browserOnly, buildBrowser, root } from "../scripts/build-browser.ts"

const kib = (n: number) => `${(n / 1024).toFixed(1)} KiB`

const sizes = async (file: string) => {
  const code = await readFile(file)
  return {
    raw: code.length,
    gzip: gzipSync(code, { level: 9 }).length,
    brotli: brotliCompressSync(code, { params: { [constants.BROTLI_PARAM_QUALITY]: 11 } }).length
  }
}

const row = (name: string, s: { raw: number; gzip: number; brotli: number }) =>
  `${name.padEnd(44)} ${kib(s.raw).padStart(11)} ${kib(s.gzip).padStart(11)} ${kib(s.brotli).padStart(11)}`

/** `node_modules/effect/dist/Schema.js` -> `effect/Schema`, `src/layers/Mesh.ts` -> `src/layers`. */
const group = (input: string): string => {
  const effect = input.match(/node_modules\/effect\/dist\/(internal|[^/]+?)(?:\.js|\/)/)
  if (effect !== null) return `effect/${effect[1]}`
  const pkg = input.match(/node_modules\/((?:@[^/]+\/)?[^/]+)/)
  if (pkg !== null) return pkg[1]!
  return input.split("/").slice(0, -1).join("/") || input
}

const dir = await mkdtemp(join(tmpdir(), "peerpigeon-bundle-"))
try {
  const full = await buildBrowser({ outdir: dir, app: false })

  const meshOnlyFile = join(dir, "mesh-only.js")
  await esbuild.build({
    stdin: {
      contents: `import { PeerPigeonMesh, DebugLogger } from "./src/browser.ts"\n` +
        `globalThis.peerpigeon = { PeerPigeonMesh, DebugLogger }\n`,
      resolveDir: root,
      loader: "ts"
    },
    bundle: true,
    format: "esm",
    platform: "browser",
    target: "es2022",
    minify: true,
    legalComments: "none",
    logLevel: "silent",
    outfile: meshOnlyFile,
    plugins: [browserOnly]
  })

  console.log(`esbuild ${esbuild.version}, minified, target es2022, platform browser\n`)
  console.log(`${"bundle".padEnd(44)} ${"raw".padStart(11)} ${"gzip -9".padStart(11)} ${"brotli 11".padStart(11)}`)
  console.log(row("src/browser.ts (every export)", await sizes(full.bundle)))
  console.log(row("an app using PeerPigeonMesh + DebugLogger", await sizes(meshOnlyFile)))

  const output = Object.values(full.metafile.outputs).find((o) => o.entryPoint !== undefined)!
  const byGroup = new Map<string, number>()
  for (const [input, { bytesInOutput }] of Object.entries(output.inputs)) {
    byGroup.set(group(input), (byGroup.get(group(input)) ?? 0) + bytesInOutput)
  }
  const total = [...byGroup.values()].reduce((a, b) => a + b, 0)
  console.log(`\nlargest contributors to the whole bundle (minified bytes, before compression):`)
  for (const [name, bytes] of [...byGroup].sort((a, b) => b[1] - a[1]).slice(0, 15)) {
    console.log(`  ${name.padEnd(40)} ${kib(bytes).padStart(10)} ${((100 * bytes) / total).toFixed(1).padStart(5)}%`)
  }
  const ours = [...byGroup].filter(([name]) => name.startsWith("src")).reduce((a, [, b]) => a + b, 0)
  console.log(`  ${"(all of src/)".padEnd(40)} ${kib(ours).padStart(10)} ${((100 * ours) / total).toFixed(1).padStart(5)}%`)
} finally {
  await rm(dir, { recursive: true, force: true })
}
