/**
 * Builds the browser bundle and the demo app with esbuild:
 *
 *   dist/browser/peerpigeon.js   src/browser.ts as one ES module for `<script type="module">`
 *   dist/browser/app.js          examples/browser/app.ts, importing "./peerpigeon.js"
 *
 *   npm run build:browser        (or: node scripts/build-browser.ts)
 *
 * The build fails when anything Node-only reaches the bundle: a `node:` import, a Node
 * built-in, `ws`, `@effect/platform-node`, a static import of werift, or the `node:crypto`
 * backends (`src/crypto/nodePrimitives.ts`, `src/internal/nodeCrypto.ts`: package.json's
 * `browser` field maps them to stubs, for this build and for any bundler of `dist/`). werift's one
 * dynamic import (`layerWerift` in src/layers/RtcPeerConnection.ts, which the browser never
 * calls) resolves to a stub that throws, so werift itself is never bundled.
 *
 * Two size fixes. `effectDeepImports`: the library imports Effect's modules from the barrel
 * (`import { Effect, Schema } from "effect"`), which re-exports each as `export * as Schema
 * from "./Schema.js"`; esbuild then builds every such module as one object and keeps all of it
 * (all of Schema, all of Stream, and what they import, such as `effect/crypto`). Rewritten at
 * build time to `import * as Schema from "effect/Schema"` (the same bindings), esbuild keeps
 * only what is used: 254.6 KiB gzip -> 147.6 KiB for `src/browser.ts` on 2026-12-02. And
 * (`lib0DomPure`): lib0's `dom.js` (which `lib0/logging` imports, and Yjs imports
 * that) makes DOM-node schemas at its top level (`$.$custom(...)` calls esbuild cannot prove
 * free of effects), which keeps all of `lib0/schema.js` in any bundle with Yjs: 7 KiB minified,
 * 2.5 KiB gzip, none of it used. The plugin marks those calls `@__PURE__` (they are: each builds a
 * schema object and nothing else), so the unused ones go.
 *
 * `npm run dev` and the browser tests call `buildBrowser()` themselves, so a stale dist/ is
 * never served.
 *
 * @since 2.0.0
 */
import { readFileSync } from "node:fs"
import { builtinModules } from "node:module"
import { fileURLToPath } from "node:url"
import * as esbuild from "esbuild"

export const root = fileURLToPath(new URL("..", import.meta.url))

export interface BuildBrowserOptions {
  /** Output folder; default `<repo>/dist/browser`. */
  readonly outdir?: string
  /** Minify (default true: that is what a user ships and what `bench:bundle` measures). */
  readonly minify?: boolean
  /** Also build the demo app (default true). */
  readonly app?: boolean
}

export interface BrowserBuild {
  readonly outdir: string
  /** The library bundle. */
  readonly bundle: string
  /** The demo app module (absent when `app: false`). */
  readonly app: string | undefined
  readonly metafile: esbuild.Metafile
}

const nodeOnlyPackages = ["ws", "@effect/platform-node", "@effect/platform-node-shared", "werift"]
const builtins = new Set(builtinModules.filter((m) => !m.startsWith("_")))

const bareName = (path: string): string => {
  const parts = path.split("/")
  return path.startsWith("@") ? parts.slice(0, 2).join("/") : parts[0]!
}

/** Effect's modules the `effect` barrel re-exports whole (`export * as Name from "./File.js"`): name -> file. */
const effectNamespaces = (() => {
  let index: string
  try {
    index = readFileSync(`${root}node_modules/effect/dist/index.js`, "utf8")
  } catch {
    return new Map<string, string>()
  }
  return new Map([...index.matchAll(/export \* as (\w+) from "\.\/(\w+)\.js"/g)].map((m) => [m[1]!, m[2]!] as const))
})()

/**
 * `import { Effect, type Schema, pipe } from "effect"` as `import * as Effect from "effect/Effect";
 * import type * as Schema from "effect/Schema"; import { pipe } from "effect"` (see the module
 * comment); other imports are left as they are.
 */
export const effectDeepImports = (source: string, namespaces: ReadonlyMap<string, string> = effectNamespaces): string =>
  source.replace(/^import \{([^}]*)\} from "effect"/gm, (whole, names: string) => {
    const deep: Array<string> = []
    const rest: Array<string> = []
    for (const part of names.split(",").map((n) => n.trim()).filter((n) => n.length > 0)) {
      const typeOnly = part.startsWith("type ")
      const name = typeOnly ? part.slice(5).trim() : part
      const file = namespaces.get(name)
      if (file === undefined) rest.push(part)
      else deep.push(`import ${typeOnly ? "type " : ""}* as ${name} from "effect/${file}"`)
    }
    if (deep.length === 0) return whole
    return [...deep, ...(rest.length > 0 ? [`import { ${rest.join(", ")} } from "effect"`] : [])].join("; ")
  })

