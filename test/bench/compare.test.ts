/**
 * Pure helpers of bench:compare (bench/compare-*.ts): percentiles, slope, the formed-mesh
 * check, ratios and the table, the payload both systems carry, the summaries and the SVG
 * charts. None of this needs PeerPigeon 1.1.3 or its bench folder.
 */
import { assert, describe, it } from "@effect/vitest"
import { parsePayload, payload } from "../../bench/compare-ipc.ts"
import type { RunResult } from "../../bench/compare-mesh.ts"
import { charts, processMemory, rssSlope, summarise, tableRows, type Summary } from "../../bench/compare-report.ts"
import { advantage, degreeHistogram, meshFormed, quantile, renderTable, slope } from "../../bench/compare-stats.ts"
import { barChart, linearTicks, logTicks } from "../../bench/compare-svg.ts"

const MB = 1024 * 1024

describe("quantile and slope", () => {
  it("nearest-rank percentiles of an unsorted sample", () => {
    const xs = [5, 1, 4, 2, 3, 10, 9, 8, 7, 6]
    assert.strictEqual(quantile(xs, 50), 5)
    assert.strictEqual(quantile(xs, 95), 10)
    assert.strictEqual(quantile(xs, 10), 1)
    assert.strictEqual(quantile(xs, 0), 1)
    assert.strictEqual(quantile([], 50), null)
  })

  it("least-squares slope; null without two distinct x", () => {
    assert.strictEqual(slope([[3, 10], [8, 20], [20, 44]]), 2)
    assert.closeTo(slope([[0, 1], [1, 2], [2, 2]])!, 0.5, 1e-12)
    assert.strictEqual(slope([[3, 10]]), null)
    assert.strictEqual(slope([[3, 10], [3, 12]]), null)
  })
})

describe("meshFormed", () => {
  const triangle = [
    { peerId: "a", connected: ["b", "c"] },
    { peerId: "b", connected: ["a", "c"] },
    { peerId: "c", connected: ["a", "b"] }
  ]
  const line = [
    { peerId: "a", connected: ["b"] },
    { peerId: "b", connected: ["a", "c"] },
    { peerId: "c", connected: ["b"] }
  ]

  it("needs every degree within [min(minPeers, n - 1), maxPeers]", () => {
    assert.isTrue(meshFormed(triangle, 2, 3))
    assert.isFalse(meshFormed(line, 2, 3))
    assert.isTrue(meshFormed(line, 1, 3))
    assert.isFalse(meshFormed(triangle, 2, 1))
    // two peers can only have one link each
    assert.isTrue(meshFormed([{ peerId: "a", connected: ["b"] }, { peerId: "b", connected: ["a"] }], 2, 3))
  })

  it("needs one component, and every peer started", () => {
    const two = [
      { peerId: "a", connected: ["b"] },
      { peerId: "b", connected: ["a"] },
      { peerId: "c", connected: ["d"] },
      { peerId: "d", connected: ["c"] }
    ]
    assert.isFalse(meshFormed(two, 1, 3))
    assert.isFalse(meshFormed([...triangle.slice(0, 2), { peerId: "", connected: ["a", "b"] }], 2, 3))
    assert.isFalse(meshFormed([], 1, 3))
  })

  it("links to peers outside the set do not connect components", () => {
    const viaStranger = [
      { peerId: "a", connected: ["x"] },
      { peerId: "b", connected: ["x"] }
    ]
    assert.isFalse(meshFormed(viaStranger, 1, 3))
    assert.strictEqual(degreeHistogram(line), "1:2 2:1")
  })
})

describe("advantage and renderTable", () => {
  it("is theirs/ours for lower-is-better and ours/theirs for higher-is-better", () => {
    assert.strictEqual(advantage({ metric: "t", ours: 100, theirs: 400, unit: "ms", better: "lower" }), 4)
    assert.strictEqual(advantage({ metric: "d", ours: 1, theirs: 0.5, unit: "%", better: "higher" }), 2)
    assert.strictEqual(advantage({ metric: "d", ours: 1, theirs: 0, unit: "%", better: "higher" }), null)
    assert.strictEqual(advantage({ metric: "t", ours: null, theirs: 3, unit: "ms", better: "lower" }), null)
  })

  it("prints both columns, percentages and the ratio", () => {
    const table = renderTable([
      { metric: "formation", ours: 850, theirs: 12_500, unit: "ms", better: "lower" },
      { metric: "delivery", ours: 1, theirs: 0.875, unit: "%", better: "higher" },
      { metric: "missing", ours: 2, theirs: null, unit: "ms", better: "lower" }
    ]).split("\n")
    assert.strictEqual(table[0], "| metric | ours | PeerPigeon 1.1.3 | ours better by |")
    assert.strictEqual(table[2], "| formation | 850 ms | 12500 ms | 15x |")
    assert.strictEqual(table[3], "| delivery | 100 % | 87.5 % | 1.14x |")
    assert.strictEqual(table[4], "| missing | 2.00 ms | n/a | n/a |")
  })
})

