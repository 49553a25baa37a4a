import { spawn, type ChildProcess } from 'node:child_process'
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { createInterface } from 'node:readline'
import { fileURLToPath } from 'node:url'

export type ServerKind = 'syncmesh' | 'reference' | 'hocuspocus' | 'relay'

export const serverLabels: Record<ServerKind, string> = {
  syncmesh: 'syncmesh',
  reference: '@y/websocket-server',
  hocuspocus: 'Hocuspocus',
  relay: 'bare ws relay',
}

/** A server under test, running as a child process of the benchmark. */
export interface ServerProcess {
  readonly kind: ServerKind
  readonly pid: number
  /** ws://127.0.0.1:<port>, the base URL clients append a document name to. */
  readonly wsUrl: string
  stop(): Promise<void>
}

const distDir = fileURLToPath(new URL('../..', import.meta.url))
/**
 * Set, `syncmesh` is this build's server instead of the one beside the benchmarks: for before/after runs against
 * another checkout's `dist/server/main.js`.
 */
const syncmeshMain = process.env.SYNCMESH_BENCH_SERVER ?? join(distDir, 'server/main.js')
/** Set, every server writes a CPU profile (`node --cpu-prof`) into this directory when it stops. */
const cpuProfileDir = process.env.SYNCMESH_BENCH_CPU_PROF
/** Node flags every server starts with, space-separated (`--perf-basic-prof`, `--max-semi-space-size=4`, `--import …`). */
const extraNodeFlags = (process.env.SYNCMESH_BENCH_NODE_FLAGS ?? '').split(' ').filter((flag) => flag !== '')
const startTimeoutMs = 20_000
const stopTimeoutMs = 5_000

interface Child {
  dataDir: string | null
  exited: Promise<void>
}

const running = new Map<ChildProcess, Child>()
let exitHookInstalled = false

/** Starts one server on 127.0.0.1 with an OS-picked port and resolves once it is listening; `extraEnv` configures it. */
export async function startServer(
  kind: ServerKind,
  extraEnv: NodeJS.ProcessEnv = {},
  /** syncmesh only: a data directory of the caller's, which it keeps; by default a fresh one, removed on stop. */
  given: { dataDir?: string } = {},
): Promise<ServerProcess> {
  installExitHook()
  const fresh = kind === 'syncmesh' && given.dataDir === undefined ? mkdtempSync(join(tmpdir(), 'syncmesh-bench-')) : null
  const dataDir = given.dataDir ?? fresh
  const nodeFlags = [...(cpuProfileDir ? ['--cpu-prof', `--cpu-prof-dir=${join(cpuProfileDir, kind)}`] : []), ...extraNodeFlags]
  const args =
    kind === 'syncmesh'
      ? [...nodeFlags, syncmeshMain, 'start', '--host', '127.0.0.1', '--port', '0', '--data', dataDir!]
      : [...nodeFlags, join(distDir, `benchmarks/harness/${kind}-server.js`)]
  const env = { ...process.env, ...extraEnv }
  // Either would switch the reference server away from its persistence-free default.
  delete env.YPERSISTENCE
  delete env.CALLBACK_URL
  const child = spawn(process.execPath, args, { env, stdio: ['ignore', 'pipe', 'pipe'] })
  running.set(child, { dataDir: fresh, exited: new Promise((resolve) => child.once('exit', () => resolve())) })

  // Keep only a tail of the output, and keep reading it so that a chatty server never blocks on a full pipe.
  const tail: string[] = []
  const remember = (line: string) => {
    tail.push(line)
    if (tail.length > 20) tail.shift()
  }
  createInterface({ input: child.stderr! }).on('line', remember)
  try {
    const url = await new Promise<string>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`${kind} did not start within ${startTimeoutMs} ms`)), startTimeoutMs)
      createInterface({ input: child.stdout! }).on('line', (line) => {
        remember(line)
        if (!line.includes('"msg":"listening"')) return
        clearTimeout(timer)
        resolve((JSON.parse(line) as { url: string }).url)
      })
      child.once('exit', (code, signal) => {
        clearTimeout(timer)
        reject(new Error(`${kind} exited (${code ?? signal}) before listening:\n${tail.join('\n')}`))
      })
    })
    return { kind, pid: child.pid!, wsUrl: url.replace(/^http/, 'ws'), stop: () => stop(child) }
  } catch (err) {
    await stop(child)
    throw err
  }
}

async function stop(child: ChildProcess): Promise<void> {
  const entry = running.get(child)
  if (!entry) return
  if (child.exitCode === null && child.signalCode === null) {
    child.kill('SIGTERM')
    const timer = setTimeout(() => child.kill('SIGKILL'), stopTimeoutMs)
    await entry.exited
    clearTimeout(timer)
  }
  running.delete(child)
  if (entry.dataDir) rmSync(entry.dataDir, { recursive: true, force: true })
}

/** Stops every server still running; for the end of a run, successful or not. */
export async function stopAllServers(): Promise<void> {
  await Promise.all([...running.keys()].map(stop))
}

/** Last resort when the benchmark process exits without stopping its servers: kill them, drop their data. */
function installExitHook(): void {
  if (exitHookInstalled) return
  exitHookInstalled = true
  process.once('exit', () => {
    for (const [child, { dataDir }] of running) {
      child.kill('SIGKILL')
      if (dataDir) rmSync(dataDir, { recursive: true, force: true })
    }
  })
}
