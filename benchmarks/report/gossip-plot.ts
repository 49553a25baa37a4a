import type { GossipFigures } from '../scenarios/reconciliation.js'
import { median } from '../harness/stats.js'

const width = 640
const height = 360
const margin = { left: 64, right: 24, top: 40, bottom: 56 }
/** Keeps the first and last points off the axes. */
const inset = 20

/**
 * A line chart, drawn by hand, of the median rounds to converge against the number of nodes (log scale),
 * with a bar from the fewest to the most rounds over the seeds.
 */
export function renderGossipRoundsSvg(figures: readonly GossipFigures[]): string {
  const nodes = figures.map((f) => f.nodes)
  const maxRounds = Math.max(1, ...figures.flatMap((f) => f.rounds))
  const yTop = Math.ceil(maxRounds / 5) * 5
  const logMin = Math.log(Math.min(...nodes))
  const logSpan = Math.log(Math.max(...nodes)) - logMin || 1
  const plotWidth = width - margin.left - margin.right
  const spanWidth = plotWidth - 2 * inset
  const plotHeight = height - margin.top - margin.bottom
  const x = (n: number) => round1(margin.left + inset + ((Math.log(n) - logMin) / logSpan) * spanWidth)
  const y = (rounds: number) => round1(margin.top + plotHeight - (rounds / yTop) * plotHeight)
  const bottom = margin.top + plotHeight

  const yTicks = Array.from({ length: yTop / 5 + 1 }, (_, i) => i * 5)
  const medians = figures.map((f) => `${x(f.nodes)},${y(median(f.rounds))}`)
  return [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}" viewBox="0 0 ${width} ${height}" font-family="sans-serif" font-size="12">`,
    `<rect width="${width}" height="${height}" fill="white"/>`,
    `<text x="${width / 2}" y="22" text-anchor="middle" font-size="14">Anti-entropy gossip: rounds to converge after the faults end</text>`,
    ...yTicks.map(
      (t) =>
        `<line x1="${margin.left}" x2="${width - margin.right}" y1="${y(t)}" y2="${y(t)}" stroke="#ddd"/>` +
        `<text x="${margin.left - 8}" y="${y(t) + 4}" text-anchor="end">${t}</text>`,
    ),
    ...nodes.map(
      (n) =>
        `<line x1="${x(n)}" x2="${x(n)}" y1="${bottom}" y2="${bottom + 5}" stroke="black"/>` +
        `<text x="${x(n)}" y="${bottom + 18}" text-anchor="middle">${n}</text>`,
    ),
    `<line x1="${margin.left}" x2="${width - margin.right}" y1="${bottom}" y2="${bottom}" stroke="black"/>`,
    `<line x1="${margin.left}" x2="${margin.left}" y1="${margin.top}" y2="${bottom}" stroke="black"/>`,
    `<text x="${margin.left + plotWidth / 2}" y="${height - 12}" text-anchor="middle">nodes (log scale)</text>`,
    `<text transform="translate(18 ${margin.top + plotHeight / 2}) rotate(-90)" text-anchor="middle">rounds</text>`,
    ...figures.map(
      (f) =>
        `<line x1="${x(f.nodes)}" x2="${x(f.nodes)}" y1="${y(Math.min(...f.rounds))}" y2="${y(Math.max(...f.rounds))}" stroke="#8ab" stroke-width="6" stroke-linecap="round"/>`,
    ),
    `<polyline points="${medians.join(' ')}" fill="none" stroke="#035" stroke-width="2"/>`,
    ...figures.map((f) => `<circle cx="${x(f.nodes)}" cy="${y(median(f.rounds))}" r="4" fill="#035"/>`),
    `<text x="${width - margin.right}" y="${margin.top - 4}" text-anchor="end" fill="#555">line: median over seeds; bars: fewest to most</text>`,
    '</svg>',
    '',
  ].join('\n')
}

const round1 = (v: number) => Math.round(v * 10) / 10
