/**
 * `npm run docs:api`: writes docs/API.md from the README's "PeerPigeon 1.x API" section, the
 * one source of that table. `npm run docs:api -- --check` only compares, and exits with 1 when
 * docs/API.md is stale (run by .ci/run).
 */
import { readFileSync, writeFileSync } from "node:fs"

const readmeUrl = new URL("../README.md", import.meta.url)
const apiUrl = new URL("API.md", import.meta.url)
const heading = "## PeerPigeon 1.x API"

/** The section from its heading to the next second-level heading. */
const section = (readme: string): string => {
  const lines = readme.split("\n")
  const start = lines.indexOf(heading)
  if (start === -1) throw new Error(`README.md has no "${heading}" section`)
  const end = lines.findIndex((line, i) => i > start && line.startsWith("## "))
  return lines.slice(start, end === -1 ? undefined : end).join("\n").trimEnd()
}

/** docs/API.md: the section, its heading made the title, references to the rest of the README made to point there. */
const render = (readme: string): string => {
  const body = section(readme)
  const anchors = new Set(body.split("\n").filter((l) => l.startsWith("#")).map((l) => anchor(l.replace(/^#+\s*/, ""))))
  const linked = body.replace(/\]\(#([^)]+)\)/g, (link, target: string) => (anchors.has(target) ? link : `](../README.md#${target})`))
  return [
    "<!-- Generated from README.md (section \"PeerPigeon 1.x API\") by `npm run docs:api`; edit the README, not this file. -->",
    "",
    linked.replace(/^## /, "# ").replaceAll("the sections above", "the [README](../README.md)"),
    ""
  ].join("\n")
}

/** GitHub's anchor for a heading. */
const anchor = (title: string) => title.toLowerCase().replace(/[^\w\- ]/g, "").replace(/ /g, "-")

const expected = render(readFileSync(readmeUrl, "utf8"))
if (process.argv.includes("--check")) {
  let current = ""
  try {
    current = readFileSync(apiUrl, "utf8")
  } catch {
    // missing: stale
  }
  if (current !== expected) {
    console.error("docs/API.md is not the README's \"PeerPigeon 1.x API\" section: run npm run docs:api")
    process.exit(1)
  }
  console.log("docs/API.md is up to date")
} else {
  writeFileSync(apiUrl, expected)
  console.log(`wrote docs/API.md (${expected.split("\n").length} lines)`)
}
