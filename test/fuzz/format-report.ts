import type { FuzzReport } from './fuzz-node.js'

const indented = (lines: readonly string[]) => lines.map((line) => `  ${line}`).join('\n')

/** The report as a person reads it: on failure, the seed, the command that replays it, and what was sent last. */
export function formatReport(report: FuzzReport): string {
  const sent = Object.entries(report.inputsSent).map(([edge, count]) => `${edge} ${count}`).join(', ')
  const lines = [`${report.ok ? 'clean' : 'FAILED'} after ${(report.elapsedMs / 1000).toFixed(1)} s; inputs sent: ${sent}`]
  for (const [message, count] of Object.entries(report.errorsLogged)) lines.push(`  the node logged ${count}× at level error or fatal: ${message}`)
  if (report.ok) return lines.join('\n')
  lines.push(
    `seed ${report.seed}; replay with: ${report.replay}`,
    `failures:\n${indented(report.failures)}`,
    `last inputs before the failure, oldest first:\n${indented(report.lastInputs)}`,
  )
  if (report.culprits.length > 0) lines.push(`failing alone on a fresh node:\n${indented(report.culprits)}`)
  if (report.nodeOutput.length > 0) lines.push(`node output:\n${indented(report.nodeOutput)}`)
  return lines.join('\n')
}