describe("payload", () => {
  it("round-trips and rejects anything else", () => {
    assert.deepStrictEqual(parsePayload(payload("b", 7, 1234.5)), { kind: "b", seq: 7, sentAt: 1234.5 })
    assert.deepStrictEqual(parsePayload(payload("d", 0, 1)), { kind: "d", seq: 0, sentAt: 1 })
    for (const bad of [undefined, 42, { seq: 1 }, "hello", "ppbench|x|1|2", "ppbench|b|-1|2", "ppbench|b|1.5|2", "ppbench|b|1|nope", `ppbench|b|1|${"9".repeat(120)}`]) {
      assert.strictEqual(parsePayload(bad), undefined, JSON.stringify(bad))
    }
  })
})

const run = (over: Partial<RunResult>): RunResult => ({
  system: "ours",
  n: 3,
  run: 0,
  started: 3,
  startErrors: [],
  formed: true,
  formationMs: 100,
  connectedMs: 100,
  degrees: "2:3",
  unknownStates: 0,
  components: 1,
  broadcastsSent: 2,
  broadcastSendFailures: 0,
  broadcastExpected: 4,
  broadcastDelivered: 4,
  broadcastLatencies: [1, 2, 3, 4],
  directsSent: 2,
  directSendFailures: 0,
  directDelivered: 2,
  directLatencies: [5, 6],
  misdeliveredOrDuplicate: 0,
  rssAfter: [110 * MB, 110 * MB, 110 * MB],
  rssBefore: [100 * MB, 100 * MB, 100 * MB],
  libraryErrors: 0,
  lastLibraryError: "",
  ...over
})

describe("summarise and tableRows", () => {
  it("counts formed and connected runs separately, delivery over attempts", () => {
    const s = summarise("theirs", 3, [
      run({ formationMs: 200, connectedMs: 150 }),
      run({ formed: false, formationMs: null, connectedMs: 900, directDelivered: 1, directLatencies: [7], broadcastDelivered: 2 }),
      run({ formed: false, formationMs: null, connectedMs: null, directDelivered: 0, directLatencies: [], broadcastDelivered: 0, broadcastLatencies: [] })
    ], 2)
    assert.closeTo(s.formedShare, 1 / 3, 1e-12)
    assert.closeTo(s.connectedShare, 2 / 3, 1e-12)
    assert.strictEqual(s.formedP50, 200)
    assert.strictEqual(s.connectedP95, 900)
    assert.closeTo(s.broadcastDelivery!, 6 / 12, 1e-12)
    assert.closeTo(s.directDelivery!, 3 / 6, 1e-12)
    assert.strictEqual(s.rssTotal, 330 * MB)
  })

  it("has a row per figure and N, the RSS slope and the signaling rows", () => {
    const mesh: Array<Summary> = [
      summarise("ours", 3, [run({})], 2),
      summarise("ours", 8, [run({ n: 8, rssAfter: Array.from({ length: 8 }, () => 110 * MB), rssBefore: Array.from({ length: 8 }, () => 100 * MB) })], 2),
      summarise("theirs", 3, [run({ system: "theirs", formationMs: 400 })], 2)
    ]
    assert.strictEqual(rssSlope(mesh.filter((s) => s.system === "ours")), 110)
    const rows = tableRows(mesh, [
      { system: "ours", n: 1000, p50: 1, p95: 2, p99: 3, missing: 0 },
      { system: "theirs", n: 1000, p50: 500, p95: 1600, p99: 1900, missing: 0 }
    ])
    const formation = rows.find((r) => r.metric === "N=3: formation time within bounds, median")!
    assert.strictEqual(formation.ours, 100)
    assert.strictEqual(formation.theirs, 400)
    assert.strictEqual(advantage(formation), 4)
    assert.strictEqual(rows.find((r) => r.metric.startsWith("N=8: formation time"))?.theirs, null)
    const signal = rows.find((r) => r.metric === "signaling, 1000 peers: announce -> discovery p95")!
    assert.strictEqual(advantage(signal), 800)
  })
})

