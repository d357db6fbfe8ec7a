/**
 * bench:compare's copy of PeerPigeon 1.1.3: installed on first use into a bench-only folder
 * (bench/.compare, ignored by git), never into the project's dependencies, and reused after.
 *
 * 1.1.3 depends on `@koush/wrtc@^0.5.3`, whose install downloads a binary from GitHub or
 * builds libwebrtc from source; an npm `overrides` entry points that dependency (and the
 * top-level `@koush/wrtc` that 1.1.3's Node example imports) at `@roamhq/wrtc@0.10.0`, which
 * ships its prebuilt binary inside its npm package.
 */
import { execFileSync } from "node:child_process"
import { existsSync, mkdirSync, readFileSync, writeFileSync } from "node:fs"
import { join } from "node:path"
import { fileURLToPath } from "node:url"

/** Where 1.1.3 lives: bench/.compare (the `BENCH_COMPARE_DIR` env var moves it). */
export const compareDir = (): string =>
  process.env["BENCH_COMPARE_DIR"] ?? fileURLToPath(new URL("./.compare/", import.meta.url))

export const THEIR_VERSION = "1.1.3"
const WRTC = "npm:@roamhq/wrtc@0.10.0"

/** The bench folder's package.json: exact versions, and the override for 1.1.3's own wrtc. */
const manifest = {
  name: "peerpigeon-bench-compare",
  private: true,
  description: "PeerPigeon 1.1.3 for `npm run bench:compare` only (not a dependency of the project)",
  dependencies: { peerpigeon: THEIR_VERSION, "@koush/wrtc": WRTC },
  overrides: { "@koush/wrtc": WRTC }
}

const installedVersion = (dir: string, pkg: string): string | undefined => {
  const file = join(dir, "node_modules", pkg, "package.json")
  if (!existsSync(file)) return undefined
  try {
    return (JSON.parse(readFileSync(file, "utf8")) as { version?: string }).version
  } catch {
    return undefined
  }
}

export interface Installed {
  readonly dir: string
  /** file path of 1.1.3's index.js (PeerPigeonMesh, PeerPigeonServer) */
  readonly peerpigeon: string
  /** what `@koush/wrtc` resolves to in that folder: "@roamhq/wrtc 0.10.0" */
  readonly wrtc: string
  /** whether this call ran npm install */
  readonly fresh: boolean
}

/** Installs 1.1.3 and its wrtc into `dir` unless they are already there; bounded to 5 minutes. */
export const ensureInstalled = (dir: string = compareDir()): Installed => {
  const ok = () => installedVersion(dir, "peerpigeon") === THEIR_VERSION && installedVersion(dir, "@koush/wrtc") !== undefined
  let fresh = false
  if (!ok()) {
    mkdirSync(dir, { recursive: true })
    writeFileSync(join(dir, "package.json"), JSON.stringify(manifest, null, 2) + "\n")
    console.log(`installing peerpigeon@${THEIR_VERSION} and @koush/wrtc@${WRTC} into ${dir} (first use only)`)
    execFileSync("npm", ["install", "--prefix", dir, "--no-audit", "--no-fund", "--loglevel=error"], {
      stdio: "inherit",
      timeout: 300_000
    })
    fresh = true
    if (!ok()) throw new Error(`npm install in ${dir} did not leave peerpigeon@${THEIR_VERSION} and @koush/wrtc installed`)
  }
  const wrtcPkg = JSON.parse(readFileSync(join(dir, "node_modules", "@koush/wrtc", "package.json"), "utf8")) as { name?: string; version?: string }
  return {
    dir,
    peerpigeon: join(dir, "node_modules", "peerpigeon", "index.js"),
    wrtc: `${wrtcPkg.name ?? "?"} ${wrtcPkg.version ?? "?"}`,
    fresh
  }
}
