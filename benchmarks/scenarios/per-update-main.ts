/**
 * `npm run build:dev && node dist/benchmarks/scenarios/per-update-main.js [--server syncmesh] [--updates 200]
 * [--spacing-ms 20] [--warm-up 0]`: what one writer's update costs a server, thread by thread. A writer
 * `WebsocketProvider` makes one-character inserts `--spacing-ms` apart (after `--warm-up` of them, 2 ms apart, to
 * another document); the CPU each server thread used meanwhile is read from /proc/<pid>/task. Not part of
 * `npm run bench`: it is how RESULTS.md's figures for one writer's update at low rates were taken.
 */
import { setTimeout as sleep } from 'node:timers/promises'
import { parseArgs } from 'node:util'
import { connectSynced } from '../harness/clients.js'
import { threadCpuMicros, type CpuTime } from '../harness/proc-stats.js'
import { startServer, stopAllServers, type ServerKind, type ServerProcess } from '../harness/servers.js'

const { values } = parseArgs({
  options: {
    server: { type: 'string', default: 'syncmesh' },
    updates: { type: 'string', default: '200' },
    'spacing-ms': { type: 'string', default: '20' },
    'warm-up': { type: 'string', default: '0' },
  },
  strict: true,
})
const count = (name: string, value: string | undefined): number => {
  const n = Number(value)
  if (!Number.isSafeInteger(n) || n < 0) throw new Error(`--${name} takes a whole number`)
  return n
}
const updates = count('updates', values.updates)
const spacingMs = count('spacing-ms', values['spacing-ms'])
const warmUp = count('warm-up', values['warm-up'])

/** Inserts one character `n` times, `gapMs` apart, into `docName`; returns each server thread's CPU over the inserts. */
async function insertEach(server: ServerProcess, docName: string, n: number, gapMs: number): Promise<Map<number, CpuTime>> {
  const writer = await connectSynced(server, docName)
  try {
    await sleep(1_000)
    const before = threadCpuMicros(server.pid)
    for (let i = 0; i < n; i++) {
      writer.doc.getText('body').insert(0, 'x')
      await sleep(gapMs)
    }
    await sleep(500)
    const after = threadCpuMicros(server.pid)
    return new Map(
      [...after].map(([tid, cpu]) => {
        const was = before.get(tid) ?? { userMicros: 0, systemMicros: 0 }
        return [tid, { userMicros: cpu.userMicros - was.userMicros, systemMicros: cpu.systemMicros - was.systemMicros }]
      }),
    )
  } finally {
    writer.destroy()
  }
}

try {
  const server = await startServer(values.server as ServerKind)
  if (warmUp > 0) await insertEach(server, 'warm-up', warmUp, 2)
  const used = await insertEach(server, 'measured', updates, spacingMs)
  let total = 0
  for (const [tid, { userMicros, systemMicros }] of used) {
    total += userMicros + systemMicros
    if (userMicros + systemMicros === 0) continue
    const thread = tid === server.pid ? 'main thread' : `thread ${tid}`
    const perUpdate = ((userMicros + systemMicros) / updates).toFixed(0).padStart(6)
    console.log(`${thread.padEnd(14)} ${perUpdate} µs per update (user ${(userMicros / 1000).toFixed(0)} ms, system ${(systemMicros / 1000).toFixed(0)} ms)`)
  }
  const what = `${updates} updates ${spacingMs} ms apart, after ${warmUp} of warm-up, on ${values.server}`
  console.log(`${'all threads'.padEnd(14)} ${(total / updates).toFixed(0).padStart(6)} µs per update; ${what}`)
} catch (err) {
  process.exitCode = 1
  console.error(err instanceof Error ? (err.stack ?? err.message) : err)
} finally {
  await stopAllServers()
}
process.exit()