describe("processMemory", () => {
  it("takes each process's first mesh and its growth from its first run to its last", () => {
    const runs = [
      run({ rssBefore: [100 * MB, 100 * MB, null], rssAfter: [110 * MB, 112 * MB, null] }),
      // process 2 starts here (fresh), 0 and 1 are reused
      run({ rssBefore: [110 * MB, 112 * MB, 90 * MB], rssAfter: [130 * MB, 112 * MB, 96 * MB] }),
      run({ rssBefore: [130 * MB, 112 * MB, 96 * MB], rssAfter: [150 * MB, null, 100 * MB] })
    ]
    const m = processMemory(runs)
    // first meshes added 10, 12, 6 MB; growth 40, 0, 4 MB
    assert.strictEqual(m.firstMeshAdded, 10 * MB)
    assert.strictEqual(m.growthOverRuns, 4 * MB)
    assert.strictEqual(m.loaded, 100 * MB)
    assert.deepStrictEqual(processMemory([]), { loaded: null, firstMeshAdded: null, growthOverRuns: null })
  })
})

describe("SVG charts", () => {
  it("linear ticks cover the maximum in 1/2/5 steps; log ticks are powers of ten", () => {
    assert.deepStrictEqual(linearTicks(100), [0, 20, 40, 60, 80, 100])
    assert.deepStrictEqual(linearTicks(12_486), [0, 5000, 10000, 15000])
    assert.deepStrictEqual(linearTicks(0), [0, 1])
    assert.deepStrictEqual(logTicks(1.3, 1600), [1, 10, 100, 1000, 10000])
  })

  it("draws one bar per measured value, n/a for the missing one, whiskers and a legend", () => {
    const svg = barChart({
      title: "A <title>",
      yLabel: "ms",
      categories: ["N = 3", "N = 8"],
      series: [
        { name: "ours", color: "#111111", values: [100, 200], whiskers: [150, null] },
        { name: "1.1.3", color: "#222222", values: [400, null] }
      ]
    })
    assert.isTrue(svg.startsWith("<svg xmlns=\"http://www.w3.org/2000/svg\""))
    assert.isTrue(svg.trimEnd().endsWith("</svg>"))
    assert.include(svg, "A &lt;title&gt;")
    const bars = svg.match(/<rect x="[^"]+" y="[^"]+" width="[^"]+" height="[^"]+" fill="#(111111|222222)"><title>/g) ?? []
    assert.strictEqual(bars.length, 3)
    assert.strictEqual((svg.match(/>n\/a</g) ?? []).length, 1)
    // a whisker is a vertical and a horizontal line in #333 besides the axis
    assert.strictEqual((svg.match(/<line [^>]*stroke="#333"\/>/g) ?? []).length, 3)
    assert.include(svg, ">ours</text>")
    assert.include(svg, ">1.1.3</text>")
  })

  it("a taller value draws a taller bar, on a log axis too", () => {
    const heights = (svg: string) => [...svg.matchAll(/height="([0-9.]+)" fill="#(?:111111|222222)"/g)].map((m) => Number(m[1]))
    for (const scale of ["linear", "log"] as const) {
      const [a, b] = heights(barChart({ title: "t", yLabel: "y", categories: ["x"], scale, series: [{ name: "a", color: "#111111", values: [2] }, { name: "b", color: "#222222", values: [1500] }] }))
      assert.isBelow(a!, b!, scale)
      assert.isAbove(a!, 0, scale)
    }
  })

  it("the bench's four charts come out of the summaries", () => {
    const mesh = [summarise("ours", 3, [run({})], 2), summarise("theirs", 3, [run({ system: "theirs" })], 2)]
    const files = charts(mesh, [{ system: "ours", n: 100, p50: 1, p95: 2, p99: 3, missing: 0 }], "note")
    assert.deepStrictEqual(files.map(([f]) => f), ["compare-formation.svg", "compare-formed.svg", "compare-delivery.svg", "compare-announce.svg"])
    for (const [, svg] of files) assert.include(svg, "note")
  })
})