/** lib0's top-level schema calls in `dom.js`, annotated as pure (see the module comment). */
export const lib0DomPure = (source: string): string =>
  source.replace(/^(export const \$\w+ = )(\$\.\$custom\()/gm, "$1/* @__PURE__ */ $2")

/**
 * Refuses Node-only modules; stubs werift's lazy (dynamic) import; imports Effect's modules
 * one by one (`effectDeepImports`); lets unused lib0 schema code go (`lib0DomPure`).
 */
export const browserOnly: esbuild.Plugin = {
  name: "peerpigeon-browser-only",
  setup(build) {
    build.onLoad({ filter: /\.ts$/ }, async (args) => {
      if (!args.path.startsWith(`${root}src/`)) return undefined
      const { readFile } = await import("node:fs/promises")
      return { contents: effectDeepImports(await readFile(args.path, "utf8")), loader: "ts" }
    })
    build.onLoad({ filter: /[\\/]lib0[\\/]dom\.js$/ }, async (args) => {
      const { readFile } = await import("node:fs/promises")
      return { contents: lib0DomPure(await readFile(args.path, "utf8")), loader: "js" }
    })
    build.onResolve({ filter: /^[^./]/ }, (args) => {
      const name = bareName(args.path)
      if (name === "werift" && args.kind === "dynamic-import") {
        return { path: "werift", namespace: "werift-stub" }
      }
      if (args.path.startsWith("node:") || builtins.has(name) || nodeOnlyPackages.includes(name)) {
        return {
          errors: [{
            text: `Node-only module "${args.path}" imported by ${args.importer.replace(root, "")} (${args.kind})`
          }]
        }
      }
      return undefined
    })
    build.onLoad({ filter: /.*/, namespace: "werift-stub" }, () => ({
      contents: "export const RTCPeerConnection = class { constructor() { " +
        "throw new TypeError('werift is Node-only: in a browser the mesh uses globalThis.RTCPeerConnection') } }",
      loader: "js"
    }))
  }
}

/** The app imports the library as "peerpigeon"; in the output that is the sibling bundle. */
const appImportsBundle: esbuild.Plugin = {
  name: "peerpigeon-app-imports-bundle",
  setup(build) {
    build.onResolve({ filter: /^peerpigeon$/ }, () => ({ path: "./peerpigeon.js", external: true }))
  }
}

/** Throws when the output still names a Node module (belt and braces after the plugin). */
const assertNoNodeImports = (file: string, code: string): void => {
  const found = code.match(/(?:from|import\(|require\()\s*["'](node:[^"']+|werift|ws)["']/)
  if (found !== null) throw new Error(`${file} imports ${found[1]}: the browser bundle must not`)
}

export const buildBrowser = async (options: BuildBrowserOptions = {}): Promise<BrowserBuild> => {
  const outdir = options.outdir ?? `${root}dist/browser`
  const minify = options.minify ?? true
  const common: esbuild.BuildOptions = {
    bundle: true,
    format: "esm",
    platform: "browser",
    target: "es2022",
    minify,
    sourcemap: "linked",
    legalComments: "none",
    logLevel: "silent",
    metafile: true,
    write: true
  }
  const lib = await esbuild.build({
    ...common,
    entryPoints: [`${root}src/browser.ts`],
    outfile: `${outdir}/peerpigeon.js`,
    plugins: [browserOnly]
  })
  const bundle = `${outdir}/peerpigeon.js`
  const metafile = lib.metafile!
  const inputs = Object.keys(metafile.inputs)
  const leaked = inputs.filter((p) => /node_modules\/(werift|ws|@effect\/platform-node)/.test(p))
  if (leaked.length > 0) throw new Error(`Node-only code in the browser bundle: ${leaked.join(", ")}`)
  // the Node crypto backends are mapped to stubs by package.json's `browser` field
  const nodeBackends = inputs.filter((p) => /src\/(crypto\/nodePrimitives|internal\/nodeCrypto)\.ts$/.test(p))
  if (nodeBackends.length > 0) throw new Error(`Node crypto backends in the browser bundle: ${nodeBackends.join(", ")}`)
  const { readFile } = await import("node:fs/promises")
  assertNoNodeImports(bundle, await readFile(bundle, "utf8"))

  let app: string | undefined
  if (options.app ?? true) {
    await esbuild.build({
      ...common,
      entryPoints: [`${root}examples/browser/app.ts`],
      outfile: `${outdir}/app.js`,
      plugins: [appImportsBundle, browserOnly]
    })
    app = `${outdir}/app.js`
  }
  return { outdir, bundle, app, metafile }
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const started = performance.now()
  try {
    const result = await buildBrowser()
    const { stat } = await import("node:fs/promises")
    const size = (await stat(result.bundle)).size
    console.log(
      `built ${result.bundle.replace(root, "")} (${(size / 1024).toFixed(1)} KiB)` +
        (result.app ? ` and ${result.app.replace(root, "")}` : "") +
        ` in ${Math.round(performance.now() - started)} ms`
    )
  } catch (error) {
    // esbuild's own errors already carry the plugin's text
    console.error(error instanceof Error ? error.message : error)
    process.exitCode = 1
  }
}
