/**
 * Browser bundle size: `npm run bench:bundle` (not part of the test suite).
 *
 * Builds with esbuild, minified, ES2022, for the browser (scripts/build-browser.ts), and
 * prints raw, gzip (level 9) and brotli (quality 11) sizes of:
 *   - the whole browser entry (src/browser.ts: every export, what dist/browser/peerpigeon.js is);
 *   - what an app that uses only `PeerPigeonMesh` and `DebugLogger` ships (tree-shaken);
 *   - storage + crypto with Yjs (issue #13's goal: <= 40 KiB gzip), two ways: `bench/storage.ts`'s
 *     measure (the storage and crypto layers, services and facades with everything they import
 *     but effect), and their own modules only (`src/storage`, `src/crypto` and the storage /
 *     crypto layer, service and facade files, with Yjs and lib0; effect and every other module
 *     of src/, which the mesh ships anyway, left out) with the largest of them;
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

  // storage + crypto with Yjs
  const storageEntry = `export * from "./src/layers/DistributedStorage.ts"; export * from "./src/facade/storage.ts"; ` +
    `export * from "./src/crypto/CryptoManager.ts"; export * from "./src/crypto/KeyDirectory.ts"; export * from "./src/facade/crypto.ts"`
  const own = /\/src\/(crypto|storage)\/|\/src\/(layers|services|facade)\/(DistributedStorage|storage|crypto)\.ts$/
  /** Leaves every module of src/ that is not storage's or crypto's out of the bundle (as `external`). */
  const otherSrcExternal: esbuild.Plugin = {
    name: "other-src-external",
    setup(build) {
      build.onResolve({ filter: /^\.\.?\// }, (args) => {
        const path = join(args.resolveDir, args.path)
        return path.startsWith(join(root, "src")) && !own.test(path) ? { path, external: true } : undefined
      })
    }
  }
  const storageBuild = async (plugins: Array<esbuild.Plugin>) => {
    const out = await esbuild.build({
      stdin: { contents: storageEntry, resolveDir: root, loader: "ts" },
      bundle: true,
      format: "esm",
      platform: "browser",
      target: "es2022",
      minify: true,
      write: false,
      legalComments: "none",
      logLevel: "silent",
      metafile: true,
      external: ["effect", "effect/*"],
      plugins: [...plugins, browserOnly]
    })
    const code = out.outputFiles[0]!.contents
    return { gzip: gzipSync(code, { level: 9 }).length, raw: code.length, metafile: out.metafile }
  }
  const withImports = await storageBuild([])
  const ownOnly = await storageBuild([otherSrcExternal])
  console.log(`\nstorage + crypto with Yjs, minified, gzip -9 (goal <= 40 KiB):`)
  console.log(`  ${"with what they import, effect excluded (bench/storage.ts)".padEnd(62)} ${kib(withImports.gzip).padStart(10)} (raw ${kib(withImports.raw)})`)
  console.log(`  ${"their own modules only (effect and the rest of src/ excluded)".padEnd(62)} ${kib(ownOnly.gzip).padStart(10)} (raw ${kib(ownOnly.raw)})`)
  const ownInputs = Object.entries(Object.values(ownOnly.metafile.outputs)[0]!.inputs)
  for (const [input, { bytesInOutput }] of ownInputs.sort((a, b) => b[1].bytesInOutput - a[1].bytesInOutput).slice(0, 8)) {
    console.log(`    ${input.replace(/.*node_modules\//, "").padEnd(44)} ${kib(bytesInOutput).padStart(10)} minified`)
  }

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
