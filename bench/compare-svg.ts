/**
 * Small hand-written SVG charts for bench:compare (no charting dependency): grouped bars,
 * one group per category (a network size N), one bar per system, an optional whisker per bar
 * (e.g. up to the p95 over a median bar) and a linear or log10 y axis. Pure: returns the SVG text.
 */

export interface Series {
  readonly name: string
  readonly color: string
  /** one value per category; null draws "n/a" (nothing measured) */
  readonly values: ReadonlyArray<number | null>
  /** optional upper whisker per category (drawn from the bar's top to this value) */
  readonly whiskers?: ReadonlyArray<number | null>
}

export interface BarChart {
  readonly title: string
  readonly yLabel: string
  readonly categories: ReadonlyArray<string>
  readonly series: ReadonlyArray<Series>
  /** "log" for figures that differ by orders of magnitude (values must be > 0) */
  readonly scale?: "linear" | "log"
  /** fixed top of a linear axis (e.g. 100 for a percentage) */
  readonly yMax?: number
  /** how a value is printed above its bar */
  readonly format?: (v: number) => string
  readonly note?: string
}

const W = 640
const H = 360
const M = { left: 64, right: 16, top: 44, bottom: 64 }

const esc = (s: string): string => s.replace(/&/g, "&amp;").replace(/</g, "&lt;").replace(/>/g, "&gt;").replace(/"/g, "&quot;")

const num = (x: number): string => (Number.isInteger(x) ? String(x) : x.toFixed(1))

/** Tick values of a linear axis from 0 to at least `max`: 1, 2 or 5 times a power of ten. */
export const linearTicks = (max: number): Array<number> => {
  if (!(max > 0)) return [0, 1]
  const raw = max / 5
  const pow = 10 ** Math.floor(Math.log10(raw))
  const step = [1, 2, 5, 10].map((m) => m * pow).find((s) => s >= raw) ?? raw
  const ticks: Array<number> = []
  for (let t = 0; t < max + step * 0.999; t += step) ticks.push(Number(t.toPrecision(12)))
  return ticks
}

/** Powers of ten covering [min, max] (both > 0). */
export const logTicks = (min: number, max: number): Array<number> => {
  const lo = Math.floor(Math.log10(min))
  const hi = Math.max(lo + 1, Math.ceil(Math.log10(max)))
  return Array.from({ length: hi - lo + 1 }, (_, i) => 10 ** (lo + i))
}

const defaultFormat = (v: number): string => (v >= 100 ? v.toFixed(0) : v >= 10 ? v.toFixed(1) : v.toFixed(2))

/** Renders `chart` as a standalone SVG document. */
export const barChart = (chart: BarChart): string => {
  const format = chart.format ?? defaultFormat
  const all = chart.series.flatMap((s) => [...s.values, ...(s.whiskers ?? [])]).filter((v): v is number => v !== null && Number.isFinite(v))
  const log = chart.scale === "log"
  const positive = all.filter((v) => v > 0)
  const ticks = log
    ? logTicks(positive.length > 0 ? Math.min(...positive) : 1, positive.length > 0 ? Math.max(...positive) : 10)
    : linearTicks(chart.yMax ?? Math.max(0, ...all))
  const top = ticks[ticks.length - 1]!
  const bottom = log ? ticks[0]! : 0
  const plotW = W - M.left - M.right
  const plotH = H - M.top - M.bottom
  const y = (v: number): number => {
    const f = log ? (Math.log10(Math.max(v, bottom)) - Math.log10(bottom)) / (Math.log10(top) - Math.log10(bottom)) : (v - bottom) / (top - bottom)
    return M.top + plotH * (1 - Math.min(1, Math.max(0, f)))
  }
  const groupW = plotW / Math.max(1, chart.categories.length)
  const barW = Math.min(48, (groupW * 0.7) / Math.max(1, chart.series.length))
  const out: Array<string> = [
    `<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 ${W} ${H}" width="${W}" height="${H}" font-family="sans-serif" font-size="12">`,
    `<rect width="${W}" height="${H}" fill="#ffffff"/>`,
    `<text x="${W / 2}" y="20" text-anchor="middle" font-size="15" font-weight="bold">${esc(chart.title)}</text>`,
    `<text transform="translate(14 ${M.top + plotH / 2}) rotate(-90)" text-anchor="middle">${esc(chart.yLabel)}</text>`
  ]
  for (const t of ticks) {
    const ty = y(t).toFixed(1)
    out.push(`<line x1="${M.left}" x2="${W - M.right}" y1="${ty}" y2="${ty}" stroke="#e0e0e0"/>`)
    out.push(`<text x="${M.left - 6}" y="${ty}" text-anchor="end" dominant-baseline="middle">${esc(log ? String(t) : num(t))}</text>`)
  }
  out.push(`<line x1="${M.left}" x2="${W - M.right}" y1="${M.top + plotH}" y2="${M.top + plotH}" stroke="#333"/>`)
  chart.categories.forEach((cat, ci) => {
    const gx = M.left + groupW * ci + (groupW - barW * chart.series.length) / 2
    out.push(`<text x="${(M.left + groupW * (ci + 0.5)).toFixed(1)}" y="${M.top + plotH + 18}" text-anchor="middle">${esc(cat)}</text>`)
    chart.series.forEach((s, si) => {
      const x = gx + barW * si
      const v = s.values[ci] ?? null
      if (v === null || !Number.isFinite(v)) {
        out.push(`<text x="${(x + barW / 2).toFixed(1)}" y="${M.top + plotH - 6}" text-anchor="middle" fill="${s.color}">n/a</text>`)
        return
      }
      const yTop = y(v)
      out.push(`<rect x="${(x + 1).toFixed(1)}" y="${yTop.toFixed(1)}" width="${(barW - 2).toFixed(1)}" height="${(M.top + plotH - yTop).toFixed(1)}" fill="${s.color}"><title>${esc(`${s.name}, ${cat}: ${format(v)}`)}</title></rect>`)
      const w = s.whiskers?.[ci] ?? null
      let labelY = yTop - 4
      if (w !== null && Number.isFinite(w) && w > v) {
        const yw = y(w)
        const cx = (x + barW / 2).toFixed(1)
        out.push(`<line x1="${cx}" x2="${cx}" y1="${yTop.toFixed(1)}" y2="${yw.toFixed(1)}" stroke="#333"/>`)
        out.push(`<line x1="${(x + barW / 4).toFixed(1)}" x2="${(x + (3 * barW) / 4).toFixed(1)}" y1="${yw.toFixed(1)}" y2="${yw.toFixed(1)}" stroke="#333"/>`)
        labelY = yw - 4
      }
      out.push(`<text x="${(x + barW / 2).toFixed(1)}" y="${Math.max(M.top - 2, labelY).toFixed(1)}" text-anchor="middle" font-size="10">${esc(format(v))}</text>`)
    })
  })
  // legend
  chart.series.forEach((s, si) => {
    const lx = M.left + si * Math.min(220, (W - M.left - M.right) / chart.series.length)
    const ly = H - 22
    out.push(`<rect x="${lx}" y="${ly - 10}" width="12" height="12" fill="${s.color}"/>`)
    out.push(`<text x="${lx + 18}" y="${ly}">${esc(s.name)}</text>`)
  })
  if (chart.note !== undefined) out.push(`<text x="${W - M.right}" y="${H - 6}" text-anchor="end" font-size="10" fill="#555">${esc(chart.note)}</text>`)
  out.push("</svg>")
  return out.join("\n") + "\n"
}
